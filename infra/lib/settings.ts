import { RetentionDays } from "aws-cdk-lib/aws-logs";

/**
 * Deployment settings. Every one can be given as CDK context (`cdk deploy -c key=value`, or the
 * `context` block of infra/cdk.json) or as a stack prop; the defaults below are what a first deploy gets.
 */
export interface EnclaveSettings {
  /** Slack app Client ID (Basic Information). Unset on the first deploy: Slack stays off until it is given. */
  readonly slackClientId?: string;
  /** Pinecone index name (serverless, dense, cosine, `embedDimensions` dimensions). */
  readonly pineconeIndex: string;
  /** Pinecone index host (https://...). Optional: saves the SDK a describe-index call on cold start. */
  readonly pineconeIndexHost?: string;
  /** Bedrock embedding model id (foundation model id, or a cross-region inference profile id such as `us.`...). */
  readonly bedrockEmbedModelId: string;
  /** Bedrock chat model id for Converse (foundation model id, or an inference profile id such as `us.amazon.nova-micro-v1:0`). */
  readonly bedrockChatModelId: string;
  /** Titan Text Embeddings v2 output size; must match the Pinecone index dimension. */
  readonly embedDimensions: 256 | 512 | 1024;
  /** Most worker invocations at once (SQS event source maximum concurrency, and the reserved concurrency). */
  readonly workerConcurrency: number;
  /**
   * Reserve `workerConcurrency` for the worker. Turn off on accounts whose Lambda concurrency quota is
   * too small to reserve any (new accounts can start at 10); the event source cap still applies.
   */
  readonly reserveWorkerConcurrency: boolean;
  /** SQS receives before a job goes to the dead-letter queue (also given to the app as JOB_MAX_ATTEMPTS). */
  readonly jobMaxAttempts: number;
  /** E-mail address subscribed to the operations alarm topic (dead-letter queue). */
  readonly alarmEmail?: string;
  /** CloudWatch Logs retention for both functions and the API access log. */
  readonly logRetentionDays: RetentionDays;
  /** Days an overwritten or deleted document version stays recoverable in S3 before it expires. */
  readonly noncurrentVersionDays: number;
  /** Public base URL when a custom domain fronts the API; defaults to the API Gateway URL. */
  readonly publicUrl?: string;
  /** Keep the user pool, tables, bucket and keys when the stack is deleted (and turn on deletion protection). */
  readonly retainData: boolean;
}

export const DEFAULT_SETTINGS: EnclaveSettings = {
  pineconeIndex: "enclave",
  bedrockEmbedModelId: "amazon.titan-embed-text-v2:0",
  bedrockChatModelId: "amazon.nova-micro-v1:0",
  embedDimensions: 1024,
  workerConcurrency: 10,
  reserveWorkerConcurrency: true,
  jobMaxAttempts: 5,
  logRetentionDays: RetentionDays.ONE_MONTH,
  noncurrentVersionDays: 30,
  retainData: true,
};

/** The names accepted as context keys, one per setting. */
const KEYS = [
  "slackClientId",
  "pineconeIndex",
  "pineconeIndexHost",
  "bedrockEmbedModelId",
  "bedrockChatModelId",
  "embedDimensions",
  "workerConcurrency",
  "reserveWorkerConcurrency",
  "jobMaxAttempts",
  "alarmEmail",
  "logRetentionDays",
  "noncurrentVersionDays",
  "publicUrl",
  "retainData",
] as const satisfies readonly (keyof EnclaveSettings)[];

export class SettingsError extends Error {
  constructor(problems: string[]) {
    super(`Invalid Enclave deployment settings:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "SettingsError";
  }
}

/** Reads the raw context values (strings from `-c`, any JSON type from cdk.json) for every known key. */
export function settingsFromContext(tryGetContext: (key: string) => unknown): Partial<Record<string, unknown>> {
  const raw: Partial<Record<string, unknown>> = {};
  for (const key of KEYS) {
    const value = tryGetContext(key);
    if (value !== undefined) raw[key] = value;
  }
  return raw;
}

/** Applies defaults and validates. Throws SettingsError naming every bad setting at once. */
export function resolveSettings(raw: Partial<Record<string, unknown>>): EnclaveSettings {
  const problems: string[] = [];
  const str = (key: (typeof KEYS)[number]): string | undefined => {
    const v = raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string" && typeof v !== "number") {
      problems.push(`${key}: expected a string`);
      return undefined;
    }
    const s = String(v).trim();
    return s === "" ? undefined : s;
  };
  const int = (key: (typeof KEYS)[number], def: number, min: number, max: number): number => {
    const s = str(key);
    if (s === undefined) return def;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}: expected an integer from ${min} to ${max}, got ${JSON.stringify(raw[key])}`);
      return def;
    }
    return n;
  };
  const bool = (key: (typeof KEYS)[number], def: boolean): boolean => {
    const v = raw[key];
    if (v === undefined) return def;
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    problems.push(`${key}: expected true or false, got ${JSON.stringify(v)}`);
    return def;
  };

  const embedDimensions = int("embedDimensions", DEFAULT_SETTINGS.embedDimensions, 256, 1024);
  if (![256, 512, 1024].includes(embedDimensions)) problems.push("embedDimensions: must be 256, 512 or 1024");

  const logRetentionDays = int("logRetentionDays", DEFAULT_SETTINGS.logRetentionDays, 1, 3653);
  if (!(Object.values(RetentionDays) as number[]).includes(logRetentionDays)) {
    problems.push(
      `logRetentionDays: ${logRetentionDays} is not a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, ...)`,
    );
  }

  const settings: EnclaveSettings = {
    slackClientId: str("slackClientId"),
    pineconeIndex: str("pineconeIndex") ?? DEFAULT_SETTINGS.pineconeIndex,
    pineconeIndexHost: str("pineconeIndexHost"),
    bedrockEmbedModelId: str("bedrockEmbedModelId") ?? DEFAULT_SETTINGS.bedrockEmbedModelId,
    bedrockChatModelId: str("bedrockChatModelId") ?? DEFAULT_SETTINGS.bedrockChatModelId,
    embedDimensions: embedDimensions as EnclaveSettings["embedDimensions"],
    // The SQS event source's maximum concurrency accepts 2..1000.
    workerConcurrency: int("workerConcurrency", DEFAULT_SETTINGS.workerConcurrency, 2, 1000),
    reserveWorkerConcurrency: bool("reserveWorkerConcurrency", DEFAULT_SETTINGS.reserveWorkerConcurrency),
    jobMaxAttempts: int("jobMaxAttempts", DEFAULT_SETTINGS.jobMaxAttempts, 1, 1000),
    alarmEmail: str("alarmEmail"),
    logRetentionDays: logRetentionDays as RetentionDays,
    noncurrentVersionDays: int("noncurrentVersionDays", DEFAULT_SETTINGS.noncurrentVersionDays, 1, 3650),
    publicUrl: str("publicUrl")?.replace(/\/+$/, ""),
    retainData: bool("retainData", DEFAULT_SETTINGS.retainData),
  };

  for (const key of ["bedrockEmbedModelId", "bedrockChatModelId"] as const) {
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+(:[a-z0-9-]+)*$/i.test(settings[key])) {
      problems.push(`${key}: ${JSON.stringify(settings[key])} does not look like a Bedrock model id`);
    }
  }
  for (const key of ["pineconeIndexHost", "publicUrl"] as const) {
    const v = settings[key];
    if (v !== undefined && !/^https:\/\/[^\s/]+/.test(v)) problems.push(`${key}: must be an https:// URL`);
  }
  if (settings.slackClientId !== undefined && !/^\d+\.\d+$/.test(settings.slackClientId)) {
    problems.push("slackClientId: expected the Slack Client ID, digits.digits (Basic Information > App Credentials)");
  }
  if (settings.alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+$/.test(settings.alarmEmail)) {
    problems.push("alarmEmail: not an e-mail address");
  }
  if (problems.length > 0) throw new SettingsError(problems);
  return settings;
}
