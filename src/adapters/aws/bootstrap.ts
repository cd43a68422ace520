import {
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  DescribeUserPoolCommand,
} from "@aws-sdk/client-cognito-identity-provider";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  type TableDescription,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { Config } from "../../config/config.js";
import { errorName } from "./aws-errors.js";
import { clientConfig } from "./client-config.js";
import { TENANT_ATTRIBUTE } from "./cognito-identity-provider.js";
import { UNSETTLED_INDEX } from "./dynamo-document-catalog.js";

/** Settings that only exist once the resources do (generated ids, emulator URLs): print and set them. */
export interface BootstrapResult {
  SQS_QUEUE_URL: string;
  SQS_DEAD_LETTER_QUEUE_URL: string;
  COGNITO_USER_POOL_ID: string;
  COGNITO_CLIENT_ID?: string;
  COGNITO_SIGNUP_CLIENT_ID?: string;
  COGNITO_SIGNUP_CLIENT_SECRET?: string;
}

const TTL_TABLES = (c: Config) => [c.DIRECTORY_TABLE, c.AUDIT_TABLE, c.JOBS_TABLE];

/**
 * Creates what BACKEND=aws needs, with the configured names, on the configured endpoints: the four
 * DynamoDB tables (pk/sk, on-demand, TTL on `expires_at`), the S3 bucket, the job queue with its
 * dead-letter queue (redrive after JOB_MAX_ATTEMPTS receives, visibility JOB_LEASE_MS) and a Cognito
 * user pool with its two app clients. Existing resources are kept. This is for emulators and local
 * AWS-shape runs; the CDK app (infra/) provisions the cloud.
 */
export async function bootstrapAws(config: Config, print: (line: string) => void = () => {}): Promise<BootstrapResult> {
  await createTables(config, print);
  await createBucket(config, print);
  const queues = await createQueues(config, print);
  const pool = await createUserPool(config, print);
  const result: BootstrapResult = { ...queues, ...pool };
  print("Settings for this environment:");
  for (const [key, value] of Object.entries(result)) if (value) print(`${key}=${value}`);
  return result;
}

/** Every table has the same shape: string partition key `pk` (tenant first) and sort key `sk`, on demand. */
export function tableDefinition(table: string): CreateTableCommandInput {
  return {
    TableName: table,
    AttributeDefinitions: [
      { AttributeName: "pk", AttributeType: "S" },
      { AttributeName: "sk", AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: "pk", KeyType: "HASH" },
      { AttributeName: "sk", KeyType: "RANGE" },
    ],
    BillingMode: "PAY_PER_REQUEST",
  };
}

/** The documents table also has the sparse index of unsettled documents that the recovery sweep reads. */
export function documentsTableDefinition(table: string): CreateTableCommandInput {
  const base = tableDefinition(table);
  return {
    ...base,
    AttributeDefinitions: [
      ...(base.AttributeDefinitions ?? []),
      { AttributeName: "unsettled", AttributeType: "S" },
      { AttributeName: "updatedAt", AttributeType: "S" },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: UNSETTLED_INDEX,
        KeySchema: [
          { AttributeName: "unsettled", KeyType: "HASH" },
          { AttributeName: "updatedAt", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
    ],
  };
}

/** A documents table made before the recovery sweep existed gets the sweep's index (aws-bootstrap re-run). */
export async function ensureUnsettledIndex(
  db: DynamoDBClient,
  table: string,
  described: TableDescription | undefined,
  print: (line: string) => void,
): Promise<void> {
  if (described?.GlobalSecondaryIndexes?.some((i) => i.IndexName === UNSETTLED_INDEX)) return;
  const wanted = documentsTableDefinition(table);
  await db.send(
    new UpdateTableCommand({
      TableName: table,
      AttributeDefinitions: wanted.AttributeDefinitions,
      GlobalSecondaryIndexUpdates: (wanted.GlobalSecondaryIndexes ?? []).map((index) => ({
        // An on-demand table's index has no throughput of its own; a provisioned one gets the table's.
        Create: { ...index, ...provisionedLike(described) },
      })),
    }),
  );
  print(`added index ${UNSETTLED_INDEX} to table ${table}`);
  await waitForActive(db, table);
}

function provisionedLike(table: TableDescription | undefined) {
  const t = table?.ProvisionedThroughput;
  if (table?.BillingModeSummary?.BillingMode === "PAY_PER_REQUEST" || !t?.ReadCapacityUnits || !t.WriteCapacityUnits)
    return {};
  return {
    ProvisionedThroughput: { ReadCapacityUnits: t.ReadCapacityUnits, WriteCapacityUnits: t.WriteCapacityUnits },
  };
}

/** The table's description once it (and every index of it) is ACTIVE, or the last one seen. */
async function waitForActive(db: DynamoDBClient, table: string) {
  let described: TableDescription | undefined;
  for (let i = 0; i < 100; i++) {
    described = (await db.send(new DescribeTableCommand({ TableName: table }))).Table;
    const indexes = described?.GlobalSecondaryIndexes ?? [];
    if (described?.TableStatus === "ACTIVE" && indexes.every((x) => x.IndexStatus === "ACTIVE")) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return described;
}

async function createTables(config: Config, print: (line: string) => void): Promise<void> {
  const db = new DynamoDBClient(clientConfig(config, "dynamodb"));
  try {
    for (const table of [config.DOCUMENTS_TABLE, config.DIRECTORY_TABLE, config.AUDIT_TABLE, config.JOBS_TABLE]) {
      try {
        const definition = table === config.DOCUMENTS_TABLE ? documentsTableDefinition(table) : tableDefinition(table);
        await db.send(new CreateTableCommand(definition));
        print(`created table ${table}`);
      } catch (error) {
        if (errorName(error) !== "ResourceInUseException") throw error;
        print(`table ${table} exists`);
      }
      const described = await waitForActive(db, table);
      if (table === config.DOCUMENTS_TABLE) await ensureUnsettledIndex(db, table, described, print);
      if (TTL_TABLES(config).includes(table)) {
        try {
          await db.send(
            new UpdateTimeToLiveCommand({
              TableName: table,
              TimeToLiveSpecification: { AttributeName: "expires_at", Enabled: true },
            }),
          );
        } catch (error) {
          // Emulators without TTL (dynalite), or TTL already on: reads check expiry themselves anyway.
          print(`table ${table}: TTL not changed (${errorName(error)})`);
        }
      }
    }
  } finally {
    db.destroy();
  }
}

async function createBucket(config: Config, print: (line: string) => void): Promise<void> {
  if (!config.S3_BUCKET) throw new Error("S3_BUCKET is not set");
  const s3 = new S3Client({ ...clientConfig(config, "s3"), forcePathStyle: Boolean(config.AWS_ENDPOINT_URL_S3) });
  try {
    try {
      await s3.send(new HeadBucketCommand({ Bucket: config.S3_BUCKET }));
      print(`bucket ${config.S3_BUCKET} exists`);
      return;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 404 && !["NotFound", "NoSuchBucket"].includes(errorName(error))) throw error;
    }
    await s3.send(
      new CreateBucketCommand({
        Bucket: config.S3_BUCKET,
        ...(config.AWS_REGION === "us-east-1"
          ? {}
          : { CreateBucketConfiguration: { LocationConstraint: config.AWS_REGION as never } }),
      }),
    );
    print(`created bucket ${config.S3_BUCKET}`);
  } finally {
    s3.destroy();
  }
}

async function createQueues(config: Config, print: (line: string) => void) {
  if (!config.SQS_QUEUE_URL) throw new Error("SQS_QUEUE_URL is not set");
  const name = config.SQS_QUEUE_URL.split("/").at(-1) ?? "";
  if (!name) throw new Error("SQS_QUEUE_URL does not end in a queue name");
  const fifo = name.endsWith(".fifo");
  const base = fifo ? name.slice(0, -5) : name;
  const fifoAttributes = fifo ? { FifoQueue: "true" } : {};
  const sqs = new SQSClient(clientConfig(config, "sqs"));
  try {
    const dlq = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${base}-dlq${fifo ? ".fifo" : ""}`,
        Attributes: { ...fifoAttributes, MessageRetentionPeriod: String(14 * 86_400) },
      }),
    );
    if (!dlq.QueueUrl) throw new Error("CreateQueue returned no URL");
    const arn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))
    ).Attributes?.QueueArn;
    const main = await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: {
          ...fifoAttributes,
          VisibilityTimeout: String(Math.max(1, Math.ceil(config.JOB_LEASE_MS / 1000))),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: config.JOB_MAX_ATTEMPTS }),
        },
      }),
    );
    if (!main.QueueUrl) throw new Error("CreateQueue returned no URL");
    print(`queue ${name} ready (dead-letter queue ${base}-dlq, after ${config.JOB_MAX_ATTEMPTS} receives)`);
    return { SQS_QUEUE_URL: main.QueueUrl, SQS_DEAD_LETTER_QUEUE_URL: dlq.QueueUrl };
  } finally {
    sqs.destroy();
  }
}

async function createUserPool(config: Config, print: (line: string) => void) {
  const cognito = new CognitoIdentityProviderClient(clientConfig(config, "cognito-identity-provider"));
  try {
    if (config.COGNITO_USER_POOL_ID) {
      try {
        await cognito.send(new DescribeUserPoolCommand({ UserPoolId: config.COGNITO_USER_POOL_ID }));
        print(`user pool ${config.COGNITO_USER_POOL_ID} exists`);
        return { COGNITO_USER_POOL_ID: config.COGNITO_USER_POOL_ID };
      } catch (error) {
        if (errorName(error) !== "ResourceNotFoundException") throw error;
      }
    }
    const pool = await cognito.send(
      new CreateUserPoolCommand({
        PoolName: "enclave-users",
        UsernameAttributes: ["email"],
        AutoVerifiedAttributes: ["email"],
        Policies: {
          PasswordPolicy: {
            MinimumLength: 8,
            RequireUppercase: true,
            RequireLowercase: true,
            RequireNumbers: true,
            RequireSymbols: false,
          },
        },
        // Immutable: written once, at sign-up, by the server; nobody can change a user's tenant afterwards.
        Schema: [
          {
            Name: "tenant_id",
            AttributeDataType: "String",
            Mutable: false,
            StringAttributeConstraints: { MinLength: "22", MaxLength: "22" },
          },
        ],
      }),
    );
    const poolId = pool.UserPool?.Id;
    if (!poolId) throw new Error("CreateUserPool returned no id");
    const readable = ["email", "email_verified", TENANT_ATTRIBUTE];
    const web = await cognito.send(
      new CreateUserPoolClientCommand({
        UserPoolId: poolId,
        ClientName: "enclave-web",
        GenerateSecret: false,
        ExplicitAuthFlows: ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes: readable,
        WriteAttributes: ["email"],
        PreventUserExistenceErrors: "ENABLED",
      }),
    );
    const signUp = await cognito.send(
      new CreateUserPoolClientCommand({
        UserPoolId: poolId,
        ClientName: "enclave-signup",
        GenerateSecret: true,
        ExplicitAuthFlows: ["ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes: readable,
        WriteAttributes: ["email", TENANT_ATTRIBUTE],
        PreventUserExistenceErrors: "ENABLED",
      }),
    );
    print(`created user pool ${poolId} with app clients enclave-web and enclave-signup`);
    return {
      COGNITO_USER_POOL_ID: poolId,
      ...(web.UserPoolClient?.ClientId ? { COGNITO_CLIENT_ID: web.UserPoolClient.ClientId } : {}),
      ...(signUp.UserPoolClient?.ClientId ? { COGNITO_SIGNUP_CLIENT_ID: signUp.UserPoolClient.ClientId } : {}),
      ...(signUp.UserPoolClient?.ClientSecret
        ? { COGNITO_SIGNUP_CLIENT_SECRET: signUp.UserPoolClient.ClientSecret }
        : {}),
    };
  } finally {
    cognito.destroy();
  }
}
