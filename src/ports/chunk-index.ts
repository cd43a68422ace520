import type { Chunk, ChunkHit } from "../domain/documents.js";
import type { TermWeights } from "../domain/relevance.js";
import type { TenantId } from "../domain/tenant.js";

export interface ChunkIndex {
  /** Adds or replaces chunks (by id). All chunks must belong to `tenant`. */
  upsert(tenant: TenantId, chunks: readonly Chunk[]): Promise<void>;
  /** Best `k` passages for a natural-language query, best first. Never throws on query syntax. */
  search(tenant: TenantId, query: string, k: number): Promise<ChunkHit[]>;
  deleteDocument(tenant: TenantId, documentId: string): Promise<void>;
  /** Collection statistics for relevance weighting, where the backend can give them cheaply. */
  termWeights?(tenant: TenantId, terms: readonly string[]): Promise<TermWeights>;
}
