import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDirectoryDatabase } from "../../src/adapters/local/directory-database.js";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import { SqliteAuditLog } from "../../src/adapters/local/sqlite-audit-log.js";
import { SqliteTenantDirectory } from "../../src/adapters/local/sqlite-tenant-directory.js";
import { TenantDatabases } from "../../src/adapters/local/tenant-databases.js";
import { TokenCipher } from "../../src/adapters/shared/token-cipher.js";
import { newTenantId, type TenantId } from "../../src/domain/tenant.js";
import type { AuditLog } from "../../src/ports/audit-log.js";
import { AuditRetention } from "../../src/services/audit-retention.js";
import { auditRecord } from "../contract/audit-log.contract.js";

const DAY = 86_400_000;
const NOW = new Date("2025-06-30T12:00:00.000Z");
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);

const dir = mkdtempSync(join(tmpdir(), "enclave-retention-"));
const directoryDb = openDirectoryDatabase(dir);
const dbs = new TenantDatabases(dir);
afterAll(() => {
  dbs.close();
  directoryDb.close();
  rmSync(dir, { recursive: true, force: true });
});

function setUp() {
  const directory = new SqliteTenantDirectory(directoryDb, TokenCipher.fromString(randomBytes(32).toString("hex")));
  const audit = new SqliteAuditLog(dbs);
  const lines: Record<string, unknown>[] = [];
  const logger = new JsonLogger("info", {}, (line) => lines.push(JSON.parse(line)));
  return { directory, audit, lines, logger };
}

async function tenantWith(directory: SqliteTenantDirectory, audit: SqliteAuditLog, ages: number[]) {
  const tenant = newTenantId();
  await directory.createTenant({ id: tenant, name: "Org", createdAt: NOW.toISOString() });
  const records = ages.map((age) => auditRecord(tenant, daysAgo(age)));
  for (const record of records) await audit.append(record);
  return { tenant, records };
}

const remaining = async (audit: SqliteAuditLog, tenant: TenantId) =>
  (await audit.list(tenant, { limit: 100 })).records.map((r) => r.createdAt).sort();

describe("audit retention", () => {
  it("removes only the exchanges older than the cutoff, in every tenant, and says how many", async () => {
    const { directory, audit, lines, logger } = setUp();
    const a = await tenantWith(directory, audit, [45, 31, 29, 1]);
    const b = await tenantWith(directory, audit, [90, 0]);
    const c = await tenantWith(directory, audit, [2]);
    // A tenant that has never asked anything: no database, and the sweep must not create one.
    const empty = newTenantId();
    await directory.createTenant({ id: empty, name: "Quiet", createdAt: NOW.toISOString() });

    const retention = new AuditRetention(directory, audit, { days: 30, now: () => NOW }, logger);
    expect(await retention.run()).toBe(3);

    expect(await remaining(audit, a.tenant)).toEqual([daysAgo(29), daysAgo(1)].map((d) => d.toISOString()));
    expect(await remaining(audit, b.tenant)).toEqual([daysAgo(0).toISOString()]);
    expect(await remaining(audit, c.tenant)).toEqual([daysAgo(2).toISOString()]);
    expect(dbs.has(empty)).toBe(false);
    expect(lines.find((l) => l.msg === "audit retention sweep")).toMatchObject({ removed: 3, retentionDays: 30 });

    // Nothing more to remove the second time.
    expect(await retention.run()).toBe(0);
  });

  it("keeps everything with 0 days and starts no sweep", async () => {
    const { directory, audit, lines, logger } = setUp();
    const { tenant } = await tenantWith(directory, audit, [3650, 400]);
    const retention = new AuditRetention(directory, audit, { days: 0, now: () => NOW }, logger);
    expect(retention.enabled).toBe(false);
    retention.start();
    expect(await retention.run()).toBe(0);
    await retention.stop();
    expect(await remaining(audit, tenant)).toHaveLength(2);
    expect(lines.filter((l) => l.msg === "audit retention sweep")).toEqual([]);
  });

  it("leaves a tenant being deleted to its erasure, and goes on past a tenant that fails", async () => {
    const { directory, audit, lines, logger } = setUp();
    const deleting = await tenantWith(directory, audit, [100]);
    await directory.markDeleting(deleting.tenant, NOW);
    const broken = await tenantWith(directory, audit, [100]);
    const fine = await tenantWith(directory, audit, [100]);
    // The sweep only removes: the rest of the port is not needed here.
    const failing = {
      deleteBefore: async (tenant: TenantId, before: Date) => {
        if (tenant === broken.tenant) throw new Error("disk I/O error");
        return audit.deleteBefore(tenant, before);
      },
    } as AuditLog;
    const retention = new AuditRetention(directory, failing, { days: 30, now: () => NOW }, logger);
    // Other tests' tenants are in the same directory; their old records go too.
    await retention.run();
    expect(await remaining(audit, fine.tenant)).toEqual([]);
    expect(await remaining(audit, broken.tenant)).toHaveLength(1);
    expect(await remaining(audit, deleting.tenant)).toHaveLength(1);
    expect(lines.find((l) => l.msg === "audit retention failed for a tenant")).toMatchObject({
      tenantId: broken.tenant,
    });
    expect(lines.find((l) => l.msg === "audit retention sweep")).toMatchObject({ failedTenants: 1 });
  });
});
