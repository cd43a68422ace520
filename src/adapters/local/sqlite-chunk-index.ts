import type { AccessKey } from "../../domain/access.js";
import type { Chunk, ChunkHit } from "../../domain/documents.js";
import type { TermWeights } from "../../domain/relevance.js";
import type { TenantId } from "../../domain/tenant.js";
import { isStopWord, queryTerms, stem, words } from "../../domain/terms.js";
import type { ChunkIndex, SearchOptions } from "../../ports/chunk-index.js";
import { accessByDocument } from "../shared/chunk-access.js";
import type { Db } from "./sqlite.js";
import type { TenantDatabases } from "./tenant-databases.js";

/**
 * BM25 over SQLite FTS5 with Porter stemming, one index per tenant (see TenantDatabases). FTS5 finds
 * and ranks the candidates; the best of them are then re-scored with Lucene's BM25 (the classic k1 1.2,
 * b 0.75, FTS5's own defaults), because FTS5's idf is clamped to zero for any term found in half the passages or
 * more: in a small collection (a tenant with two or three documents) every score would be 0 and the
 * order arbitrary. Lucene's idf, log(1 + (N - df + 0.5) / (df + 0.5)), stays positive.
 *
 * Who may read what is held per document in `document_access` (its access keys) and applied inside the
 * FTS5 query, before ranking and LIMIT: the pool is the reader's best passages, never the collection's
 * best with the unreadable ones taken out afterwards (which could leave a reader with nothing).
 */
const MAX_QUERY_TERMS = 64;
const RERANK_POOL = 50;
const K1 = 1.2;
const B = 0.75;

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

interface HitRow {
  chunk_id: string;
  tenant_id: string;
  document_id: string;
  title: string;
  page: number;
  text: string;
  tokens: number;
}

/** Words of a passage as the index counts them: title and text together, one field. */
const passageWords = (title: string, text: string): string[] => words(`${title} ${text}`);

/** The database is this tenant's own file, so a document id names one document; no tenant column needed. */
function replaceAccess(db: Db, documentId: string, access: readonly AccessKey[]): void {
  db.prepare("DELETE FROM document_access WHERE document_id = ?").run(documentId);
  const insert = db.prepare("INSERT OR IGNORE INTO document_access (document_id, key) VALUES (?, ?)");
  for (const key of access) insert.run(documentId, key);
}

export class SqliteChunkIndex implements ChunkIndex {
  constructor(private readonly dbs: TenantDatabases) {}

  async upsert(tenant: TenantId, chunks: readonly Chunk[]): Promise<void> {
    for (const chunk of chunks) {
      if (chunk.tenantId !== tenant) throw new Error("chunk belongs to another tenant");
    }
    const db = this.dbs.get(tenant);
    const remove = db.prepare("DELETE FROM chunks WHERE tenant_id = ? AND chunk_id = ?");
    const insert = db.prepare(
      `INSERT INTO chunks (chunk_id, tenant_id, document_id, ordinal, page, title, text, tokens)
       VALUES (@id, @tenantId, @documentId, @ordinal, @page, @title, @text, @tokens)`,
    );
    const access = accessByDocument(chunks);
    db.transaction(() => {
      for (const chunk of chunks) {
        remove.run(tenant, chunk.id);
        const { id, tenantId, documentId, ordinal, page, title, text } = chunk;
        insert.run({ id, tenantId, documentId, ordinal, page, title, text, tokens: passageWords(title, text).length });
      }
      for (const [documentId, keys] of access) replaceAccess(db, documentId, keys);
    })();
  }

  async search(tenant: TenantId, query: string, { k, readable }: SearchOptions): Promise<ChunkHit[]> {
    const match = toFtsQuery(query);
    if (!match || readable.length === 0 || k <= 0) return [];
    const db = this.dbs.get(tenant);
    const rows = db
      .prepare(
        `SELECT c.chunk_id, c.tenant_id, c.document_id, c.title, c.page, c.text, c.tokens
           FROM passages JOIN chunks c ON c.rowid = passages.rowid
          WHERE passages MATCH ? AND c.tenant_id = ?
            AND c.document_id IN (
              SELECT document_id FROM document_access WHERE key IN (SELECT value FROM json_each(?)))
          ORDER BY bm25(passages) LIMIT ?`,
      )
      .all(match, tenant, JSON.stringify(readable), Math.max(k, RERANK_POOL)) as HitRow[];
    if (rows.length === 0) return [];
    const terms = queryTerms(query);
    const { total, documentFrequency } = await this.termWeights(tenant, terms);
    const stats = db.prepare("SELECT tokens FROM chunk_stats WHERE id = 1").get() as { tokens: number } | undefined;
    const avgdl = total > 0 && stats ? Math.max(1, stats.tokens / total) : 1;
    const idf = new Map(
      terms.map((t) => {
        const df = documentFrequency.get(t) ?? 0;
        return [t, Math.log(1 + (total - df + 0.5) / (df + 0.5))];
      }),
    );
    const scored = rows.map((row, ftsOrder) => {
      const tf = new Map<string, number>();
      for (const word of passageWords(row.title, row.text)) {
        const term = stem(word);
        if (idf.has(term)) tf.set(term, (tf.get(term) ?? 0) + 1);
      }
      const norm = K1 * (1 - B + (B * Math.max(1, row.tokens)) / avgdl);
      let score = 0;
      for (const [term, count] of tf) score += (idf.get(term) ?? 0) * ((count * (K1 + 1)) / (count + norm));
      return { row, score, ftsOrder };
    });
    scored.sort((a, b) => b.score - a.score || a.ftsOrder - b.ftsOrder);
    return scored.slice(0, k).map(({ row, score }) => ({
      tenantId: row.tenant_id as TenantId,
      chunkId: row.chunk_id,
      documentId: row.document_id,
      title: row.title,
      page: row.page,
      text: row.text,
      score,
    }));
  }

  async setAccess(tenant: TenantId, documentId: string, access: readonly AccessKey[]): Promise<void> {
    const db = this.dbs.get(tenant);
    db.transaction(() => replaceAccess(db, documentId, access))();
  }

  async deleteDocument(tenant: TenantId, documentId: string): Promise<void> {
    const db = this.dbs.get(tenant);
    db.transaction(() => {
      db.prepare("DELETE FROM chunks WHERE tenant_id = ? AND document_id = ?").run(tenant, documentId);
      db.prepare("DELETE FROM document_access WHERE document_id = ?").run(documentId);
    })();
  }

  async termWeights(tenant: TenantId, terms: readonly string[]): Promise<TermWeights> {
    const db = this.dbs.get(tenant);
    const total = (db.prepare("SELECT count(*) AS n FROM chunks WHERE tenant_id = ?").get(tenant) as { n: number }).n;
    const documentFrequency = new Map<string, number>();
    const lookup = db.prepare("SELECT doc FROM passages_vocab WHERE term = ?");
    for (const term of terms) {
      const row = lookup.get(term) as { doc: number } | undefined;
      documentFrequency.set(term, row?.doc ?? 0);
    }
    return { total, documentFrequency };
  }
}
