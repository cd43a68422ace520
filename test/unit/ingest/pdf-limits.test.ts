import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { AppError } from "../../../src/domain/errors.js";
import { closeSandboxes, sandboxStats } from "../../../src/ingest/child-sandbox.js";
import { extractPdf, type PdfExtractOptions, type PdfLimits } from "../../../src/ingest/pdf-extract.js";
import {
  childProcessesOf,
  decompressionBombPdf,
  hasPrlimit,
  hasProcfs,
  longPdf,
  textPdf,
  watchParserPool,
} from "./pdf-fixtures.js";

const limits: PdfLimits = { maxPages: 100, timeoutMs: 30_000, memoryMb: 256 };
const NEVER_HANGS = 30_000;
const somePdf = () => textPdf([["A small document with enough words to be text."]]);

/** The AppError code a call ends with ("ready" if it succeeds), and its log detail. */
async function outcomeOf(promise: Promise<unknown>): Promise<{ code: string; detail: string }> {
  try {
    await promise;
    return { code: "ready", detail: "" };
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return { code: (error as AppError).code, detail: (error as AppError).detail ?? "" };
  }
}

const codeOf = async (promise: Promise<unknown>): Promise<string> => (await outcomeOf(promise)).code;

describe("the parser's deadline", () => {
  it(
    "kills a child that does not finish in time",
    async () => {
      const code = await codeOf(extractPdf(await somePdf(), { ...limits, timeoutMs: 1500 }, { testHook: "sleep" }));
      expect(code).toBe("parse_timeout");
    },
    NEVER_HANGS,
  );

  it(
    "applies to real parsing too",
    async () => {
      const pdf = await textPdf(Array.from({ length: 40 }, (_, i) => [`Page ${i + 1} has a line of text.`]));
      expect(await codeOf(extractPdf(pdf, { ...limits, timeoutMs: 1 }))).toBe("parse_timeout");
    },
    NEVER_HANGS,
  );
});

describe("the parser's memory cap", () => {
  const bomb = (options: PdfExtractOptions) => extractPdf(new Uint8Array(1), limits, options);

  it(
    "stops native allocations outside the V8 heap (RLIMIT_DATA through the default limiter)",
    async () => {
      const rssBefore = process.memoryUsage().rss;
      const error = bomb({ testHook: "native-alloc" });
      expect(await codeOf(error)).toBe("parse_memory");
      // The server process is not the one that paid for it.
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    },
    NEVER_HANGS,
  );

  it.skipIf(!hasPrlimit())(
    "with prlimit: the kernel refuses the allocation and the child dies reporting it",
    async () => {
      const { code, detail } = await outcomeOf(bomb({ testHook: "native-alloc", limiter: "prlimit" }));
      expect(code).toBe("parse_memory");
      expect(detail).toMatch(/memory cap by prlimit/);
      expect(detail).toMatch(/out of memory|allocation failed/i);
    },
    NEVER_HANGS,
  );

  it(
    "without prlimit: a shell ulimit sets the same limit",
    async () => {
      const { code, detail } = await outcomeOf(bomb({ testHook: "native-alloc", limiter: "shell" }));
      expect(code).toBe("parse_memory");
      expect(detail).toMatch(/memory cap by shell/);
      expect(detail).toMatch(/out of memory|allocation failed/i);
    },
    NEVER_HANGS,
  );

  it.skipIf(!hasProcfs())(
    "with no rlimit at all: the RSS watchdog kills the child",
    async () => {
      const { code, detail } = await outcomeOf(bomb({ testHook: "native-alloc", limiter: "watchdog" }));
      expect(code).toBe("parse_memory");
      expect(detail).toMatch(/resident memory \d+ MiB over 256 MiB/);
    },
    NEVER_HANGS,
  );

  it(
    "stops a runaway V8 heap",
    async () => {
      expect(await codeOf(bomb({ testHook: "heap-alloc" }))).toBe("parse_memory");
    },
    NEVER_HANGS,
  );

  it(
    "stops a real PDF whose content stream inflates to 1.5 GiB",
    async () => {
      expect(await codeOf(extractPdf(decompressionBombPdf(), limits))).toBe("parse_memory");
    },
    NEVER_HANGS,
  );

  it(
    "leaves ordinary documents alone under the same cap",
    async () => {
      const { pages } = await extractPdf(await somePdf(), limits);
      expect(pages).toEqual(["A small document with enough words to be text."]);
    },
    NEVER_HANGS,
  );
});

describe("parser processes", () => {
  it(
    "run at most two at a time; the rest wait their turn",
    async () => {
      const pdf = await somePdf();
      const watched = watchParserPool(10);
      const started = Date.now();
      const codes = await Promise.all(
        Array.from({ length: 5 }, () => codeOf(extractPdf(pdf, { ...limits, timeoutMs: 800 }, { testHook: "sleep" }))),
      );
      const { maxLive: maxRunning, sawQueue } = watched();
      expect(codes).toEqual(Array(5).fill("parse_timeout"));
      expect(maxRunning).toBe(2);
      expect(sawQueue).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 800);
    },
    NEVER_HANGS,
  );

  it.skipIf(!hasProcfs())(
    "a parser killed from outside mid-parse is worth another try, not a verdict on the file",
    async () => {
      const pdf = await longPdf(1500);
      const tight = { ...limits, maxPages: 2000, memoryMb: 1024 };
      let killed = false;
      const error = await extractPdf(pdf, tight, {
        onProgress: ({ pagesDone }) => {
          if (killed || pagesDone === 0) return;
          killed = true;
          for (const pid of childProcessesOf(process.pid, "pdf-child.mjs")) process.kill(pid, "SIGKILL");
        },
      }).catch((e: unknown) => e);
      expect(killed).toBe(true);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: "internal", retryable: true });
      expect((error as AppError).detail).toMatch(/signal SIGKILL/);
      // And the next try reads it.
      const { pages } = await extractPdf(pdf, tight);
      expect(pages).toHaveLength(1500);
    },
    NEVER_HANGS,
  );

  afterAll(async () => {
    await closeSandboxes();
    expect(sandboxStats()).toMatchObject({ running: 0, queued: 0, live: 0 });
    expect(childProcessesOf(process.pid, "pdf-child.mjs")).toEqual([]);
  });
});

describe("when the server process dies", () => {
  const projectRoot = process.cwd();
  const moduleUrl = (relative: string) => pathToFileURL(path.join(projectRoot, relative)).href;

  /** Starts a parse in a separate Node process, reports the parser's pid, then dies by `death`. */
  async function orphanAfter(death: string): Promise<number[]> {
    const dir = mkdtempSync(path.join(tmpdir(), "enclave-pdf-"));
    const script = path.join(dir, "server.mts");
    writeFileSync(
      script,
      [
        `import { extractPdf } from ${JSON.stringify(moduleUrl("src/ingest/pdf-extract.ts"))};`,
        `import { childProcessesOf } from ${JSON.stringify(moduleUrl("test/unit/ingest/pdf-fixtures.ts"))};`,
        `extractPdf(new Uint8Array(1), { maxPages: 1, timeoutMs: 60_000, memoryMb: 256 }, { testHook: "sleep" }).catch(() => {});`,
        "setTimeout(() => {",
        `  console.log(JSON.stringify(childProcessesOf(process.pid, "pdf-child.mjs")));`,
        `  ${death};`,
        "}, 1500);",
      ].join("\n"),
    );
    try {
      const run = spawnSync(process.execPath, ["--import", "tsx", script], {
        cwd: projectRoot,
        encoding: "utf8",
        timeout: 20_000,
      });
      return JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "[]") as number[];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  async function gone(pids: number[], withinMs: number): Promise<boolean> {
    const deadline = Date.now() + withinMs;
    while (Date.now() < deadline) {
      if (!pids.some(alive)) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  }

  it.skipIf(!hasProcfs())(
    "an uncaught exception still kills the parser on the way out",
    async () => {
      const pids = await orphanAfter('throw new Error("the server crashed")');
      expect(pids).toHaveLength(1);
      expect(await gone(pids, 3_000)).toBe(true);
    },
    NEVER_HANGS,
  );

  it.skipIf(!hasProcfs())(
    "a SIGKILL leaves an orphan that notices and exits by itself",
    async () => {
      const pids = await orphanAfter('process.kill(process.pid, "SIGKILL")');
      expect(pids).toHaveLength(1);
      expect(await gone(pids, 3_000)).toBe(true);
    },
    NEVER_HANGS,
  );
});
