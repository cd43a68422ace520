import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteChunkIndex } from "../../src/adapters/local/sqlite-chunk-index.js";
import { TenantDatabases } from "../../src/adapters/local/tenant-databases.js";
import { newTenantId } from "../../src/domain/tenant.js";

const dir = mkdtempSync(join(tmpdir(), "enclave-index-"));
const dbs = new TenantDatabases(dir);
afterAll(() => {
  dbs.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("BM25 in a small collection", () => {
  it("gives positive scores and ranks the passage that matches more, even with two passages", async () => {
    const index = new SqliteChunkIndex(dbs);
    const tenant = newTenantId();
    const passage = (ordinal: number, text: string) => ({
      id: `doc#${ordinal}`,
      tenantId: tenant,
      documentId: "doc",
      ordinal,
      title: "Handbook",
      page: ordinal + 1,
      text,
    });
    await index.upsert(tenant, [
      passage(0, "Employees receive vacation days every year. Vacation requests need approval."),
      passage(1, "Expense claims are due within 30 days. Receipts are required for every claim."),
    ]);
    // "days" is in both passages: FTS5's own idf for it is clamped to zero here.
    const hits = await index.search(tenant, "how many vacation days", 5);
    expect(hits.map((h) => h.page)).toEqual([1, 2]);
    expect(hits[0]?.score).toBeGreaterThan(hits[1]?.score ?? 0);
    expect(hits[1]?.score).toBeGreaterThan(0);
  });
});
