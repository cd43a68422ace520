/** Text of one page as the rest of the product expects it: NFKC, single spaces, "\n" between lines, "\n\n" between paragraphs. */
export interface NormalizeOptions {
  /** Join words hyphenated across a line break ("ex-\nample" -> "example"): right for laid-out text (PDF). */
  dehyphenate?: boolean;
}

// Hyphen-minus, hyphen, or a soft hyphen at the end of a line, followed by a lower-case continuation.
const LINE_BREAK_HYPHEN = /(\p{L})[-\u2010\u00AD][ \t]*\n[ \t]*(?=\p{Ll})/gu;
const INVISIBLE = /[\u00AD\u200B\u2060\uFEFF]/g;
// C0/C1 controls other than tab and newline (pdf.js emits some for unmapped glyphs).
const CONTROL = /[^\P{Cc}\t\n]/gu;

export function normalizePageText(raw: string, options: NormalizeOptions = {}): string {
  // NFKC turns ligatures (U+FB01 "ﬁ" -> "fi"), full-width forms and no-break spaces into plain characters.
  let text = raw.normalize("NFKC").replace(/\r\n?/g, "\n");
  if (options.dehyphenate) text = text.replace(LINE_BREAK_HYPHEN, "$1");
  return text
    .replace(INVISIBLE, "")
    .replace(CONTROL, " ")
    .replace(/[^\S\n]+/g, " ")
    .replace(/ ?\n ?/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** Characters that carry text, for deciding whether a document has any. */
export const countVisibleChars = (text: string): number => text.replace(/\s+/g, "").length;
