import type { DocumentProgress } from "../domain/documents.js";

/** How far reading one file has got: `pagesDone` of its `pagesTotal` pages. */
export type ExtractProgress = DocumentProgress;

export type ProgressListener = (progress: ExtractProgress) => void;

/**
 * Tells a listener, never letting its failure (thrown, or a rejected promise from an async one) reach
 * the extraction: progress is a courtesy, the text is the result.
 */
export function notifyProgress(listener: ProgressListener | undefined, progress: ExtractProgress): void {
  if (!listener) return;
  try {
    const result: unknown = listener({ ...progress });
    if (result instanceof Promise) result.catch(() => {});
  } catch {
    // ignored, see above
  }
}
