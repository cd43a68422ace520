import { createHash, randomUUID } from "node:crypto";
import {
  type Chunk,
  chunkId,
  type DocumentRecord,
  type DocumentSource,
  detectKind,
  kindOfContentType,
  SUPPORTED_TYPES,
  type SupportedKind,
  titleFromFileName,
} from "../domain/documents.js";
import { AppError, INGEST_FAILURE_CODES, type IngestFailureCode, isAppError } from "../domain/errors.js";
import type { TenantId } from "../domain/tenant.js";
import type { ChunkIndex } from "../ports/chunk-index.js";
import type { DocumentCatalog } from "../ports/document-catalog.js";
import type { Job, JobQueue } from "../ports/job-queue.js";
import type { Logger } from "../ports/logger.js";
import type { ObjectStore } from "../ports/object-store.js";

export interface IngestLimits {
  maxFileBytes: number;
  maxPages: number;
}

/** Turns stored bytes into page texts; the PDF path runs in a sandboxed child process. */
export type TextExtractor = (kind: SupportedKind, data: Buffer) => Promise<{ pages: string[] }>;
export type Chunker = (pages: readonly string[]) => { page: number; text: string }[];

export interface AddDocumentInput {
  fileName: string;
  data: Buffer;
  source: DocumentSource;
  uploadedBy: string;
  title?: string;
}

export interface IngestJobPayload {
  documentId: string;
}

export const objectKey = (documentId: string): string => `documents/${documentId}/original`;

/**
 * Adding, indexing, listing and deleting a tenant's documents. Adding stores the bytes and queues an
 * ingest job; the job extracts, chunks and indexes, moving the record queued -> indexing -> ready,
 * or to failed with a reason a user can act on.
 */
export class DocumentService {
  constructor(
    private readonly catalog: DocumentCatalog,
    private readonly objects: ObjectStore,
    private readonly index: ChunkIndex,
    private readonly queue: JobQueue,
    private readonly extract: TextExtractor,
    private readonly chunk: Chunker,
    private readonly limits: IngestLimits,
    private readonly logger: Logger,
  ) {}

  /** Checks type and size, stores the file and queues it. The same bytes twice give the same document. */
  async add(tenant: TenantId, input: AddDocumentInput): Promise<{ document: DocumentRecord; created: boolean }> {
    const kind = this.checkFile(input.fileName, input.data);
    const sha256 = createHash("sha256").update(input.data).digest("hex");
    const id = randomUUID();
    // Store the bytes first: a record never points at a file that does not exist.
    await this.objects.put(tenant, objectKey(id), input.data, SUPPORTED_TYPES[kind]);
    const { document, created } = await this.catalog.create(tenant, {
      id,
      title: input.title?.trim() || titleFromFileName(input.fileName),
      contentType: SUPPORTED_TYPES[kind],
      sizeBytes: input.data.length,
      sha256,
      source: input.source,
      uploadedBy: input.uploadedBy,
    });
    if (!created) {
      await this.objects.delete(tenant, objectKey(id));
      return { document, created };
    }
    await this.enqueueIngest(tenant, document.id, sha256);
    return { document, created };
  }

  /** Replaces a document's content in place (a Slack file was edited), keeping its id. */
  async replace(
    tenant: TenantId,
    documentId: string,
    fileName: string,
    data: Buffer,
  ): Promise<DocumentRecord | undefined> {
    const kind = this.checkFile(fileName, data);
    const sha256 = createHash("sha256").update(data).digest("hex");
    const existing = await this.catalog.get(tenant, documentId);
    if (!existing) return undefined;
    if (existing.sha256 === sha256) return existing;
    await this.objects.put(tenant, objectKey(documentId), data, SUPPORTED_TYPES[kind]);
    const updated = await this.catalog.update(tenant, documentId, {
      status: "queued",
      sha256,
      sizeBytes: data.length,
      title: titleFromFileName(fileName),
      error: null,
    });
    await this.enqueueIngest(tenant, documentId, sha256);
    return updated;
  }

  private checkFile(fileName: string, data: Buffer): SupportedKind {
    if (data.length > this.limits.maxFileBytes) {
      throw new AppError(
        "file_too_large",
        `This file is larger than the ${formatBytes(this.limits.maxFileBytes)} limit.`,
      );
    }
    const kind = detectKind(fileName, data.subarray(0, 1024));
    if (!kind)
      throw new AppError("unsupported_type", "This file type is not supported. Share a PDF, .txt or .md file.");
    if (data.length === 0) throw new AppError("empty_document", "This file is empty.");
    return kind;
  }

  private async enqueueIngest(tenant: TenantId, documentId: string, sha256: string): Promise<void> {
    await this.queue.enqueue({
      type: "ingest",
      tenantId: tenant,
      payload: { documentId } satisfies IngestJobPayload,
      idempotencyKey: `ingest:${tenant}:${documentId}:${sha256}`,
    });
  }

  /** The ingest job. Final failures are recorded on the document; transient ones are retried. */
  async process(job: Job): Promise<DocumentRecord | undefined> {
    const tenant = job.tenantId;
    const { documentId } = job.payload as IngestJobPayload;
    if (!tenant) throw new AppError("bad_request", "ingest job without tenant");
    const log = this.logger.child({ tenantId: tenant, documentId });
    const doc = await this.catalog.get(tenant, documentId);
    if (!doc) return undefined; // deleted while queued
    await this.catalog.update(tenant, documentId, { status: "indexing", error: null });
    try {
      const data = await this.objects.get(tenant, objectKey(documentId));
      const kind = kindOfContentType(doc.contentType);
      const { pages } = await this.extract(kind, data);
      if (pages.length > this.limits.maxPages) {
        throw new AppError("too_many_pages", `This document has more than ${this.limits.maxPages} pages.`);
      }
      const passages = this.chunk(pages);
      if (passages.length === 0) throw new AppError("empty_document", "This document contains no text to index.");
      const chunks: Chunk[] = passages.map((p, ordinal) => ({
        id: chunkId(documentId, ordinal),
        tenantId: tenant,
        documentId,
        ordinal,
        title: doc.title,
        page: p.page,
        text: p.text,
      }));
      // Replace, never merge: a re-indexed document must not keep passages of its old version.
      await this.index.deleteDocument(tenant, documentId);
      await this.index.upsert(tenant, chunks);
      // Deleted while indexing: remove what was just written.
      if (!(await this.catalog.get(tenant, documentId))) {
        await this.index.deleteDocument(tenant, documentId);
        return undefined;
      }
      const ready = await this.catalog.update(tenant, documentId, {
        status: "ready",
        pages: pages.length,
        chunks: chunks.length,
        error: null,
      });
      log.info("document indexed", { pages: pages.length, chunks: chunks.length });
      return ready;
    } catch (error) {
      const final = isIngestFailure(error) || job.attempt >= job.maxAttempts;
      if (!final) throw error;
      const reason = isIngestFailure(error)
        ? { code: error.code as IngestFailureCode, message: error.message }
        : {
            code: "internal" as const,
            message: "Indexing failed because of an internal error. Try again later.",
          };
      log.warn("document failed", { code: reason.code, error });
      return this.catalog.update(tenant, documentId, {
        status: "failed",
        error: reason,
        pages: 0,
        chunks: 0,
      });
    }
  }

  async list(tenant: TenantId): Promise<DocumentRecord[]> {
    return this.catalog.list(tenant);
  }

  /** Not found is the same for "does not exist" and "belongs to another tenant". */
  async get(tenant: TenantId, id: string): Promise<DocumentRecord> {
    const doc = await this.catalog.get(tenant, id);
    if (!doc) throw new AppError("not_found", "Document not found.");
    return doc;
  }

  /** The stored original, for viewing. Not found is the same as for `get`. */
  async original(tenant: TenantId, id: string): Promise<{ document: DocumentRecord; data: Buffer }> {
    const document = await this.get(tenant, id);
    return { document, data: await this.objects.get(tenant, objectKey(id)) };
  }

  async delete(tenant: TenantId, id: string): Promise<void> {
    await this.get(tenant, id);
    await this.index.deleteDocument(tenant, id);
    await this.objects.delete(tenant, objectKey(id));
    await this.catalog.delete(tenant, id);
    this.logger.info("document deleted", { tenantId: tenant, documentId: id });
  }
}

const isIngestFailure = (error: unknown): error is AppError =>
  isAppError(error) && (INGEST_FAILURE_CODES as readonly string[]).includes(error.code);

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round(n / (1024 * 1024))} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}
