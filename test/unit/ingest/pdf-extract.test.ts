import { afterAll, describe, expect, it } from "vitest";
import { AppError } from "../../../src/domain/errors.js";
import { closeSandboxes, sandboxStats } from "../../../src/ingest/child-sandbox.js";
import { extractPdf, type PdfLimits } from "../../../src/ingest/pdf-extract.js";
import {
  childProcessesOf,
  encryptedPdf,
  imageOnlyPdf,
  japanesePdf,
  ligaturePdf,
  lyingPageCountPdf,
  pageTreeBombPdf,
  textPdf,
} from "./pdf-fixtures.js";

const limits: PdfLimits = { maxPages: 100, timeoutMs: 30_000, memoryMb: 512 };
const NEVER_HANGS = 30_000;

async function failureOf(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe("extractPdf on PDFs built by the test", () => {
  afterAll(async () => {
    await closeSandboxes();
    expect(sandboxStats().live).toBe(0);
    expect(childProcessesOf(process.pid, "pdf-child.mjs")).toEqual([]);
  });

  it(
    "returns one text per page, in order, with paragraphs and without line-break hyphens",
    async () => {
      const pdf = await textPdf(
        [
          ["Quarterly report on the ex-", "ample project, first paragraph.", "A second paragraph follows the gap."],
          ["Page two mentions the budget."],
          ["Page three closes the document."],
        ],
        [1],
      );
      const { pages } = await extractPdf(pdf, limits);
      expect(pages).toEqual([
        "Quarterly report on the example project, first paragraph.\n\nA second paragraph follows the gap.",
        "Page two mentions the budget.",
        "Page three closes the document.",
      ]);
    },
    NEVER_HANGS,
  );

  it(
    "keeps a blank page as an empty string so page numbers stay right",
    async () => {
      const pdf = await textPdf([["The first page has enough words to count as text."], [], ["Third page."]]);
      const { pages } = await extractPdf(pdf, limits);
      expect(pages).toEqual(["The first page has enough words to count as text.", "", "Third page."]);
    },
    NEVER_HANGS,
  );

  it(
    "turns ligature glyphs into plain letters",
    async () => {
      const { pages } = await extractPdf(ligaturePdf(), limits);
      expect(pages).toEqual(["We find the workflow of files flexible."]);
    },
    NEVER_HANGS,
  );

  it(
    "reads Japanese set in a non-embedded font through pdf.js's bundled CMaps (nothing fetched)",
    async () => {
      const text = "日本語のテキストを抽出します。これは二つ目の文です。";
      const { pages } = await extractPdf(japanesePdf(text), limits);
      expect(pages).toEqual([text]);
    },
    NEVER_HANGS,
  );

  it(
    "refuses more pages than the limit before reading any page",
    async () => {
      const pdf = await textPdf(Array.from({ length: 30 }, (_, i) => [`This is page ${i + 1} of a thirty-page file.`]));
      const error = await failureOf(extractPdf(pdf, { ...limits, maxPages: 10 }));
      expect(error.code).toBe("too_many_pages");
      expect(error.message).toContain("30 pages");
      expect(error.message).toContain("10");
      const { pages } = await extractPdf(pdf, { ...limits, maxPages: 30 });
      expect(pages).toHaveLength(30);
      expect(pages[29]).toBe("This is page 30 of a thirty-page file.");
    },
    NEVER_HANGS,
  );

  it(
    "fails fast on a page tree that describes a billion pages",
    async () => {
      const error = await failureOf(extractPdf(pageTreeBombPdf(), limits));
      expect(error.code).toBe("too_many_pages");
      expect(error.message).toContain("1,000,000,000 pages");
    },
    NEVER_HANGS,
  );

  it(
    "reads the one real page of a file whose /Count claims 999,999,999 (pdf.js rebuilds the page tree)",
    async () => {
      const { pages } = await extractPdf(lyingPageCountPdf(), limits);
      expect(pages).toEqual(["The only page of a file that claims almost a billion."]);
    },
    NEVER_HANGS,
  );

  it(
    "says a PDF needs a password when it has a user password",
    async () => {
      const error = await failureOf(
        extractPdf(encryptedPdf("secret", "owner", "Hidden text behind a password."), limits),
      );
      expect(error.code).toBe("encrypted_pdf");
      expect(error.message).toMatch(/password-protected/);
      expect(error.message).not.toMatch(/PasswordException|pdf\.js/);
    },
    NEVER_HANGS,
  );

  it(
    "reads an encrypted PDF with an empty user password and restricted permissions",
    async () => {
      const { pages } = await extractPdf(encryptedPdf("", "owner", "Readable text in a restricted document."), limits);
      expect(pages).toEqual(["Readable text in a restricted document."]);
    },
    NEVER_HANGS,
  );

  it(
    "reports a document of images (a scan) as having no text layer",
    async () => {
      const error = await failureOf(extractPdf(imageOnlyPdf(), limits));
      expect(error.code).toBe("no_text_layer");
      expect(error.message).toMatch(/scanned/);
    },
    NEVER_HANGS,
  );

  it(
    "recovers from a wrong startxref offset (pdf.js rebuilds the cross-reference table)",
    async () => {
      const pdf = await textPdf([["A file whose cross-reference offset is wrong but whose objects are fine."]]);
      const broken = Buffer.from(pdf)
        .toString("latin1")
        .replace(/startxref\s+\d+/, "startxref\n12345");
      const { pages } = await extractPdf(new Uint8Array(Buffer.from(broken, "latin1")), limits);
      expect(pages).toEqual(["A file whose cross-reference offset is wrong but whose objects are fine."]);
    },
    NEVER_HANGS,
  );

  it(
    "reports truncated, empty and non-PDF bytes as damaged",
    async () => {
      const pdf = await textPdf([["Some text that will be cut off."]]);
      const inputs = [
        pdf.slice(0, Math.floor(pdf.length / 2)),
        pdf.slice(0, 40),
        new Uint8Array(0),
        new TextEncoder().encode("This is not a PDF at all, just some words. ".repeat(20)),
      ];
      for (const input of inputs) {
        const error = await failureOf(extractPdf(input, limits));
        expect(error.code).toBe("damaged_file");
        expect(error.message).toMatch(/damaged/);
      }
    },
    NEVER_HANGS * 2,
  );
});
