import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteChunkIndex } from "../../src/adapters/local/sqlite-chunk-index.js";
import { TenantDatabases } from "../../src/adapters/local/tenant-databases.js";
import { ORG_KEY } from "../../src/domain/access.js";
import { newTenantId } from "../../src/domain/tenant.js";
import { queryTerms, stem, words } from "../../src/domain/terms.js";

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

describe("BM25 from the statistics stored at index time", () => {
  const passage = (tenant: ReturnType<typeof newTenantId>, documentId: string, ordinal: number, text: string) => ({
    id: `${documentId}#${ordinal}`,
    tenantId: tenant,
    documentId,
    ordinal,
    title: "Notes",
    page: ordinal + 1,
    text,
    access: [ORG_KEY],
  });
  const texts = [
    "Vacation requests need approval from your manager.",
    "Vacation days carry over: unused vacation days expire in March.",
    "Expense claims need receipts.",
  ];

  /** Lucene's BM25 (k1 1.2, b 0.75) computed here from the texts, independently of the index. */
  function expectedScore(query: string, target: string, collection: readonly string[]): number {
    const analysed = collection.map((t) => words(`Notes ${t}`).map(stem));
    const avgdl = analysed.reduce((sum, w) => sum + w.length, 0) / analysed.length;
    const doc = words(`Notes ${target}`).map(stem);
    let score = 0;
    for (const term of queryTerms(query)) {
      const df = analysed.filter((w) => w.includes(term)).length;
      const tf = doc.filter((w) => w === term).length;
      if (tf === 0) continue;
      const idf = Math.log(1 + (analysed.length - df + 0.5) / (df + 0.5));
      score += (idf * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * doc.length) / avgdl));
    }
    return score;
  }

  it("scores every hit with Lucene's BM25 over the tenant's collection", async () => {
    const index = new SqliteChunkIndex(dbs);
    const tenant = newTenantId();
    await index.upsert(
      tenant,
      texts.map((t, i) => passage(tenant, "handbook", i, t)),
    );
    const query = "How many vacation days carry over?";
    const hits = await index.search(tenant, query, { k: 5, readable: [ORG_KEY] });
    expect(hits.map((h) => h.page)).toEqual([2, 1]);
    hits.forEach((hit) => {
      expect(hit.score).toBeCloseTo(expectedScore(query, hit.text, texts), 10);
    });
  });

  it("uses statistics another process changed: a term grown common weighs less at the next search", async () => {
    const index = new SqliteChunkIndex(dbs);
    const tenant = newTenantId();
    await index.upsert(
      tenant,
      texts.map((t, i) => passage(tenant, "handbook", i, t)),
    );
    const query = "vacation approval";
    const search = () => index.search(tenant, query, { k: 2, readable: [ORG_KEY] });
    const before = await search();
    expect(before.map((h) => h.chunkId)).toEqual(["handbook#0", "handbook#1"]);
    expect(before[0]?.score).toBeCloseTo(expectedScore(query, texts[0] ?? "", texts), 10);

    // The CLI, say: its own handle on the same files.
    const other = new TenantDatabases(dir);
    const more = Array.from({ length: 6 }, (_, i) => `Approval of travel number ${i} is automatic.`);
    await new SqliteChunkIndex(other).upsert(
      tenant,
      more.map((t, i) => passage(tenant, "travel", i, t)),
    );
    other.close();

    // "approval" is now in most passages: the passage saying "vacation" twice comes first.
    const after = await search();
    expect(after.map((h) => h.chunkId)).toEqual(["handbook#1", "handbook#0"]);
    after.forEach((hit) => {
      expect(hit.score).toBeCloseTo(expectedScore(query, hit.text, [...texts, ...more]), 10);
    });
  });

  it("merges the index after large writes, and finds nothing of a deleted document afterwards", async () => {
    const index = new SqliteChunkIndex(dbs);
    const tenant = newTenantId();
    const unmerged = () =>
      (dbs.get(tenant).prepare("SELECT unmerged FROM chunk_stats").get() as { unmerged: number }).unmerged;
    await index.upsert(tenant, [passage(tenant, "small", 0, "A short note about parking permits.")]);
    expect(unmerged()).toBe(1);
    const many = Array.from({ length: 250 }, (_, i) => passage(tenant, "big", i, `Parking permit rule ${i}.`));
    await index.upsert(tenant, many);
    expect(unmerged()).toBe(0);
    expect(await index.search(tenant, "parking permits", { k: 300, readable: [ORG_KEY] })).toHaveLength(251);
    await index.deleteDocument(tenant, "big");
    expect(unmerged()).toBe(0);
    const left = await index.search(tenant, "parking permits", { k: 300, readable: [ORG_KEY] });
    expect(left.map((h) => h.chunkId)).toEqual(["small#0"]);
  });
});
