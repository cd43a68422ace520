import type { Index, RecordMetadata } from "@pinecone-database/pinecone";
import { z } from "zod";
import type { AccessKey } from "../../domain/access.js";
import type { Chunk, ChunkHit } from "../../domain/documents.js";
import { AppError, isAppError } from "../../domain/errors.js";
import { isTenantId, type TenantId } from "../../domain/tenant.js";
import { words } from "../../domain/terms.js";
import type { ChunkIndex, SearchOptions } from "../../ports/chunk-index.js";
import type { Embedder } from "../../ports/embedder.js";
import type { Logger } from "../../ports/logger.js";
import { accessByDocument } from "../shared/chunk-access.js";

export interface ChunkMetadata extends RecordMetadata {
  tenant_id: string;
  document_id: string;
  title: string;
  page: number;
  ordinal: number;
  text: string;
  /** The document's access keys; queries filter on them with `$in` (matches when any key is held). */
  access: string[];
}

const metadataSchema = z.object({
  tenant_id: z.string(),
  document_id: z.string(),
  title: z.string(),
  page: z.number(),
  text: z.string(),
  access: z.array(z.string()),
});

/** Records per upsert request (Pinecone allows up to 1,000 and 2 MB; passages carry their text). */
const UPSERT_BATCH = 100;
/** Ids per delete request (Pinecone allows up to 1,000). */
const DELETE_BATCH = 1000;
/** Characters of a query sent to the embedder. */
const MAX_QUERY_CHARS = 8000;
/** Metadata updates in flight at once (Pinecone updates one record per request). */
const UPDATE_CONCURRENCY = 8;

/**
 * Dense retrieval in Pinecone. Isolation is enforced twice on the server side of the call, namespace =
 * tenant AND a `tenant_id` metadata filter, and once more on the way back: a match whose metadata names
 * another tenant is dropped and logged as a security event. Who may read a passage inside the tenant is
 * its `access` metadata, filtered the same way (in the query, so topK is filled with readable passages)
 * and checked again on the way back. Record ids are `<document id>#<n>`, so a document's vectors are
 * found by id prefix, then deleted or re-labelled by id. Vectors come from the embedder (Titan v2)
 * at upsert and for each query; scores are similarities (higher is better).
 */
export class PineconeChunkIndex implements ChunkIndex {
  constructor(
    private readonly index: Index<ChunkMetadata>,
    private readonly embedder: Embedder,
    private readonly logger: Logger,
  ) {}

  private namespace(tenant: TenantId) {
    if (!isTenantId(tenant))
      throw new AppError("internal", "Something went wrong on our side.", {
        detail: "invalid tenant id for a namespace",
      });
    return this.index.namespace(tenant);
  }

  async upsert(tenant: TenantId, chunks: readonly Chunk[]): Promise<void> {
    for (const chunk of chunks) {
      if (chunk.tenantId !== tenant) throw new Error("chunk belongs to another tenant");
    }
    const access = accessByDocument(chunks);
    const ns = this.namespace(tenant);
    for (let i = 0; i < chunks.length; i += this.embedder.maxBatchSize) {
      const batch = chunks.slice(i, i + this.embedder.maxBatchSize);
      const vectors = await this.embedder.embed(
        batch.map((c) => `${c.title}\n${c.text}`),
        "document",
      );
      const records = batch.map((c, j) => ({
        id: c.id,
        values: vectors[j] ?? [],
        metadata: {
          tenant_id: tenant,
          document_id: c.documentId,
          title: c.title,
          page: c.page,
          ordinal: c.ordinal,
          text: c.text,
          access: access.get(c.documentId) ?? [],
        },
      }));
      for (let k = 0; k < records.length; k += UPSERT_BATCH) {
        await call("upsert", () => ns.upsert({ records: records.slice(k, k + UPSERT_BATCH) }));
      }
    }
  }

  async search(tenant: TenantId, query: string, { k, readable }: SearchOptions): Promise<ChunkHit[]> {
    const ns = this.namespace(tenant);
    // Nothing to embed (only punctuation or symbols): nothing can be about it. No keys: nothing to read.
    if (words(query).length === 0 || readable.length === 0 || k <= 0) return [];
    const held = new Set(readable);
    const [vector] = await this.embedder.embed([query.slice(0, MAX_QUERY_CHARS)], "query");
    if (!vector) return [];
    const response = await call("query", () =>
      ns.query({
        vector,
        topK: k,
        includeMetadata: true,
        includeValues: false,
        filter: { tenant_id: { $eq: tenant }, access: { $in: [...held] } },
      }),
    );
    const hits: ChunkHit[] = [];
    for (const match of response.matches ?? []) {
      const metadata = metadataSchema.safeParse(match.metadata);
      if (!metadata.success) {
        this.logger.warn("pinecone match without usable metadata; dropped", { tenantId: tenant, id: match.id });
        continue;
      }
      if (metadata.data.tenant_id !== tenant) {
        this.logger.error("SECURITY: pinecone returned another tenant's vector; dropped", {
          expectedTenant: tenant,
          returnedTenant: metadata.data.tenant_id,
          id: match.id,
        });
        continue;
      }
      if (!metadata.data.access.some((key) => held.has(key))) {
        this.logger.error("SECURITY: pinecone returned a passage the reader may not read; dropped", {
          tenantId: tenant,
          id: match.id,
        });
        continue;
      }
      hits.push({
        tenantId: tenant,
        chunkId: match.id,
        documentId: metadata.data.document_id,
        title: metadata.data.title,
        page: metadata.data.page,
        text: metadata.data.text,
        score: match.score ?? 0,
      });
    }
    return hits.sort((x, y) => y.score - x.score);
  }

  async setAccess(tenant: TenantId, documentId: string, access: readonly AccessKey[]): Promise<void> {
    const ns = this.namespace(tenant);
    const ids = await this.vectorIds(tenant, documentId);
    const metadata = { access: [...new Set(access)].sort() };
    for (let i = 0; i < ids.length; i += UPDATE_CONCURRENCY) {
      await Promise.all(
        ids.slice(i, i + UPDATE_CONCURRENCY).map((id) => call("update", () => ns.update({ id, metadata }))),
      );
    }
  }

  async deleteDocument(tenant: TenantId, documentId: string): Promise<void> {
    const ns = this.namespace(tenant);
    const ids = await this.vectorIds(tenant, documentId);
    for (let i = 0; i < ids.length; i += DELETE_BATCH) {
      await call("delete", () => ns.deleteMany({ ids: ids.slice(i, i + DELETE_BATCH) }));
    }
  }

  /**
   * The whole namespace goes (deleting all of a namespace's records deletes the namespace). Pinecone
   * answers 404 "Namespace not found" for a namespace that does not exist, which here means nothing is
   * left to remove: a tenant that never indexed anything, or a repeated erasure.
   */
  async deleteTenant(tenant: TenantId): Promise<void> {
    const ns = this.namespace(tenant);
    await call("delete all", async () => {
      try {
        await ns.deleteAll();
      } catch (error) {
        if ((error as { name?: string }).name !== "PineconeNotFoundError") throw error;
      }
    });
  }

  private async vectorIds(tenant: TenantId, documentId: string): Promise<string[]> {
    const ns = this.namespace(tenant);
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const page = await call("list", () =>
        ns.listPaginated({ prefix: `${documentId}#`, limit: 100, ...(token ? { paginationToken: token } : {}) }),
      );
      for (const v of page.vectors ?? []) if (v.id?.startsWith(`${documentId}#`)) ids.push(v.id);
      token = page.pagination?.next;
    } while (token);
    return ids;
  }
}

/** Maps a Pinecone failure that outlived the retries to a reason the user can read. */
async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isAppError(error)) throw error;
    const name = (error as { name?: string }).name ?? "Error";
    if (name === "PineconeArgumentError") throw error;
    throw new AppError(
      "dependency_unavailable",
      "Search is unavailable right now. Please try again in a few minutes.",
      {
        retryable: true,
        cause: error,
        detail: `pinecone ${operation}: ${name}`,
      },
    );
  }
}

export interface RetryingFetchOptions {
  /** Retries of a 429 answer (Pinecone's client retries 5xx itself, not 429). */
  maxRetries: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * A fetch for the Pinecone client that retries 429 Too Many Requests with exponential backoff and
 * jitter, honouring Retry-After. 5xx are left to the client's own retry (`maxRetries`).
 */
export function retryOn429(options: RetryingFetchOptions, base: typeof fetch = fetch): typeof fetch {
  const baseDelay = options.baseDelayMs ?? 200;
  const maxDelay = options.maxDelayMs ?? 20_000;
  return (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    for (let attempt = 0; ; attempt++) {
      const response = await base(input, init);
      if (response.status !== 429 || attempt >= options.maxRetries) return response;
      const retryAfter = Number(response.headers.get("retry-after"));
      const backoff = baseDelay * 2 ** attempt * (0.75 + Math.random() * 0.5);
      const delay = Math.min(maxDelay, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : backoff);
      await response.body?.cancel().catch(() => undefined);
      await new Promise((r) => setTimeout(r, delay));
    }
  }) as typeof fetch;
}
