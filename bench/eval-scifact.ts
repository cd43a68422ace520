import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteChunkIndex } from "../src/adapters/local/sqlite-chunk-index.js";
import { TenantDatabases } from "../src/adapters/local/tenant-databases.js";
import { newTenantId } from "../src/domain/tenant.js";
import { indexSciFact, loadSciFact, MEMBER, ndcgAt, recallAt, sciFactAvailable, sciFactMissing } from "./scifact.js";

/**
 * Retrieval quality of the embedded index on BEIR SciFact: every abstract becomes one passage
 * (title + text) of one tenant, every test query is asked as is, and the ranked document ids are
 * scored like trec_eval. The published BM25 baseline is nDCG@10 0.665.
 */
export async function evaluateSciFact(): Promise<{
  ndcg10: number;
  recall100: number;
  queries: number;
  docs: number;
}> {
  const data = loadSciFact();
  const dir = mkdtempSync(join(tmpdir(), "enclave-scifact-"));
  const dbs = new TenantDatabases(dir);
  try {
    const index = new SqliteChunkIndex(dbs);
    const tenant = newTenantId();
    await indexSciFact(index, tenant, data.corpus);
    let ndcg = 0;
    let recall = 0;
    for (const q of data.queries) {
      const hits = await index.search(tenant, q.text, { k: 100, readable: MEMBER });
      const ranked = hits.map((h) => h.documentId);
      const rel = data.qrels.get(q.id) ?? new Map<string, number>();
      ndcg += ndcgAt(ranked, rel, 10);
      recall += recallAt(ranked, rel, 100);
    }
    return {
      ndcg10: ndcg / data.queries.length,
      recall100: recall / data.queries.length,
      queries: data.queries.length,
      docs: data.corpus.length,
    };
  } finally {
    dbs.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1]?.endsWith("eval-scifact.ts");
if (isMain) {
  if (!sciFactAvailable()) {
    console.error(sciFactMissing());
    process.exit(1);
  }
  const r = await evaluateSciFact();
  console.log(`BEIR SciFact (test): ${r.queries} queries over ${r.docs} abstracts`);
  console.log(`  nDCG@10    ${r.ndcg10.toFixed(4)}   (published BM25: 0.665; Anserini flat: 0.6789)`);
  console.log(`  Recall@100 ${r.recall100.toFixed(4)}   (published BM25: 0.908; Anserini flat: 0.9253)`);
  process.exit(r.ndcg10 >= 0.665 ? 0 : 1);
}
