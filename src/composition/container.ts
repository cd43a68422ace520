import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { WebClientOptions } from "@slack/web-api";
import type { Jwks } from "aws-jwt-verify/jwk";
import { JsonLogger } from "../adapters/local/json-logger.js";
import { MemoryRateLimiter } from "../adapters/local/memory-rate-limiter.js";
import { makePrivateDirSync, PRIVATE_FILE_MODE } from "../adapters/local/private-files.js";
import { TokenCipher } from "../adapters/shared/token-cipher.js";
import { type Config, slackMode } from "../config/config.js";
import { SLACK_HTTP_RETRY, webApiRetryConfig } from "../domain/retry.js";
import type { TenantId } from "../domain/tenant.js";
import { chunkPages } from "../ingest/chunk.js";
import { extractText } from "../ingest/extract.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { ChatModel } from "../ports/chat-model.js";
import type { ChunkIndex } from "../ports/chunk-index.js";
import type { DocumentCatalog } from "../ports/document-catalog.js";
import type { IdentityProvider } from "../ports/identity-provider.js";
import type { Foreground, JobQueue, JobRunner } from "../ports/job-queue.js";
import type { Logger } from "../ports/logger.js";
import type { Metrics } from "../ports/metrics.js";
import type { ObjectStore } from "../ports/object-store.js";
import type { RateLimiter } from "../ports/rate-limiter.js";
import type { TenantDirectory } from "../ports/tenant-directory.js";
import { AccessService } from "../services/access.js";
import { AccountService } from "../services/accounts.js";
import { AnswerService } from "../services/answer-question.js";
import { AuditService } from "../services/audit.js";
import { AuditRetention } from "../services/audit-retention.js";
import { DocumentService } from "../services/documents.js";
import { InstallationService } from "../services/installations.js";
import { JobService } from "../services/jobs.js";
import { LinkService } from "../services/link-workspace.js";
import { OffboardingService } from "../services/offboarding.js";
import { FeedbackService } from "../services/record-feedback.js";
import { RecoverySweep } from "../services/recovery.js";
import type { Services } from "../services/services.js";
import { Throttle } from "../services/throttle.js";
import { BoltLoggerAdapter } from "../slack/bolt-logger.js";
import { type SlackSettings, slackSettings } from "../slack/settings.js";
import { SlackWebDirectory } from "../slack/slack-directory.js";
import { SlackWorkspaces } from "../slack/workspaces.js";

/** What a backend provides: the ports, wired to one kind of infrastructure (see local.ts, aws.ts). */
export interface Adapters {
  identity: IdentityProvider;
  directory: TenantDirectory;
  catalog: DocumentCatalog;
  objects: ObjectStore;
  index: ChunkIndex;
  audit: AuditLog;
  queue: JobQueue;
  runner: JobRunner;
  /** Requests an in-process runner gives way to (embedded: Slack deliveries); none where jobs run elsewhere. */
  foreground?: Foreground;
  chat: ChatModel;
  /** Shared limiter for several instances; the in-memory one is used when absent. */
  rateLimiter?: RateLimiter;
  /** Operational figures (embedded: a Prometheus page; AWS: CloudWatch EMF); nothing is measured when absent. */
  metrics?: Metrics;
  /** The embedded pool's public keys, served at /.well-known/jwks.json. */
  jwks?: Jwks;
  health(): Promise<Record<string, string>>;
  /** Embedded only: removes a tenant's own folder, its SQLite file among them (the last step of an erasure). */
  destroyTenantData?(tenant: TenantId): void;
  close(): Promise<void>;
}

/** Slack's clients, when Slack is configured: shared by the access rules and the Slack surface. */
export interface SlackWiring {
  settings: SlackSettings;
  workspaces: SlackWorkspaces;
}

/**
 * Everything the entry points need: the adapters of one backend plus the services over them. Only
 * entry points and tests see this; surfaces are handed `services`.
 */
export interface Container extends Adapters {
  config: Config;
  logger: Logger;
  services: Services;
  slack: SlackWiring | undefined;
  rateLimiter: RateLimiter;
  cipher: TokenCipher;
  linkSecret: Buffer;
  /** Re-queues documents whose ingest job was lost (embedded: `start()`; AWS: the scheduled worker). */
  recovery: RecoverySweep;
  /** AUDIT_RETENTION_DAYS where the audit store does not expire records itself (embedded: `start()`). */
  retention: AuditRetention;
}

export interface ContainerOptions {
  logger?: Logger;
  /** Replace adapters (tests inject fakes or emulator-backed clients). */
  overrides?: Partial<Adapters>;
}

export async function buildContainer(config: Config, options: ContainerOptions = {}): Promise<Container> {
  const logger = options.logger ?? new JsonLogger(config.LOG_LEVEL);
  const secrets = loadSecrets(config);
  const cipher = TokenCipher.fromString(secrets.encryptionKey);
  // Cloud SDKs are imported only when that backend is chosen: the embedded default never loads them.
  const base =
    config.BACKEND === "aws"
      ? await (await import("./aws.js")).buildAwsAdapters(config, logger, cipher)
      : await (await import("./local.js")).buildLocalAdapters(config, logger, cipher);
  const a: Adapters = { ...base, ...options.overrides };
  const rateLimiter = a.rateLimiter ?? new MemoryRateLimiter();

  const installations = new InstallationService(a.directory, logger);
  const slack = slackWiring(config, installations, logger);
  const slackDirectory = slack
    ? new SlackWebDirectory(slack.workspaces, logger, config.SLACK_MEMBERSHIP_CACHE_SECONDS * 1000)
    : undefined;
  const access = new AccessService(a.directory, a.catalog, slackDirectory, logger);
  const throttle = new Throttle(rateLimiter, {
    loginMaxFailures: config.LOGIN_MAX_FAILURES,
    loginWindowMs: config.LOGIN_LOCKOUT_MINUTES * 60_000,
    signUpsPerHourPerAddress: config.SIGNUP_RATE_LIMIT_PER_HOUR,
    questionsPerMinutePerTenant: config.RATE_LIMIT_TENANT_PER_MINUTE,
    questionsPerMinutePerUser: config.RATE_LIMIT_USER_PER_MINUTE,
  });
  const accounts = new AccountService(a.identity, a.directory, throttle, logger);
  const pdfLimits = {
    maxPages: config.MAX_PAGES,
    timeoutMs: config.PARSE_TIMEOUT_MS,
    memoryMb: config.PARSE_MEMORY_MB,
  };
  const documents = new DocumentService(
    access,
    a.catalog,
    a.objects,
    a.index,
    a.queue,
    (kind, data, onProgress) => extractText(kind, data, pdfLimits, onProgress),
    (pages) => chunkPages(pages, { targetWords: config.CHUNK_WORDS, overlapWords: config.CHUNK_OVERLAP_WORDS }),
    { maxFileBytes: config.MAX_FILE_BYTES, maxPages: config.MAX_PAGES },
    logger,
    a.metrics,
  );
  const answers = new AnswerService(
    {
      access,
      throttle,
      catalog: a.catalog,
      index: a.index,
      model: a.chat,
      audit: a.audit,
      metrics: a.metrics,
    },
    {
      topK: config.RETRIEVAL_TOP_K,
      maxSteps: config.ANSWER_MAX_STEPS,
      maxQuestionChars: config.MAX_QUESTION_CHARS,
    },
    logger,
  );
  a.runner.register("ingest", (job) => documents.runIngestJob(job));
  const offboarding = new OffboardingService(
    {
      identity: a.identity,
      directory: a.directory,
      catalog: a.catalog,
      objects: a.objects,
      index: a.index,
      audit: a.audit,
      queue: a.queue,
      ...(a.destroyTenantData ? { destroyTenantData: a.destroyTenantData } : {}),
    },
    logger.child({ component: "offboarding" }),
  );
  a.runner.register("delete_tenant", (job) => offboarding.runDeletionJob(job));
  const linkSecret = Buffer.from(secrets.linkSecret, "utf8");
  const links = new LinkService(a.directory, slackDirectory, linkSecret, logger, { publicUrl: config.PUBLIC_URL });
  const services: Services = {
    access,
    accounts,
    documents,
    answers,
    audit: new AuditService(a.audit),
    feedback: new FeedbackService(a.audit, logger),
    links,
    installations,
    jobs: new JobService(a.queue, a.runner),
    offboarding,
  };
  logger.info("container ready", {
    backend: config.BACKEND,
    vectorStore: config.VECTOR_STORE,
    model: a.chat.modelId,
    slack: slackMode(config),
  });
  const recovery = new RecoverySweep(
    documents,
    { staleMs: config.JOB_LEASE_MS, intervalMs: config.RECOVERY_SWEEP_SECONDS * 1000 },
    logger.child({ component: "recovery" }),
    offboarding,
  );
  const retention = new AuditRetention(
    a.directory,
    a.audit,
    { days: config.AUDIT_RETENTION_DAYS },
    logger.child({ component: "retention" }),
  );
  return { config, logger, ...a, services, slack, rateLimiter, cipher, linkSecret, recovery, retention };
}

function slackWiring(config: Config, installations: InstallationService, logger: Logger): SlackWiring | undefined {
  const settings = slackSettings(config);
  if (!settings) return undefined;
  const slackLogger = logger.child({ component: "slack" });
  const clientOptions: WebClientOptions = {
    slackApiUrl: settings.apiUrl,
    logger: new BoltLoggerAdapter(slackLogger, config.LOG_LEVEL),
    // 429s wait for Retry-After and try again; other failures retry briefly, then the job retries.
    rejectRateLimitedCalls: false,
    retryConfig: webApiRetryConfig(SLACK_HTTP_RETRY),
    timeout: 30_000,
  };
  return { settings, workspaces: new SlackWorkspaces(installations, settings, clientOptions, slackLogger) };
}

/**
 * Secrets the embedded default needs but nobody should have to configure: generated once into
 * DATA_DIR/keys (mode 0600) and reused. On AWS they must come from configuration.
 */
function loadSecrets(config: Config): { encryptionKey: string; linkSecret: string } {
  const generated = (name: string, make: () => string): string => {
    const dir = join(resolve(config.DATA_DIR), "keys");
    const file = join(dir, name);
    if (!existsSync(file)) {
      makePrivateDirSync(dir);
      try {
        writeFileSync(file, make(), { mode: PRIVATE_FILE_MODE, flag: "wx" });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
    return readFileSync(file, "utf8").trim();
  };
  return {
    encryptionKey: config.ENCRYPTION_KEY ?? generated("encryption-key", () => randomBytes(32).toString("hex")),
    linkSecret: config.LINK_TOKEN_SECRET ?? generated("link-token-secret", () => randomBytes(32).toString("hex")),
  };
}
