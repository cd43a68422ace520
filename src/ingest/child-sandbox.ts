import { type ChildProcess, type StdioOptions, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

/**
 * Runs a Node script on untrusted input in a child process that cannot hang or exhaust the server:
 * a wall-clock deadline, a memory cap the kernel enforces, an RSS watchdog, a bounded output, a
 * clean environment (no secrets, no NODE_OPTIONS loaders) and a cap on how many run at once.
 *
 * Memory: RLIMIT_AS is unusable for Node: V8 reserves address space up front (Node 20 aborts at start
 * below about 1 GiB: "Failed to reserve virtual memory for CodeRange") and every WebAssembly memory
 * reserves about 10 GiB of guard region, so an AS cap either kills Node or caps nothing. RLIMIT_DATA
 * (Linux >= 4.7) counts private writable mappings, which covers the V8 heap, ArrayBuffer backing
 * stores and malloc alike, and ignores PROT_NONE reservations: it holds for native allocations that
 * `--max-old-space-size` never sees. The watchdog samples /proc/<pid>/status as a second line of
 * defence, and is the only cap where neither `prlimit` nor a shell `ulimit` is available.
 *
 * Status (progress): a child may write newline-terminated status lines to fd 3. The parent reads at
 * most STATUS_MAX_BYTES of them in all, drops any line longer than STATUS_MAX_LINE_CHARS and hands
 * only the latest line on, at most once every STATUS_MIN_INTERVAL_MS, so a child that floods the
 * channel costs the parent a bounded amount of memory and work and is then no longer listened to.
 */

export type MemoryLimiter = "prlimit" | "shell" | "watchdog";

export interface SandboxLimits {
  timeoutMs: number;
  memoryMb: number;
  maxOutputBytes: number;
}

export interface SandboxRequest {
  script: URL;
  args: readonly string[];
  input: Uint8Array;
  limits: SandboxLimits;
  /** Forces a way of capping memory (tests); by default the first that works on this machine. */
  limiter?: MemoryLimiter;
  /**
   * Receives the child's status lines from fd 3 (untrusted text; the latest one wins, rate-limited).
   * Without it the child gets no fd 3. A listener that throws is ignored.
   */
  onStatus?: (line: string) => void;
}

interface Finished {
  stderrTail: string;
  limiter: MemoryLimiter;
  elapsedMs: number;
}

export type SandboxOutcome =
  | (Finished & {
      status: "exited";
      exitCode: number | null;
      signal: NodeJS.Signals | null;
      stdout: string;
      /** The highest resident memory the watchdog saw; undefined when it took no sample (no procfs, or too soon). */
      peakRssMb: number | undefined;
    })
  | (Finished & { status: "timed_out" })
  | (Finished & { status: "over_memory"; rssMb: number })
  | (Finished & { status: "output_too_large" });

/** Node itself needs about 130 MiB of RLIMIT_DATA to start and run pdf.js; below that it aborts or stalls. */
export const MIN_SANDBOX_MEMORY_MB = 192;
export const DEFAULT_MAX_CONCURRENT_CHILDREN = 2;

const WATCHDOG_INTERVAL_MS = 25;
const WATCHDOG_BACKSTOP_SLACK_MB = 128;
const STDERR_TAIL_BYTES = 4096;
/** An honest PDF child writes about 40 bytes a report, a few reports a second: 64 KiB lasts minutes. */
export const STATUS_MAX_BYTES = 64 * 1024;
export const STATUS_MAX_LINE_CHARS = 256;
export const STATUS_MIN_INTERVAL_MS = 150;

// A small environment on purpose: the child parses hostile input and must not see the server's
// secrets, nor inherit NODE_OPTIONS (a TS loader from tsx or vitest) that would slow it and bloat it.
// One libuv thread and two malloc arenas keep the per-thread stacks and arenas (which count against
// RLIMIT_DATA) small: the default sizes them to the machine, not to the job.
const CHILD_ENV = { UV_THREADPOOL_SIZE: "1", MALLOC_ARENA_MAX: "2" };

class Semaphore {
  #capacity: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }
  get running(): number {
    return this.#running;
  }
  get queued(): number {
    return this.#waiting.length;
  }
  resize(capacity: number): void {
    this.#capacity = capacity;
    this.#drain();
  }
  async acquire(): Promise<() => void> {
    if (this.#running < this.#capacity) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve)); // the slot is handed over
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running--;
      this.#drain();
    };
  }
  #drain(): void {
    while (this.#running < this.#capacity && this.#waiting.length > 0) {
      this.#running++;
      this.#waiting.shift()?.();
    }
  }
}

const slots = new Semaphore(DEFAULT_MAX_CONCURRENT_CHILDREN);

/** How many sandboxed children may run at once (process-wide). */
export function setMaxConcurrentChildren(size: number): void {
  slots.resize(Math.max(1, Math.floor(size)));
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Children running and requests waiting for a slot; for tests and health checks. */
export function sandboxStats(): { running: number; queued: number; live: number } {
  return { running: slots.running, queued: slots.queued, live: live.size };
}

function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Synchronous kills are all an exit handler can do; they are enough to leave no orphan behind.
    process.once("exit", () => {
      for (const running of live) running.kill("SIGKILL");
    });
  }
  live.add(child);
  child.once("exit", () => live.delete(child));
}

let preferredLimiter: MemoryLimiter = "prlimit";

function nodeArgs(request: SandboxRequest, memoryMb: number): string[] {
  const heapMb = Math.max(64, Math.floor(memoryMb * 0.6));
  return [
    // A V8 heap ceiling below the data cap makes V8 collect garbage before the kernel says no.
    `--max-old-space-size=${heapMb}`,
    // V8 sizes its worker pool to the machine; each thread costs a stack counted by RLIMIT_DATA.
    "--v8-pool-size=1",
    "--disallow-code-generation-from-strings",
    fileURLToPath(request.script),
    ...request.args,
  ];
}

function commandFor(limiter: MemoryLimiter, request: SandboxRequest, memoryMb: number): [string, string[]] {
  const args = nodeArgs(request, memoryMb);
  const dataBytes = memoryMb * 1024 * 1024;
  // The CPU limit is a backstop for an orphan whose parent died without killing it; the wall-clock
  // deadline normally fires first (one main thread plus one V8 helper uses at most ~2 s of CPU a second).
  const cpuSeconds = Math.ceil(request.limits.timeoutMs / 1000) * 2 + 2;
  switch (limiter) {
    case "prlimit":
      return [
        "prlimit",
        [
          `--data=${dataBytes}:${dataBytes}`,
          `--cpu=${cpuSeconds}:${cpuSeconds + 2}`,
          "--core=0",
          "--",
          process.execPath,
          ...args,
        ],
      ];
    case "shell":
      return [
        "/bin/sh",
        [
          "-c",
          `ulimit -c 0 && ulimit -d ${dataBytes / 1024} && ulimit -t ${cpuSeconds} && exec "$0" "$@"`,
          process.execPath,
          ...args,
        ],
      ];
    case "watchdog":
      return [process.execPath, args];
  }
}

const FALLBACK: Record<MemoryLimiter, MemoryLimiter | undefined> = {
  prlimit: "shell",
  shell: "watchdog",
  watchdog: undefined,
};

async function start(request: SandboxRequest, memoryMb: number): Promise<[ChildProcess, MemoryLimiter]> {
  let limiter = request.limiter ?? preferredLimiter;
  for (;;) {
    const [command, args] = commandFor(limiter, request, memoryMb);
    const stdio: StdioOptions = request.onStatus ? ["pipe", "pipe", "pipe", "pipe"] : ["pipe", "pipe", "pipe"];
    const child = spawn(command, args, { env: CHILD_ENV, stdio });
    trackChild(child);
    try {
      await once(child, "spawn");
      return [child, limiter];
    } catch (error) {
      live.delete(child);
      const next = FALLBACK[limiter];
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || next === undefined || request.limiter) throw error;
      limiter = next;
      preferredLimiter = next; // prlimit or sh is missing on this machine: do not try it again
    }
  }
}

/**
 * Reads status lines from `stream` within the bounds above and delivers the latest one through
 * `deliver`, throttled. `finish` delivers a line still held back and stops any further delivery.
 */
function readStatus(stream: Readable, deliver: (line: string) => void): { finish: () => void } {
  let bytes = 0;
  let partial = "";
  let overlong = false;
  let latest: string | undefined;
  let lastDelivery = 0;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;

  const flush = () => {
    timer = undefined;
    if (latest === undefined || finished) return;
    const line = latest;
    latest = undefined;
    lastDelivery = Date.now();
    try {
      deliver(line);
    } catch {
      // a listener's trouble is not the child's
    }
  };
  const offer = (line: string) => {
    latest = line;
    if (timer !== undefined) return;
    const wait = lastDelivery + STATUS_MIN_INTERVAL_MS - Date.now();
    if (wait <= 0) flush();
    else timer = setTimeout(flush, wait);
  };

  stream.on("error", () => {});
  stream.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > STATUS_MAX_BYTES) {
      // A flood: stop listening. The child's further writes fail (EPIPE); nothing else changes for it.
      stream.destroy();
      return;
    }
    const parts = chunk.toString("latin1").split("\n");
    const rest = parts.pop() ?? "";
    for (const part of parts) {
      const line = partial + part;
      if (!overlong && line.length <= STATUS_MAX_LINE_CHARS && line.trim() !== "") offer(line);
      partial = "";
      overlong = false;
    }
    partial += rest;
    if (partial.length > STATUS_MAX_LINE_CHARS) {
      overlong = true;
      partial = "";
    }
  });
  return {
    finish: () => {
      if (timer !== undefined) clearTimeout(timer);
      flush();
      finished = true;
    },
  };
}

/** Whether this system shows a process's memory in /proc (the watchdog needs it). */
export const HAS_PROCFS = existsSync("/proc/self/status");

async function residentMb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined; // the process is gone, or this system has no procfs
  }
}

/** Runs one child to completion under the limits; never leaves it running. */
export async function runSandboxed(request: SandboxRequest): Promise<SandboxOutcome> {
  const memoryMb = Math.max(MIN_SANDBOX_MEMORY_MB, Math.floor(request.limits.memoryMb));
  const release = await slots.acquire();
  let child: ChildProcess | undefined;
  try {
    const started = Date.now();
    const [spawned, limiter] = await start(request, memoryMb);
    child = spawned;
    const pid = spawned.pid;

    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrTail = "";
    let stopped: "timed_out" | "over_memory" | "output_too_large" | undefined;
    let rssMb = 0;
    let sampled = false;
    const stop = (reason: typeof stopped) => {
      stopped ??= reason;
      spawned.kill("SIGKILL");
    };

    spawned.stdout?.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > request.limits.maxOutputBytes) stop("output_too_large");
      else stdout.push(chunk);
    });
    spawned.stderr?.setEncoding("utf8");
    spawned.stderr?.on("data", (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    // The child may die before reading all its input (EPIPE): its exit status tells the story.
    spawned.stdin?.on("error", () => {});
    spawned.stdin?.end(request.input);
    const statusStream = spawned.stdio[3];
    const status =
      request.onStatus && statusStream && "on" in statusStream
        ? readStatus(statusStream as Readable, request.onStatus)
        : undefined;

    // RSS also counts file-backed pages (the node binary, ~40 MiB) that RLIMIT_DATA rightly ignores:
    // under a kernel limit the watchdog is only a backstop, and must not pre-empt the kernel.
    const watchdogMb = limiter === "watchdog" ? memoryMb : memoryMb + WATCHDOG_BACKSTOP_SLACK_MB;
    const deadline = setTimeout(() => stop("timed_out"), request.limits.timeoutMs);
    let sampling = false;
    const watchdog = setInterval(async () => {
      if (sampling || pid === undefined) return;
      sampling = true;
      const rss = await residentMb(pid);
      sampling = false;
      if (rss === undefined) return;
      sampled = true;
      rssMb = Math.max(rssMb, rss);
      if (rss > watchdogMb) stop("over_memory");
    }, WATCHDOG_INTERVAL_MS);

    const [exitCode, signal] = (await once(spawned, "close")) as [number | null, NodeJS.Signals | null];
    clearTimeout(deadline);
    clearInterval(watchdog);
    status?.finish();
    const finished = { stderrTail, limiter, elapsedMs: Date.now() - started };
    if (stopped === "over_memory") return { ...finished, status: stopped, rssMb };
    if (stopped !== undefined) return { ...finished, status: stopped };
    return {
      ...finished,
      status: "exited",
      exitCode,
      signal,
      stdout: Buffer.concat(stdout).toString("utf8"),
      peakRssMb: sampled ? rssMb : undefined,
    };
  } finally {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    release();
  }
}
