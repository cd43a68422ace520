import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AppError } from "../../../src/domain/errors.js";
import { closeSandboxes, sandboxStats } from "../../../src/ingest/child-sandbox.js";
import { extractPdf, type PdfLimits } from "../../../src/ingest/pdf-extract.js";
import { childProcessesOf } from "./pdf-fixtures.js";

/**
 * Real-world PDFs from public test corpora (pdf.js, py-pdf sample-files), kept outside the repository
 * because their licences vary. Each expectation is what this pipeline truly does with the file.
 */
const corpus = path.resolve(process.cwd(), "../shared/data/pdfs");
const available = existsSync(path.join(corpus, "manifest.json"));
if (!available) console.warn(`Shared PDF corpus absent (${corpus}): skipping the real-PDF suite.`);

const limits: PdfLimits = { maxPages: 2000, timeoutMs: 30_000, memoryMb: 1024 };
const NEVER_HANGS = 30_000;

type Expectation =
  | { ready: { pages: number; contains: readonly string[]; check?: (pages: string[]) => void } }
  | { fails: string };

const expectations: Record<string, Expectation> = {
  "tracemonkey.pdf": {
    ready: {
      pages: 14,
      contains: ["TraceMonkey", "trace"],
      // pdfeTeX sets "fi"/"fl" as ligature glyphs: they must come out as letters.
      check: (pages) => expect(pages.join("")).not.toMatch(/[\uFB00-\uFB06]/),
    },
  },
  "TAMReview.pdf": { ready: { pages: 23, contains: ["Technology Acceptance Model"] } },
  "issue11913.pdf": { ready: { pages: 1, contains: ["THE SUPREME COURT", "Minister for Education"] } },
  // The pre-filled field values live in the form (AcroForm/XFA), not in the page content, which we do
  // not read; the printed form itself is text, so the document is indexed.
  "prefilled_f1040.pdf": { ready: { pages: 2, contains: ["U.S. Individual Income Tax Return", "1040"] } },
  "issue16538.pdf": { ready: { pages: 1, contains: ["マーケットモデル", "リスク中立確率"] } },
  "issue7229.pdf": { fails: "no_text_layer" },
  "issue6010_1.pdf": { fails: "encrypted_pdf" },
  "libreoffice-writer-password.pdf": { fails: "encrypted_pdf" },
  "issue9972-1.pdf": { ready: { pages: 1, contains: ["Personal Sleep Study"] } },
  // pdf.js recovers the stream of undefined length, but all it holds is "Issue 1293" (9 characters):
  // too little to be a document, in a file pdf.js had to repair, so it is reported as damaged.
  "issue1293r.pdf": { fails: "damaged_file" },
  // Junk before the header and no startxref value: pdf.js rebuilds the cross-reference table.
  "issue6069.pdf": { ready: { pages: 1, contains: ["Missing value for startxref and junk before magic header"] } },
  "bug1020226.pdf": { fails: "damaged_file" },
  "REDHAT-1531897-0.pdf": { fails: "damaged_file" },
  // pdf.js finds the claimed 213,804,087 pages impossible, rebuilds the tree and finds no readable page.
  "poppler-85140-0.pdf": { fails: "damaged_file" },
  "multicolumn.pdf": {
    ready: {
      pages: 3,
      contains: ["Two-Column Document with Lorem Ipsum", "Lorem ipsum dolor sit amet"],
      // A word hyphenated at a line end is joined again.
      check: (pages) => {
        expect(pages[0]).toContain("adipiscing elit");
        expect(pages[0]).not.toContain("adip-");
      },
    },
  },
  "google-doc-document.pdf": { ready: { pages: 1, contains: ["Beautiful is better than ugly."] } },
  "crazyones-pdfa.pdf": { ready: { pages: 1, contains: ["The Crazy Ones", "the round pegs in the square holes"] } },
};

const timings: string[] = [];

describe.skipIf(!available)("extractPdf on the shared real-world corpus", () => {
  const read = (file: string) => new Uint8Array(readFileSync(path.join(corpus, file)));

  it("has an expectation for every file in the manifest", () => {
    const manifest = JSON.parse(readFileSync(path.join(corpus, "manifest.json"), "utf8")) as { file: string }[];
    expect(manifest.map((row) => row.file).sort()).toEqual(Object.keys(expectations).sort());
  });

  for (const [file, expected] of Object.entries(expectations)) {
    it(
      `${file}: ${"ready" in expected ? `${expected.ready.pages} pages of text` : expected.fails}`,
      async () => {
        const started = Date.now();
        const result = await extractPdf(read(file), limits).then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
        const elapsed = Date.now() - started;
        if ("ready" in expected) {
          if ("error" in result) throw result.error;
          const { pages } = result.value;
          timings.push(`${file}: ready, ${pages.length} pages, ${elapsed} ms`);
          expect(pages).toHaveLength(expected.ready.pages);
          const text = pages.join("\n");
          for (const needle of expected.ready.contains) expect(text.toLowerCase()).toContain(needle.toLowerCase());
          expected.ready.check?.(pages);
        } else {
          expect("error" in result && result.error).toBeInstanceOf(AppError);
          const error = (result as { error: AppError }).error;
          timings.push(`${file}: ${error.code}, ${elapsed} ms`);
          expect(error.code).toBe(expected.fails);
        }
      },
      NEVER_HANGS,
    );
  }

  it(
    "gives up on a real multi-page paper when the deadline is 1 ms",
    async () => {
      const error = await extractPdf(read("tracemonkey.pdf"), { ...limits, timeoutMs: 1 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "parse_timeout" });
    },
    NEVER_HANGS,
  );

  it(
    "refuses the 14-page paper when the limit is 10 pages",
    async () => {
      const error = await extractPdf(read("tracemonkey.pdf"), { ...limits, maxPages: 10 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "too_many_pages" });
    },
    NEVER_HANGS,
  );

  afterAll(async () => {
    console.info(`Shared corpus timings:\n  ${timings.join("\n  ")}`);
    await closeSandboxes();
    expect(sandboxStats().live).toBe(0);
    expect(childProcessesOf(process.pid, "pdf-child.mjs")).toEqual([]);
  });
});
