import { randomBytes } from "node:crypto";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BedrockChatModel } from "../../src/adapters/aws/bedrock-chat-model.js";
import { BedrockEmbedder } from "../../src/adapters/aws/bedrock-embedder.js";
import { tableDefinition } from "../../src/adapters/aws/bootstrap.js";
import { clientConfig } from "../../src/adapters/aws/client-config.js";
import { DynamoAuditLog } from "../../src/adapters/aws/dynamo-audit-log.js";
import { DynamoDocumentCatalog } from "../../src/adapters/aws/dynamo-document-catalog.js";
import { DynamoTenantDirectory } from "../../src/adapters/aws/dynamo-tenant-directory.js";
import { SqsJobQueue } from "../../src/adapters/aws/sqs-job-queue.js";
import { TenantClients } from "../../src/adapters/aws/tenant-credentials.js";
import { cipherSealer } from "../../src/adapters/aws/token-sealer.js";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import { TokenCipher } from "../../src/adapters/shared/token-cipher.js";
import { buildAwsAdapters } from "../../src/composition/aws.js";
import type { Adapters } from "../../src/composition/container.js";
import { newTenantId, type TenantId } from "../../src/domain/tenant.js";
import { type AwsStack, startAwsStack } from "../support/aws-stack.js";
import { awsStoreTraces } from "../support/aws-stores.js";
import { installBedrockMock } from "../support/fake-bedrock.js";
import { auditRecord, describeAuditLogContract } from "./audit-log.contract.js";
import { describeChatModelContract } from "./chat-model.contract.js";
import { chunksOf, describeChunkIndexContract } from "./chunk-index.contract.js";
import { describeDamagedRecordsContract } from "./damaged-records.contract.js";
import { describeDocumentCatalogContract, newDoc } from "./document-catalog.contract.js";
import { describeEmbedderContract } from "./embedder.contract.js";
import { describeIdentityProviderContract } from "./identity-provider.contract.js";
import { describeJobQueueContract } from "./job-queue.contract.js";
import { describeObjectStoreContract } from "./object-store.contract.js";
import { describeRateLimiterContract } from "./rate-limiter.contract.js";
import { recordingLogger } from "./support.js";
import { describeTenantDirectoryContract } from "./tenant-directory.contract.js";

/**
 * The same port contracts against the AWS adapters: DynamoDB on dynalite, S3 on s3rver, Cognito on
 * cognito-local, SQS on a fake, Pinecone on a fake data plane, Bedrock mocked with aws-sdk-client-mock.
 */
let stack: AwsStack;
let adapters: Adapters;
let bedrock: ReturnType<typeof installBedrockMock>;
const silent = new JsonLogger("silent");
const cipherKey = randomBytes(32);

beforeAll(async () => {
  bedrock = installBedrockMock({ dimensions: 256 });
  stack = await startAwsStack();
  adapters = await buildAwsAdapters(stack.config, silent, new TokenCipher(cipherKey));
});

afterAll(async () => {
  await adapters?.close();
  await stack?.stop();
  bedrock?.restore();
});

const shared =
  <T>(pick: (a: Adapters) => T) =>
  async () => ({ adapter: pick(adapters), cleanup: async () => {} });

describeObjectStoreContract(
  "S3ObjectStore (s3rver)",
  shared((a) => a.objects),
  { largeBytes: 9 * 1024 * 1024 },
);
describeDocumentCatalogContract(
  "DynamoDocumentCatalog (dynalite)",
  shared((a) => a.catalog),
);
describeAuditLogContract(
  "DynamoAuditLog (dynalite)",
  shared((a) => a.audit),
);
describeChunkIndexContract(
  "PineconeChunkIndex (fake Pinecone, Titan mocked)",
  shared((a) => a.index),
);
describeRateLimiterContract("DynamoRateLimiter (dynalite)", async () => {
  if (!adapters.rateLimiter) throw new Error("the AWS shape has no shared rate limiter");
  return { adapter: adapters.rateLimiter, cleanup: async () => {} };
});

describeTenantDirectoryContract("DynamoTenantDirectory (dynalite)", async () => {
  const raw = new DynamoDBClient(clientConfig(stack.config, "dynamodb"));
  return {
    adapter: adapters.directory,
    rawInstallation: async (teamId) =>
      JSON.stringify(
        (
          await raw.send(
            new GetItemCommand({
              TableName: stack.config.DIRECTORY_TABLE,
              Key: { pk: { S: `install#${teamId}` }, sk: { S: "install" } },
            }),
          )
        ).Item,
      ),
    cleanup: async () => raw.destroy(),
  };
});

describeIdentityProviderContract("CognitoIdentityProvider (cognito-local)", async () => ({
  adapter: adapters.identity,
  confirmationCode: async (email) => {
    const code = stack.cognito.codeFor(email);
    if (!code) throw new Error(`no code was sent to ${email}`);
    return code;
  },
  cleanup: async () => {},
}));

describeEmbedderContract("BedrockEmbedder (Titan v2, mocked)", async () => {
  const client = new BedrockRuntimeClient({
    region: "us-east-1",
    credentials: { accessKeyId: "a", secretAccessKey: "b" },
  });
  return {
    adapter: new BedrockEmbedder(client, {
      modelId: "amazon.titan-embed-text-v2:0",
      dimensions: 256,
      normalize: true,
      maxBatchSize: 8,
      concurrency: 3,
    }),
    cleanup: async () => client.destroy(),
  };
});

describeChatModelContract("BedrockChatModel (Converse, mocked)", async () => {
  const client = new BedrockRuntimeClient({
    region: "us-east-1",
    credentials: { accessKeyId: "a", secretAccessKey: "b" },
  });
  return {
    adapter: new BedrockChatModel(client, { modelId: "amazon.nova-micro-v1:0" }, silent),
    cleanup: async () => client.destroy(),
  };
});

describeJobQueueContract(
  "SqsJobQueue (fake SQS + dynalite)",
  async () => {
    // A fresh queue, dead-letter queue and jobs table per test: dead jobs and leftovers stay apart.
    const suffix = randomBytes(4).toString("hex");
    const sqs = new SQSClient(clientConfig(stack.config, "sqs"));
    const raw = new DynamoDBClient(clientConfig(stack.config, "dynamodb"));
    const table = `jobs-${suffix}`;
    await raw.send(new CreateTableCommand(tableDefinition(table)));
    const maxAttempts = 3;
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `dlq-${suffix}` }));
    const dlqArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))
    ).Attributes?.QueueArn;
    const main = await sqs.send(
      new CreateQueueCommand({
        QueueName: `jobs-${suffix}`,
        Attributes: {
          VisibilityTimeout: "1",
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: maxAttempts }),
        },
      }),
    );
    const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const queue = new SqsJobQueue(
      sqs,
      db,
      {
        queueUrl: main.QueueUrl ?? "",
        jobsTable: table,
        maxAttempts,
        retryBaseMs: 10,
        concurrency: 2,
        pollWaitSeconds: 1,
      },
      silent,
    );
    return {
      queue,
      runner: queue,
      maxAttempts,
      leaseMs: 1000,
      deadJobs: () => queue.deadJobs(),
      cleanup: async () => {
        sqs.destroy();
        raw.destroy();
      },
    };
  },
  20_000,
);

describeDamagedRecordsContract("DynamoDB (dynalite)", async () => {
  const raw = new DynamoDBClient(clientConfig(stack.config, "dynamodb"));
  const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const clients = new TenantClients(db, () => db, undefined);
  const { AUDIT_TABLE, DOCUMENTS_TABLE, DIRECTORY_TABLE } = stack.config;
  const { logger, lines, text } = recordingLogger();
  const set = async (table: string, pk: string, sk: string, attribute: string, value: Record<string, unknown>) => {
    await raw.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: pk }, sk: { S: sk } },
        UpdateExpression: "SET #a = :v",
        ExpressionAttributeNames: { "#a": attribute },
        ExpressionAttributeValues: { ":v": value as never },
      }),
    );
  };
  return {
    audit: new DynamoAuditLog(clients, AUDIT_TABLE, { retentionDays: 0 }, logger),
    catalog: new DynamoDocumentCatalog(clients, DOCUMENTS_TABLE, logger),
    directory: new DynamoTenantDirectory(db, DIRECTORY_TABLE, cipherSealer(new TokenCipher(cipherKey)), logger),
    lines,
    logText: text,
    putRawAudit: async (r, recordText) => {
      await raw.send(
        new PutItemCommand({
          TableName: AUDIT_TABLE,
          Item: {
            pk: { S: `${r.tenantId}#audit` },
            sk: { S: r.id },
            createdAt: { S: r.createdAt },
            userId: { S: r.actor.userId },
            surface: { S: r.surface },
            outcome: { S: r.outcome },
            record: { S: recordText },
          },
        }),
      );
    },
    unknownDocumentStatus: (tenant, id) => set(DOCUMENTS_TABLE, `${tenant}#doc`, id, "status", { S: "archived" }),
    // A string where the map belongs: an attribute of the wrong shape.
    breakDocumentSource: (tenant, id) => set(DOCUMENTS_TABLE, `${tenant}#doc`, id, "source", { S: "upload" }),
    unknownMemberRole: (tenant, userId) => set(DIRECTORY_TABLE, `${tenant}#member`, userId, "role", { S: "owner" }),
    invalidLinkTenant: (teamId) => set(DIRECTORY_TABLE, `link#${teamId}`, "link", "tenantId", { S: "acme-corp" }),
    cleanup: async () => raw.destroy(),
  };
});

describe("AWS stores after every port's deleteTenant", () => {
  /** What a tenant leaves in each store through the ports: objects, records, vectors, directory, jobs, limits. */
  async function fill(tenant: TenantId, team: string) {
    const now = new Date().toISOString();
    await adapters.objects.put(tenant, "documents/d1/original", Buffer.from("first"));
    await adapters.objects.put(tenant, "documents/d1/original", Buffer.from("second"));
    const { document } = await adapters.catalog.create(
      tenant,
      newDoc({ source: { kind: "slack", teamId: team, fileId: "F1", channelId: "C1" } }),
    );
    await adapters.audit.append(auditRecord(tenant, new Date()));
    await adapters.index.upsert(tenant, chunksOf(tenant, document.id, "Handbook", ["27 vacation days a year."]));
    await adapters.directory.createTenant({ id: tenant, name: "Erased Ltd", createdAt: now });
    await adapters.directory.addMember({
      tenantId: tenant,
      userId: `u-${team}`,
      email: "a@x.example",
      role: "admin",
      createdAt: now,
    });
    await adapters.directory.createInvite(`hash-${team}`, {
      tenantId: tenant,
      role: "member",
      createdBy: `u-${team}`,
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    await adapters.directory.putLink({ teamId: team, tenantId: tenant, linkedBy: `u-${team}`, linkedAt: now });
    await adapters.directory.putInstallation({ teamId: team, botUserId: "UBOT", botToken: "xoxb-1", installedAt: now });
    await adapters.directory.putSlackIdentity({
      tenantId: tenant,
      userId: `u-${team}`,
      teamId: team,
      slackUserId: "U1",
      linkedAt: now,
    });
    await adapters.queue.enqueue({
      type: "ingest",
      tenantId: tenant,
      payload: { documentId: document.id },
      idempotencyKey: `ingest:${tenant}`,
    });
    await adapters.rateLimiter?.take([{ key: `tenant:${tenant}`, limit: 10, windowMs: 60_000 }]);
  }

  it("leaves nothing that names the tenant in DynamoDB, S3 or Pinecone, and the other tenant whole", async () => {
    const a = newTenantId();
    const b = newTenantId();
    const teamA = `T${a.slice(2, 12).toUpperCase()}`;
    await fill(a, teamA);
    await fill(b, `T${b.slice(2, 12).toUpperCase()}`);
    await adapters.directory.markDeleting(a, new Date());
    const before = await awsStoreTraces(stack.config, [a, teamA]);
    expect(new Set(before.map((t) => t.store))).toEqual(new Set(["dynamodb", "s3", "pinecone"]));
    const beforeB = await awsStoreTraces(stack.config, [b]);

    await adapters.objects.deleteTenant(a);
    await adapters.catalog.deleteTenant(a);
    await adapters.audit.deleteTenant(a);
    await adapters.index.deleteTenant(a);
    await adapters.queue.deleteTenant(a);
    await adapters.directory.deleteTenant(a);

    expect(await awsStoreTraces(stack.config, [a, teamA])).toEqual([]);
    expect(await awsStoreTraces(stack.config, [b])).toEqual(beforeB);
    // The one thing left: the job message already in SQS (it fails harmlessly once delivered).
    const queued = await awsStoreTraces(stack.config, [a], { sqs: stack.sqs });
    expect(queued.map((t) => t.store)).toEqual(["sqs"]);
  });
});
