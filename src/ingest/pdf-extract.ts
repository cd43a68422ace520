import { z } from "zod";
import { AppError } from "../domain/errors.js";
import { HAS_PROCFS, type MemoryLimiter, runSandboxed, type SandboxOutcome } from "./child-sandbox.js";
import { countVisibleChars, normalizePageText } from "./page-text.js";
import { type ExtractProgress, notifyProgress, type ProgressListener } from "./progress.js";

export interface PdfLimits {
  maxPages: number;
  timeoutMs: number;
  memoryMb: number;
}

/** pages[i] is the text of page i + 1 (normalised whitespace, may be ""). */
export interface ExtractedText {
  pages: string[];
}

export interface PdfExtractOptions {
  /** Pages read so far, a few times a second while the child parses, then the page count once done. */
  onProgress?: ProgressListener;
  /**
   * Test seam: make the child misbehave on purpose ("progress-flood" writes status without end,
   * "stale-progress" reports for other files, "endless-pages" reports pages read and never finishes,
   * "hold-memory" keeps 64 MiB after the file, "die" is killed mid-file).
   */
  testHook?:
    | "sleep"
    | "native-alloc"
    | "heap-alloc"
    | "progress-flood"
    | "stale-progress"
    | "endless-pages"
    | "hold-memory"
    | "die";
  /** Test seam: force one way of capping the child's memory. */
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
// A SIGKILL we did not send is the OOM killer's only when the child was big: it picks the process with
// the most memory. A small child (or one killed before the watchdog's first sample) was killed from
// outside (an operator, a supervisor, the OOM killer freeing memory others used): not the file's
// fault, so worth another try. Without procfs there is no telling, and the old verdict stands.
const OOM_KILL_SHARE = 0.5;

function killedWhileSmall(signal: NodeJS.Signals | null, outcome: SandboxOutcome, limits: PdfLimits): boolean {
  if (signal !== "SIGKILL") return false;
  if (outcome.peakRssMb === undefined) return HAS_PROCFS;
  return outcome.peakRssMb < limits.memoryMb * OOM_KILL_SHARE;
}

/** The child died, or answered something that is not a result: whose fault, as far as we can tell. */
function withoutResult(outcome: SandboxOutcome, limits: PdfLimits, where: string): never {
  const signal = outcome.status === "exited" ? outcome.signal : null;
  const how = outcome.status === "exited" ? `exit ${outcome.exitCode}, signal ${signal}` : "unreadable reply";
  // V8 prints its verdict ("FATAL ERROR: ... out of memory") above a long native stack trace.
  const verdict =
    outcome.stderrTail.split("\n").find((line) => OOM_OUTPUT.test(line)) ?? outcome.stderrTail.slice(-500);
  const detail = `child ended without a result (${how}) ${where}: ${verdict.trim()}`;
  if (signal === "SIGXCPU") fail("parse_timeout", detail);
  if (
    OOM_OUTPUT.test(outcome.stderrTail) ||
    (signal !== null && MEMORY_SIGNALS.has(signal) && !killedWhileSmall(signal, outcome, limits))
  ) {
    fail("parse_memory", detail);
  }
  const peak = outcome.peakRssMb === undefined ? "not sampled" : `${Math.round(outcome.peakRssMb)} MiB`;
  // Killed from outside, or crashed: not the file's fault as far as we can tell, so the job retries.
  throw new AppError("internal", MESSAGES.internal, { retryable: true, detail: `${detail}; peak memory ${peak}` });
}

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
    case "shut_down":
      // The server is stopping: the job goes back to the queue and runs again after a restart.
      throw new AppError("internal", MESSAGES.internal, { retryable: true, detail: `parser shut down ${where}` });
    case "exited":
      return withoutResult(outcome, limits, where);
    case "replied":
      break;
  }
  const parsed = parseChildOutput(outcome.reply);
  if (parsed === undefined) return withoutResult(outcome, limits, where);
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

const ChildProgress = z
  .object({ pagesDone: z.number().int().nonnegative(), pagesTotal: z.number().int().positive() })
  .strict();

/**
 * Progress as the child reports it, checked: the page total is fixed by the first report and within
 * the page limit, pages done only go up and never past the total. Anything else is dropped.
 */
class ProgressRelay {
  private total: number | undefined;
  private done = -1;

  constructor(
    private readonly maxPages: number,
    private readonly listener: ProgressListener,
  ) {}

  fromChild(line: string): void {
    let parsed: ReturnType<typeof ChildProgress.safeParse>;
    try {
      parsed = ChildProgress.safeParse(JSON.parse(line));
    } catch {
      return;
    }
    if (!parsed.success) return;
    const { pagesDone, pagesTotal } = parsed.data;
    if (pagesTotal > this.maxPages || (this.total !== undefined && pagesTotal !== this.total)) return;
    if (pagesDone > pagesTotal || pagesDone <= this.done) return;
    this.total = pagesTotal;
    this.send({ pagesDone, pagesTotal });
  }

  /** The text is in: all its pages are done, whatever the child said last. */
  finished(pages: number): void {
    if (this.total === pages && this.done === pages) return;
    this.total = pages;
    this.send({ pagesDone: pages, pagesTotal: pages });
  }

  private send(progress: ExtractProgress): void {
    this.done = progress.pagesDone;
    notifyProgress(this.listener, progress);
  }
}

function parseChildOutput(reply: string): z.infer<typeof ChildResult> | undefined {
  const line = reply.trim();
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
  const progress = options.onProgress ? new ProgressRelay(limits.maxPages, options.onProgress) : undefined;
  const header = {
    maxPages: Math.max(0, Math.floor(limits.maxPages)),
    progress: progress !== undefined,
    ...(options.testHook === undefined ? {} : { testHook: options.testHook }),
  };
  let outcome: SandboxOutcome;
  try {
    outcome = await runSandboxed({
      script: CHILD_SCRIPT,
      header,
      input: data,
      limits: { timeoutMs: limits.timeoutMs, memoryMb: limits.memoryMb, maxOutputBytes: MAX_TEXT_BYTES },
      ...(options.limiter === undefined ? {} : { limiter: options.limiter }),
      ...(progress ? { onStatus: (line: string) => progress.fromChild(line) } : {}),
    });
  } catch (error) {
    throw new AppError("internal", MESSAGES.internal, {
      retryable: true,
      cause: error,
      detail: "could not start the PDF parser",
    });
  }
  const text = fromOutcome(outcome, limits);
  progress?.finished(text.pages.length);
  return text;
}
