import { afterAll, describe, expect, it } from "vitest";
import { AppError } from "../../../src/domain/errors.js";
import { closeSandboxes, STATUS_MIN_INTERVAL_MS, sandboxStats } from "../../../src/ingest/child-sandbox.js";
import { type ExtractProgress, extractText } from "../../../src/ingest/extract.js";
import { extractPdf, type PdfLimits } from "../../../src/ingest/pdf-extract.js";
import { childProcessesOf, decompressionBombPdf, hasPrlimit, longPdf, textPdf } from "./pdf-fixtures.js";

const limits: PdfLimits = { maxPages: 2000, timeoutMs: 60_000, memoryMb: 512 };
const NEVER_HANGS = 60_000;

interface Heard extends ExtractProgress {
  at: number;
}

/** Extracts with a listener; what it heard, with the time of each report. */
async function listen(run: (onProgress: (p: ExtractProgress) => void) => Promise<{ pages: string[] }>) {
  const heard: Heard[] = [];
  const { pages } = await run((p) => heard.push({ ...p, at: Date.now() }));
  return { pages, heard };
}

describe("progress while a PDF is parsed", () => {
  afterAll(async () => {
    await closeSandboxes();
    expect(sandboxStats()).toMatchObject({ running: 0, queued: 0, live: 0 });
    expect(childProcessesOf(process.pid, "pdf-child.mjs")).toEqual([]);
  });

  it(
    "reports the page count once the PDF is open, then pages read going up, ending at the page count",
    async () => {
      const pdf = await longPdf(600);
      const { pages, heard } = await listen((onProgress) => extractText("pdf", pdf, limits, onProgress));
      expect(pages).toHaveLength(600);
      expect(pages[599]).toContain("Section 600:");

      expect(heard.length).toBeGreaterThanOrEqual(3);
      expect(heard.every((p) => p.pagesTotal === 600)).toBe(true);
      expect(heard[0]?.pagesDone).toBe(0);
      expect(heard.at(-1)).toMatchObject({ pagesDone: 600, pagesTotal: 600 });
      // Somewhere in between, not just "nothing" then "everything".
      expect(heard.some((p) => p.pagesDone > 0 && p.pagesDone < 600)).toBe(true);
      for (let i = 1; i < heard.length; i++) {
        expect(heard[i]?.pagesDone).toBeGreaterThan(heard[i - 1]?.pagesDone ?? Number.POSITIVE_INFINITY);
      }
      // A few times a second at most (the closing report comes as soon as the text is in).
      for (let i = 1; i < heard.length - 1; i++) {
        expect((heard[i]?.at ?? 0) - (heard[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(STATUS_MIN_INTERVAL_MS - 5);
      }
    },
    NEVER_HANGS,
  );

  for (const limiter of ["prlimit", "shell", "watchdog"] as const) {
    it.skipIf(limiter === "prlimit" && !hasPrlimit())(
      `reaches the parent through the ${limiter} way of capping memory too`,
      async () => {
        const pdf = await longPdf(200);
        const { pages, heard } = await listen((onProgress) => extractPdf(pdf, limits, { onProgress, limiter }));
        expect(pages).toHaveLength(200);
        expect(heard[0]).toMatchObject({ pagesDone: 0, pagesTotal: 200 });
        expect(heard.at(-1)).toMatchObject({ pagesDone: 200, pagesTotal: 200 });
      },
      NEVER_HANGS,
    );
  }

  it(
    "leaves the deadline and the memory cap as they are",
    async () => {
      const onProgress = () => {};
      const bomb = await extractPdf(decompressionBombPdf(), { ...limits, memoryMb: 256 }, { onProgress }).catch(
        (e: unknown) => e,
      );
      expect(bomb).toMatchObject({ code: "parse_memory" });
      // A parse that keeps reporting pages read and never ends: the reports do not extend the deadline.
      const heard: ExtractProgress[] = [];
      const endless = await extractPdf(
        await textPdf([["A short file."]]),
        { ...limits, timeoutMs: 1_500 },
        { onProgress: (p) => heard.push(p), testHook: "endless-pages" },
      ).catch((e: unknown) => e);
      expect(endless).toMatchObject({ code: "parse_timeout" });
      expect(heard.length).toBeGreaterThanOrEqual(2);
    },
    NEVER_HANGS,
  );

  it(
    "reports a one-page PDF as one page of one",
    async () => {
      const pdf = await textPdf([["A single page with enough words to count as text."]]);
      const { heard } = await listen((onProgress) => extractPdf(pdf, limits, { onProgress }));
      expect(heard.at(-1)).toMatchObject({ pagesDone: 1, pagesTotal: 1 });
      expect(heard.every((p) => p.pagesTotal === 1 && p.pagesDone <= 1)).toBe(true);
    },
    NEVER_HANGS,
  );

  it(
    "reports nothing but the refusal for a PDF over the page limit",
    async () => {
      const pdf = await longPdf(30);
      const heard: ExtractProgress[] = [];
      const error = await extractPdf(pdf, { ...limits, maxPages: 10 }, { onProgress: (p) => heard.push(p) }).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "too_many_pages" });
      expect(heard).toEqual([]);
    },
    NEVER_HANGS,
  );

  it(
    "is not disturbed by a listener that throws or rejects",
    async () => {
      const pdf = await longPdf(40);
      const throwing = await extractPdf(pdf, limits, {
        onProgress: () => {
          throw new Error("listener broke");
        },
      });
      expect(throwing.pages).toHaveLength(40);
      const rejecting = await extractPdf(pdf, limits, { onProgress: async () => Promise.reject(new Error("no")) });
      expect(rejecting.pages).toHaveLength(40);
    },
    NEVER_HANGS,
  );
});

describe("a child that floods its progress channel", () => {
  it(
    "is no longer listened to past a bound: the parent hears only sane progress, rarely, and still gets the text",
    async () => {
      const pdf = await longPdf(50);
      const rssBefore = process.memoryUsage().rss;
      const started = Date.now();
      const { pages, heard } = await listen((onProgress) =>
        extractPdf(pdf, { ...limits, maxPages: 100 }, { onProgress, testHook: "progress-flood" }),
      );
      expect(pages).toHaveLength(50);
      // The lies (a million pages, more done than there are, 4,000-digit totals) never got through.
      expect(heard.every((p) => p.pagesTotal === 50 && p.pagesDone <= 50)).toBe(true);
      expect(heard.at(-1)).toMatchObject({ pagesDone: 50, pagesTotal: 50 });
      const elapsed = Date.now() - started;
      // The child floods for ten seconds unless the parent hangs up on it first.
      expect(elapsed).toBeLessThan(8_000);
      expect(heard.length).toBeLessThanOrEqual(Math.ceil(elapsed / STATUS_MIN_INTERVAL_MS) + 2);
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    },
    NEVER_HANGS,
  );
});

describe("progress of plain text", () => {
  it("is reported once, all pages done", async () => {
    const { pages, heard } = await listen((onProgress) =>
      extractText("md", new TextEncoder().encode("# Notes\n\nThe office opens at nine."), limits, onProgress),
    );
    expect(pages.length).toBeGreaterThan(0);
    expect(heard.map(({ pagesDone, pagesTotal }) => ({ pagesDone, pagesTotal }))).toEqual([
      { pagesDone: pages.length, pagesTotal: pages.length },
    ]);
  });

  it("is not reported for a file that cannot be read", async () => {
    const heard: ExtractProgress[] = [];
    await expect(extractText("txt", new Uint8Array([0x61, 0, 0x62]), limits, (p) => heard.push(p))).rejects.toThrow(
      AppError,
    );
    expect(heard).toEqual([]);
  });
});
