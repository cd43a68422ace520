import type { SupportedKind } from "../domain/documents.js";
import { extractPdf, type PdfLimits } from "./pdf-extract.js";
import { extractPlainText } from "./plain-text.js";

export type { PdfLimits };

/** Page texts of a file; PDF parsing runs in a child process under `limits`. */
export async function extractText(
  kind: SupportedKind,
  data: Uint8Array,
  limits: PdfLimits,
): Promise<{ pages: string[] }> {
  return kind === "pdf" ? extractPdf(data, limits) : extractPlainText(data, kind);
}
