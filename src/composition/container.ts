import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Jwks } from "aws-jwt-verify/jwk";
import { JsonLogger } from "../adapters/local/json-logger.js";
import { MemoryRateLimiter } from "../adapters/local/memory-rate-limiter.js";
import { TokenCipher } from "../adapters/shared/token-cipher.js";
import { type Config, slackMode } from "../config/config.js";
import type { DocumentRecord } from "../domain/documents.js";
import type { TenantId } from "../domain/tenant.js";
import { chunkPages } from "../ingest/chunk.js";
import { extractText } from "../ingest/extract.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { ChatModel } from "../ports/chat-model.js";
import type { ChunkIndex } from "../ports/chunk-index.js";
import type { DocumentCatalog } from "../ports/document-catalog.js";
import type { IdentityProvider } from "../ports/identity-provider.js";
import type { JobQueue, JobRunner } from "../ports/job-queue.js";
import type { Logger } from "../ports/logger.js";
import type { ObjectStore } from "../ports/object-store.js";
import type { RateLimiter } from "../ports/rate-limiter.js";
import type { TenantDirectory } from "../ports/tenant-directory.js";
import { AccountService } from "../services/accounts.js";
import { AnswerService } from "../services/answer-question.js";
import { DocumentService } from "../services/documents.js";
import { LinkService } from "../services/link-workspace.js";

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
  chat: ChatModel;
  /** Shared limiter for several instances; the in-memory one is used when absent. */
  rateLimiter?: RateLimiter;
  /** The embedded pool's public keys, served at /.well-known/jwks.json. */
  jwks?: Jwks;
  health(): Promise<Record<string, string>>;
  /** Embedded only: removes a tenant's data folder (operators). */
  destroyTenantData?(tenant: TenantId): void;
  close(): Promise<void>;
}

/** Everything the entry points need: the adapters of one backend plus the services over them. */
export interface Container extends Adapters {
  config: Config;
  logger: Logger;
  accounts: AccountService;
  documents: DocumentService;
  answers: AnswerService;
  /** Workspace links: one-time link tokens, linking and unlinking. */
  links: LinkService;
  /** Per-tenant and per-user question limits (Slack). */
  rateLimiter: RateLimiter;
  /** Subscribes to documents reaching `ready` or `failed` after an ingest job (Slack replies in the thread). */
  onDocumentSettled(listener: DocumentSettledListener): void;
  cipher: TokenCipher;
  linkSecret: Buffer;
}

export type DocumentSettledListener = (tenant: TenantId, document: DocumentRecord) => Promise<void>;

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

  const accounts = new AccountService(a.identity, a.directory, logger);
  const pdfLimits = {
    maxPages: config.MAX_PAGES,
    timeoutMs: config.PARSE_TIMEOUT_MS,
    memoryMb: config.PARSE_MEMORY_MB,
  };
  const documents = new DocumentService(
    a.catalog,
    a.objects,
    a.index,
    a.queue,
    (kind, data) => extractText(kind, data, pdfLimits),
    (pages) => chunkPages(pages, { targetWords: config.CHUNK_WORDS, overlapWords: config.CHUNK_OVERLAP_WORDS }),
    { maxFileBytes: config.MAX_FILE_BYTES, maxPages: config.MAX_PAGES },
    logger,
  );
  const answers = new AnswerService(
    a.index,
    a.chat,
    a.audit,
    {
      topK: config.RETRIEVAL_TOP_K,
      maxSteps: config.ANSWER_MAX_STEPS,
      maxQuestionChars: config.MAX_QUESTION_CHARS,
    },
    logger,
  );
  const settledListeners: DocumentSettledListener[] = [];
  a.runner.register("ingest", async (job) => {
    const document = await documents.process(job);
    if (!job.tenantId || !document || (document.status !== "ready" && document.status !== "failed")) return;
    for (const listener of settledListeners) {
      // Indexing succeeded (or failed for good); a listener's trouble must not re-run it.
      await listener(job.tenantId, document).catch((error: unknown) =>
        logger.warn("document listener failed", { error, tenantId: job.tenantId, documentId: document.id }),
      );
    }
  });
  const linkSecret = Buffer.from(secrets.linkSecret, "utf8");
  const links = new LinkService(a.directory, linkSecret, logger, { publicUrl: config.PUBLIC_URL });
  logger.info("container ready", {
    backend: config.BACKEND,
    vectorStore: config.VECTOR_STORE,
    model: a.chat.modelId,
    slack: slackMode(config),
  });
  return {
    config,
    logger,
    ...a,
    accounts,
    documents,
    answers,
    links,
    rateLimiter: a.rateLimiter ?? new MemoryRateLimiter(),
    onDocumentSettled: (listener) => {
      settledListeners.push(listener);
    },
    cipher,
    linkSecret,
  };
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
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      try {
        writeFileSync(file, make(), { mode: 0o600, flag: "wx" });
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
