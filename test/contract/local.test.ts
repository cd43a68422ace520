import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDirectoryDatabase } from "../../src/adapters/local/directory-database.js";
import { ExtractiveChatModel } from "../../src/adapters/local/extractive-chat-model.js";
import { FsObjectStore } from "../../src/adapters/local/fs-object-store.js";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import { LocalIdentityProvider } from "../../src/adapters/local/local-identity-provider.js";
import { MemoryRateLimiter } from "../../src/adapters/local/memory-rate-limiter.js";
import { SqliteAuditLog } from "../../src/adapters/local/sqlite-audit-log.js";
import { SqliteChunkIndex } from "../../src/adapters/local/sqlite-chunk-index.js";
import { SqliteDocumentCatalog } from "../../src/adapters/local/sqlite-document-catalog.js";
import { SqliteJobQueue } from "../../src/adapters/local/sqlite-job-queue.js";
import { SqliteTenantDirectory } from "../../src/adapters/local/sqlite-tenant-directory.js";
import { TenantDatabases } from "../../src/adapters/local/tenant-databases.js";
import { TokenCipher } from "../../src/adapters/shared/token-cipher.js";
import { describeAuditLogContract } from "./audit-log.contract.js";
import { describeChatModelContract } from "./chat-model.contract.js";
import { describeChunkIndexContract } from "./chunk-index.contract.js";
import { describeDamagedRecordsContract } from "./damaged-records.contract.js";
import { describeDocumentCatalogContract } from "./document-catalog.contract.js";
import { describeIdentityProviderContract } from "./identity-provider.contract.js";
import { describeJobQueueContract } from "./job-queue.contract.js";
import { describeObjectStoreContract } from "./object-store.contract.js";
import { describeRateLimiterContract } from "./rate-limiter.contract.js";
import { recordingLogger } from "./support.js";
import { describeTenantDirectoryContract } from "./tenant-directory.contract.js";

/** Every port contract against the embedded default adapters, each test on a fresh data folder. */
function dataDir() {
  const dir = mkdtempSync(join(tmpdir(), "enclave-contract-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function tenantStores() {
  const { dir, remove } = dataDir();
  const dbs = new TenantDatabases(dir, 8);
  return {
    dbs,
    cleanup: async () => {
      dbs.close();
      remove();
    },
  };
}

const silent = new JsonLogger("silent");

describeObjectStoreContract("FsObjectStore", async () => {
  const { dbs, cleanup } = tenantStores();
  return { adapter: new FsObjectStore(dbs), cleanup };
});

describeDocumentCatalogContract("SqliteDocumentCatalog", async () => {
  const { dbs, cleanup } = tenantStores();
  return { adapter: new SqliteDocumentCatalog(dbs), cleanup };
});

describeChunkIndexContract("SqliteChunkIndex", async () => {
  const { dbs, cleanup } = tenantStores();
  return { adapter: new SqliteChunkIndex(dbs), cleanup };
});

describeAuditLogContract("SqliteAuditLog", async () => {
  const { dbs, cleanup } = tenantStores();
  return { adapter: new SqliteAuditLog(dbs), cleanup };
});

describeTenantDirectoryContract("SqliteTenantDirectory", async () => {
  const { dir, remove } = dataDir();
  const db = openDirectoryDatabase(dir);
  return {
    adapter: new SqliteTenantDirectory(db, new TokenCipher(Buffer.alloc(32, 7))),
    rawInstallation: async (teamId) =>
      JSON.stringify(db.prepare("SELECT * FROM installations WHERE team_id = ?").get(teamId)),
    cleanup: async () => {
      db.close();
      remove();
    },
  };
});

describeIdentityProviderContract("LocalIdentityProvider", async () => {
  const { dir, remove } = dataDir();
  const db = openDirectoryDatabase(dir);
  const adapter = new LocalIdentityProvider(db, {
    dataDir: dir,
    issuer: "http://localhost:3000",
    audience: "enclave-web",
    ttlSeconds: 600,
  });
  return {
    adapter,
    cleanup: async () => {
      db.close();
      remove();
    },
  };
});

describeChatModelContract("ExtractiveChatModel", async () => ({
  adapter: new ExtractiveChatModel(),
  cleanup: async () => {},
}));

describeJobQueueContract("SqliteJobQueue", async () => {
  const { dir, remove } = dataDir();
  const db = openDirectoryDatabase(dir);
  const options = { concurrency: 2, maxAttempts: 3, leaseMs: 300, retryBaseMs: 10, pollMs: 20 };
  const queue = new SqliteJobQueue(db, options, silent);
  return {
    queue,
    runner: queue,
    maxAttempts: options.maxAttempts,
    leaseMs: options.leaseMs,
    deadJobs: async () => queue.deadJobs(),
    cleanup: async () => {
      db.close();
      remove();
    },
  };
});

describeRateLimiterContract("MemoryRateLimiter", async () => ({
  adapter: new MemoryRateLimiter(),
  cleanup: async () => {},
}));

describeDamagedRecordsContract("SQLite", async () => {
  const { dir, remove } = dataDir();
  const dbs = new TenantDatabases(dir, 8);
  const db = openDirectoryDatabase(dir);
  const { logger, lines, text } = recordingLogger();
  return {
    audit: new SqliteAuditLog(dbs, logger),
    catalog: new SqliteDocumentCatalog(dbs, logger),
    directory: new SqliteTenantDirectory(db, new TokenCipher(Buffer.alloc(32, 7)), logger),
    lines,
    logText: text,
    putRawAudit: async (r, recordText) => {
      dbs
        .get(r.tenantId)
        .prepare(
          "INSERT INTO audit (id, tenant_id, created_at, user_id, surface, outcome, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .run(r.id, r.tenantId, r.createdAt, r.actor.userId, r.surface, r.outcome, recordText);
    },
    unknownDocumentStatus: async (tenant, id) => {
      dbs.get(tenant).prepare("UPDATE documents SET status = 'archived' WHERE id = ?").run(id);
    },
    breakDocumentSource: async (tenant, id) => {
      dbs.get(tenant).prepare(`UPDATE documents SET source = '{"kind":"upl' WHERE id = ?`).run(id);
    },
    unknownMemberRole: async (tenant, userId) => {
      // The column's CHECK would refuse it: damage of the kind only a hand edit or another tool makes.
      db.pragma("ignore_check_constraints = ON");
      db.prepare("UPDATE members SET role = 'owner' WHERE tenant_id = ? AND user_id = ?").run(tenant, userId);
      db.pragma("ignore_check_constraints = OFF");
    },
    invalidLinkTenant: async (teamId) => {
      db.pragma("foreign_keys = OFF");
      db.prepare("UPDATE links SET tenant_id = 'acme-corp' WHERE team_id = ?").run(teamId);
      db.pragma("foreign_keys = ON");
    },
    cleanup: async () => {
      dbs.close();
      db.close();
      remove();
    },
  };
});
