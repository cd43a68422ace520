import { createHash, randomUUID } from "node:crypto";
import {
  type Actor,
  accessKeys,
  ORGANISATION,
  type SlackConversationRef,
  type Visibility,
  withConversation,
} from "../domain/access.js";
import {
  type Chunk,
  chunkId,
  type DocumentProgress,
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
import type { Metrics } from "../ports/metrics.js";
import type { ObjectStore } from "../ports/object-store.js";
import { type AccessService, addedBy, requireAdmin } from "./access.js";

export interface IngestLimits {
  maxFileBytes: number;
  maxPages: number;
}

/** Turns stored bytes into page texts; the PDF path runs in a sandboxed child process. */
export type TextExtractor = (
  kind: SupportedKind,
  data: Buffer,
  onProgress?: (p: DocumentProgress) => void,
) => Promise<{ pages: string[] }>;
export type Chunker = (pages: readonly string[]) => { page: number; text: string }[];

export interface AddDocumentInput {
  fileName: string;
  data: Buffer;
  source: DocumentSource;
  /** Who may read it; organisation-wide when absent. A Slack file's is its conversation. */
  visibility?: Visibility;
  title?: string;
}

export type DocumentSettledListener = (tenant: TenantId, document: DocumentRecord) => Promise<void>;

export interface IngestJobPayload {
  documentId: string;
}

export const objectKey = (documentId: string): string => `documents/${documentId}/original`;

/**
 * Adding, indexing, listing and deleting a tenant's documents. Adding stores the bytes and queues an
 * ingest job; the job extracts, chunks and indexes, moving the record queued -> indexing -> ready,
 * or to failed with a reason a user can act on. Readers see only what they may read (AccessService);
 * members delete what they added, admins anything, and admins list every document for governance.
 */
export class DocumentService {
  private readonly settledListeners: DocumentSettledListener[] = [];

  constructor(
    private readonly access: AccessService,
    private readonly catalog: DocumentCatalog,
    private readonly objects: ObjectStore,
    private readonly index: ChunkIndex,
    private readonly queue: JobQueue,
    private readonly extract: TextExtractor,
    private readonly chunk: Chunker,
    private readonly limits: IngestLimits,
    private readonly logger: Logger,
    /** Times each document that settles; nothing is measured when absent. */
    private readonly metrics?: Pick<Metrics, "ingest">,
  ) {}

  /** Told when a document reaches `ready` or `failed` after an ingest job (Slack replies in the thread). */
  onSettled(listener: DocumentSettledListener): void {
    this.settledListeners.push(listener);
  }

  /**
   * Checks type and size, stores the file and queues it, as the actor's. The same bytes twice in the
   * same scope give the same document.
   */
  async add(actor: Actor, input: AddDocumentInput): Promise<{ document: DocumentRecord; created: boolean }> {
    const tenant = actor.tenantId;
    const visibility = input.visibility ?? ORGANISATION;
    if (visibility.kind === "private" && visibility.owner !== actor.principal)
      throw new AppError("forbidden", "A private document belongs to the person who adds it.");
    const kind = this.checkFile(input.fileName, input.data);
    const sha256 = createHash("sha256").update(input.data).digest("hex");
    const id = randomUUID();
    // Store the bytes first: a record never points at a file that does not exist.
    await this.objects.put(tenant, objectKey(id), input.data, SUPPORTED_TYPES[kind]);
    const { document, created } = await this.catalog
      .create(tenant, {
        id,
        title: input.title?.trim() || titleFromFileName(input.fileName),
        contentType: SUPPORTED_TYPES[kind],
        sizeBytes: input.data.length,
        sha256,
        source: input.source,
        visibility,
        uploadedBy: actor.principal,
      })
      .catch(async (error: unknown) => {
        await this.discard(tenant, id, false);
        throw error;
      });
    if (!created) {
      await this.objects.delete(tenant, objectKey(id));
      return { document: await this.resume(tenant, document), created };
    }
    try {
      await this.enqueueIngest(tenant, document.id, sha256);
    } catch (error) {
      // Not queued, so not accepted: take the record and the file back, and the caller says "try again".
      // Should that fail too, the recovery sweep finds the record and queues it.
      await this.discard(tenant, id, true);
      throw error;
    }
    return { document, created };
  }

  /** Undoes a refused add; what cannot be undone is logged (the sweep recovers a record left behind). */
  private async discard(tenant: TenantId, id: string, withRecord: boolean): Promise<void> {
    try {
      if (withRecord) await this.catalog.delete(tenant, id);
      await this.objects.delete(tenant, objectKey(id));
    } catch (error) {
      this.logger.warn("could not undo a refused upload", { error, tenantId: tenant, documentId: id });
    }
  }

  /**
   * The same file again: a document that is not settled gets its ingest job back if the job was lost
   * (the queue was down when it was added, or its worker died for good); one that failed is tried again.
   * A document that is ready, or whose job is alive, is left as it is.
   */
  async resume(tenant: TenantId, document: DocumentRecord): Promise<DocumentRecord> {
    if (document.status === "ready") return document;
    if (document.status === "failed") {
      const retried = await this.catalog.update(tenant, document.id, { status: "queued", error: null });
      if (!retried) return document;
      await this.enqueueIngest(tenant, document.id, document.sha256, true);
      this.logger.info("failed document queued again", { tenantId: tenant, documentId: document.id });
      return retried;
    }
    if (await this.enqueueIngest(tenant, document.id, document.sha256, true))
      this.logger.warn("stranded document queued again", { tenantId: tenant, documentId: document.id });
    return document;
  }

  /**
   * The recovery sweep: every document of any tenant still queued or indexing, unchanged for
   * `staleMs`, whose ingest job is missing or dead, is queued again. Returns how many were.
   */
  async recoverStranded(staleMs: number, now: number = Date.now()): Promise<number> {
    const candidates = await this.catalog.unsettled(new Date(now - staleMs));
    let revived = 0;
    for (const doc of candidates) {
      try {
        if (await this.enqueueIngest(doc.tenantId, doc.id, doc.sha256, true)) revived++;
      } catch (error) {
        this.logger.warn("could not queue a stranded document again", {
          error,
          tenantId: doc.tenantId,
          documentId: doc.id,
        });
      }
    }
    if (revived > 0) this.logger.warn("stranded documents queued again", { documents: revived });
    return revived;
  }

  /**
   * A Slack file already indexed was shared into one more conversation: its members may read it too.
   * The index's access keys follow at once, without re-indexing.
   */
  async addConversation(
    actor: Actor,
    documentId: string,
    ref: SlackConversationRef,
  ): Promise<DocumentRecord | undefined> {
    const tenant = actor.tenantId;
    const doc = await this.catalog.get(tenant, documentId);
    if (doc?.visibility.kind !== "slack_conversation") return doc;
    const visibility = withConversation(doc.visibility, ref);
    const updated = await this.catalog.setVisibility(tenant, documentId, visibility);
    await this.index.setAccess(tenant, documentId, accessKeys(visibility));
    this.logger.info("document shared into another conversation", {
      tenantId: tenant,
      documentId,
      by: actor.principal,
    });
    return updated;
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

  /** Whether a job was queued (false: one with this key is alive already, or was queued before). */
  private enqueueIngest(tenant: TenantId, documentId: string, sha256: string, revive = false): Promise<boolean> {
    return this.queue.enqueue(
      {
        type: "ingest",
        tenantId: tenant,
        payload: { documentId } satisfies IngestJobPayload,
        idempotencyKey: `ingest:${tenant}:${documentId}:${sha256}`,
      },
      { revive },
    );
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
    const progress = new ProgressReporter((p) =>
      this.catalog.update(tenant, documentId, { status: "indexing", progress: p }).then(() => undefined),
    );
    try {
      const data = await this.objects.get(tenant, objectKey(documentId));
      const kind = kindOfContentType(doc.contentType);
      const { pages } = await this.extract(kind, data, (p) => progress.report(p)).finally(() => progress.close());
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
        access: accessKeys(doc.visibility),
      }));
      // Replace, never merge: a re-indexed document must not keep passages of its old version.
      await this.index.deleteDocument(tenant, documentId);
      await this.index.upsert(tenant, chunks);
      // Deleted while indexing: remove what was just written.
      const now = await this.catalog.get(tenant, documentId);
      if (!now) {
        await this.index.deleteDocument(tenant, documentId);
        return undefined;
      }
      // Shared into another conversation while indexing: the passages get today's readers.
      const keys = accessKeys(now.visibility);
      if (keys.join("\n") !== accessKeys(doc.visibility).join("\n"))
        await this.index.setAccess(tenant, documentId, keys);
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
            // An AppError's message is written for the user (the PDF reader kept crashing, a store stayed down).
            message: isAppError(error)
              ? error.message
              : "Indexing failed because of an internal error. Try again later.",
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

  /** The ingest job, then the listeners once the document settled. */
  async runIngestJob(job: Job): Promise<void> {
    const started = Date.now();
    const document = await this.process(job);
    if (!job.tenantId || !document || (document.status !== "ready" && document.status !== "failed")) return;
    // Once per document that settled: an attempt that throws is retried and is not an outcome yet.
    this.metrics?.ingest({
      outcome: document.status === "ready" ? "ready" : (document.error?.code ?? "internal"),
      seconds: (Date.now() - started) / 1000,
    });
    for (const listener of this.settledListeners) {
      // Indexing succeeded (or failed for good); a listener's trouble must not re-run it.
      await listener(job.tenantId, document).catch((error: unknown) =>
        this.logger.warn("document listener failed", { error, tenantId: job.tenantId, documentId: document.id }),
      );
    }
  }

  /** What the actor may read, newest first. */
  async list(actor: Actor): Promise<DocumentRecord[]> {
    return this.access.readableDocuments(actor, await this.catalog.list(actor.tenantId));
  }

  /**
   * Governance: admins list every document of the organisation (title, visibility, sharer), readable
   * to them or not; everyone else gets what they may read.
   */
  async listForGovernance(actor: Actor): Promise<{ document: DocumentRecord; readable: boolean }[]> {
    const all = await this.catalog.list(actor.tenantId);
    const readable = new Set((await this.access.readableDocuments(actor, all)).map((d) => d.id));
    return all
      .filter((d) => actor.role === "admin" || readable.has(d.id))
      .map((document) => ({ document, readable: readable.has(document.id) }));
  }

  /**
   * A document's record and whether the actor may read it: for readers, and for admins (governance).
   * Not found is the same for "does not exist", "belongs to another tenant" and "you may not read it".
   */
  async describe(actor: Actor, id: string): Promise<{ document: DocumentRecord; readable: boolean }> {
    const document = await this.catalog.get(actor.tenantId, id);
    if (!document) throw notFound();
    const readable = await this.access.canRead(actor, document.visibility);
    if (!readable && actor.role !== "admin") throw notFound();
    return { document, readable };
  }

  async get(actor: Actor, id: string): Promise<DocumentRecord> {
    return (await this.describe(actor, id)).document;
  }

  /** The stored original, for reading: only for those who may read it (an admin's governance view lists, never opens). */
  async original(actor: Actor, id: string): Promise<{ document: DocumentRecord; data: Buffer }> {
    const { document, readable } = await this.describe(actor, id);
    if (!readable)
      throw new AppError("forbidden", "You can't open this document: only the people it was shared with can read it.");
    return { document, data: await this.objects.get(actor.tenantId, objectKey(id)) };
  }

  /** Members delete what they added; admins anything. */
  async remove(actor: Actor, id: string): Promise<DocumentRecord> {
    const doc = await this.get(actor, id);
    if (actor.role !== "admin" && !addedBy(actor, doc))
      throw new AppError("forbidden", "Only the person who added this document, or an admin, can delete it.");
    await this.purge(actor.tenantId, id);
    this.logger.info("document deleted", { tenantId: actor.tenantId, documentId: id, by: actor.principal });
    return doc;
  }

  /**
   * Operators: writes every document's readers into the index again (vectors written before documents
   * had a visibility carry none, and no reader finds them until this has run).
   */
  async refreshAccess(actor: Actor): Promise<number> {
    requireAdmin(actor);
    const all = await this.catalog.list(actor.tenantId);
    for (const doc of all) await this.index.setAccess(actor.tenantId, doc.id, accessKeys(doc.visibility));
    this.logger.info("document access refreshed", { tenantId: actor.tenantId, documents: all.length });
    return all.length;
  }

  /** A document by its Slack file, for the Slack file lifecycle (the file changed or was deleted in Slack). */
  async findBySlackFile(tenant: TenantId, teamId: string, fileId: string): Promise<DocumentRecord | undefined> {
    return this.catalog.findBySlackFile(tenant, teamId, fileId);
  }

  /** A record for system notices (a Slack file settled); never shown to a reader as it is. */
  async record(tenant: TenantId, id: string): Promise<DocumentRecord | undefined> {
    return this.catalog.get(tenant, id);
  }

  /** The file was deleted where it came from (Slack): it goes for everyone. */
  async removeWithSource(tenant: TenantId, id: string): Promise<void> {
    await this.purge(tenant, id);
    this.logger.info("document removed with its source", { tenantId: tenant, documentId: id });
  }

  private async purge(tenant: TenantId, id: string): Promise<void> {
    await this.index.deleteDocument(tenant, id);
    await this.objects.delete(tenant, objectKey(id));
    await this.catalog.delete(tenant, id);
  }
}

/**
 * Writes parse progress to the record at most four times a second, one write at a time, the latest figure
 * winning; a failed write only costs that report. Closing waits for the write in flight, so no late
 * progress lands on a record that has moved on.
 */
class ProgressReporter {
  private latest: DocumentProgress | undefined;
  private writing: Promise<void> | undefined;
  private lastWrite = 0;
  private closed = false;

  constructor(
    private readonly write: (p: DocumentProgress) => Promise<void>,
    private readonly intervalMs = 250,
  ) {}

  report(p: DocumentProgress): void {
    if (this.closed) return;
    this.latest = p;
    if (!this.writing && Date.now() - this.lastWrite >= this.intervalMs) this.flush();
  }

  private flush(): void {
    const p = this.latest;
    if (!p || this.closed) return;
    this.latest = undefined;
    this.lastWrite = Date.now();
    this.writing = this.write(p)
      .catch(() => undefined)
      .finally(() => {
        this.writing = undefined;
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writing;
  }
}

const notFound = () => new AppError("not_found", "Document not found.");

const isIngestFailure = (error: unknown): error is AppError =>
  isAppError(error) && (INGEST_FAILURE_CODES as readonly string[]).includes(error.code);

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round(n / (1024 * 1024))} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}
