import type { AccessKey } from "../../domain/access.js";
import type { Chunk, ChunkHit } from "../../domain/documents.js";
import type { TermWeights } from "../../domain/relevance.js";
import type { TenantId } from "../../domain/tenant.js";
import { isStopWord, queryTerms, words } from "../../domain/terms.js";
import type { ChunkIndex, SearchOptions } from "../../ports/chunk-index.js";
import { accessByDocument } from "../shared/chunk-access.js";
import { passageTerms, TermCounter } from "./passage-terms.js";
import { type Db, statement, truncateWal } from "./sqlite.js";
import type { TenantDatabases } from "./tenant-databases.js";

/**
 * BM25 over SQLite FTS5 with Porter stemming, one index per tenant (see TenantDatabases). FTS5 finds
 * and ranks the candidates; the best of them are then re-scored with Lucene's BM25 (the classic k1 1.2,
 * b 0.75, FTS5's own defaults), because FTS5's idf is clamped to zero for any term found in half the passages or
 * more: in a small collection (a tenant with two or three documents) every score would be 0 and the
 * order arbitrary. Lucene's idf, log(1 + (N - df + 0.5) / (df + 0.5)), stays positive. Re-scoring reads
 * the term frequencies stored with each passage (passage-terms.ts) and the document frequencies FTS5
 * keeps (passages_vocab): a search never tokenises a candidate's text.
 *
 * Who may read what is held per document in `document_access` (its access keys). The pool is the
 * reader's best passages, never the collection's best with the unreadable ones taken out afterwards
 * (which could leave a reader with nothing): the collection's best are ranked first without a filter,
 * the cheap case of a reader who may read all of them; when one of them is not readable, the pool is
 * ranked again with the filter inside the FTS5 query, before ORDER BY and LIMIT.
 */
const MAX_QUERY_TERMS = 64;
const RERANK_POOL = 30;
const K1 = 1.2;
const B = 0.75;
// Document frequencies looked up in FTS5's vocabulary are kept until the tenant's collection changes.
const DF_CACHE_TENANTS = 64;
const DF_CACHE_TERMS = 4096;
// FTS5 adds a segment to its index at each write and merges them in steps; a query reads every segment.
// Once as many passages were written or removed as a tenth of the collection (and at least
// MERGE_AFTER_CHANGES), the index is merged into one segment: each merge costs about as much as the
// collection's size, so the cost a passage adds stays constant however large the collection grows.
const MERGE_AFTER_CHANGES = 200;
const MERGE_SHARE = 0.1;
// Past this size a whole merge would hold the event loop too long (about 5 ms per 1,000 passages):
// FTS5 merges a bounded amount (MERGE_PAGES pages of about 4 KB) instead, and its own automerge keeps
// the number of segments small.
const OPTIMIZE_MAX_PASSAGES = 20_000;
const MERGE_PAGES = 500;

/**
 * Turns a natural-language question into an FTS5 query: the OR of its meaningful words, each quoted
 * so that no character of the question can be read as FTS5 syntax (quotes, colons, NEAR, AND, *, ^).
 * Returns undefined when nothing searchable remains.
 */
export function toFtsQuery(question: string): string | undefined {
  const terms = [...new Set(words(question).filter((w) => !isStopWord(w)))].slice(0, MAX_QUERY_TERMS);
  if (terms.length === 0) return undefined;
  return terms.map((t) => `"${t.replace(/"/g, '""')}"`).join(" OR ");
}

interface Candidate {
  rowid: number;
  tenant_id: string;
  tokens: number;
  terms: string;
  readable: 0 | 1;
}

interface CollectionStats {
  passages: number;
  tokens: number;
  version: number;
  unmerged: number;
}

interface PassageRow {
  rowid: number;
  chunk_id: string;
  document_id: string;
  title: string;
  page: number;
  text: string;
}

// A reader may read a passage when its document carries one of the reader's keys (a JSON array, read
// once a statement into `reader`).
const READER = "WITH reader(key) AS MATERIALIZED (SELECT value FROM json_each(@keys))";
const READABLE = `EXISTS (SELECT 1 FROM document_access a WHERE a.document_id = c.document_id AND a.key IN reader)`;
const PASSAGE_COLUMNS = "c.chunk_id, c.document_id, c.title, c.page, c.text";

/**
 * FTS5's best `pool` rows for the match (bm25() is lower-is-better), then what re-scoring needs of
 * each: all of them, or (`filtered`) the reader's only. With `passages`, also what a hit returns: when
 * every candidate is returned anyway, it is read in the same statement.
 */
function candidatesSql(filtered: boolean, passages: boolean): string {
  const ranked = filtered
    ? `SELECT passages.rowid AS rowid, bm25(passages) AS rank FROM passages JOIN chunks c ON c.rowid = passages.rowid
        WHERE passages MATCH @match AND ${READABLE} ORDER BY rank LIMIT @pool`
    : "SELECT rowid, bm25(passages) AS rank FROM passages WHERE passages MATCH @match ORDER BY rank LIMIT @pool";
  return `${READER} SELECT c.rowid, c.tenant_id, c.tokens, c.terms, ${filtered ? "1" : READABLE} AS readable
    ${passages ? `, ${PASSAGE_COLUMNS}` : ""}
    FROM (${ranked}) p JOIN chunks c ON c.rowid = p.rowid ORDER BY p.rank`;
}

const PASSAGES = `SELECT c.rowid, ${PASSAGE_COLUMNS} FROM chunks c WHERE c.rowid IN (SELECT value FROM json_each(?))`;

/** The database is this tenant's own file, so a document id names one document; no tenant column needed. */
function replaceAccess(db: Db, documentId: string, access: readonly AccessKey[]): void {
  db.prepare("DELETE FROM document_access WHERE document_id = ?").run(documentId);
  const insert = db.prepare("INSERT OR IGNORE INTO document_access (document_id, key) VALUES (?, ?)");
  for (const key of access) insert.run(documentId, key);
}

export class SqliteChunkIndex implements ChunkIndex {
  private readonly frequencies = new Map<TenantId, { version: number; df: Map<string, number> }>();

  constructor(private readonly dbs: TenantDatabases) {}

  async upsert(tenant: TenantId, chunks: readonly Chunk[]): Promise<void> {
    for (const chunk of chunks) {
      if (chunk.tenantId !== tenant) throw new Error("chunk belongs to another tenant");
    }
    const db = this.dbs.get(tenant);
    const remove = db.prepare("DELETE FROM chunks WHERE tenant_id = ? AND chunk_id = ?");
    const insert = db.prepare(
      `INSERT INTO chunks (chunk_id, tenant_id, document_id, ordinal, page, title, text, tokens, terms)
       VALUES (@id, @tenantId, @documentId, @ordinal, @page, @title, @text, @tokens, @terms)`,
    );
    const access = accessByDocument(chunks);
    db.transaction(() => {
      for (const chunk of chunks) {
        remove.run(tenant, chunk.id);
        const { id, tenantId, documentId, ordinal, page, title, text } = chunk;
        insert.run({ id, tenantId, documentId, ordinal, page, title, text, ...passageTerms(title, text) });
      }
      for (const [documentId, keys] of access) replaceAccess(db, documentId, keys);
    })();
    compact(db);
  }

  async search(tenant: TenantId, query: string, { k, readable }: SearchOptions): Promise<ChunkHit[]> {
    const match = toFtsQuery(query);
    if (!match || readable.length === 0 || k <= 0) return [];
    const db = this.dbs.get(tenant);
    const pool = Math.max(k, RERANK_POOL);
    const whole = k >= pool; // every candidate is returned
    const params = { match, keys: JSON.stringify(readable), pool };
    let candidates = statement(db, candidatesSql(false, whole)).all(params) as Candidate[];
    if (candidates.some((c) => !c.readable)) {
      candidates = statement(db, candidatesSql(true, whole)).all(params) as Candidate[];
    }
    if (candidates.length === 0) return [];
    const terms = queryTerms(query);
    const { total, documentFrequency, tokens } = this.collection(tenant, db, terms);
    const avgdl = total > 0 ? Math.max(1, tokens / total) : 1;
    const idf = terms.map((t) => {
      const df = documentFrequency.get(t) ?? 0;
      return Math.log(1 + (total - df + 0.5) / (df + 0.5));
    });
    const counter = new TermCounter(terms);
    const scored: { candidate: Candidate; score: number; ftsOrder: number }[] = [];
    for (const [ftsOrder, candidate] of candidates.entries()) {
      if (candidate.tenant_id !== tenant) continue;
      const norm = K1 * (1 - B + (B * Math.max(1, candidate.tokens)) / avgdl);
      let score = 0;
      counter.forEach(candidate.terms, (term, tf) => {
        score += (idf[term] as number) * ((tf * (K1 + 1)) / (tf + norm));
      });
      scored.push({ candidate, score, ftsOrder });
    }
    scored.sort((a, b) => b.score - a.score || a.ftsOrder - b.ftsOrder);
    const best = scored.slice(0, k);
    // Otherwise only the passages returned are read in full.
    const rows = whole
      ? undefined
      : new Map(
          (statement(db, PASSAGES).all(JSON.stringify(best.map((b) => b.candidate.rowid))) as PassageRow[]).map((r) => [
            r.rowid,
            r,
          ]),
        );
    const hits: ChunkHit[] = [];
    for (const { candidate, score } of best) {
      const row = rows ? rows.get(candidate.rowid) : (candidate as Candidate & PassageRow);
      if (!row) continue;
      hits.push({
        tenantId: tenant,
        chunkId: row.chunk_id,
        documentId: row.document_id,
        title: row.title,
        page: row.page,
        text: row.text,
        score,
      });
    }
    return hits;
  }

  async setAccess(tenant: TenantId, documentId: string, access: readonly AccessKey[]): Promise<void> {
    const db = this.dbs.get(tenant);
    db.transaction(() => replaceAccess(db, documentId, access))();
  }

  async deleteTenant(tenant: TenantId): Promise<void> {
    this.frequencies.delete(tenant);
    if (!this.dbs.has(tenant)) return;
    const db = this.dbs.get(tenant);
    db.transaction(() => {
      db.prepare("DELETE FROM chunks WHERE tenant_id = ?").run(tenant);
      db.prepare("DELETE FROM document_access").run();
    })();
    truncateWal(db);
  }

  async deleteDocument(tenant: TenantId, documentId: string): Promise<void> {
    const db = this.dbs.get(tenant);
    const removed = db.transaction(() => {
      const { changes } = db
        .prepare("DELETE FROM chunks WHERE tenant_id = ? AND document_id = ?")
        .run(tenant, documentId);
      db.prepare("DELETE FROM document_access WHERE document_id = ?").run(documentId);
      return changes;
    })();
    compact(db);
    // Removed passages leave no copy behind: secure_delete zeroes their rows, FTS5's secure-delete takes
    // their terms out of the index's segments (see tenant-databases.ts), and the pages from before the
    // delete leave the write-ahead log here. Ingest calls this before writing every document: with
    // nothing removed, there is nothing to empty.
    if (removed > 0) truncateWal(db);
  }

  async termWeights(tenant: TenantId, terms: readonly string[]): Promise<TermWeights> {
    const { total, documentFrequency } = this.collection(tenant, this.dbs.get(tenant), terms);
    return { total, documentFrequency };
  }

  /**
   * Passages, words and each term's document frequency in this tenant's collection, as the triggers and
   * FTS5 keep them. Frequencies are cached against the collection's version, which every write bumps
   * (from this process or another), so a cached one is never stale.
   */
  private collection(tenant: TenantId, db: Db, terms: readonly string[]): TermWeights & { tokens: number } {
    const stats = collectionStats(db);
    let cached = this.frequencies.get(tenant);
    this.frequencies.delete(tenant);
    if (!cached || cached.version !== stats.version || cached.df.size > DF_CACHE_TERMS) {
      cached = { version: stats.version, df: new Map() };
    }
    this.frequencies.set(tenant, cached); // most recently used last
    if (this.frequencies.size > DF_CACHE_TENANTS)
      this.frequencies.delete(this.frequencies.keys().next().value as TenantId);
    const documentFrequency = new Map<string, number>();
    const lookup = statement(db, "SELECT doc FROM passages_vocab WHERE term = ?");
    for (const term of terms) {
      let df = cached.df.get(term);
      if (df === undefined) {
        df = (lookup.get(term) as { doc: number } | undefined)?.doc ?? 0;
        cached.df.set(term, df);
      }
      documentFrequency.set(term, df);
    }
    return { total: stats.passages, tokens: stats.tokens, documentFrequency };
  }
}

function collectionStats(db: Db): CollectionStats {
  return (
    (statement(db, "SELECT passages, tokens, version, unmerged FROM chunk_stats WHERE id = 1").get() as
      | CollectionStats
      | undefined) ?? { passages: 0, tokens: 0, version: 0, unmerged: 0 }
  );
}

/** Merges the tenant's FTS5 index (into one segment, up to OPTIMIZE_MAX_PASSAGES) once enough has changed since the last merge. */
function compact(db: Db): void {
  const { passages, unmerged } = collectionStats(db);
  if (unmerged < Math.max(MERGE_AFTER_CHANGES, passages * MERGE_SHARE)) return;
  db.transaction(() => {
    if (passages <= OPTIMIZE_MAX_PASSAGES) db.prepare("INSERT INTO passages (passages) VALUES ('optimize')").run();
    else db.prepare("INSERT INTO passages (passages, rank) VALUES ('merge', ?)").run(MERGE_PAGES);
    db.prepare("UPDATE chunk_stats SET unmerged = 0 WHERE id = 1").run();
  })();
}
