import type { AccessKey, Visibility } from "./access.js";
import type { IngestFailureCode } from "./errors.js";
import type { TenantId } from "./tenant.js";

export type DocumentStatus = "queued" | "indexing" | "ready" | "failed";

export type DocumentSource =
  | { kind: "upload" }
  | { kind: "cli" }
  | {
      kind: "slack";
      teamId: string;
      fileId: string;
      channelId?: string;
      messageTs?: string;
      permalink?: string;
    };

export interface DocumentProgress {
  pagesDone: number;
  pagesTotal: number;
}

export interface DocumentRecord {
  id: string;
  tenantId: TenantId;
  title: string;
  contentType: string;
  sizeBytes: number;
  sha256: string;
  status: DocumentStatus;
  error?: { code: IngestFailureCode | "internal"; message: string };
  pages: number;
  chunks: number;
  /** While `indexing`: how far the parse has come, once the page count is known. */
  progress?: DocumentProgress;
  source: DocumentSource;
  /** Who inside the organisation may read it. */
  visibility: Visibility;
  uploadedBy: string;
  createdAt: string;
  updatedAt: string;
}

/** A passage of a document, the unit of retrieval. */
export interface Chunk {
  id: string; // `${documentId}#${ordinal}`
  tenantId: TenantId;
  documentId: string;
  ordinal: number;
  title: string;
  page: number;
  text: string;
  /** The document's access keys (see domain/access.ts): the index filters on them inside the query. */
  access: readonly AccessKey[];
}

export interface ChunkHit {
  tenantId: TenantId;
  chunkId: string;
  documentId: string;
  title: string;
  page: number;
  text: string;
  score: number;
}

export const chunkId = (documentId: string, ordinal: number): string => `${documentId}#${ordinal}`;

export const SUPPORTED_TYPES = {
  pdf: "application/pdf",
  txt: "text/plain",
  md: "text/markdown",
} as const;

export type SupportedKind = keyof typeof SUPPORTED_TYPES;

export function kindOfContentType(contentType: string): SupportedKind {
  const entry = Object.entries(SUPPORTED_TYPES).find(([, type]) => type === contentType);
  return (entry?.[0] as SupportedKind | undefined) ?? "txt";
}

/** Decide the kind from the file name and the first bytes; the declared MIME type is only a hint. */
export function detectKind(fileName: string, head: Uint8Array): SupportedKind | undefined {
  const lower = fileName.toLowerCase();
  const isPdfMagic = findPdfHeader(head) >= 0;
  if (isPdfMagic) return "pdf";
  if (lower.endsWith(".pdf")) return "pdf"; // let the parser explain what is wrong with it
  if (lower.endsWith(".md") || lower.endsWith(".markdown")) return "md";
  if (lower.endsWith(".txt") || lower.endsWith(".text")) return "txt";
  return undefined;
}

/** PDF readers accept junk before `%PDF-` within the first KiB; so do we. */
export function findPdfHeader(head: Uint8Array): number {
  const limit = Math.min(head.length, 1024);
  for (let i = 0; i + 4 < limit; i++) {
    if (
      head[i] === 0x25 &&
      head[i + 1] === 0x50 &&
      head[i + 2] === 0x44 &&
      head[i + 3] === 0x46 &&
      head[i + 4] === 0x2d
    )
      return i;
  }
  return -1;
}

/** A readable title from an uploaded file name. */
export function titleFromFileName(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const title = base.replace(/\.(pdf|txt|md|markdown|text)$/i, "").trim();
  return (title || base || "Untitled").slice(0, 200);
}
