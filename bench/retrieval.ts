import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { BM25Retriever } from "@langchain/community/retrievers/bm25";
import { Document } from "@langchain/core/documents";
import Database from "better-sqlite3";
import MiniSearch from "minisearch";
import { SqliteChunkIndex, toFtsQuery } from "../src/adapters/local/sqlite-chunk-index.js";
import { TenantDatabases } from "../src/adapters/local/tenant-databases.js";
import { newTenantId } from "../src/domain/tenant.js";
import { indexSciFact, MEMBER, ndcgAt, type SciFact } from "./scifact.js";
import { percentile } from "./stats.js";

/**
 * Search latency and quality on BEIR SciFact, Enclave's embedded index side by side with what a user
 * could pick instead, over the same corpus, the same queries and the same k:
 *  - bare FTS5: one FTS5 table (same tokenizer, same MATCH expression) ranked by its own bm25(),
 *    returning the top k passages (rowid, title, text, score) as Enclave does, once as loaded and once
 *    merged into one segment ('optimize', which Enclave does after large writes): the floor any
 *    SQLite-based search stands on;
 *  - MiniSearch (in-memory BM25+, its defaults);
 *  - LangChain.js BM25Retriever (scores every document at every query).
 * Within a race each query runs on every engine in turn, in a rotating order, so the machine's noise
 * falls on all of them.
 */
export interface EngineFigures {
  /** "floor": against bare FTS5; "peers": against MiniSearch and LangChain. */
  race: "floor" | "peers";
  engine: string;
  k: number;
  p50: number;
  p95: number;
  ndcg10: number | undefined;
}

interface Engine {
  name: string;
  search(query: string, k: number): Promise<string[]> | string[];
}

function bareFts5(file: string, corpus: SciFact["corpus"], optimize: boolean): Engine & { close(): void } {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.exec("CREATE VIRTUAL TABLE f USING fts5 (title, text, tokenize = 'porter unicode61 remove_diacritics 2')");
  const insert = db.prepare("INSERT INTO f (rowid, title, text) VALUES (?, ?, ?)");
  db.transaction(() => {
    for (const [i, d] of corpus.entries()) insert.run(i + 1, d.title, d.text);
  })();
  if (optimize) db.exec("INSERT INTO f (f) VALUES ('optimize')");
  // Ranked first, then only the k rows returned are read (selecting the text in the ranking query would
  // read it for every match).
  const query = db.prepare(
    `SELECT f.rowid, f.title, f.text, top.score
       FROM (SELECT rowid, bm25(f) AS score FROM f WHERE f MATCH ? ORDER BY score LIMIT ?) top
       JOIN f ON f.rowid = top.rowid ORDER BY top.score`,
  );
  return {
    name: optimize ? "bare FTS5 bm25(), optimized" : "bare FTS5 bm25(), as loaded",
    search(q, k) {
      const match = toFtsQuery(q);
      if (!match) return [];
      return (query.all(match, k) as { rowid: number }[]).map((r) => corpus[r.rowid - 1]?.id ?? "");
    },
    close: () => db.close(),
  };
}

function miniSearch(corpus: SciFact["corpus"]): Engine {
  const index = new MiniSearch<{ id: string; title: string; text: string }>({ fields: ["title", "text"] });
  index.addAll(corpus);
  return {
    name: "MiniSearch 7",
    search: (q, k) =>
      index
        .search(q)
        .slice(0, k)
        .map((r) => String(r.id)),
  };
}

function langChain(corpus: SciFact["corpus"], k: number): Engine {
  const docs = corpus.map((d) => new Document({ pageContent: `${d.title} ${d.text}`, metadata: { id: d.id } }));
  const retriever = BM25Retriever.fromDocuments(docs, { k });
  return {
    name: "LangChain BM25Retriever",
    search: async (q) => (await retriever.invoke(q)).map((d) => String(d.metadata.id)),
  };
}

async function race(
  engines: readonly Engine[],
  data: SciFact,
  k: number,
  name: EngineFigures["race"],
): Promise<EngineFigures[]> {
  const queries = data.queries;
  // One pass first warms the page cache and the JIT, as a running server is warm.
  for (const q of queries) for (const engine of engines) await engine.search(q.text, k);
  const times = engines.map(() => [] as number[]);
  const ndcg = engines.map(() => 0);
  for (const [i, q] of queries.entries()) {
    for (let j = 0; j < engines.length; j++) {
      const e = (i + j) % engines.length;
      const engine = engines[e] as Engine;
      const started = performance.now();
      const ranked = await engine.search(q.text, k);
      (times[e] as number[]).push(performance.now() - started);
      ndcg[e] = (ndcg[e] ?? 0) + ndcgAt(ranked, data.qrels.get(q.id) ?? new Map(), 10);
    }
  }
  return engines.map((engine, e) => ({
    race: name,
    engine: engine.name,
    k,
    p50: percentile(times[e] ?? [], 50),
    p95: percentile(times[e] ?? [], 95),
    ndcg10: k >= 10 ? (ndcg[e] ?? 0) / queries.length : undefined,
  }));
}

/**
 * Enclave against bare FTS5 at k = 10 and 100, then Enclave against the peers at k = 10, in separate
 * races: the peers allocate heavily, and their garbage collection would otherwise land on whichever
 * engine runs next. Enclave's figures appear once per race (`race` tells them apart).
 */
export async function compareRetrieval(data: SciFact, dir: string): Promise<EngineFigures[]> {
  const dbs = new TenantDatabases(join(dir, "enclave"));
  const index = new SqliteChunkIndex(dbs);
  const tenant = newTenantId();
  await indexSciFact(index, tenant, data.corpus);
  const enclave: Engine = {
    name: "Enclave (embedded)",
    search: async (q, k) => (await index.search(tenant, q, { k, readable: MEMBER })).map((h) => h.documentId),
  };
  const loaded = bareFts5(join(dir, "bare.db"), data.corpus, false);
  const optimized = bareFts5(join(dir, "bare-optimized.db"), data.corpus, true);
  try {
    const floor = [enclave, loaded, optimized];
    const top10 = await race(floor, data, 10, "floor");
    const top100 = await race(floor, data, 100, "floor");
    const peers = await race([enclave, miniSearch(data.corpus), langChain(data.corpus, 10)], data, 10, "peers");
    return [...top10, ...top100, ...peers];
  } finally {
    loaded.close();
    optimized.close();
    dbs.close();
  }
}
