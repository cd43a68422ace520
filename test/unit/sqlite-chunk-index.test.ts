import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteChunkIndex } from "../../src/adapters/local/sqlite-chunk-index.js";
import { TenantDatabases } from "../../src/adapters/local/tenant-databases.js";
import { ORG_KEY } from "../../src/domain/access.js";
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
      access: [ORG_KEY],
    });
    await index.upsert(tenant, [
      passage(0, "Employees receive vacation days every year. Vacation requests need approval."),
      passage(1, "Expense claims are due within 30 days. Receipts are required for every claim."),
    ]);
    // "days" is in both passages: FTS5's own idf for it is clamped to zero here.
    const hits = await index.search(tenant, "how many vacation days", { k: 5, readable: [ORG_KEY] });
    expect(hits.map((h) => h.page)).toEqual([1, 2]);
    expect(hits[0]?.score).toBeGreaterThan(hits[1]?.score ?? 0);
    expect(hits[1]?.score).toBeGreaterThan(0);
  });

  it("finds Chinese and Japanese words inside sentences written without spaces", async () => {
    const index = new SqliteChunkIndex(dbs);
    const tenant = newTenantId();
    const passage = (ordinal: number, text: string) => ({
      id: `jp#${ordinal}`,
      tenantId: tenant,
      documentId: "jp",
      ordinal,
      title: "資料",
      page: 1,
      text,
      access: [ORG_KEY],
    });
    await index.upsert(tenant, [
      passage(0, "非完備の場合、リスク中立確率は一意ではなく、価格も一意でなくなる。"),
      passage(1, "東京の本社は毎週月曜日に会議を開きます。"),
      passage(2, "风险中性概率用于资产定价。"),
    ]);
    expect(
      (await index.search(tenant, "リスク中立確率とは何ですか？", { k: 3, readable: [ORG_KEY] }))[0]?.chunkId,
    ).toBe("jp#0");
    expect((await index.search(tenant, "会議は何曜日ですか", { k: 3, readable: [ORG_KEY] }))[0]?.chunkId).toBe("jp#1");
    expect((await index.search(tenant, "什么是风险中性概率", { k: 3, readable: [ORG_KEY] }))[0]?.chunkId).toBe("jp#2");
    // Deleting still works with the index's own copy of the text.
    await index.deleteDocument(tenant, "jp");
    expect(await index.search(tenant, "リスク中立確率", { k: 3, readable: [ORG_KEY] })).toEqual([]);
  });
});
