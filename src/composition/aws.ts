import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { CognitoIdentityProviderClient } from "@aws-sdk/client-cognito-identity-provider";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { STSClient } from "@aws-sdk/client-sts";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { Pinecone } from "@pinecone-database/pinecone";
import { BedrockChatModel } from "../adapters/aws/bedrock-chat-model.js";
import { BedrockEmbedder } from "../adapters/aws/bedrock-embedder.js";
import { type CredentialsProvider, clientConfig } from "../adapters/aws/client-config.js";
import { CognitoIdentityProvider } from "../adapters/aws/cognito-identity-provider.js";
import { DynamoAuditLog } from "../adapters/aws/dynamo-audit-log.js";
import { DynamoDocumentCatalog } from "../adapters/aws/dynamo-document-catalog.js";
import { DynamoRateLimiter } from "../adapters/aws/dynamo-rate-limiter.js";
import { DynamoTenantDirectory } from "../adapters/aws/dynamo-tenant-directory.js";
import { EmfMetrics } from "../adapters/aws/emf-metrics.js";
import { S3ObjectStore } from "../adapters/aws/s3-object-store.js";
import { SqsJobQueue } from "../adapters/aws/sqs-job-queue.js";
import { TenantClients, TenantCredentials } from "../adapters/aws/tenant-credentials.js";
import { cipherSealer, kmsSealerFromConfig, type TokenSealer } from "../adapters/aws/token-sealer.js";
import { ExtractiveChatModel } from "../adapters/local/extractive-chat-model.js";
import { type ChunkMetadata, PineconeChunkIndex, retryOn429 } from "../adapters/pinecone/pinecone-chunk-index.js";
import type { TokenCipher } from "../adapters/shared/token-cipher.js";
import type { Config } from "../config/config.js";
import type { ChatModel } from "../ports/chat-model.js";
import type { ChunkIndex } from "../ports/chunk-index.js";
import type { Logger } from "../ports/logger.js";
import type { Adapters } from "./container.js";

/** Options the tests use to watch or replace SDK clients; production passes none. */
export interface AwsClientHooks {
  /** Called with every SDK client built (base and per-tenant), e.g. to add a recording middleware. */
  onClient?: (client: { middlewareStack: unknown }, service: string, tenantScoped: boolean) => void;
  /** Receives the per-tenant client factories once built. */
  onTenantClients?: (clients: { s3: TenantClients<S3Client>; dynamo: TenantClients<DynamoDBDocumentClient> }) => void;
}

export const s3ClientConfig = (config: Config): S3ClientConfig => ({
  ...clientConfig(config, "s3"),
  // Emulators serve buckets by path, and do not speak the SDK's default trailing-checksum uploads.
  ...(config.AWS_ENDPOINT_URL_S3
    ? { forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" }
    : {}),
});

const documentClient = (client: DynamoDBClient) =>
  DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });

/** The AWS shape: Cognito, S3, DynamoDB, SQS, Bedrock and Pinecone, tenant data through tenant-scoped credentials. */
export async function buildAwsAdapters(
  config: Config,
  logger: Logger,
  cipher: TokenCipher,
  hooks: AwsClientHooks = {},
): Promise<Adapters> {
  const log = logger.child({ component: "aws" });
  // Damaged stored records are logged by the store that found them (see shared/stored-records.ts).
  const storeLog = logger.child({ component: "store" });
  const need = (name: string, value: string | undefined): string => {
    if (!value) throw new Error(`${name} is required when BACKEND=aws`);
    return value;
  };
  const watch = <T extends { middlewareStack: unknown }>(client: T, service: string, scoped: boolean): T => {
    hooks.onClient?.(client, service, scoped);
    return client;
  };

  const sts = watch(new STSClient(clientConfig(config, "sts")), "sts", false);
  const credentials = config.TENANT_ROLE_ARN
    ? new TenantCredentials(sts, { roleArn: config.TENANT_ROLE_ARN }, log)
    : undefined;
  if (!credentials) {
    log.warn(
      "TENANT_ROLE_ARN is not set: tenant data is read with the service's own credentials, isolated by key prefixes only",
    );
  }

  const s3Config = s3ClientConfig(config);
  const s3 = new TenantClients<S3Client>(
    watch(new S3Client(s3Config), "s3", false),
    (scoped: CredentialsProvider) => watch(new S3Client({ ...s3Config, credentials: scoped }), "s3", true),
    credentials,
    200,
    (c) => c.destroy(),
  );
  const dynamoConfig = clientConfig(config, "dynamodb");
  const baseDynamo = watch(new DynamoDBClient(dynamoConfig), "dynamodb", false);
  const dynamo = new TenantClients<DynamoDBDocumentClient>(
    documentClient(baseDynamo),
    (scoped: CredentialsProvider) =>
      documentClient(watch(new DynamoDBClient({ ...dynamoConfig, credentials: scoped }), "dynamodb", true)),
    credentials,
    200,
    (c) => c.destroy(),
  );
  const operatorDb = dynamo.base;
  hooks.onTenantClients?.({ s3, dynamo });

  const cognito = watch(
    new CognitoIdentityProviderClient(clientConfig(config, "cognito-identity-provider")),
    "cognito-identity-provider",
    false,
  );
  const identity = new CognitoIdentityProvider(
    cognito,
    {
      region: config.AWS_REGION,
      userPoolId: need("COGNITO_USER_POOL_ID", config.COGNITO_USER_POOL_ID),
      clientId: need("COGNITO_CLIENT_ID", config.COGNITO_CLIENT_ID),
      signUpClientId: need("COGNITO_SIGNUP_CLIENT_ID", config.COGNITO_SIGNUP_CLIENT_ID),
      signUpClientSecret: need("COGNITO_SIGNUP_CLIENT_SECRET", config.COGNITO_SIGNUP_CLIENT_SECRET),
      ...(config.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER
        ? { endpoint: config.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER }
        : {}),
    },
    log,
  );

  const bedrock = watch(new BedrockRuntimeClient(clientConfig(config, "bedrock-runtime")), "bedrock-runtime", false);
  const index = buildPineconeIndex(config, bedrock, log);
  const chat: ChatModel =
    config.CHAT_MODEL === "bedrock"
      ? new BedrockChatModel(bedrock, { modelId: config.BEDROCK_CHAT_MODEL_ID }, log)
      : config.CHAT_MODEL === "openai"
        ? (await import("./openai.js")).buildOpenAiChatModel(config, logger)
        : new ExtractiveChatModel();

  const sqs = watch(new SQSClient(clientConfig(config, "sqs")), "sqs", false);
  const queueUrl = need("SQS_QUEUE_URL", config.SQS_QUEUE_URL);
  const queue = new SqsJobQueue(
    sqs,
    operatorDb,
    {
      queueUrl,
      jobsTable: config.JOBS_TABLE,
      maxAttempts: config.JOB_MAX_ATTEMPTS,
      retryBaseMs: config.JOB_RETRY_BASE_MS,
      concurrency: config.WORKER_CONCURRENCY,
    },
    logger.child({ component: "worker" }),
  );

  // KMS when configured; ENCRYPTION_KEY (when set, never a key generated per instance) opens older values.
  const sealer: TokenSealer = config.KMS_KEY_ID
    ? await kmsSealerFromConfig(config, config.ENCRYPTION_KEY ? cipherSealer(cipher) : undefined)
    : cipherSealer(cipher);

  return {
    identity,
    directory: new DynamoTenantDirectory(operatorDb, config.DIRECTORY_TABLE, sealer, storeLog),
    catalog: new DynamoDocumentCatalog(dynamo, config.DOCUMENTS_TABLE, storeLog),
    objects: new S3ObjectStore(s3, {
      bucket: need("S3_BUCKET", config.S3_BUCKET),
      ...(config.S3_KMS_KEY_ID ? { kmsKeyId: config.S3_KMS_KEY_ID } : {}),
    }),
    index,
    audit: new DynamoAuditLog(dynamo, config.AUDIT_TABLE, { retentionDays: config.AUDIT_RETENTION_DAYS }, storeLog),
    queue,
    runner: queue,
    chat,
    rateLimiter: new DynamoRateLimiter(operatorDb, config.DIRECTORY_TABLE),
    // Written by each function once per invocation (entrypoints/lambda-*.ts). Queue depth and dead jobs
    // are SQS's own CloudWatch metrics of the queue and its dead-letter queue.
    metrics: new EmfMetrics({ namespace: "Enclave", service: "enclave" }, logger.child({ component: "metrics" })),
    async health() {
      const checks: Record<string, string> = {};
      const check = async (name: string, probe: () => Promise<unknown>) => {
        try {
          await probe();
          checks[name] = "ok";
        } catch (error) {
          checks[name] = `error: ${(error as Error).name}`;
        }
      };
      // DynamoDB only: the HTTP function may send to the queue but not read its attributes.
      await check("database", () =>
        operatorDb.send(new GetCommand({ TableName: config.DIRECTORY_TABLE, Key: { pk: "health", sk: "health" } })),
      );
      return checks;
    },
    async close() {
      await queue.stop();
      s3.close();
      dynamo.close();
      for (const client of [sts, cognito, bedrock, sqs]) client.destroy();
    },
  };
}

function buildPineconeIndex(config: Config, bedrock: BedrockRuntimeClient, logger: Logger): ChunkIndex {
  if (config.VECTOR_STORE !== "pinecone") throw new Error("BACKEND=aws needs VECTOR_STORE=pinecone");
  const apiKey = config.PINECONE_API_KEY;
  if (!apiKey) throw new Error("PINECONE_API_KEY is required when VECTOR_STORE=pinecone");
  const retries = Math.max(0, config.AWS_MAX_ATTEMPTS - 1);
  const pinecone = new Pinecone({ apiKey, maxRetries: retries, fetchApi: retryOn429({ maxRetries: retries }) });
  const target = config.PINECONE_INDEX_HOST
    ? { host: config.PINECONE_INDEX_HOST }
    : { name: config.PINECONE_INDEX ?? "" };
  const embedder = new BedrockEmbedder(bedrock, {
    modelId: config.BEDROCK_EMBED_MODEL_ID,
    dimensions: config.EMBED_DIMENSIONS,
    normalize: config.EMBED_NORMALIZE,
    concurrency: config.EMBED_CONCURRENCY,
  });
  return new PineconeChunkIndex(pinecone.index<ChunkMetadata>(target), embedder, logger);
}

/** CHAT_MODEL=bedrock on the embedded backend. */
export async function buildBedrockChatModel(config: Config, logger: Logger): Promise<ChatModel> {
  return new BedrockChatModel(
    new BedrockRuntimeClient(clientConfig(config, "bedrock-runtime")),
    { modelId: config.BEDROCK_CHAT_MODEL_ID },
    logger,
  );
}
