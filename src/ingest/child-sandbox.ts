import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/**
 * Runs a Node script on untrusted input in child processes that cannot hang or exhaust the server:
 * a wall-clock deadline per input, a memory cap the kernel enforces, an RSS watchdog, a bounded
 * output, a clean environment (no secrets, no NODE_OPTIONS loaders) and a cap on how many run at once.
 * Children are kept warm and reused, since starting Node and loading a parser costs more than most
 * files take to parse; see the script protocol below and the rules for replacing a child.
 *
 * Memory: RLIMIT_AS is unusable for Node: V8 reserves address space up front (Node 20 aborts at start
 * below about 1 GiB: "Failed to reserve virtual memory for CodeRange") and every WebAssembly memory
 * reserves about 10 GiB of guard region, so an AS cap either kills Node or caps nothing. RLIMIT_DATA
 * (Linux >= 4.7) counts private writable mappings, which covers the V8 heap, ArrayBuffer backing
 * stores and malloc alike, and ignores PROT_NONE reservations: it holds for native allocations that
 * `--max-old-space-size` never sees. The watchdog samples /proc/<pid>/status as a second line of
 * defence, and is the only cap where neither `prlimit` nor a shell `ulimit` is available. The cap is
 * the process's, so a child serves only inputs with the limits it was started with.
 *
 * Protocol: the script reads requests on stdin, each a 4-byte big-endian length, a JSON header
 * ({id, bytes} plus the caller's fields) and `bytes` bytes of input, and answers each with one line on
 * stdout, `<id> reuse|retire <reply>`. It may write status lines `<id> <text>` to fd 3. Lines carry the
 * request id so that a late line of an earlier input never reaches the listener of the next one.
 *
 * Replacing: a child is killed (and a new one started when there is work) after a deadline, the memory
 * cap, a crash, too much output or a flood of status, when it asks to retire, after FILES_PER_CHILD
 * inputs (RLIMIT_CPU is cumulative, and is sized for that many deadlines), when its resident memory
 * after an input is above RETIRE_RSS_SHARE of the cap (the next input deserves the whole cap), and
 * after IDLE_CHILD_MS without work. Idle children never keep the parent's event loop alive.
 *
 * Status (progress): the parent reads at most STATUS_MAX_BYTES of status per input, drops any line
 * longer than STATUS_MAX_LINE_CHARS and hands only the latest line on, at most once every
 * STATUS_MIN_INTERVAL_MS, so a child that floods the channel costs the parent a bounded amount of
 * memory and work; past the bound the parent hangs up the channel and retires the child.
 */

export type MemoryLimiter = "prlimit" | "shell" | "watchdog";

export interface SandboxLimits {
  timeoutMs: number;
  memoryMb: number;
  maxOutputBytes: number;
}

export interface SandboxRequest {
  script: URL;
  /** Fields for the script, sent as JSON with the input (`id` and `bytes` are the pool's). */
  header?: Record<string, unknown>;
  input: Uint8Array;
  limits: SandboxLimits;
  /** Forces a way of capping memory (tests); by default the first that works on this machine. */
  limiter?: MemoryLimiter;
  /**
   * Receives this input's status lines (untrusted text; the latest one wins, rate-limited). A listener
   * that throws is ignored.
   */
  onStatus?: (line: string) => void;
}

interface Finished {
  stderrTail: string;
  limiter: MemoryLimiter;
  /** From the input being handed to the child until its outcome. */
  elapsedMs: number;
  /** The child that served the input, and how many inputs it had served with this one (tests, logs). */
  pid: number | undefined;
  served: number;
  /** The highest resident memory the watchdog saw during this input; undefined when it took no sample. */
  peakRssMb: number | undefined;
}

export type SandboxOutcome =
  | (Finished & { status: "replied"; reply: string })
  | (Finished & { status: "exited"; exitCode: number | null; signal: NodeJS.Signals | null })
  | (Finished & { status: "timed_out" })
  | (Finished & { status: "over_memory"; rssMb: number })
  | (Finished & { status: "output_too_large" })
  | (Finished & { status: "shut_down" });

/** Node itself needs about 130 MiB of RLIMIT_DATA to start and run pdf.js; below that it aborts or stalls. */
export const MIN_SANDBOX_MEMORY_MB = 192;
export const DEFAULT_MAX_CONCURRENT_CHILDREN = 2;
/** Inputs a child serves before it is replaced. */
export const FILES_PER_CHILD = 50;
export const IDLE_CHILD_MS = 30_000;
/** A child whose resident memory after an input is above this share of its cap is replaced. */
export const RETIRE_RSS_SHARE = 0.5;

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

/** Whether this system shows a process's memory in /proc (the watchdog needs it). */
export const HAS_PROCFS = existsSync("/proc/self/status");

const rssOf = (status: string): number | undefined => {
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb === undefined ? undefined : Number(kb) / 1024;
};

async function residentMb(pid: number): Promise<number | undefined> {
  try {
    return rssOf(await readFile(`/proc/${pid}/status`, "utf8"));
  } catch {
    return undefined; // the process is gone, or this system has no procfs
  }
}

/**
 * The same, at once: between two inputs, where the answer decides which child serves the next one
 * (and for the benchmarks, reading the server's own process).
 */
export function residentMbNow(pid: number): number | undefined {
  try {
    return rssOf(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return undefined;
  }
}

// --- Starting a child under the limits

/** What a child is started with; it serves only requests with the same. */
interface Profile {
  key: string;
  script: URL;
  memoryMb: number;
  timeoutMs: number;
  limiter: MemoryLimiter | undefined;
}

function profileOf(request: SandboxRequest): Profile {
  const memoryMb = Math.max(MIN_SANDBOX_MEMORY_MB, Math.floor(request.limits.memoryMb));
  const { timeoutMs } = request.limits;
  const { script, limiter } = request;
  return { key: JSON.stringify([script.href, memoryMb, timeoutMs, limiter]), script, memoryMb, timeoutMs, limiter };
}

let preferredLimiter: MemoryLimiter = "prlimit";

function commandFor(limiter: MemoryLimiter, profile: Profile, files: number): [string, string[]] {
  const heapMb = Math.max(64, Math.floor(profile.memoryMb * 0.6));
  const args = [
    // A V8 heap ceiling below the data cap makes V8 collect garbage before the kernel says no.
    `--max-old-space-size=${heapMb}`,
    // V8 sizes its worker pool to the machine; each thread costs a stack counted by RLIMIT_DATA.
    "--v8-pool-size=1",
    "--disallow-code-generation-from-strings",
    fileURLToPath(profile.script),
  ];
  const dataBytes = profile.memoryMb * 1024 * 1024;
  // The CPU limit is a backstop for an orphan whose parent died without killing it; the wall-clock
  // deadline normally fires first. One main thread plus one V8 helper use at most ~2 s of CPU a second,
  // and the limit counts every input the child serves: it allows each of them its whole deadline.
  const cpuSeconds = files * (Math.ceil(profile.timeoutMs / 1000) * 2 + 2) + 2;
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

const processes = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Synchronous kills are all an exit handler can do; they are enough to leave no orphan behind.
    process.once("exit", () => {
      for (const running of processes) running.kill("SIGKILL");
    });
  }
  processes.add(child);
  child.once("exit", () => processes.delete(child));
}

async function startProcess(profile: Profile, files: number): Promise<[ChildProcess, MemoryLimiter]> {
  let limiter = profile.limiter ?? preferredLimiter;
  for (;;) {
    const [command, args] = commandFor(limiter, profile, files);
    const child = spawn(command, args, { env: CHILD_ENV, stdio: ["pipe", "pipe", "pipe", "pipe"] });
    track(child);
    try {
      await once(child, "spawn");
      return [child, limiter];
    } catch (error) {
      processes.delete(child);
      const next = FALLBACK[limiter];
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || next === undefined || profile.limiter) throw error;
      limiter = next;
      preferredLimiter = next; // prlimit or sh is missing on this machine: do not try it again
    }
  }
}

// --- Status lines of the input being served

/** Delivers the latest line offered, at most once every STATUS_MIN_INTERVAL_MS, until stopped. */
class StatusRelay {
  private latest: string | undefined;
  private lastDelivery = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deliver: (line: string) => void) {}

  offer(line: string): void {
    if (this.stopped) return;
    this.latest = line;
    if (this.timer !== undefined) return;
    const wait = this.lastDelivery + STATUS_MIN_INTERVAL_MS - Date.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  /** No more deliveries; a line still held back is dropped (the outcome supersedes it). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    if (this.latest === undefined || this.stopped) return;
    const line = this.latest;
    this.latest = undefined;
    this.lastDelivery = Date.now();
    try {
      this.deliver(line);
    } catch {
      // a listener's trouble is not the child's
    }
  }
}

// --- The pool

type StopReason = "timed_out" | "over_memory" | "output_too_large" | "shut_down";

/** One input handed to a child, until its outcome. */
interface Job {
  id: number;
  request: SandboxRequest;
  sentAt: number;
  stdout: Buffer[];
  stdoutBytes: number;
  statusBytes: number;
  status: StatusRelay | undefined;
  stopped: StopReason | undefined;
  peakRssMb: number;
  sampled: boolean;
  deadline: NodeJS.Timeout | undefined;
  watchdog: NodeJS.Timeout | undefined;
  resolve: (outcome: SandboxOutcome) => void;
}

interface Waiter {
  request: SandboxRequest;
  profile: Profile;
  resolve: (outcome: SandboxOutcome) => void;
  reject: (error: unknown) => void;
}

interface Child {
  process: ChildProcess;
  profile: Profile;
  limiter: MemoryLimiter;
  /** How many inputs it may serve (its CPU limit was sized for them). */
  maxFiles: number;
  served: number;
  job: Job | undefined;
  /** Killed, or serving its last input. */
  retiring: boolean;
  idleTimer: NodeJS.Timeout | undefined;
  stderrTail: string;
  statusPartial: string;
  statusOverlong: boolean;
  /** The pool's generation it was started in (see close()). */
  generation: number;
  closed: Promise<void>;
}

class SandboxPool {
  private capacity = DEFAULT_MAX_CONCURRENT_CHILDREN;
  filesPerChild = FILES_PER_CHILD;
  idleMs = IDLE_CHILD_MS;
  private readonly children = new Set<Child>();
  private readonly idle: Child[] = [];
  private waiting: Waiter[] = [];
  private starting = 0;
  private readonly starts = new Set<Promise<void>>();
  private started = 0;
  private nextId = 1;
  /** Bumped by close(): a child whose start began before is not used. */
  private generation = 0;

  stats() {
    const running = [...this.children].filter((c) => c.job !== undefined).length;
    return {
      running,
      queued: this.waiting.length,
      live: this.children.size + this.starting,
      idle: this.idle.length,
      started: this.started,
    };
  }

  resize(capacity: number): void {
    this.capacity = capacity;
    this.dispatch();
  }

  run(request: SandboxRequest): Promise<SandboxOutcome> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, profile: profileOf(request), resolve, reject });
      this.dispatch();
    });
  }

  /** Kills every child (an input in flight ends `shut_down`) and fails the requests still waiting. */
  async close(): Promise<void> {
    const closing = this.generation++;
    const waiting = this.waiting;
    this.waiting = [];
    for (const waiter of waiting) waiter.reject(new Error("the sandbox pool was shut down"));
    for (const child of this.children) this.kill(child, "shut_down");
    // Starts under way kill their child themselves once it is up (see start()).
    await Promise.all([...this.starts]);
    // Not those started for requests made since: the pool stays usable.
    const old = [...this.children].filter((child) => child.generation <= closing);
    await Promise.all(old.map((child) => child.closed));
  }

  /** Hands waiting requests to idle children of their profile, or to new ones while there is room. */
  private dispatch(): void {
    for (const waiter of [...this.waiting]) {
      const index = this.idle.findIndex((child) => child.profile.key === waiter.profile.key);
      if (index >= 0) {
        const [child] = this.idle.splice(index, 1);
        this.take(waiter);
        if (child) this.send(child, waiter);
      } else if (this.children.size + this.starting < this.capacity) {
        this.take(waiter);
        const start = this.start(waiter);
        this.starts.add(start);
        void start.finally(() => this.starts.delete(start));
      } else {
        // Full, with children started for other limits idle: one that no waiter wants goes, and its
        // exit dispatches again.
        const unwanted = this.idle.find((child) => !this.waiting.some((w) => w.profile.key === child.profile.key));
        if (unwanted) this.kill(unwanted);
      }
    }
    while (this.children.size + this.starting > this.capacity && this.idle.length > 0) {
      const extra = this.idle.shift();
      if (extra) this.kill(extra);
    }
  }

  private take(waiter: Waiter): void {
    this.waiting = this.waiting.filter((w) => w !== waiter);
  }

  private async start(waiter: Waiter): Promise<void> {
    this.starting++;
    const generation = this.generation;
    const maxFiles = this.filesPerChild;
    let started: [ChildProcess, MemoryLimiter];
    try {
      started = await startProcess(waiter.profile, maxFiles);
    } catch (error) {
      this.starting--;
      waiter.reject(error);
      this.dispatch();
      return;
    }
    this.starting--;
    this.started++;
    const [proc, limiter] = started;
    const child = this.adopt(proc, waiter.profile, limiter, maxFiles, generation);
    if (generation !== this.generation) {
      waiter.reject(new Error("the sandbox pool was shut down"));
      this.kill(child);
      return;
    }
    this.send(child, waiter);
  }

  private adopt(
    proc: ChildProcess,
    profile: Profile,
    limiter: MemoryLimiter,
    maxFiles: number,
    generation: number,
  ): Child {
    const child: Child = {
      process: proc,
      profile,
      limiter,
      maxFiles,
      served: 0,
      job: undefined,
      retiring: false,
      idleTimer: undefined,
      stderrTail: "",
      statusPartial: "",
      statusOverlong: false,
      generation,
      closed: new Promise((resolve) => proc.once("close", () => resolve())),
    };
    proc.on("error", () => {}); // a failed kill: the process is gone or going anyway
    this.children.add(child);
    // The child may die before reading all its input (EPIPE): its exit tells the story.
    proc.stdin?.on("error", () => {});
    proc.stdout?.on("data", (chunk: Buffer) => this.onStdout(child, chunk));
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (chunk: string) => {
      child.stderrTail = (child.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    const status = proc.stdio[3];
    if (status && "on" in status) {
      status.on("error", () => {});
      status.on("data", (chunk: Buffer) => this.onStatus(child, chunk));
    }
    void child.closed.then(() => this.onClose(child));
    return child;
  }

  private send(child: Child, waiter: Waiter): void {
    if (child.idleTimer !== undefined) clearTimeout(child.idleTimer);
    child.idleTimer = undefined;
    setRef(child.process, true);
    const { request } = waiter;
    const id = this.nextId++;
    child.served++;
    child.stderrTail = "";
    const pid = child.process.pid;
    const job: Job = {
      id,
      request,
      sentAt: Date.now(),
      stdout: [],
      stdoutBytes: 0,
      statusBytes: 0,
      status: request.onStatus ? new StatusRelay(request.onStatus) : undefined,
      stopped: undefined,
      peakRssMb: 0,
      sampled: false,
      deadline: undefined,
      watchdog: undefined,
      resolve: waiter.resolve,
    };
    job.deadline = setTimeout(() => this.kill(child, "timed_out"), request.limits.timeoutMs);
    // RSS also counts file-backed pages (the node binary, ~40 MiB) that RLIMIT_DATA rightly ignores:
    // under a kernel limit the watchdog is only a backstop, and must not pre-empt the kernel.
    const watchdogMb =
      child.limiter === "watchdog" ? child.profile.memoryMb : child.profile.memoryMb + WATCHDOG_BACKSTOP_SLACK_MB;
    let sampling = false;
    job.watchdog = setInterval(async () => {
      if (sampling || pid === undefined) return;
      sampling = true;
      const rss = await residentMb(pid);
      sampling = false;
      if (rss === undefined || child.job !== job) return;
      job.sampled = true;
      job.peakRssMb = Math.max(job.peakRssMb, rss);
      if (rss > watchdogMb) this.kill(child, "over_memory");
    }, WATCHDOG_INTERVAL_MS);
    child.job = job;

    const header = Buffer.from(JSON.stringify({ ...request.header, id, bytes: request.input.byteLength }), "utf8");
    const length = Buffer.alloc(4);
    length.writeUInt32BE(header.length);
    child.process.stdin?.write(Buffer.concat([length, header]));
    child.process.stdin?.write(request.input);
  }

  private onStdout(child: Child, chunk: Buffer): void {
    const job = child.job;
    if (job === undefined || job.stopped !== undefined) {
      // Output while nothing was asked of it: the child is not following the protocol.
      if (job === undefined) this.kill(child);
      return;
    }
    job.stdoutBytes += chunk.length;
    if (job.stdoutBytes > job.request.limits.maxOutputBytes) {
      this.kill(child, "output_too_large");
      return;
    }
    const end = chunk.indexOf(0x0a);
    if (end < 0) {
      job.stdout.push(chunk);
      return;
    }
    job.stdout.push(chunk.subarray(0, end));
    if (end < chunk.length - 1) child.retiring = true; // more than the one line asked for
    this.replied(child, job, Buffer.concat(job.stdout).toString("utf8"));
  }

  private replied(child: Child, job: Job, line: string): void {
    this.endJob(child, job);
    const prefix = `${job.id} `;
    let reply = line;
    let reuse = false;
    if (line.startsWith(`${prefix}reuse `)) {
      reply = line.slice(prefix.length + 6);
      reuse = true;
    } else if (line.startsWith(`${prefix}retire `)) {
      reply = line.slice(prefix.length + 7);
    }
    if (!reuse) child.retiring = true;
    // Idle (or on its way out) before the caller hears back, so that its next input finds it.
    this.release(child);
    job.resolve({ ...this.finished(child, job), status: "replied", reply });
    this.dispatch();
  }

  /** Back to the idle list, or replaced when any rule says so. */
  private release(child: Child): void {
    const pid = child.process.pid;
    const rss = pid === undefined ? undefined : residentMbNow(pid);
    const heavy = rss !== undefined && rss > child.profile.memoryMb * RETIRE_RSS_SHARE;
    const overCap = this.children.size + this.starting > this.capacity; // the cap was lowered meanwhile
    if (child.retiring || heavy || overCap || child.served >= child.maxFiles || child.generation !== this.generation) {
      this.kill(child);
      return;
    }
    setRef(child.process, false);
    child.idleTimer = setTimeout(() => this.kill(child), this.idleMs);
    child.idleTimer.unref();
    this.idle.push(child);
  }

  private onStatus(child: Child, chunk: Buffer): void {
    const job = child.job;
    if (job !== undefined) {
      job.statusBytes += chunk.length;
      if (job.statusBytes > STATUS_MAX_BYTES) {
        // A flood: hang up. The child's further writes fail (EPIPE); it parses on, and is not reused.
        job.status?.stop();
        child.retiring = true;
        child.process.stdio[3]?.destroy();
        return;
      }
    }
    const parts = chunk.toString("latin1").split("\n");
    const rest = parts.pop() ?? "";
    for (const part of parts) {
      const line = child.statusPartial + part;
      child.statusPartial = "";
      const overlong = child.statusOverlong || line.length > STATUS_MAX_LINE_CHARS;
      child.statusOverlong = false;
      const prefix = `${job?.id} `;
      if (job === undefined || overlong || !line.startsWith(prefix)) continue; // another input's, or junk
      const text = line.slice(prefix.length);
      if (text.trim() !== "") job.status?.offer(text);
    }
    child.statusPartial += rest;
    if (child.statusPartial.length > STATUS_MAX_LINE_CHARS) {
      child.statusOverlong = true;
      child.statusPartial = "";
    }
  }

  private onClose(child: Child): void {
    this.children.delete(child);
    const index = this.idle.indexOf(child);
    if (index >= 0) this.idle.splice(index, 1);
    if (child.idleTimer !== undefined) clearTimeout(child.idleTimer);
    const job = child.job;
    if (job !== undefined) {
      this.endJob(child, job);
      const finished = this.finished(child, job);
      const { exitCode, signalCode } = child.process;
      switch (job.stopped) {
        case "over_memory":
          job.resolve({ ...finished, status: "over_memory", rssMb: job.peakRssMb });
          break;
        case undefined:
          job.resolve({ ...finished, status: "exited", exitCode, signal: signalCode });
          break;
        default:
          job.resolve({ ...finished, status: job.stopped });
      }
    }
    this.dispatch();
  }

  /** SIGKILL; `reason` is the outcome of the input it is serving, if any. Its slot frees once it is gone. */
  private kill(child: Child, reason?: StopReason): void {
    if (reason !== undefined && child.job !== undefined) child.job.stopped ??= reason;
    child.retiring = true;
    const index = this.idle.indexOf(child);
    if (index >= 0) this.idle.splice(index, 1);
    if (child.idleTimer !== undefined) clearTimeout(child.idleTimer);
    child.idleTimer = undefined;
    // Referenced again until it is gone: whoever waits for its end (close()) must not find the event
    // loop empty and the process exiting under it.
    setRef(child.process, true);
    child.process.kill("SIGKILL");
  }

  private endJob(child: Child, job: Job): void {
    clearTimeout(job.deadline);
    clearInterval(job.watchdog);
    job.status?.stop();
    if (child.job === job) child.job = undefined;
  }

  private finished(child: Child, job: Job): Finished {
    return {
      stderrTail: child.stderrTail,
      limiter: child.limiter,
      elapsedMs: Date.now() - job.sentAt,
      pid: child.process.pid,
      served: child.served,
      peakRssMb: job.sampled ? job.peakRssMb : undefined,
    };
  }
}

/** Whether the child's pipes and process keep this process's event loop alive: only while it works. */
function setRef(child: ChildProcess, ref: boolean): void {
  const handles = [child, ...child.stdio] as ({ ref?: () => void; unref?: () => void } | null)[];
  for (const handle of handles) {
    if (ref) handle?.ref?.();
    else handle?.unref?.();
  }
}

const pool = new SandboxPool();

/** How many sandboxed children may run at once (process-wide); idle ones count too. */
export function setMaxConcurrentChildren(size: number): void {
  pool.resize(Math.max(1, Math.floor(size)));
}

/** Test seam: how many inputs a child serves, and how long an idle one waits; returns the previous values. */
export function configureChildReuse(settings: { filesPerChild?: number; idleMs?: number }): {
  filesPerChild: number;
  idleMs: number;
} {
  const previous = { filesPerChild: pool.filesPerChild, idleMs: pool.idleMs };
  if (settings.filesPerChild !== undefined) pool.filesPerChild = Math.max(1, Math.floor(settings.filesPerChild));
  if (settings.idleMs !== undefined) pool.idleMs = Math.max(0, settings.idleMs);
  return previous;
}

/**
 * Children serving an input (`running`), requests waiting for one (`queued`), children alive in all
 * (`live`, starting, working, idle or being killed; never above the concurrency cap), idle ones, and
 * how many were ever started; for tests and health checks.
 */
export function sandboxStats(): { running: number; queued: number; live: number; idle: number; started: number } {
  return pool.stats();
}

/** Runs one input in a warm or new child under the limits. */
export function runSandboxed(request: SandboxRequest): Promise<SandboxOutcome> {
  return pool.run(request);
}

/**
 * Kills every sandboxed child and waits until they are gone (shutdown, tests). The pool stays usable:
 * a later request starts a new child.
 */
export function closeSandboxes(): Promise<void> {
  return pool.close();
}
