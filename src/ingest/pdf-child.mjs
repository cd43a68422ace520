// Parses PDFs with pdf.js in a long-lived child process, one file at a time. The parent
// (src/ingest/child-sandbox.ts) starts it under OS resource limits, kills it on a file's deadline and
// replaces it after a failure or a number of files. It is plain ESM JavaScript so it starts the same
// way under tsx, vitest and a bundled server, and it loads pdf.js once for all the files it serves.
//
// stdin: requests, each a 4-byte big-endian header length, the header (JSON: {"id":n,"bytes":b,
// "maxPages":m,"progress":true|false,"testHook":"..."}), then the b bytes of the PDF. End of input: exit.
// stdout: one line per request, `<id> reuse|retire <json>`, the JSON being {"ok":true,"numPages":n,
// "pages":[...],"repairs":[...]} or {"ok":false,"code":"...","detail":"..."}. "retire" asks the parent
// not to send this process another file (see `clean` below).
// fd 3 (when "progress" is set): `<id> {"pagesDone":n,"pagesTotal":m}` lines, once the page count is
// known, then at most every PROGRESS_INTERVAL_MS while pages are read, then once when all are.

import { writeSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { format } from "node:util";

const PROGRESS_FD = 3;
const PROGRESS_INTERVAL_MS = 250;
const MAX_HEADER_BYTES = 64 * 1024;

// pdf.js only reports some conditions through its log: a rebuilt cross-reference table or page tree
// (the file is damaged), and allocation failures it caught and skipped (the memory cap was hit).
const REPAIR_MARKERS = [
  /Indexing all PDF objects/,
  /invalid \/Pages tree \/Count/,
  /Bad length .* in stream/,
  /Invalid stream/,
  /Skipping invalid/,
];
// Not "Invalid array length": that is a corrupt size field in the file, not the cap.
const MEMORY_MARKER = /allocation failed|out of memory/i;
const MAX_LOG_LINES = 200;

/** What pdf.js said while the current file was parsed, and whether anything went wrong in it. */
let file = newFileState(0);

function newFileState(id) {
  return { id, repairs: [], memoryFailure: "", logLines: 0, clean: true };
}

// pdf.js logs with console.log, which would corrupt the results on stdout.
for (const method of ["log", "info", "warn", "error", "debug", "trace"]) {
  console[method] = (...parts) => {
    const line = format(...parts);
    if (REPAIR_MARKERS.some((marker) => marker.test(line)) && file.repairs.length < 5) file.repairs.push(line);
    if (MEMORY_MARKER.test(line)) file.memoryFailure ||= line;
    if (file.logLines++ < MAX_LOG_LINES) process.stderr.write(`${line}\n`);
  };
}

// Orphaned (the parent was killed before it could kill us): stop. An idle child also sees its input
// end. A parse that keeps the event loop busy never gets here, but then the CPU-time limit ends it.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) process.exit(70);
}, 500).unref();

// --- Progress: synchronous writes of a few bytes. The parent drains the channel, and a report that
// does not fit right now is simply skipped. Once the parent stops listening (EPIPE: it hung up on a
// flood), the channel is gone for the rest of this process.
let progressChannelOpen = true;
let reporting = false;
let lastProgress = 0;

function writeProgress(text, id = file.id) {
  if (!progressChannelOpen) return;
  try {
    writeSync(PROGRESS_FD, `${id} ${text}\n`);
  } catch (error) {
    if (error?.code !== "EAGAIN") progressChannelOpen = false;
  }
}

function reportProgress(pagesDone, pagesTotal, force = false) {
  if (!reporting) return;
  const now = Date.now();
  if (!force && now - lastProgress < PROGRESS_INTERVAL_MS) return;
  lastProgress = now;
  writeProgress(JSON.stringify({ pagesDone, pagesTotal }));
}

// --- Results

function failure(code, detail) {
  return { ok: false, code, detail };
}

function classifyError(error, where) {
  const detail = `${where}: ${error?.name ?? "Error"}: ${error?.message ?? String(error)}`;
  if (MEMORY_MARKER.test(detail) || file.memoryFailure) return failure("parse_memory", file.memoryFailure || detail);
  if (error?.name === "PasswordException") return failure("encrypted_pdf", detail);
  return failure("damaged_file", detail);
}

/** Writes the result of the current file; resolves once the parent has all of it (a pipe write is asynchronous). */
function reply(result) {
  // Reused only after a file parsed without pdf.js throwing: an exception may leave a half-built
  // document, pending work or a heap near the cap behind, and such files are rare enough that a fresh
  // process for the next one costs little.
  const disposition = result.ok && file.clean ? "reuse" : "retire";
  const line = `${file.id} ${disposition} ${JSON.stringify(result)}\n`;
  return new Promise((resolve) => process.stdout.write(line, resolve));
}

// --- Test-only behaviours, chosen by the parent in the request header (never by the file), that let
// the test suite prove that the deadline, the memory cap and the progress bounds really hold.

const held = [];

async function runTestHook(hook) {
  if (hook === "sleep") {
    await new Promise((resolve) => setTimeout(resolve, 600_000));
  } else if (hook === "native-alloc") {
    // Memory outside the V8 heap, like the bitmaps of a JBIG2 bomb; filled so it is resident too.
    const keep = [];
    for (;;) keep.push(Buffer.alloc(16 * 1024 * 1024, 1));
  } else if (hook === "heap-alloc") {
    const keep = [];
    for (;;) keep.push(new Array(4_000_000).fill(1.5)); // 32 MB of doubles on the V8 heap each
  } else if (hook === "hold-memory") {
    // A parse that leaves 64 MiB behind it, resident, as a leak in pdf.js would: the file itself reads fine.
    for (let i = 0; i < 4; i++) held.push(Buffer.alloc(16 * 1024 * 1024, 1));
  } else if (hook === "die") {
    // Killed mid-file, as by the kernel's OOM killer or an operator.
    process.kill(process.pid, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 600_000));
  } else if (hook === "stale-progress") {
    // Reports of other files, as an earlier file's late lines would look: the parent must drop them.
    for (const id of [file.id - 1, file.id + 1, 0, ""]) writeProgress('{"pagesDone":1,"pagesTotal":3}', id);
    writeProgress('{"pagesDone":2,"pagesTotal":3}', `${file.id}0`);
  } else if (hook === "endless-pages") {
    // A parse of 1,000 pages that goes on reporting pages read and never ends (a huge file on a slow
    // machine): the deadline must still hold however lively the progress looks.
    for (let page = 0; ; page++) {
      reportProgress(Math.min(page, 999), 1000, true);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } else if (hook === "progress-flood") {
    // A child gone rogue on its progress channel: endless reports, lies and over-long lines, until
    // the parent stops listening (or for ten seconds if it never does), then the real parse.
    const until = Date.now() + 10_000;
    const junk = `{"pagesDone":1,"pagesTotal":${"9".repeat(4000)}}`;
    let i = 0;
    while (Date.now() < until && progressChannelOpen) {
      writeProgress(
        `{"pagesDone":${i++},"pagesTotal":1000000}\n${file.id} ${junk}\n${file.id} {"pagesDone":5,"pagesTotal":3}`,
      );
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

// --- pdf.js

// pdf-parse is the declared dependency: load the pdf.js build it depends on, wherever the package
// manager put it (pdfjs-dist is not necessarily hoisted next to us).
function locatePdfjs() {
  const require = createRequire(import.meta.url);
  const fromPdfParse = createRequire(require.resolve("pdf-parse"));
  const root = path.dirname(fromPdfParse.resolve("pdfjs-dist/package.json"));
  // Local folders with a trailing separator: pdf.js in Node reads them with fs, never over the network.
  const folder = (name) => `${path.join(root, name)}${path.sep}`;
  return {
    entry: pathToFileURL(path.join(root, "legacy", "build", "pdf.mjs")).href,
    worker: pathToFileURL(path.join(root, "legacy", "build", "pdf.worker.mjs")).href,
    cMapUrl: folder("cmaps"),
    standardFontDataUrl: folder("standard_fonts"),
    wasmUrl: folder("wasm"),
    iccUrl: folder("iccs"),
  };
}

async function loadPdfjs() {
  const where = locatePdfjs();
  // pdf.js 5 constructs a DOMMatrix at load time and takes one from @napi-rs/canvas, a native package
  // that is missing on some platforms (Lambda arm64). Text extraction never uses its methods.
  globalThis.DOMMatrix ??= class DOMMatrix {
    constructor() {
      Object.assign(this, { a: 1, b: 0, c: 0, d: 1, e: 0, f: 0 });
    }
  };
  // The legacy build replaces Array.prototype.push with a core-js version that fixes edge cases of
  // V8 < 12.2 (array-likes longer than 2^32, non-writable lengths) pdf.js never meets, and costs about
  // a fifth of a parse's CPU time: the native one is put back once both halves of pdf.js are loaded.
  // The worker half is loaded now, not at the first file (pdf.js runs it in this thread, found on
  // globalThis.pdfjsWorker).
  const nativePush = Array.prototype.push;
  const pdfjs = await import(where.entry);
  globalThis.pdfjsWorker = await import(where.worker);
  Array.prototype.push = nativePush;
  const options = {
    isEvalSupported: false,
    useSystemFonts: false,
    disableFontFace: true,
    enableXfa: false,
    stopAtErrors: false,
    verbosity: pdfjs.VerbosityLevel.INFOS,
    cMapUrl: where.cMapUrl,
    cMapPacked: true,
    standardFontDataUrl: where.standardFontDataUrl,
    wasmUrl: where.wasmUrl,
    iccUrl: where.iccUrl,
  };
  return { pdfjs, options };
}

const median = (values) => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/**
 * Lays out the text items of one page as lines and paragraphs. Items arrive in content-stream order,
 * which is the reading order for nearly every producer (columns included); pdf.js marks line ends
 * with hasEOL. A gap between lines clearly larger than the page's usual line spacing (and than the
 * line's own font size, so large titles stay together) starts a paragraph.
 */
function layoutPage(items) {
  const lines = [];
  let line;
  let lineEnded = true;
  for (const item of items) {
    if (typeof item.str !== "string") continue; // marked-content markers
    const x = item.transform[4];
    const y = item.transform[5];
    const size = Math.abs(item.height) || Math.hypot(item.transform[2], item.transform[3]);
    if (item.str.trim() !== "") {
      const moved = line !== undefined && Math.abs(y - line.y) > Math.max(size, line.size) * 0.5;
      if (line === undefined || lineEnded || moved) {
        line = { text: "", y, size, endX: x };
        lines.push(line);
      } else {
        // A visible gap, or a jump back to the left (another block on the same baseline), without a
        // space character of its own.
        const gap = x - line.endX;
        if ((gap > size * 0.15 || gap < -size) && !/\s$/.test(line.text) && !/^\s/.test(item.str)) line.text += " ";
      }
      line.text += item.str;
      line.size = Math.max(line.size, size);
      line.endX = x + (item.width ?? 0);
      lineEnded = false;
    } else if (item.str !== "" && line !== undefined && !lineEnded) {
      line.text += " ";
    }
    if (item.hasEOL) lineEnded = true;
  }

  const gaps = [];
  for (let i = 1; i < lines.length; i++) {
    const gap = lines[i - 1].y - lines[i].y;
    if (gap > 0 && gap < lines[i].size * 3) gaps.push(gap);
  }
  const usual = median(gaps);
  let text = "";
  lines.forEach((current, i) => {
    if (i > 0) {
      const previous = lines[i - 1];
      const gap = previous.y - current.y;
      const size = Math.max(previous.size, current.size);
      const paragraph = gap > Math.max((usual ?? size * 1.2) * 1.4 + 0.5, size * 1.5);
      text += paragraph ? "\n\n" : "\n";
    }
    text += current.text;
  });
  return text;
}

/** The text of every page of `data`, or the reason there is none. */
async function parse({ pdfjs, options }, data, maxPages) {
  let doc;
  try {
    doc = await pdfjs.getDocument({ ...options, data }).promise;
  } catch (error) {
    file.clean = false;
    return classifyError(error, "open");
  }
  try {
    // Checked before any page is read: a page tree can claim millions of pages at almost no cost.
    const numPages = doc.numPages;
    if (!Number.isInteger(numPages) || numPages < 1) return failure("damaged_file", `page count ${numPages}`);
    if (!(numPages <= maxPages)) return { ...failure("too_many_pages", `${numPages} pages`), numPages };

    const pages = [];
    let unreadable = 0;
    reportProgress(0, numPages, true);
    for (let number = 1; number <= numPages; number++) {
      try {
        const page = await doc.getPage(number);
        const content = await page.getTextContent();
        pages.push(layoutPage(content.items));
        page.cleanup();
      } catch (error) {
        file.clean = false;
        const result = classifyError(error, `page ${number}`);
        if (result.code === "parse_memory") return result;
        // One unreadable page does not make the rest of the document useless.
        unreadable++;
        if (file.repairs.length < 5) file.repairs.push(result.detail);
        pages.push("");
      }
      if (file.memoryFailure) return failure("parse_memory", file.memoryFailure);
      reportProgress(number, numPages, number === numPages);
    }
    if (unreadable === numPages) return failure("damaged_file", file.repairs.join("; "));
    return { ok: true, numPages, pages, repairs: file.repairs };
  } finally {
    await doc.destroy().catch(() => {
      file.clean = false;
    });
  }
}

// --- Requests on stdin

const input = process.stdin[Symbol.asyncIterator]();
const pending = [];
let pendingBytes = 0;

/** The next `n` bytes of stdin in a buffer of their own, or undefined at the end of input. */
async function readBytes(n) {
  while (pendingBytes < n) {
    const { value, done } = await input.next();
    if (done) return undefined;
    pending.push(value);
    pendingBytes += value.length;
  }
  const all = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
  pending.length = 0;
  const rest = all.subarray(n);
  pendingBytes = rest.length;
  if (rest.length > 0) pending.push(rest);
  // A copy, so pdf.js owns its bytes and the next request's do not share their memory.
  const out = new Uint8Array(n);
  out.set(all.subarray(0, n));
  return out;
}

async function readRequest() {
  const size = await readBytes(4);
  if (size === undefined) return undefined;
  const headerBytes = new DataView(size.buffer).getUint32(0);
  if (headerBytes > MAX_HEADER_BYTES) throw new Error(`request header of ${headerBytes} bytes`);
  const header = JSON.parse(Buffer.from((await readBytes(headerBytes)) ?? []).toString("utf8"));
  const data = await readBytes(header.bytes);
  if (data === undefined) return undefined;
  return { header, data };
}

async function serve() {
  // Anything failing here is a fault of this program or its installation (pdf.js missing, say), not
  // of a file: each request gets that answer, and the parent retires this process.
  const parser = await loadPdfjs().catch((error) => ({ error }));
  for (;;) {
    const request = await readRequest();
    if (request === undefined) break;
    const { header, data } = request;
    file = newFileState(header.id);
    reporting = header.progress === true;
    lastProgress = 0;
    let result;
    try {
      if (parser.error) throw parser.error;
      if (header.testHook) await runTestHook(header.testHook);
      result = await parse(parser, data, Number(header.maxPages));
    } catch (error) {
      file.clean = false;
      const classified = classifyError(error, "parser");
      result = classified.code === "parse_memory" ? classified : failure("internal", classified.detail);
    }
    reporting = false;
    await reply(result);
  }
  process.exit(0);
}

serve().catch((error) => {
  process.stderr.write(`pdf child: ${error?.stack ?? error}\n`);
  process.exit(71);
});
