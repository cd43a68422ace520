import { resolve } from "node:path";
import { openDirectoryDatabase } from "../adapters/local/directory-database.js";
import { ExtractiveChatModel } from "../adapters/local/extractive-chat-model.js";
import { ForegroundTracker } from "../adapters/local/foreground.js";
import { FsObjectStore } from "../adapters/local/fs-object-store.js";
import { HeapTidier } from "../adapters/local/heap-tidier.js";
import { LocalIdentityProvider } from "../adapters/local/local-identity-provider.js";
import { PrometheusMetrics } from "../adapters/local/prometheus-metrics.js";
import { SqliteAuditLog } from "../adapters/local/sqlite-audit-log.js";
import { SqliteChunkIndex } from "../adapters/local/sqlite-chunk-index.js";
import { SqliteDocumentCatalog } from "../adapters/local/sqlite-document-catalog.js";
import { SqliteJobQueue } from "../adapters/local/sqlite-job-queue.js";
import { SqliteTenantDirectory } from "../adapters/local/sqlite-tenant-directory.js";
import { TenantDatabases } from "../adapters/local/tenant-databases.js";
import type { TokenCipher } from "../adapters/shared/token-cipher.js";
import type { Config } from "../config/config.js";
import { closeSandboxes } from "../ingest/child-sandbox.js";
import type { ChatModel } from "../ports/chat-model.js";
import type { Logger } from "../ports/logger.js";
import type { Adapters } from "./container.js";

/** The embedded default: SQLite, files under DATA_DIR, local identity, extractive answers. */
export async function buildLocalAdapters(config: Config, logger: Logger, cipher: TokenCipher): Promise<Adapters> {
  const dataDir = resolve(config.DATA_DIR);
  const directoryDb = openDirectoryDatabase(dataDir);
  const tenants = new TenantDatabases(dataDir, config.TENANT_DB_CACHE);
  // The worker runs on the event loop that acknowledges Slack: it starts no job while a delivery waits.
  const foreground = new ForegroundTracker();
  const tidier = new HeapTidier();
  const queue = new SqliteJobQueue(
    directoryDb,
    {
      concurrency: config.WORKER_CONCURRENCY,
      maxAttempts: config.JOB_MAX_ATTEMPTS,
      leaseMs: config.JOB_LEASE_MS,
      retryBaseMs: config.JOB_RETRY_BASE_MS,
      foreground,
      // Indexing leaves the most garbage behind: after it, the heap is tidied when it has grown a lot.
      afterJob: (type) => {
        if (type === "ingest") tidier.afterHeavyWork();
      },
    },
    logger.child({ component: "worker" }),
  );
  // Damaged stored records are logged by the store that found them (see shared/stored-records.ts).
  const storeLog = logger.child({ component: "store" });
  const identity = new LocalIdentityProvider(
    directoryDb,
    {
      dataDir,
      issuer: config.PUBLIC_URL,
      audience: config.TOKEN_AUDIENCE,
      ttlSeconds: config.TOKEN_TTL_SECONDS,
    },
    storeLog,
  );
  const chat = await chatModel(config, logger);
  return {
    identity,
    jwks: identity.jwks,
    directory: new SqliteTenantDirectory(directoryDb, cipher, storeLog),
    catalog: new SqliteDocumentCatalog(tenants, storeLog),
    objects: new FsObjectStore(tenants),
    index: new SqliteChunkIndex(tenants),
    audit: new SqliteAuditLog(tenants, storeLog),
    queue,
    runner: queue,
    foreground,
    chat,
    // Read at scrape time: the queue's counts are one query on the directory database.
    metrics: new PrometheusMetrics(
      { jobs: () => queue.counts(), openTenantDatabases: () => tenants.openCount() },
      { processMetrics: true },
    ),
    async health() {
      try {
        directoryDb.prepare("SELECT 1").get();
        return { database: "ok", worker: "ok" };
      } catch (error) {
        return { database: `error: ${(error as Error).message}`, worker: "ok" };
      }
    },
    destroyTenantData: (tenant) => tenants.destroy(tenant),
    async close() {
      await queue.stop();
      // The warm PDF parsers: once the queue has stopped, no job needs them.
      await closeSandboxes();
      tenants.close();
      directoryDb.close();
    },
  };
}

/** The model behind answers; cloud SDKs are loaded only when configured. */
async function chatModel(config: Config, logger: Logger): Promise<ChatModel> {
  if (config.CHAT_MODEL === "bedrock") return (await import("./aws.js")).buildBedrockChatModel(config, logger);
  if (config.CHAT_MODEL === "openai") return (await import("./openai.js")).buildOpenAiChatModel(config, logger);
  return new ExtractiveChatModel();
}
