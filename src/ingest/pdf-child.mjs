// Parses one PDF with pdf.js in a child process and writes one JSON line to stdout. The parent
// (src/ingest/pdf-extract.ts) starts it under OS resource limits and kills it on a deadline. It is
// plain ESM JavaScript so it starts the same way under tsx, vitest and a bundled server.
//
// stdin: the PDF bytes. argv: --max-pages=<n> [--progress-fd=<fd>] [--test-hook=<name>].
// stdout: {"ok":true,"numPages":n,"pages":[...],"repairs":[...]} or {"ok":false,"code":"...","detail":"..."}.
// progress fd (when given): {"pagesDone":n,"pagesTotal":m} lines, once the page count is known, then
// at most every PROGRESS_INTERVAL_MS while pages are read, then once when all are.

import { writeSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { format } from "node:util";

const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key = "", ...value] = arg.replace(/^--/, "").split("=");
    return [key, value.join("=")];
  }),
);
const maxPages = Number(args["max-pages"]);
const progressFd = args["progress-fd"] ? Number(args["progress-fd"]) : undefined;
const PROGRESS_INTERVAL_MS = 250;

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
const repairs = [];
let memoryFailure = "";
let logLines = 0;

// pdf.js logs with console.log, which would corrupt the JSON result on stdout.
for (const method of ["log", "info", "warn", "error", "debug", "trace"]) {
  console[method] = (...parts) => {
    const line = format(...parts);
    if (REPAIR_MARKERS.some((marker) => marker.test(line)) && repairs.length < 5) repairs.push(line);
    if (MEMORY_MARKER.test(line)) memoryFailure ||= line;
    if (logLines++ < MAX_LOG_LINES) process.stderr.write(`${line}\n`);
  };
}

// Orphaned (the parent was killed before it could kill us): stop. A parse that keeps the event loop
// busy never gets here, but then the CPU-time limit the parent set ends it.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) process.exit(70);
}, 500).unref();

function reply(result) {
  // A pipe write completes asynchronously: exit only once the parent has the whole result.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

let progressOpen = Number.isInteger(progressFd);
let lastProgress = 0;

// A synchronous write of a few bytes: the parent drains the channel, and a report that does not fit
// right now is simply skipped. Once the parent stops listening (EPIPE), stop writing.
function reportProgress(pagesDone, pagesTotal, force = false) {
  if (!progressOpen) return;
  const now = Date.now();
  if (!force && now - lastProgress < PROGRESS_INTERVAL_MS) return;
  lastProgress = now;
  try {
    writeSync(progressFd, `${JSON.stringify({ pagesDone, pagesTotal })}\n`);
  } catch (error) {
    if (error?.code !== "EAGAIN") progressOpen = false;
  }
}

function failure(code, detail) {
  return { ok: false, code, detail };
}

function classifyError(error, where) {
  const detail = `${where}: ${error?.name ?? "Error"}: ${error?.message ?? String(error)}`;
  if (MEMORY_MARKER.test(detail) || memoryFailure) return failure("parse_memory", memoryFailure || detail);
  if (error?.name === "PasswordException") return failure("encrypted_pdf", detail);
  return failure("damaged_file", detail);
}

async function readStdin() {
  const parts = [];
  for await (const part of process.stdin) parts.push(part);
  const buffer = Buffer.concat(parts);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

// Test-only behaviours, chosen by the parent on the command line (never by the file), that let the
// test suite prove that the deadline and the memory cap really hold.
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
  } else if (hook === "progress-flood") {
    // A child gone rogue on its progress channel: endless reports, lies and over-long lines, until
    // the parent stops listening (or for ten seconds if it never does), then the real parse.
    const until = Date.now() + 10_000;
    const junk = `{"pagesDone":1,"pagesTotal":${"9".repeat(4000)}}`;
    let i = 0;
    while (Date.now() < until && progressOpen) {
      try {
        writeSync(progressFd, `{"pagesDone":${i++},"pagesTotal":1000000}\n${junk}\n{"pagesDone":5,"pagesTotal":3}\n`);
      } catch (error) {
        if (error?.code !== "EAGAIN") progressOpen = false;
      }
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    // The parent is not listening any more; the rest of this run proves it still gets the text.
    progressOpen = Number.isInteger(progressFd);
  }
}

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
    cMapUrl: folder("cmaps"),
    standardFontDataUrl: folder("standard_fonts"),
    wasmUrl: folder("wasm"),
    iccUrl: folder("iccs"),
  };
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

async function main() {
  const data = await readStdin();
  if (args["test-hook"]) await runTestHook(args["test-hook"]);

  const where = locatePdfjs();
  // pdf.js 5 constructs a DOMMatrix at load time and takes one from @napi-rs/canvas, a native package
  // that is missing on some platforms (Lambda arm64). Text extraction never uses its methods.
  globalThis.DOMMatrix ??= class DOMMatrix {
    constructor() {
      Object.assign(this, { a: 1, b: 0, c: 0, d: 1, e: 0, f: 0 });
    }
  };
  const pdfjs = await import(where.entry);
  let doc;
  try {
    doc = await pdfjs.getDocument({
      data,
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
    }).promise;
  } catch (error) {
    reply(classifyError(error, "open"));
    return;
  }

  // Checked before any page is read: a page tree can claim millions of pages at almost no cost.
  const numPages = doc.numPages;
  if (!Number.isInteger(numPages) || numPages < 1) {
    reply(failure("damaged_file", `page count ${numPages}`));
    return;
  }
  if (!(numPages <= maxPages)) {
    reply({ ...failure("too_many_pages", `${numPages} pages`), numPages });
    return;
  }

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
      const result = classifyError(error, `page ${number}`);
      if (result.code === "parse_memory") {
        reply(result);
        return;
      }
      // One unreadable page does not make the rest of the document useless.
      unreadable++;
      if (repairs.length < 5) repairs.push(result.detail);
      pages.push("");
    }
    if (memoryFailure) {
      reply(failure("parse_memory", memoryFailure));
      return;
    }
    reportProgress(number, numPages, number === numPages);
  }
  await doc.destroy();
  if (unreadable === numPages) {
    reply(failure("damaged_file", repairs.join("; ")));
    return;
  }
  reply({ ok: true, numPages, pages, repairs });
}

// Anything else is a fault of this program or its installation (pdf.js missing, say), not of the file.
main().catch((error) => reply(failure("internal", `${error?.name}: ${error?.message}`)));
