import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

// `npm start` exactly as Docker, systemd or a supervisor runs it: the signal goes to the process that
// npm started, or to npm itself, and nothing of the server may survive either.

const repo = fileURLToPath(new URL("../..", import.meta.url));
const STARTUP_MS = 90_000;
const EXIT_MS = 30_000;

interface Run {
  npm: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  url: string;
  dataDir: string;
}

const runs: Run[] = [];

/** Linux process state from /proc; a zombie has exited and only waits to be reaped. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function processTable(): { pid: number; ppid: number; pgid: number; cmd: string }[] {
  return execFileSync("ps", ["-eo", "pid=,ppid=,pgid=,args="], { encoding: "utf8" })
    .split("\n")
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), pgid: Number(m[3]), cmd: m[4] ?? "" }));
}

/** The process and all its descendants, as they are now. */
function tree(root: number): number[] {
  const table = processTable();
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const p of table) if (p.ppid === out[i]) out.push(p.pid);
  return out;
}

/** Every live process of the run's process group (npm leads it: it was spawned detached). */
function groupMembers(run: Run): number[] {
  return processTable()
    .filter((p) => p.pgid === run.npm.pid && alive(p.pid))
    .map((p) => p.pid);
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A request whose headers never finish: the connection is busy, not idle, so closing idle connections
 * does not end it.
 */
async function halfSentRequest(url: string): Promise<Socket> {
  const { port } = new URL(url);
  const socket = connect(Number(port), "127.0.0.1");
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  return socket;
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

async function startNpm(env: Record<string, string> = {}): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), "enclave-shutdown-"));
  let output = "";
  const npm = spawn("npm", ["run", "start"], {
    cwd: repo,
    // Its own process group, so that the test can find (and in the end kill) all of it.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? tmpdir(),
      npm_config_update_notifier: "false",
      DATA_DIR: dataDir,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      ...env,
    },
  });
  npm.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  npm.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    npm.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const run: Run = { npm, output: () => output, exited, url: "", dataDir };
  runs.push(run);
  run.url = await until("the listening log line", STARTUP_MS, () => {
    if (npm.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    return logLines(output).find((l) => l.msg === "Enclave is listening")?.url as string | undefined;
  });
  await until("/health", STARTUP_MS, async () => ((await answers(run.url)) ? true : undefined));
  return run;
}

function logLines(output: string): Record<string, unknown>[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/** The one process npm started for the script. */
function scriptProcess(run: Run): number {
  const children = processTable().filter((p) => p.ppid === run.npm.pid);
  expect(children.map((c) => c.cmd)).toHaveLength(1);
  return children[0]?.pid ?? -1;
}

/** Everything of the run is gone within a bounded time, and the port no longer answers. */
async function expectAllGone(run: Run, pids: number[]) {
  await until("every process of npm start to exit", EXIT_MS, () =>
    pids.every((pid) => !alive(pid)) && groupMembers(run).length === 0 ? true : undefined,
  );
  expect(await answers(run.url)).toBe(false);
  const stopped = logLines(run.output()).filter((l) => l.msg === "stopped");
  expect(stopped, run.output()).toHaveLength(1);
  expect(stopped[0]?.level).toBe("info");
}

afterEach(() => {
  for (const run of runs.splice(0)) {
    for (const pid of [...groupMembers(run), ...tree(run.npm.pid ?? -1)]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(run.dataDir, { recursive: true, force: true });
  }
});

describe.skipIf(process.platform !== "linux")("stopping npm start", () => {
  it("runs the server as the one process npm starts: no shell or wrapper in between", async () => {
    const run = await startNpm();
    const pid = scriptProcess(run);
    const serverTree = tree(pid).filter(alive);
    const nodes = processTable().filter((p) => serverTree.includes(p.pid) && /\bnode\b/.test(p.cmd));
    expect(nodes.map((n) => n.pid)).toEqual([pid]);
  });

  it("SIGTERM to the process npm started stops everything, logs stopped and exits 0", async () => {
    const run = await startNpm();
    const pids = tree(run.npm.pid ?? -1);
    process.kill(scriptProcess(run), "SIGTERM");
    await expectAllGone(run, pids);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(logLines(run.output()).find((l) => l.msg === "shutting down")?.signal).toBe("SIGTERM");
  });

  it("SIGTERM to npm itself leaves no server behind", async () => {
    const run = await startNpm();
    const pids = tree(run.npm.pid ?? -1);
    process.kill(run.npm.pid ?? -1, "SIGTERM");
    await expectAllGone(run, pids);
    expect((await run.exited).code).toBe(0);
  });

  it("SIGINT to the whole process group (Ctrl-C in a terminal) stops it cleanly, not as a forced exit", async () => {
    const run = await startNpm();
    const pids = tree(run.npm.pid ?? -1);
    // The terminal signals npm and node at once, and npm forwards its copy to node: node sees two.
    process.kill(-(run.npm.pid ?? 0), "SIGINT");
    await expectAllGone(run, pids);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output()).not.toContain("second signal while stopping");
  });

  it("an open connection holds shutdown no longer than SHUTDOWN_TIMEOUT_MS", async () => {
    const run = await startNpm({ SHUTDOWN_TIMEOUT_MS: "1500" });
    const pids = tree(run.npm.pid ?? -1);
    const socket = await halfSentRequest(run.url);
    const socketClosed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    const signalledAt = Date.now();
    process.kill(scriptProcess(run), "SIGTERM");
    await expectAllGone(run, pids);
    await socketClosed;
    expect(Date.now() - signalledAt).toBeLessThan(EXIT_MS);
    expect(
      logLines(run.output()).some((l) => l.msg === "shutdown timeout reached: closing the connections still open"),
    ).toBe(true);
    expect(await run.exited).toEqual({ code: 0, signal: null });
  });

  it("a second signal while stopping exits at once with status 1", async () => {
    const run = await startNpm({ SHUTDOWN_TIMEOUT_MS: "60000" });
    const pids = tree(run.npm.pid ?? -1);
    const socket = await halfSentRequest(run.url);
    const server = scriptProcess(run);
    process.kill(server, "SIGTERM");
    await until("the shutting down log line", EXIT_MS, () =>
      logLines(run.output()).some((l) => l.msg === "shutting down") ? true : undefined,
    );
    // Past the window in which a repeated signal counts as the same request.
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(server, "SIGTERM");
    await until("every process of npm start to exit", EXIT_MS, () =>
      pids.every((pid) => !alive(pid)) ? true : undefined,
    );
    socket.destroy();
    expect(logLines(run.output()).some((l) => l.msg === "second signal while stopping: exiting now")).toBe(true);
    expect((await run.exited).code).toBe(1);
  });
});
