import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrapAws } from "../../src/adapters/aws/bootstrap.js";
import { type Config, loadConfig } from "../../src/config/config.js";
import { type CognitoEmulator, type CognitoLocalOptions, startCognitoLocal } from "./emulators/cognito-local.js";
import { type Emulator, startDynalite } from "./emulators/dynalite.js";
import { type FakePinecone, startFakePinecone } from "./emulators/fake-pinecone.js";
import { type FakeSqs, startFakeSqs } from "./emulators/fake-sqs.js";
import { type FaultProxy, startFaultProxy } from "./emulators/fault-proxy.js";
import { allowS3AccessKey, startS3rver } from "./emulators/s3rver.js";

export interface AwsStack {
  /** Settings for loadConfig / the Lambda handlers: BACKEND=aws on the emulators. */
  env: Record<string, string>;
  config: Config;
  cognito: CognitoEmulator;
  sqs: FakeSqs;
  pinecone: FakePinecone;
  /** Fault-injecting, recording proxies in front of DynamoDB (dynalite), S3 (s3rver) and SQS (the fake). */
  proxies: { dynamodb: FaultProxy; s3: FaultProxy; sqs: FaultProxy };
  dataDir: string;
  stop(): Promise<void>;
}

export const PINECONE_TEST_KEY = "pcsk-test-key";

/**
 * The AWS shape on loopback emulators, all on ports the OS picks: dynalite (DynamoDB) and s3rver (S3)
 * behind fault proxies, cognito-local, a fake SQS and a fake Pinecone data plane; then `aws-bootstrap`
 * creates tables, bucket, queues and the user pool. Bedrock is mocked in-process by the tests.
 */
export async function startAwsStack(
  overrides: Record<string, string> = {},
  options: CognitoLocalOptions = {},
): Promise<AwsStack> {
  const started: { stop(): Promise<void> }[] = [];
  try {
    const [dynalite, s3rver, cognito, sqs, pinecone] = await Promise.all([
      startDynalite(),
      startS3rver(),
      startCognitoLocal(options),
      startFakeSqs(),
      startFakePinecone(PINECONE_TEST_KEY),
    ]);
    started.push(dynalite, s3rver, cognito, sqs, pinecone);
    const [dynamoProxy, s3Proxy, sqsProxy] = await Promise.all([
      startFaultProxy(dynalite.endpoint),
      startFaultProxy(s3rver.endpoint),
      startFaultProxy(sqs.endpoint),
    ]);
    started.push(dynamoProxy, s3Proxy, sqsProxy);
    const suffix = randomBytes(4).toString("hex");
    const dataDir = mkdtempSync(join(tmpdir(), "enclave-aws-"));
    const env: Record<string, string> = {
      BACKEND: "aws",
      VECTOR_STORE: "pinecone",
      CHAT_MODEL: "extractive",
      LOG_LEVEL: "silent",
      // Suites sign up many organisations from one address; the limit itself has its own tests.
      SIGNUP_RATE_LIMIT_PER_HOUR: "10000",
      DATA_DIR: dataDir,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIDSERVICE",
      AWS_SECRET_ACCESS_KEY: "service-secret",
      AWS_MAX_ATTEMPTS: "3",
      AWS_ENDPOINT_URL_DYNAMODB: dynamoProxy.url,
      AWS_ENDPOINT_URL_S3: s3Proxy.url,
      AWS_ENDPOINT_URL_SQS: sqsProxy.url,
      AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: cognito.endpoint,
      S3_BUCKET: `enclave-${suffix}`,
      DOCUMENTS_TABLE: `enclave-documents-${suffix}`,
      DIRECTORY_TABLE: `enclave-directory-${suffix}`,
      AUDIT_TABLE: `enclave-audit-${suffix}`,
      JOBS_TABLE: `enclave-jobs-${suffix}`,
      SQS_QUEUE_URL: `${sqs.endpoint}/000000000000/enclave-jobs-${suffix}`,
      PINECONE_API_KEY: PINECONE_TEST_KEY,
      PINECONE_INDEX_HOST: pinecone.endpoint,
      EMBED_DIMENSIONS: "256",
      ENCRYPTION_KEY: randomBytes(32).toString("hex"),
      LINK_TOKEN_SECRET: randomBytes(32).toString("hex"),
      JOB_MAX_ATTEMPTS: "3",
      JOB_LEASE_MS: "2000",
      JOB_RETRY_BASE_MS: "10",
      ...overrides,
    };
    allowS3AccessKey(env.AWS_ACCESS_KEY_ID ?? "");
    // Bootstrapping creates the ids BACKEND=aws requires, so it runs before they exist.
    const created = await bootstrapAws(loadConfig({ ...env, BACKEND: "local" }));
    Object.assign(env, Object.fromEntries(Object.entries(created).filter(([, v]) => typeof v === "string")), overrides);
    return {
      env,
      config: loadConfig(env),
      cognito,
      sqs,
      pinecone,
      proxies: { dynamodb: dynamoProxy, s3: s3Proxy, sqs: sqsProxy },
      dataDir,
      stop: async () => {
        await Promise.allSettled(started.reverse().map((s) => s.stop()));
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.allSettled(started.map((s) => s.stop()));
    throw error;
  }
}

export type { Emulator };
