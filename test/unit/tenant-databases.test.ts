import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TENANT_PAGE_CACHE_KIB, TenantDatabases } from "../../src/adapters/local/tenant-databases.js";
import { newTenantId } from "../../src/domain/tenant.js";

/** The open tenant files are what the embedded server's memory grows with: each is bounded, and idle ones close. */
let dir: string;
let dbs: TenantDatabases;
const IDLE_MS = 60_000;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "enclave-tenants-"));
  dbs = new TenantDatabases(dir, 3, { idleMs: IDLE_MS });
});

afterEach(() => {
  vi.useRealTimers();
  dbs.close();
  rmSync(dir, { recursive: true, force: true });
});

const count = (tenant: ReturnType<typeof newTenantId>) =>
  (dbs.get(tenant).prepare("SELECT count(*) AS n FROM audit").get() as { n: number }).n;
const addRow = (tenant: ReturnType<typeof newTenantId>) =>
  dbs
    .get(tenant)
    .prepare(
      "INSERT INTO audit (id, tenant_id, created_at, user_id, surface, outcome, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .run(`a${Math.random()}`, tenant, new Date().toISOString(), "u", "api", "answered", "{}");

describe("TenantDatabases", () => {
  it("caches at most TENANT_PAGE_CACHE_KIB of pages a handle, not better-sqlite3's 16 MiB", () => {
    const cacheSize = dbs.get(newTenantId()).pragma("cache_size", { simple: true });
    expect(cacheSize).toBe(-TENANT_PAGE_CACHE_KIB);
    expect(TENANT_PAGE_CACHE_KIB).toBeLessThan(16_000);
  });

  it("closes the handles unused for the idle time, keeps the others, and opens a closed one again intact", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const [quiet, busy] = [newTenantId(), newTenantId()];
    vi.setSystemTime(1_000_000);
    addRow(quiet);
    const quietHandle = dbs.get(quiet);
    vi.setSystemTime(1_000_000 + IDLE_MS / 2);
    addRow(busy);
    expect(dbs.openCount()).toBe(2);

    dbs.closeIdle(1_000_000 + IDLE_MS);
    expect(dbs.openCount()).toBe(1);
    expect(quietHandle.open).toBe(false);
    // The busy tenant's handle is the one still open: using it opens nothing.
    expect(count(busy)).toBe(1);
    expect(dbs.openCount()).toBe(1);
    // The quiet tenant's next use opens its file again, with everything in it.
    expect(count(quiet)).toBe(1);
    expect(dbs.openCount()).toBe(2);
  });

  it("still closes the least recently used handle past the limit", () => {
    const tenants = [newTenantId(), newTenantId(), newTenantId(), newTenantId()];
    const first = dbs.get(tenants[0] as ReturnType<typeof newTenantId>);
    for (const t of tenants.slice(1)) dbs.get(t);
    expect(dbs.openCount()).toBe(3);
    expect(first.open).toBe(false);
  });
});
