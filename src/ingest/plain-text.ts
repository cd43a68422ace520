import { AppError } from "../domain/errors.js";
import { normalizePageText } from "./page-text.js";
import type { ExtractedText } from "./pdf-extract.js";

const NOT_TEXT =
  "This file doesn't look like plain text (it contains binary data), so we couldn't read it. Share it as a PDF, or as a .txt or .md file saved as text.";
const NOT_UTF8 =
  "We couldn't read the characters in this file: it isn't saved as UTF-8 text. Save it again with UTF-8 encoding (most editors offer it under Save As) and share it again.";
const EMPTY = "This file is empty: there is no text in it to index.";

function decode(data: Uint8Array): string {
  // Windows tools still write UTF-16 with a byte-order mark for "Unicode" text.
  const encoding =
    data[0] === 0xff && data[1] === 0xfe ? "utf-16le" : data[0] === 0xfe && data[1] === 0xff ? "utf-16be" : "utf-8";
  // Text has no NUL bytes in UTF-8; binary files nearly always do.
  if (encoding === "utf-8" && data.includes(0))
    throw new AppError("unsupported_type", NOT_TEXT, { detail: "NUL byte" });
  let text: string;
  try {
    // The decoder drops a leading byte-order mark (ignoreBOM: false is the default).
    text = new TextDecoder(encoding, { fatal: true }).decode(data);
  } catch (error) {
    throw new AppError("unsupported_type", NOT_UTF8, { cause: error, detail: `invalid ${encoding}` });
  }
  if (text.includes("\u0000")) throw new AppError("unsupported_type", NOT_TEXT, { detail: "NUL character" });
  return text;
}

/**
 * Markdown syntax that is noise in a passage (heading marks, emphasis, link targets, table rules) is
 * removed; every word is kept. Code blocks are kept as they are, without their fences.
 */
export function stripMarkdown(markdown: string): string {
  const out: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker !== undefined) {
      if (fence === undefined) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      continue;
    }
    if (fence !== undefined) out.push(line);
    else {
      const stripped = stripLine(line);
      if (stripped !== undefined) out.push(stripped);
    }
  }
  return out.join("\n");
}

// Escaped characters and code spans are set aside as characters from a private-use plane, so that
// no emphasis or link rule touches them, and are put back at the end.
const SHELTER = 0xf0000;
const shelter = (text: string): string =>
  [...text].map((c) => String.fromCodePoint(SHELTER + (c.codePointAt(0) ?? 0))).join("");
const unshelter = (text: string): string =>
  text.replace(/[\u{F0000}-\u{FFFFD}]/gu, (c) => String.fromCodePoint((c.codePointAt(0) ?? SHELTER) - SHELTER));

/** One line without its markdown syntax; undefined for lines that are nothing but syntax. */
function stripLine(original: string): string | undefined {
  // Rules (---, ***) and setext underlines (===) separate blocks; table separator rows and link
  // reference definitions ([label]: https://...) carry no words at all.
  if (/^\s{0,3}([-*_=])(\s*\1){2,}\s*$/.test(original)) return "";
  if (/^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(original)) return undefined;
  if (/^\s{0,3}\[[^\]]+\]:\s*\S+/.test(original)) return undefined;

  let line = original
    .replace(/\\([\\`*_{}[\]()#+\-.!|>~<])/g, (_, c: string) => shelter(c))
    .replace(/(`+)(.+?)\1/g, (_, _ticks: string, code: string) => shelter(code.trim()));
  // Table rows lose their outer pipes; the inner ones separate the cells.
  if (/^\s*\|/.test(line)) line = line.trim().replace(/^\|/, "").replace(/\|$/, "");
  const heading = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
  line = (heading?.[1] ?? line)
    .replace(/^(\s*>)+\s?/, "")
    .replace(/^(\s*)(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?/, "$1")
    .replace(/<!--.*?-->/g, "")
    // Images and links keep their text: ![alt](src), [text](url "title"), [text][ref].
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
    .replace(/\[([^\]]+)\]\[[^\]]*\]/g, "$1")
    .replace(/<((?:https?|mailto):[^>\s]+)>/g, "$1")
    .replace(/<\/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?\/?>/g, " ")
    // Emphasis only where the markers hug a word, so snake_case and 2 * 3 * 4 survive.
    .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, "$2")
    .replace(/(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])/g, "$1")
    .replace(/(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)/g, "$1")
    .replace(/~~(?=\S)(.+?)(?<=\S)~~/g, "$1");
  return unshelter(line);
}

/** Text of a .txt or .md file; a form feed starts a new page, otherwise it is one page. */
export function extractPlainText(data: Uint8Array, kind: "txt" | "md"): ExtractedText {
  const text = decode(data).replace(/\r\n?/g, "\n");
  const parts = text.split("\f");
  if (parts.length > 1 && parts.at(-1)?.trim() === "") parts.pop(); // a form feed that ends the last page
  const pages = parts.map((page) => normalizePageText(kind === "md" ? stripMarkdown(page) : page));
  if (pages.every((page) => page === ""))
    throw new AppError("empty_document", EMPTY, { detail: `${kind}, ${data.length} bytes` });
  return { pages };
}
