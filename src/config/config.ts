import { z } from "zod";

/**
 * Every setting of the product, validated once at start. With no environment at all the result is
 * the embedded default. Names match `.env.example`; a bad value fails with the variable's name.
 */
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));
const url = (def: string) =>
  z
    .url()
    .default(def)
    .transform((v) => v.replace(/\/+$/, ""));
const optionalUrl = optionalString.pipe(z.url().optional()).transform((v) => v?.replace(/\/+$/, ""));
const bool = (def: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"])
    .default(def ? "true" : "false")
    .transform((v) => v === "true" || v === "1" || v === "yes");

export const configSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  DATA_DIR: z.string().min(1).default("./data"),
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: int(3000, 0, 65535),
  /** Where users reach the server (link pages, OAuth, token issuer); unset: http://localhost:$PORT. */
  PUBLIC_URL: optionalUrl,
  /**
   * Reverse proxies in front of the server whose X-Forwarded-For is believed (the client address that
   * log-in and sign-up limits count by). 0: the server is reached directly. On Lambda the address comes
   * from API Gateway whatever this says.
   */
  TRUST_PROXY_HOPS: int(0, 0, 10),
  /**
   * Embedded: GET /metrics (Prometheus text) then needs `Authorization: Bearer <token>`. Unset, the page
   * is open to anyone who reaches the server (fine on loopback; set it when the port is exposed). On AWS
   * the same figures go to CloudWatch and there is no /metrics.
   */
  METRICS_TOKEN: optionalString,

  BACKEND: z.enum(["local", "aws"]).default("local"),
  VECTOR_STORE: z.enum(["sqlite", "pinecone"]).default("sqlite"),
  CHAT_MODEL: z.enum(["extractive", "bedrock", "openai"]).default("extractive"),

  MAX_FILE_BYTES: int(25 * 1024 * 1024, 1),
  MAX_PAGES: int(2000, 1),
  PARSE_TIMEOUT_MS: int(60_000, 100),
  PARSE_MEMORY_MB: int(1024, 192),
  MAX_QUESTION_CHARS: int(2000, 10),
  MAX_BODY_BYTES: int(64 * 1024, 1024),
  CHUNK_WORDS: int(150, 20, 2000),
  CHUNK_OVERLAP_WORDS: int(30, 0, 500),

  TOKEN_TTL_SECONDS: int(3600, 60, 24 * 3600),
  TOKEN_AUDIENCE: z.string().min(1).default("enclave-web"),
  RETRIEVAL_TOP_K: int(8, 1, 50),
  ANSWER_MAX_STEPS: int(4, 1, 10),

  WORKER_CONCURRENCY: int(2, 1, 32),
  JOB_MAX_ATTEMPTS: int(5, 1, 50),
  JOB_LEASE_MS: int(120_000, 1000),
  JOB_RETRY_BASE_MS: int(1000, 1),
  /**
   * Embedded: how often the recovery sweep looks for documents whose ingest job was lost (on AWS an
   * EventBridge schedule runs it). A document counts as stranded once unchanged for JOB_LEASE_MS.
   */
  RECOVERY_SWEEP_SECONDS: int(60, 1, 24 * 3600),
  /**
   * On SIGTERM/SIGINT, how long requests and jobs in flight get to finish before the server exits
   * anyway; jobs still running go back to the queue.
   */
  SHUTDOWN_TIMEOUT_MS: int(10_000, 0, 10 * 60_000),
  TENANT_DB_CACHE: int(64, 1, 10_000),

  /** 32 bytes, base64 or hex. Encrypts bot tokens at rest. Generated into DATA_DIR when unset (local only). */
  ENCRYPTION_KEY: optionalString,
  /** Signs one-time workspace link tokens. Generated into DATA_DIR when unset (local only). */
  LINK_TOKEN_SECRET: optionalString,

  SLACK_SIGNING_SECRET: optionalString,
  SLACK_BOT_TOKEN: optionalString,
  SLACK_APP_TOKEN: optionalString,
  SLACK_CLIENT_ID: optionalString,
  SLACK_CLIENT_SECRET: optionalString,
  SLACK_STATE_SECRET: optionalString,
  SLACK_API_URL: optionalUrl,
  RATE_LIMIT_TENANT_PER_MINUTE: int(120, 1),
  RATE_LIMIT_USER_PER_MINUTE: int(20, 1),
  /** Failed log-ins per account and per client address before every log-in waits out the window. */
  LOGIN_MAX_FAILURES: int(10, 1, 1000),
  LOGIN_LOCKOUT_MINUTES: int(15, 1, 24 * 60),
  SIGNUP_RATE_LIMIT_PER_HOUR: int(20, 1),
  /** How long Slack's answers about members and conversations are trusted (at most five minutes). */
  SLACK_MEMBERSHIP_CACHE_SECONDS: int(300, 0, 300),

  AWS_REGION: z.string().min(1).default("us-east-1"),
  S3_BUCKET: optionalString,
  DOCUMENTS_TABLE: z.string().min(1).default("enclave-documents"),
  DIRECTORY_TABLE: z.string().min(1).default("enclave-directory"),
  AUDIT_TABLE: z.string().min(1).default("enclave-audit"),
  JOBS_TABLE: z.string().min(1).default("enclave-jobs"),
  AUDIT_RETENTION_DAYS: int(0, 0),
  SQS_QUEUE_URL: optionalString,
  COGNITO_USER_POOL_ID: optionalString,
  COGNITO_CLIENT_ID: optionalString,
  TENANT_ROLE_ARN: optionalString,
  KMS_KEY_ID: optionalString,
  BEDROCK_EMBED_MODEL_ID: z.string().min(1).default("amazon.titan-embed-text-v2:0"),
  BEDROCK_CHAT_MODEL_ID: z.string().min(1).default("amazon.nova-micro-v1:0"),
  EMBED_DIMENSIONS: z.coerce
    .number()
    .int()
    .pipe(z.union([z.literal(256), z.literal(512), z.literal(1024)]))
    .default(1024),
  EMBED_NORMALIZE: bool(true),
  PINECONE_API_KEY: optionalString,
  PINECONE_INDEX: optionalString,
  PINECONE_INDEX_HOST: optionalUrl,

  /**
   * CHAT_MODEL=openai: any server speaking the OpenAI Chat Completions API (OpenAI, Ollama, vLLM,
   * llama.cpp, LM Studio). Local servers need no key. OPENAI_TOOLS=false for models that cannot call
   * tools: the passages are then searched first and quoted in the prompt.
   */
  OPENAI_BASE_URL: url("https://api.openai.com/v1"),
  OPENAI_API_KEY: optionalString,
  OPENAI_MODEL: optionalString,
  OPENAI_TOOLS: bool(true),
  /** Per attempt; the client retries timeouts, 408/409/429/5xx and connection errors OPENAI_MAX_RETRIES times. */
  OPENAI_TIMEOUT_MS: int(60_000, 1, 10 * 60_000),
  OPENAI_MAX_RETRIES: int(2, 0, 10),

  /** Server-only Cognito app client (with a secret) that may write custom:tenant_id at sign-up. */
  COGNITO_SIGNUP_CLIENT_ID: optionalString,
  COGNITO_SIGNUP_CLIENT_SECRET: optionalString,
  /** KMS key for S3 server-side encryption (SSE-KMS with a bucket key); SSE-S3 (AES256) when unset. */
  S3_KMS_KEY_ID: optionalString,
  /** SDK retries: total attempts per call (first try included) and the retry mode, as in the AWS CLI. */
  AWS_MAX_ATTEMPTS: int(4, 1, 20),
  AWS_RETRY_MODE: z.enum(["standard", "adaptive"]).default("standard"),
  /** Titan embeddings in flight at once per batch. */
  EMBED_CONCURRENCY: int(4, 1, 64),
  /**
   * Standard per-service endpoint overrides (emulators, VPC endpoints). The SDK reads these names from the
   * process environment itself; config is our only reader of the environment, so they are passed explicitly.
   */
  AWS_ENDPOINT_URL_S3: optionalUrl,
  AWS_ENDPOINT_URL_DYNAMODB: optionalUrl,
  AWS_ENDPOINT_URL_SQS: optionalUrl,
  AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: optionalUrl,
  AWS_ENDPOINT_URL_STS: optionalUrl,
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME: optionalUrl,
  AWS_ENDPOINT_URL_KMS: optionalUrl,
  /** Static credentials (emulators); unset means the SDK's default provider chain (Lambda role, profile, IMDS). */
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  AWS_SESSION_TOKEN: optionalString,
});

export type Config = Omit<z.infer<typeof configSchema>, "PUBLIC_URL"> & { PUBLIC_URL: string };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig(env: Record<string, string | undefined> = {}): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`));
  }
  const config: Config = {
    ...result.data,
    PUBLIC_URL: result.data.PUBLIC_URL ?? `http://localhost:${result.data.PORT}`,
  };
  const problems = crossFieldProblems(config);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function crossFieldProblems(c: Config): string[] {
  const out: string[] = [];
  if (c.CHUNK_OVERLAP_WORDS >= c.CHUNK_WORDS) out.push("CHUNK_OVERLAP_WORDS: must be smaller than CHUNK_WORDS");
  if (c.LINK_TOKEN_SECRET && c.LINK_TOKEN_SECRET.length < 16)
    out.push("LINK_TOKEN_SECRET: use at least 16 characters (32 random bytes, hex or base64, recommended)");
  const oauth = [c.SLACK_CLIENT_ID, c.SLACK_CLIENT_SECRET, c.SLACK_STATE_SECRET];
  if (oauth.some(Boolean) && !oauth.every(Boolean))
    out.push("SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_STATE_SECRET: set all three for OAuth, or none");
  if ((c.SLACK_BOT_TOKEN || oauth.some(Boolean)) && !c.SLACK_SIGNING_SECRET && !c.SLACK_APP_TOKEN)
    out.push("SLACK_SIGNING_SECRET: required for Slack over HTTP (or set SLACK_APP_TOKEN for Socket Mode)");
  if (c.SLACK_APP_TOKEN && !c.SLACK_APP_TOKEN.startsWith("xapp-")) out.push("SLACK_APP_TOKEN: must start with xapp-");
  if (c.SLACK_BOT_TOKEN && !c.SLACK_BOT_TOKEN.startsWith("xoxb-")) out.push("SLACK_BOT_TOKEN: must start with xoxb-");
  if (c.BACKEND === "aws") {
    if (c.VECTOR_STORE !== "pinecone") out.push("VECTOR_STORE: must be pinecone when BACKEND=aws");
    for (const [name, value] of [
      ["S3_BUCKET", c.S3_BUCKET],
      ["SQS_QUEUE_URL", c.SQS_QUEUE_URL],
      ["COGNITO_USER_POOL_ID", c.COGNITO_USER_POOL_ID],
      ["COGNITO_CLIENT_ID", c.COGNITO_CLIENT_ID],
      ["COGNITO_SIGNUP_CLIENT_ID", c.COGNITO_SIGNUP_CLIENT_ID],
      ["COGNITO_SIGNUP_CLIENT_SECRET", c.COGNITO_SIGNUP_CLIENT_SECRET],
      ["ENCRYPTION_KEY or KMS_KEY_ID", c.ENCRYPTION_KEY ?? c.KMS_KEY_ID],
      ["LINK_TOKEN_SECRET", c.LINK_TOKEN_SECRET],
    ] as const) {
      if (!value) out.push(`${name}: required when BACKEND=aws`);
    }
  }
  if (c.CHAT_MODEL === "openai" && !c.OPENAI_MODEL)
    out.push(
      "OPENAI_MODEL: required when CHAT_MODEL=openai (the model name the server knows, e.g. llama3.1 or gpt-4o-mini)",
    );
  if (c.VECTOR_STORE === "pinecone") {
    if (!c.PINECONE_API_KEY) out.push("PINECONE_API_KEY: required when VECTOR_STORE=pinecone");
    if (!c.PINECONE_INDEX && !c.PINECONE_INDEX_HOST)
      out.push("PINECONE_INDEX or PINECONE_INDEX_HOST: required when VECTOR_STORE=pinecone");
  }
  return out;
}

export type SlackMode = "off" | "socket" | "http";

export function slackMode(c: Config): SlackMode {
  const installable = Boolean(c.SLACK_BOT_TOKEN || c.SLACK_CLIENT_ID);
  if (!installable) return "off";
  return c.SLACK_APP_TOKEN ? "socket" : "http";
}
