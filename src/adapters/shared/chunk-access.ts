import type { AccessKey } from "../../domain/access.js";
import type { Chunk } from "../../domain/documents.js";

/**
 * The access keys of each document in a batch of chunks. Keys belong to a document, not to one of its
 * passages: chunks of one document that disagree are refused, so no backend ends up with a document
 * half readable by one group and half by another.
 */
export function accessByDocument(chunks: readonly Chunk[]): Map<string, AccessKey[]> {
  const byDocument = new Map<string, AccessKey[]>();
  for (const chunk of chunks) {
    const keys = [...new Set(chunk.access)].sort();
    const seen = byDocument.get(chunk.documentId);
    if (seen && seen.join("\n") !== keys.join("\n"))
      throw new Error(`chunks of document ${chunk.documentId} carry different access keys`);
    byDocument.set(chunk.documentId, keys);
  }
  return byDocument;
}
