import type { SupportedKind } from "../domain/documents.js";
import type { PdfLimits } from "./pdf-extract.js";
import { extractPlainText } from "./plain-text.js";
import { notifyProgress, type ProgressListener } from "./progress.js";

export type { ExtractProgress, ProgressListener } from "./progress.js";
export type { PdfLimits };

/**
 * Page texts of a file; PDF parsing runs in a child process under `limits`. `onProgress` hears how
 * many pages are read, a few times a second while a PDF is parsed (ending at the page count), and
 * once for plain text.
 */
export async function extractText(
  kind: SupportedKind,
  data: Uint8Array,
  limits: PdfLimits,
  onProgress?: ProgressListener,
): Promise<{ pages: string[] }> {
  if (kind === "pdf") {
    // Loaded on first use: only a process that runs ingest jobs ever parses a PDF. The HTTP Lambda
    // bundle leaves this module out (HTTP_ONLY_EXTERNALS in infra/lib/app-function.ts), and with it
    // the PDF child and pdf.js that would otherwise be shipped beside it.
    const { extractPdf } = await import("./pdf-extract.js");
    return extractPdf(data, limits, onProgress ? { onProgress } : {});
  }
  const text = extractPlainText(data, kind);
  notifyProgress(onProgress, { pagesDone: text.pages.length, pagesTotal: text.pages.length });
  return text;
}
