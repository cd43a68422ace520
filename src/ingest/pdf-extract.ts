import { z } from "zod";
import { AppError } from "../domain/errors.js";
import { type MemoryLimiter, runSandboxed, type SandboxOutcome } from "./child-sandbox.js";
import { countVisibleChars, normalizePageText } from "./page-text.js";

export interface PdfLimits {
  maxPages: number;
  timeoutMs: number;
  memoryMb: number;
}

/** pages[i] is the text of page i + 1 (normalised whitespace, may be ""). */
export interface ExtractedText {
  pages: string[];
}

/** Test seams: make the child misbehave on purpose, or force one way of capping its memory. */
export interface PdfExtractOptions {
  testHook?: "sleep" | "native-alloc" | "heap-alloc";
  limiter?: MemoryLimiter;
}

/** Below this many visible characters in the whole document, there is no text layer worth indexing. */
export const MIN_TEXT_CHARS = 20;

const CHILD_SCRIPT = new URL("./pdf-child.mjs", import.meta.url);
// The result is buffered in the server process: bound it. 2,000 dense pages are about 10 MB of text.
const MAX_TEXT_BYTES = 64 * 1024 * 1024;

const ChildResult = z.discriminatedUnion("ok", [
  z.object({
    ok: z.literal(true),
    numPages: z.number().int().positive(),
    pages: z.array(z.string()),
    repairs: z.array(z.string()),
  }),
  z.object({
    ok: z.literal(false),
    code: z.enum(["encrypted_pdf", "damaged_file", "too_many_pages", "parse_memory", "internal"]),
    detail: z.string(),
    numPages: z.number().optional(),
  }),
]);

const MESSAGES = {
  encrypted_pdf:
    "This PDF is password-protected, so we can't read it. Remove the password (or save a copy without one) and share it again.",
  no_text_layer:
    "This PDF has no text we can read: it looks like a scanned document or pictures of pages. Run it through text recognition (OCR), or export it from the original program, and share it again.",
  damaged_file:
    "This PDF is damaged and we couldn't read it. Open it, save or export it again as a PDF, and share the new copy.",
  parse_timeout:
    "This PDF took too long to read, so we stopped. It may be very large or unusually complex: split it into smaller files, or export it again as a PDF, and share it again.",
  parse_memory:
    "This PDF needs more memory to read than we allow, so we stopped. It may contain very large images or be unusually complex: split it into smaller files, or export a lighter copy, and share it again.",
  internal: "Something went wrong on our side while reading this PDF. Please try again in a few minutes.",
} as const;

const tooManyPages = (pages: number | undefined, maxPages: number): AppError => {
  const limit = maxPages.toLocaleString("en-US");
  const message =
    pages === undefined
      ? `This PDF has more pages than we can read (the limit is ${limit}).`
      : `This PDF has ${pages.toLocaleString("en-US")} pages, more than the ${limit} we can read.`;
  return new AppError("too_many_pages", `${message} Split it into smaller files and share them separately.`, {
    detail: `page count ${pages ?? "unknown"} > ${maxPages}`,
  });
};

// What a dying V8 or allocator prints; the child is JavaScript only, so a death by signal means a
// native allocation failed under the cap (V8 aborts: SIGABRT or SIGTRAP, now and then SIGSEGV) or
// the kernel's OOM killer stepped in (SIGKILL that we did not send).
const OOM_OUTPUT =
  /out of memory|allocation failed|memory allocation of \d+ bytes failed|bad_alloc|Cannot allocate memory/i;
const MEMORY_SIGNALS = new Set(["SIGABRT", "SIGTRAP", "SIGSEGV", "SIGBUS", "SIGKILL"]);

function fromOutcome(outcome: SandboxOutcome, limits: PdfLimits): ExtractedText {
  const where = `after ${outcome.elapsedMs} ms, memory cap by ${outcome.limiter}`;
  switch (outcome.status) {
    case "timed_out":
      return fail("parse_timeout", `deadline of ${limits.timeoutMs} ms passed, ${where}`);
    case "over_memory":
      return fail(
        "parse_memory",
        `resident memory ${Math.round(outcome.rssMb)} MiB over ${limits.memoryMb} MiB, ${where}`,
      );
    case "output_too_large":
      return fail("parse_memory", `text larger than ${MAX_TEXT_BYTES} bytes, ${where}`);
    case "exited":
      break;
  }
  const parsed = parseChildOutput(outcome.stdout);
  if (parsed === undefined) {
    // V8 prints its verdict ("FATAL ERROR: ... out of memory") above a long native stack trace.
    const verdict =
      outcome.stderrTail.split("\n").find((line) => OOM_OUTPUT.test(line)) ?? outcome.stderrTail.slice(-500);
    const detail = `child ended without a result (exit ${outcome.exitCode}, signal ${outcome.signal}) ${where}: ${verdict.trim()}`;
    if (outcome.signal === "SIGXCPU") return fail("parse_timeout", detail);
    if (OOM_OUTPUT.test(outcome.stderrTail) || (outcome.signal !== null && MEMORY_SIGNALS.has(outcome.signal))) {
      return fail("parse_memory", detail);
    }
    throw new AppError("internal", MESSAGES.internal, { retryable: true, detail });
  }
  if (!parsed.ok) {
    if (parsed.code === "too_many_pages") throw tooManyPages(parsed.numPages, limits.maxPages);
    if (parsed.code === "internal") throw new AppError("internal", MESSAGES.internal, { detail: parsed.detail });
    return fail(parsed.code, `${parsed.detail} (${where})`);
  }
  // The child is not trusted more than it has to be.
  if (parsed.numPages > limits.maxPages) throw tooManyPages(parsed.numPages, limits.maxPages);
  if (parsed.pages.length !== parsed.numPages) return fail("damaged_file", "page list does not match the page count");

  const pages = parsed.pages.map((page) => normalizePageText(page, { dehyphenate: true }));
  const visible = pages.reduce((sum, page) => sum + countVisibleChars(page), 0);
  if (visible < MIN_TEXT_CHARS) {
    // Almost no text in a file pdf.js had to repair is a damaged file, not a scan.
    const detail = `${visible} visible characters on ${pages.length} pages; repairs: ${parsed.repairs.join("; ") || "none"}`;
    return fail(parsed.repairs.length > 0 ? "damaged_file" : "no_text_layer", detail);
  }
  return { pages };
}

function fail(code: keyof typeof MESSAGES, detail: string): never {
  throw new AppError(code, MESSAGES[code], { detail });
}

function parseChildOutput(stdout: string): z.infer<typeof ChildResult> | undefined {
  const line = stdout.trim();
  if (line === "") return undefined;
  try {
    const result = ChildResult.safeParse(JSON.parse(line));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Extracts the text of each page of a PDF. Parsing runs in a child process under `limits`, so a
 * hostile file can cost at most `timeoutMs` of time and `memoryMb` of memory, and never the server.
 * Throws AppError with a user-facing message: encrypted_pdf, no_text_layer, damaged_file,
 * too_many_pages, parse_timeout, parse_memory (or internal when the parser could not run at all).
 */
export async function extractPdf(
  data: Uint8Array,
  limits: PdfLimits,
  options: PdfExtractOptions = {},
): Promise<ExtractedText> {
  const args = [`--max-pages=${Math.max(0, Math.floor(limits.maxPages))}`];
  if (options.testHook !== undefined) args.push(`--test-hook=${options.testHook}`);
  let outcome: SandboxOutcome;
  try {
    outcome = await runSandboxed({
      script: CHILD_SCRIPT,
      args,
      input: data,
      limits: { timeoutMs: limits.timeoutMs, memoryMb: limits.memoryMb, maxOutputBytes: MAX_TEXT_BYTES },
      ...(options.limiter === undefined ? {} : { limiter: options.limiter }),
    });
  } catch (error) {
    throw new AppError("internal", MESSAGES.internal, {
      retryable: true,
      cause: error,
      detail: "could not start the PDF parser",
    });
  }
  return fromOutcome(outcome, limits);
}
