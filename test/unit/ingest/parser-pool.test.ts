import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../../../src/domain/errors.js";
import {
  closeSandboxes,
  configureChildReuse,
  DEFAULT_MAX_CONCURRENT_CHILDREN,
  runSandboxed,
  type SandboxOutcome,
  sandboxStats,
  setMaxConcurrentChildren,
} from "../../../src/ingest/child-sandbox.js";
import type { ExtractProgress } from "../../../src/ingest/extract.js";
import { extractPdf, type PdfLimits } from "../../../src/ingest/pdf-extract.js";
import {
  childProcessesOf,
  decompressionBombPdf,
  hasProcfs,
  longPdf,
  textPdf,
  watchParserPool,
} from "./pdf-fixtures.js";

/**
 * The warm parser processes: reused across files, replaced after any failure, after a number of files
 * or when idle, never more than the concurrency cap, all gone once the pool is shut down, and no
 * file's outcome or progress leaking into another's.
 */
const SCRIPT = new URL("../../../src/ingest/pdf-child.mjs", import.meta.url);
const limits: PdfLimits = { maxPages: 2000, timeoutMs: 30_000, memoryMb: 1024 };
const NEVER_HANGS = 60_000;

const parsers = () => childProcessesOf(process.pid, "pdf-child.mjs");

/** One PDF through the pool as pdf-extract sends it, with the child that served it. */
async function serve(
  pdf: Uint8Array,
  options: { testHook?: string; memoryMb?: number; timeoutMs?: number; onStatus?: (line: string) => void } = {},
): Promise<SandboxOutcome & { text?: string[] }> {
  const outcome = await runSandboxed({
    script: SCRIPT,
    header: { maxPages: limits.maxPages, progress: options.onStatus !== undefined, testHook: options.testHook },
    input: pdf,
    limits: {
      timeoutMs: options.timeoutMs ?? limits.timeoutMs,
      memoryMb: options.memoryMb ?? limits.memoryMb,
      maxOutputBytes: 16 * 1024 * 1024,
    },
    ...(options.onStatus ? { onStatus: options.onStatus } : {}),
  });
  if (outcome.status !== "replied") return outcome;
  const reply = JSON.parse(outcome.reply) as { ok: boolean; pages?: string[] };
  return { ...outcome, ...(reply.pages ? { text: reply.pages } : {}) };
}

const onePage = (text: string) => textPdf([[text]]);

async function until(condition: () => boolean, withinMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return condition();
}

beforeEach(async () => {
  await closeSandboxes();
});

afterEach(() => {
  configureChildReuse({ filesPerChild: 50, idleMs: 30_000 });
  setMaxConcurrentChildren(DEFAULT_MAX_CONCURRENT_CHILDREN);
});

afterAll(async () => {
  await closeSandboxes();
  expect(sandboxStats()).toMatchObject({ running: 0, queued: 0, live: 0, idle: 0 });
  expect(parsers()).toEqual([]);
});

describe("a warm parser", () => {
  it(
    "serves one file after another in the same process, each with its own text",
    async () => {
      const first = await serve(await onePage("The first file talks about apples and pears."));
      const second = await serve(await onePage("The second file talks about boats and harbours."));
      expect(first).toMatchObject({
        status: "replied",
        served: 1,
        text: ["The first file talks about apples and pears."],
      });
      expect(second).toMatchObject({
        status: "replied",
        served: 2,
        text: ["The second file talks about boats and harbours."],
      });
      expect(second.pid).toBe(first.pid);
      expect(sandboxStats()).toMatchObject({ live: 1, idle: 1, running: 0 });
      expect(parsers()).toEqual([first.pid]);
    },
    NEVER_HANGS,
  );

  it(
    "is replaced after the configured number of files",
    async () => {
      configureChildReuse({ filesPerChild: 3 });
      const pdf = await onePage("A short memo about the office plants.");
      const outcomes = [];
      for (let i = 0; i < 4; i++) outcomes.push(await serve(pdf));
      expect(outcomes.map((o) => o.served)).toEqual([1, 2, 3, 1]);
      const [a, b, c, d] = outcomes.map((o) => o.pid);
      expect(new Set([a, b, c]).size).toBe(1);
      expect(d).not.toBe(a);
      expect(outcomes.every((o) => o.text?.[0] === "A short memo about the office plants.")).toBe(true);
    },
    NEVER_HANGS,
  );

  it(
    "serves only files with the limits it was started with",
    async () => {
      const pdf = await onePage("Limits are fixed when a process starts.");
      const roomy = await serve(pdf, { memoryMb: 1024 });
      const tight = await serve(pdf, { memoryMb: 512 });
      expect(tight.pid).not.toBe(roomy.pid);
      expect(tight.text).toEqual(["Limits are fixed when a process starts."]);
    },
    NEVER_HANGS,
  );
});

describe("after a failure, the next file gets a fresh parser and its own result", () => {
  const failures: [string, { testHook?: string; timeoutMs?: number; pdf?: () => Uint8Array }, string][] = [
    ["the deadline", { testHook: "sleep", timeoutMs: 3000 }, "timed_out"],
    ["the memory cap (native allocations)", { testHook: "native-alloc" }, "parse_memory"],
    ["the memory cap (a decompression bomb)", { pdf: () => decompressionBombPdf() }, "parse_memory"],
    ["a crash", { testHook: "die" }, "exited"],
    [
      "a damaged file",
      { pdf: () => new TextEncoder().encode("%PDF-1.7 and then nothing a reader could use") },
      "damaged_file",
    ],
  ];

  for (const [what, failure, expected] of failures) {
    it(
      `${what}`,
      async () => {
        const good = "The file after the failure reads as it should.";
        const same = { memoryMb: 512, ...(failure.timeoutMs ? { timeoutMs: failure.timeoutMs } : {}) };
        const warm = await serve(await onePage("A file that warms the parser up."), same);
        const bad = await serve(failure.pdf?.() ?? (await onePage("A file with a test hook.")), {
          ...same,
          ...(failure.testHook ? { testHook: failure.testHook } : {}),
        });
        // The failure hit the warm parser.
        expect(bad.pid).toBe(warm.pid);
        expect(bad.served).toBe(2);
        if (bad.status === "replied") expect(JSON.parse(bad.reply)).toMatchObject({ ok: false, code: expected });
        else if (expected === "parse_memory") expect(["exited", "over_memory"]).toContain(bad.status);
        else expect(bad.status).toBe(expected);
        const next = await serve(await onePage(good), same);
        expect(next).toMatchObject({ status: "replied", served: 1, text: [good] });
        expect(next.pid).not.toBe(bad.pid);
        // The failed one is gone, not left behind.
        expect(await until(() => !parsers().includes(bad.pid ?? -1))).toBe(true);
      },
      NEVER_HANGS,
    );
  }

  it(
    "through extractPdf: a bomb, then an ordinary document under the same limits",
    async () => {
      const tight = { ...limits, memoryMb: 256 };
      await expect(extractPdf(decompressionBombPdf(), tight)).rejects.toMatchObject({ code: "parse_memory" });
      const { pages } = await extractPdf(await onePage("Ordinary text after a bomb."), tight);
      expect(pages).toEqual(["Ordinary text after a bomb."]);
    },
    NEVER_HANGS,
  );

  it.skipIf(!hasProcfs())(
    "a parser that keeps much of its memory cap after a file is replaced",
    async () => {
      const pdf = await onePage("A parse that leaves memory behind.");
      const leaky = await serve(pdf, { memoryMb: 256, testHook: "hold-memory" });
      expect(leaky).toMatchObject({ status: "replied", text: ["A parse that leaves memory behind."] });
      const next = await serve(pdf, { memoryMb: 256 });
      expect(next.pid).not.toBe(leaky.pid);
      expect(next.served).toBe(1);
    },
    NEVER_HANGS,
  );
});

describe("the concurrency cap", () => {
  for (const cap of [1, 2]) {
    it(
      `holds at ${cap} with more files than parsers; every file gets its own text`,
      async () => {
        setMaxConcurrentChildren(cap);
        const texts = Array.from({ length: 6 }, (_, i) => `Document number ${i + 1} is about topic ${i + 1}.`);
        const pdfs = await Promise.all(texts.map(onePage));
        const watched = watchParserPool();
        const outcomes = await Promise.all(pdfs.map((pdf) => serve(pdf)));
        const { maxLive, sawQueue } = watched();
        expect(outcomes.map((o) => o.text?.[0])).toEqual(texts);
        expect(maxLive).toBeLessThanOrEqual(cap);
        expect(sawQueue).toBe(true);
        expect(new Set(outcomes.map((o) => o.pid)).size).toBe(cap);
        expect(parsers().length).toBeLessThanOrEqual(cap);
      },
      NEVER_HANGS,
    );
  }

  it(
    "makes room by closing an idle parser started for other limits",
    async () => {
      setMaxConcurrentChildren(1);
      const pdf = await onePage("One slot, two kinds of limits.");
      const a = await serve(pdf, { memoryMb: 1024 });
      const b = await serve(pdf, { memoryMb: 512 });
      expect(b).toMatchObject({ status: "replied", text: ["One slot, two kinds of limits."] });
      expect(b.pid).not.toBe(a.pid);
      expect(await until(() => parsers().length === 1)).toBe(true);
      expect(sandboxStats().live).toBe(1);
    },
    NEVER_HANGS,
  );
});

describe("idle parsers and shutdown", () => {
  it(
    "an idle parser goes away after the idle time",
    async () => {
      configureChildReuse({ idleMs: 200 });
      const { pid } = await serve(await onePage("A file, then nothing for a while."));
      expect(parsers()).toEqual([pid]);
      expect(await until(() => sandboxStats().live === 0 && parsers().length === 0)).toBe(true);
    },
    NEVER_HANGS,
  );

  it(
    "no parser outlives the shutdown: one at work, one idle, and a request waiting",
    async () => {
      setMaxConcurrentChildren(2);
      await serve(await onePage("This parser will be idle at shutdown."));
      const long = await longPdf(1500);
      const working = extractPdf(long, limits).catch((e: unknown) => e);
      const waiting = extractPdf(long, limits).catch((e: unknown) => e);
      const queued = extractPdf(long, limits).catch((e: unknown) => e);
      expect(await until(() => sandboxStats().running === 2 && sandboxStats().queued === 1)).toBe(true);
      await closeSandboxes();
      expect(sandboxStats()).toMatchObject({ running: 0, queued: 0, live: 0, idle: 0 });
      expect(parsers()).toEqual([]);
      for (const error of await Promise.all([working, waiting, queued])) {
        expect(error).toBeInstanceOf(AppError);
        expect(error).toMatchObject({ code: "internal", retryable: true });
      }
      // The pool is still usable afterwards.
      const { pages } = await extractPdf(await onePage("After the shutdown, a new parser."), limits);
      expect(pages).toEqual(["After the shutdown, a new parser."]);
    },
    NEVER_HANGS,
  );
});

describe("in a program of its own", () => {
  const moduleUrl = (relative: string) => pathToFileURL(path.join(process.cwd(), relative)).href;
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it.skipIf(!hasProcfs())(
    "an idle parser keeps nobody waiting: the program ends once its work is done, closing waits for the parsers, and none is left behind",
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "enclave-pool-"));
      const script = path.join(dir, "program.mts");
      writeFileSync(
        script,
        [
          `import { closeSandboxes } from ${JSON.stringify(moduleUrl("src/ingest/child-sandbox.ts"))};`,
          `import { extractPdf } from ${JSON.stringify(moduleUrl("src/ingest/pdf-extract.ts"))};`,
          `import { childProcessesOf, textPdf } from ${JSON.stringify(moduleUrl("test/unit/ingest/pdf-fixtures.ts"))};`,
          "const limits = { maxPages: 10, timeoutMs: 30_000, memoryMb: 512 };",
          'const pdf = await textPdf([["A document read by a short program."]]);',
          "const first = await extractPdf(pdf, limits);",
          'const closing = childProcessesOf(process.pid, "pdf-child.mjs");',
          "await closeSandboxes();",
          'console.log(JSON.stringify({ first: first.pages, closing, closed: childProcessesOf(process.pid, "pdf-child.mjs") }));',
          "const second = await extractPdf(pdf, limits);",
          'console.log(JSON.stringify({ second: second.pages, idle: childProcessesOf(process.pid, "pdf-child.mjs") }));',
        ].join("\n"),
      );
      try {
        // Far less than the idle time (30 s): a parser holding the program open would run into it.
        const run = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", timeout: 20_000 });
        expect(run.signal, run.stderr).toBeNull();
        expect(run.status, run.stderr).toBe(0);
        const [closing, ending] = run.stdout
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line));
        expect(closing).toMatchObject({ first: ["A document read by a short program."], closed: [] });
        expect(closing.closing).toHaveLength(1);
        expect(ending.second).toEqual(["A document read by a short program."]);
        expect(ending.idle).toHaveLength(1);
        // Killed on the way out.
        expect(await until(() => !ending.idle.some(alive), 3_000)).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    NEVER_HANGS,
  );
});

describe("progress", () => {
  it(
    "lines tagged for another file never reach this file's listener",
    async () => {
      const pdf = await longPdf(40);
      const heard: ExtractProgress[] = [];
      const { pages } = await extractPdf(pdf, limits, {
        testHook: "stale-progress",
        onProgress: (p) => heard.push(p),
      });
      expect(pages).toHaveLength(40);
      expect(heard.length).toBeGreaterThan(0);
      expect(heard.every((p) => p.pagesTotal === 40)).toBe(true);
    },
    NEVER_HANGS,
  );

  it(
    "files served one after another by the same parser each hear only their own progress",
    async () => {
      const sizes = [300, 7, 250, 3];
      const pdfs = await Promise.all(sizes.map(longPdf));
      const pids = new Set<number | undefined>();
      for (const [i, pdf] of pdfs.entries()) {
        const lines: string[] = [];
        const outcome = await serve(pdf, { onStatus: (line) => lines.push(line) });
        pids.add(outcome.pid);
        expect(outcome.text).toHaveLength(sizes[i] ?? 0);
        // A long parse is heard while it runs; a short one may be over before its first line is read.
        if ((sizes[i] ?? 0) > 100) expect(lines.length).toBeGreaterThan(0);
        for (const line of lines) expect(JSON.parse(line)).toMatchObject({ pagesTotal: sizes[i] });
      }
      expect(pids.size).toBe(1);
    },
    NEVER_HANGS,
  );

  it(
    "files parsed at the same time by two parsers each hear only their own progress",
    async () => {
      const sizes = [400, 350];
      const pdfs = await Promise.all(sizes.map(longPdf));
      const heard: ExtractProgress[][] = [[], []];
      const results = await Promise.all(
        pdfs.map((pdf, i) => extractPdf(pdf, limits, { onProgress: (p) => heard[i]?.push(p) })),
      );
      results.forEach(({ pages }, i) => {
        expect(pages).toHaveLength(sizes[i] ?? 0);
        expect(heard[i]?.every((p) => p.pagesTotal === sizes[i])).toBe(true);
      });
    },
    NEVER_HANGS,
  );
});
