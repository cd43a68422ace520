import type { AccessKey } from "../domain/access.js";
import type { Chunk, ChunkHit } from "../domain/documents.js";
import type { TermWeights } from "../domain/relevance.js";
import type { TenantId } from "../domain/tenant.js";

export interface SearchOptions {
  k: number;
  /**
   * The access keys the reader holds. Only passages carrying one of them may be returned, and the
   * filter is applied inside the query (never after it), so the top `k` are all readable. Empty: nothing.
   */
  readable: readonly AccessKey[];
}

export interface ChunkIndex {
  /** Adds or replaces chunks (by id). All chunks must belong to `tenant`. */
  upsert(tenant: TenantId, chunks: readonly Chunk[]): Promise<void>;
  /** Best `k` readable passages for a natural-language query, best first. Never throws on query syntax. */
  search(tenant: TenantId, query: string, options: SearchOptions): Promise<ChunkHit[]>;
  /** Replaces the access keys of every passage of a document (its visibility changed). */
  setAccess(tenant: TenantId, documentId: string, access: readonly AccessKey[]): Promise<void>;
  deleteDocument(tenant: TenantId, documentId: string): Promise<void>;
  /** Removes every passage of the tenant (Pinecone: its whole namespace). Nothing to remove is not an error. */
  deleteTenant(tenant: TenantId): Promise<void>;
  /** Collection statistics for relevance weighting, where the backend can give them cheaply. */
  termWeights?(tenant: TenantId, terms: readonly string[]): Promise<TermWeights>;
}
