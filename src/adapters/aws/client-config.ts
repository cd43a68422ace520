import type { Config } from "../../config/config.js";

export type AwsService = "s3" | "dynamodb" | "sqs" | "cognito-identity-provider" | "sts" | "bedrock-runtime" | "kms";

const ENDPOINT_SETTING = {
  s3: "AWS_ENDPOINT_URL_S3",
  dynamodb: "AWS_ENDPOINT_URL_DYNAMODB",
  sqs: "AWS_ENDPOINT_URL_SQS",
  "cognito-identity-provider": "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
  sts: "AWS_ENDPOINT_URL_STS",
  "bedrock-runtime": "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
  kms: "AWS_ENDPOINT_URL_KMS",
} as const satisfies Record<AwsService, keyof Config>;

/** Structurally the SDK's AwsCredentialIdentity (kept local: @aws-sdk/types is not a direct dependency). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export type CredentialsProvider = () => Promise<AwsCredentials>;

export interface BaseClientConfig {
  region: string;
  endpoint?: string;
  credentials?: AwsCredentials | CredentialsProvider;
  maxAttempts: number;
  retryMode: string;
}

/**
 * The settings every SDK client shares: region, the standard per-service endpoint override, static
 * credentials when configured (emulators) or else the SDK's default chain, and the SDK's own retry
 * strategy (exponential backoff with jitter, throttling-aware) instead of hand-written loops.
 */
export function clientConfig(config: Config, service: AwsService): BaseClientConfig {
  const endpoint = config[ENDPOINT_SETTING[service]];
  const out: BaseClientConfig = {
    region: config.AWS_REGION,
    maxAttempts: config.AWS_MAX_ATTEMPTS,
    retryMode: config.AWS_RETRY_MODE,
  };
  if (endpoint) out.endpoint = endpoint;
  if (config.AWS_ACCESS_KEY_ID && config.AWS_SECRET_ACCESS_KEY) {
    out.credentials = {
      accessKeyId: config.AWS_ACCESS_KEY_ID,
      secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
      ...(config.AWS_SESSION_TOKEN ? { sessionToken: config.AWS_SESSION_TOKEN } : {}),
    };
  }
  return out;
}

export const endpointOf = (config: Config, service: AwsService): string | undefined =>
  config[ENDPOINT_SETTING[service]];
