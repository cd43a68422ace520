import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { PDFParse } from "pdf-parse";
import { buildContainer } from "../src/composition/container.js";
import { loadConfig } from "../src/config/config.js";
import type { TenantId } from "../src/domain/tenant.js";

/**
 * Ingest throughput on real PDFs: pages per second from the first upload to the last document ready,
 * through the real embedded container (store, queue, worker, sandboxed parser, chunking, index), as
 * a ratio of what pdf-parse alone extracts in this one process, one file after another. The raw figure
 * is taken before and after the Enclave run and averaged, so a noisy moment does not favour either.
 * The corpus is ../shared/data/pdfs (as in test/unit/ingest/pdf-shared-corpus.test.ts): its readable
 * files (text, form, CJK, multi-column), repeated so that a run is long enough to measure.
 * Both are compared warm, as a running server is: pdf-parse after one untimed pass, Enclave after one
 * untimed batch through the same container (its parser processes started and V8 has optimised pdf.js
 * in them). The first batch, with the parser processes' start and warm-up, is reported beside it.
 */
const CORPUS = path.resolve(process.cwd(), "../shared/data/pdfs");
const READABLE = new Set(["text", "form", "cjk", "multicolumn"]);
/** Repetitions of the readable set (46 pages each in the current corpus). */
const REPEATS = Number(process.env.BENCH_INGEST_REPEATS ?? 4);

interface CorpusFile {
  file: string;
  data: Buffer;
}

export interface IngestMeasurement {
  files: number;
  pages: number;
  rawPagesPerSec: number;
  enclavePagesPerSec: number;
  ratio: number;
  /** The first pass of each, cold: pdf.js loaded and optimised in the process that reads. */
  firstBatch: { pages: number; rawPagesPerSec: number; enclavePagesPerSec: number };
}

function readableFiles(): CorpusFile[] | undefined {
  const manifest = path.join(CORPUS, "manifest.json");
  if (!existsSync(manifest)) return undefined;
  const rows = JSON.parse(readFileSync(manifest, "utf8")) as { file: string; category: string }[];
  return rows
    .filter((row) => READABLE.has(row.category))
    .map((row) => ({ file: row.file, data: readFileSync(path.join(CORPUS, row.file)) }));
}

/** pdf-parse's own text extraction, sequentially in this process; returns pages and seconds. */
async function rawRun(files: readonly CorpusFile[], repeats: number): Promise<Timed> {
  let pages = 0;
  const started = performance.now();
  for (let r = 0; r < repeats; r++) {
    for (const { data } of files) {
      // PDFParse hands its bytes to pdf.js, which may detach them: a copy each time.
      const parser = new PDFParse({ data: new Uint8Array(data) });
      try {
        pages += (await parser.getText()).total;
      } finally {
        await parser.destroy();
      }
    }
  }
  return { pages, seconds: (performance.now() - started) / 1000 };
}

interface Timed {
  pages: number;
  seconds: number;
}

/**
 * The same files uploaded to a fresh embedded container (one tenant per repetition: the same bytes
 * twice in one tenant are one document), each batch timed from its first upload until every one is
 * ready: first one repetition (the parser processes start and warm up), then `repeats` of them.
 */
async function enclaveRun(files: readonly CorpusFile[], repeats: number): Promise<{ first: Timed; warm: Timed }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "enclave-bench-ingest-"));
  const container = await buildContainer(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "silent" }));
  try {
    const { accounts, access, documents } = container.services;
    let signedUp = 0;
    const tenant = async (): Promise<TenantId> => {
      const n = signedUp++;
      const { tenant } = await accounts.signUp({
        email: `bench${n}@example.com`,
        password: "correct horse battery staple",
        organization: `Bench ${n}`,
      });
      return tenant.id;
    };
    let waiting: { expected: number; settled: number; pages: number; done: () => void } | undefined;
    const failures: string[] = [];
    documents.onSettled(async (_tenant, document) => {
      if (!waiting) return;
      if (document.status === "ready") waiting.pages += document.pages ?? 0;
      else failures.push(`${document.title}: ${document.error?.code}`);
      if (++waiting.settled === waiting.expected) waiting.done();
    });
    const batch = async (count: number): Promise<Timed> => {
      const tenants = [];
      for (let r = 0; r < count; r++) tenants.push(await tenant());
      const state = { expected: files.length * count, settled: 0, pages: 0, done: () => {} };
      const done = new Promise<void>((resolve) => {
        state.done = resolve;
      });
      waiting = state;
      const started = performance.now();
      for (const id of tenants) {
        const operator = access.operatorActor(id);
        for (const { file, data } of files) {
          await documents.add(operator, { fileName: file, data, source: { kind: "cli" } });
        }
      }
      await done;
      const seconds = (performance.now() - started) / 1000;
      if (failures.length > 0) throw new Error(`documents failed: ${failures.join(", ")}`);
      return { pages: state.pages, seconds };
    };
    container.runner.start();
    const first = await batch(1);
    const warm = await batch(repeats);
    return { first, warm };
  } finally {
    await container.runner.stop();
    await container.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Raw and Enclave pages/s on the shared corpus; undefined (with the reason printed) when it is absent. */
export async function measureIngest(): Promise<IngestMeasurement | undefined> {
  const files = readableFiles();
  if (!files || files.length === 0) {
    console.warn(`ingest benchmark skipped: no readable PDFs in ${CORPUS}/manifest.json`);
    return undefined;
  }
  const rawFirst = await rawRun(files, 1); // loads pdf.js into this process and warms it
  const before = await rawRun(files, REPEATS);
  const enclave = await enclaveRun(files, REPEATS);
  const after = await rawRun(files, REPEATS);
  if (enclave.warm.pages !== before.pages) {
    throw new Error(`Enclave read ${enclave.warm.pages} pages, pdf-parse ${before.pages}`);
  }
  const rawPagesPerSec = (before.pages + after.pages) / (before.seconds + after.seconds);
  const enclavePagesPerSec = enclave.warm.pages / enclave.warm.seconds;
  return {
    files: files.length * REPEATS,
    pages: enclave.warm.pages,
    rawPagesPerSec,
    enclavePagesPerSec,
    ratio: enclavePagesPerSec / rawPagesPerSec,
    firstBatch: {
      pages: enclave.first.pages,
      rawPagesPerSec: rawFirst.pages / rawFirst.seconds,
      enclavePagesPerSec: enclave.first.pages / enclave.first.seconds,
    },
  };
}
