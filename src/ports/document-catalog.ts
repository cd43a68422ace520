import type { Visibility } from "../domain/access.js";
import type { DocumentProgress, DocumentRecord, DocumentSource, DocumentStatus } from "../domain/documents.js";
import type { TenantId } from "../domain/tenant.js";

export interface NewDocument {
  id: string;
  title: string;
  contentType: string;
  sizeBytes: number;
  sha256: string;
  source: DocumentSource;
  visibility: Visibility;
  uploadedBy: string;
}

export interface StatusPatch {
  status: DocumentStatus;
  pages?: number;
  chunks?: number;
  error?: DocumentRecord["error"] | null;
  /** Replace title/hash/size when a Slack file changed. */
  title?: string;
  sha256?: string;
  sizeBytes?: number;
  /** Pages parsed so far; kept only while `indexing` (any other status clears it). */
  progress?: DocumentProgress;
}

export interface DocumentCatalog {
  /**
   * Creates the record unless the tenant already has a document with the same content hash in the
   * same scope (`dedupeScope` of its visibility), in which case that one is returned with
   * `created: false` (the same file twice is one document; a copy with other readers is its own).
   */
  create(tenant: TenantId, doc: NewDocument): Promise<{ document: DocumentRecord; created: boolean }>;
  get(tenant: TenantId, id: string): Promise<DocumentRecord | undefined>;
  findBySlackFile(tenant: TenantId, teamId: string, fileId: string): Promise<DocumentRecord | undefined>;
  list(tenant: TenantId): Promise<DocumentRecord[]>;
  update(tenant: TenantId, id: string, patch: StatusPatch): Promise<DocumentRecord | undefined>;
  /** Replaces who may read the document (its dedupe scope stays the one it was created with). */
  setVisibility(tenant: TenantId, id: string, visibility: Visibility): Promise<DocumentRecord | undefined>;
  delete(tenant: TenantId, id: string): Promise<boolean>;
  /** Removes every document record of the tenant (the tenant is being deleted). */
  deleteTenant(tenant: TenantId): Promise<void>;
  /**
   * The recovery sweep: documents of every tenant still `queued` or `indexing` whose record last
   * changed before `before` (an ingest that is running reports progress, which keeps it fresh).
   */
  unsettled(before: Date): Promise<DocumentRecord[]>;
}
