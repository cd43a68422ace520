import type { Chunk, ChunkHit } from "../../domain/documents.js";
import type { TermWeights } from "../../domain/relevance.js";
import type { TenantId } from "../../domain/tenant.js";
import { isStopWord, words } from "../../domain/terms.js";
import type { ChunkIndex } from "../../ports/chunk-index.js";
import type { TenantDatabases } from "./tenant-databases.js";

/**
 * BM25 over SQLite FTS5 with Porter stemming, one index per tenant (see TenantDatabases). Column
 * weights favour a title match over the same match in body text.
 */
const TITLE_WEIGHT = 1.0;
const TEXT_WEIGHT = 1.0;
const MAX_QUERY_TERMS = 64;

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
  rank: number;
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
      `INSERT INTO chunks (chunk_id, tenant_id, document_id, ordinal, page, title, text)
       VALUES (@id, @tenantId, @documentId, @ordinal, @page, @title, @text)`,
    );
    db.transaction(() => {
      for (const chunk of chunks) {
        remove.run(tenant, chunk.id);
        insert.run(chunk);
      }
    })();
  }

  async search(tenant: TenantId, query: string, k: number): Promise<ChunkHit[]> {
    const match = toFtsQuery(query);
    if (!match) return [];
    const rows = this.dbs
      .get(tenant)
      .prepare(
        `SELECT c.chunk_id, c.tenant_id, c.document_id, c.title, c.page, c.text,
                bm25(passages, ${TITLE_WEIGHT}, ${TEXT_WEIGHT}) AS rank
           FROM passages JOIN chunks c ON c.rowid = passages.rowid
          WHERE passages MATCH ? AND c.tenant_id = ?
          ORDER BY rank LIMIT ?`,
      )
      .all(match, tenant, k) as HitRow[];
    return rows.map((r) => ({
      tenantId: r.tenant_id as TenantId,
      chunkId: r.chunk_id,
      documentId: r.document_id,
      title: r.title,
      page: r.page,
      text: r.text,
      score: -r.rank, // FTS5's bm25() is negative, lower is better
    }));
  }

  async deleteDocument(tenant: TenantId, documentId: string): Promise<void> {
    this.dbs.get(tenant).prepare("DELETE FROM chunks WHERE tenant_id = ? AND document_id = ?").run(tenant, documentId);
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
