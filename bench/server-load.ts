import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { residentMbNow } from "../src/ingest/child-sandbox.js";
import { FakeSlack, type FakeTeam, nextTs } from "../test/support/fake-slack.js";
import { type ApiClient, newOrganisation, waitForDocument } from "../test/support/server.js";
import { commandForm, mentionEnvelope, SlackSender, signature } from "../test/support/slack.js";
import { linkUrlIn, PLACEHOLDER, tokenOf, whoIn } from "../test/support/slack-harness.js";
import { loadSciFact, sciFactAvailable, sciFactMissing } from "./scifact.js";
import { percentile } from "./stats.js";

/**
 * Load on the real embedded server, run as its own process (`node --import tsx src/entrypoints/server.ts`)
 * on a loopback port with a fresh data folder, as `npm start` runs it:
 *  - measureAckLoad: Slack's acknowledgement latency, seen by the sender, while the job worker answers
 *    the very mentions being acknowledged (target: p99 <= 100 ms);
 *  - measureServerMemory: the server's resident memory after 20 organisations have indexed and searched
 *    BEIR SciFact each (target: <= 300 MiB).
 * Importing this module starts nothing; each call cleans up (the child, its data folder) however it ends.
 */

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const SIGNING_SECRET = "bench-signing-secret-0123456789abcdef";
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

export const ACK_ROUNDS = 10;
export const ACK_IN_FLIGHT = 50;
/**
 * Between one round's last acknowledgement and the next round: long enough for the worker to be deep in
 * the backlog of answers when the next burst lands, short enough that the backlog never runs out.
 */
export const ACK_ROUND_GAP_MS = 100;
export const ACK_TARGET_P99_MS = 100;
export const MEMORY_TENANTS = 20;
export const MEMORY_FILES_PER_TENANT = 10;
export const MEMORY_QUESTIONS = 300;
export const MEMORY_TARGET_MIB = 300;

interface ServerProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** The child's last lines on stderr (warnings, errors), for a failure's message. */
  stderrTail(): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the server as a child process and waits until /health answers. */
async function startServerProcess(
  dataDir: string,
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", "src/entrypoints/server.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? tmpdir(),
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: "warn",
      SHUTDOWN_TIMEOUT_MS: "5000",
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let tail = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const done = await Promise.race([exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
    if (!done) {
      child.kill("SIGKILL");
      await exited;
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) while starting:\n${tail}`);
      const healthy = await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (healthy) break;
      if (Date.now() > deadline) throw new Error(`the server did not start within ${START_TIMEOUT_MS} ms:\n${tail}`);
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  if (child.pid === undefined) throw new Error("the server has no pid");
  return { url, pid: child.pid, child, stderrTail: () => tail, stop };
}

/** What a caller may add to the server process: settings, and node flags (e.g. --cpu-prof to look inside). */
export interface ServerOptions {
  env?: Record<string, string>;
  nodeArgs?: string[];
}

/** A server process with a fresh data folder, stopped and removed whatever `body` does. */
async function withServer<T>(
  options: ServerOptions,
  env: Record<string, string>,
  body: (server: ServerProcess) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), "enclave-load-"));
  let server: ServerProcess | undefined;
  try {
    server = await startServerProcess(dataDir, { ...env, ...options.env }, options.nodeArgs);
    return await body(server);
  } finally {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Polls `probe` until it is true, at most `timeoutMs`, and no longer than the server lives. */
async function until(server: ServerProcess, probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (server.child.exitCode !== null || server.child.signalCode !== null)
      throw new Error(`the server exited while waiting for ${what}:\n${server.stderrTail()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${server.stderrTail().slice(-1000)}`);
    await sleep(50);
  }
}

/** The server's resident memory, from /proc (Linux). */
export function residentMiB(pid: number): number {
  const mib = residentMbNow(pid);
  if (mib === undefined) throw new Error(`no resident memory in /proc for process ${pid}`);
  return mib;
}

const QUESTION = "What paid vacation do full-time employees receive per calendar year?";
const EXPECTED = "27 days";
const DOCUMENTS = [
  ["northwind-employee-handbook.md", "text/markdown"],
  ["northwind-it-equipment-faq.md", "text/markdown"],
  ["globex-security-runbook.txt", "text/plain"],
] as const;

/** Threads among `threads` whose finished answer is in the fake (a stopped stream, or a posted reply). */
function answeredThreads(fake: FakeSlack, channel: string, threads: ReadonlySet<string>): Set<string> {
  const done = new Set<string>();
  for (const m of fake.messages) {
    if (!m.botId || m.channel !== channel || !m.threadTs || !threads.has(m.threadTs)) continue;
    if (m.stream ? m.stream.state === "stopped" : !PLACEHOLDER.test(m.text)) done.add(m.threadTs);
  }
  return done;
}

/**
 * Signed event deliveries over plain node:http with keep-alive connections: fetch (undici) spends
 * tens of milliseconds of the sender's own time on 50 requests started at once (p99 over 100 ms
 * against a server that answers nothing), which would be measured as the server's.
 */
class LeanSender {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  private readonly url: URL;

  constructor(serverUrl: string) {
    this.url = new URL("/slack/events", serverUrl);
  }

  /** Signs now; the clock starts when the request is handed to the socket. */
  signed(envelope: unknown): { body: string; headers: Record<string, string> } {
    const body = JSON.stringify(envelope);
    const timestamp = Math.floor(Date.now() / 1000);
    return {
      body,
      headers: {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        "x-slack-request-timestamp": String(timestamp),
        "x-slack-signature": signature(SIGNING_SECRET, timestamp, body),
      },
    };
  }

  send(delivery: {
    body: string;
    headers: Record<string, string>;
  }): Promise<{ status: number; ms: number; text: string }> {
    return new Promise((resolveAck, reject) => {
      const started = performance.now();
      const req = request(
        { host: this.url.hostname, port: this.url.port, path: this.url.pathname, method: "POST", agent: this.agent },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            text += chunk;
          });
          res.on("end", () => resolveAck({ status: res.statusCode ?? 0, ms: performance.now() - started, text }));
        },
      );
      for (const [name, value] of Object.entries(delivery.headers)) req.setHeader(name, value);
      req.setTimeout(30_000, () => req.destroy(new Error("no acknowledgement within 30 s")));
      req.on("error", reject);
      req.end(delivery.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** `/ask link` from Slack, then the link page's REST call with the admin's token (as the e2e tests do). */
async function linkWorkspace(fake: FakeSlack, slack: SlackSender, team: FakeTeam, admin: ApiClient, user: string) {
  const responseUrl = fake.responseUrl();
  const ack = await slack.command(commandForm(whoIn(team, user), { text: "link", channel: "C0LINKING", responseUrl }));
  if (ack.status !== 200) throw new Error(`/ask link was answered ${ack.status}`);
  const posted = await fake.waitFor(() => fake.responsesTo(responseUrl)[0], 30_000, "the link reply");
  const url = linkUrlIn(posted.body);
  if (!url) throw new Error(`no link button in ${JSON.stringify(posted.body)}`);
  const linked = await admin.call("POST", "/api/links", { token: tokenOf(url) });
  if (linked.status !== 201) throw new Error(`linking failed: ${JSON.stringify(linked.json)}`);
}

export interface AckLoadResult {
  acks: number;
  p50: number;
  p99: number;
  /** Mentions whose answer reached the fake Slack. */
  answered: number;
  /** Of those, the ones answered before the last round was acknowledged: the worker ran during the load. */
  answeredUnderLoad: number;
  /** From the last acknowledgement until every answer was in: the worker catching up on the backlog. */
  catchUpMs: number;
  /** Of those, the answers that hold the fact asked about. */
  correct: number;
}

/**
 * One organisation with the example documents, its workspace linked; then ACK_ROUNDS rounds of
 * ACK_IN_FLIGHT signed `app_mention` events sent at once, each round ACK_ROUND_GAP_MS after the previous
 * one was acknowledged, so that every burst lands while the worker is answering the mentions before it.
 * Latency is measured per request by the sender; every ack must be a 200. Returns once every mention's
 * answer reached the fake Slack.
 */
export async function measureAckLoad(
  options: { rounds?: number; inFlight?: number; gapMs?: number } & ServerOptions = {},
): Promise<AckLoadResult> {
  const gapMs = options.gapMs ?? ACK_ROUND_GAP_MS;
  const rounds = options.rounds ?? ACK_ROUNDS;
  const inFlight = options.inFlight ?? ACK_IN_FLIGHT;
  const fake = await FakeSlack.start();
  try {
    const admin = "U0BENCHADM";
    const team = fake.addTeam({ id: "T0BENCH01", name: "Bench", users: [{ id: admin, name: "admin", isAdmin: true }] });
    const channel = "C0BENCH001";
    fake.addChannel(team.id, { id: channel, name: "general", kind: "public", members: [admin] });
    return await withServer(
      options,
      {
        SLACK_BOT_TOKEN: team.botToken,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: fake.apiUrl,
        // Every mention is answered, not refused: the limits themselves have their own tests.
        RATE_LIMIT_TENANT_PER_MINUTE: "1000000",
        RATE_LIMIT_USER_PER_MINUTE: "1000000",
      },
      async (server) => {
        const slack = new SlackSender(server.url, SIGNING_SECRET);
        const org = await newOrganisation(server.url, "Northwind");
        for (const [name, type] of DOCUMENTS) {
          const text = readFileSync(join(ROOT, "examples", "documents", name), "utf8");
          const upload = await org.client.upload(name, text, type);
          if (upload.status !== 201 && upload.status !== 202)
            throw new Error(`upload of ${name}: ${upload.status} ${JSON.stringify(upload.json)}`);
          const doc = await waitForDocument(org.client, upload.json.document.id, 60_000);
          if (doc.status !== "ready") throw new Error(`${name} was not indexed: ${JSON.stringify(doc)}`);
        }
        await linkWorkspace(fake, slack, team, org.client, admin);

        const threads = new Set<string>();
        const sender = new LeanSender(server.url);
        const mention = (user: string) => {
          const ts = nextTs();
          threads.add(ts);
          return sender.signed(
            mentionEnvelope(whoIn(team, user), { channel, text: `<@${team.botUserId}> ${QUESTION}`, ts }),
          );
        };
        try {
          // One unmeasured round first, answered before the measured ones start: the sender's connections
          // are open and the server's code is compiled, as on a server that has been up for a while.
          const burst = (size: number) =>
            Promise.all(
              // Built and signed first, so that the clocks measure only the server.
              Array.from({ length: size }, (_, i) => mention(`U0ASK${String(i).padStart(4, "0")}`)).map((d) =>
                sender.send(d),
              ),
            );
          const warm = await burst(inFlight);
          const refused = warm.find((ack) => ack.status !== 200);
          if (refused)
            throw new Error(`a warm-up mention was answered ${refused.status}: ${refused.text.slice(0, 200)}`);
          await until(
            server,
            () => answeredThreads(fake, channel, threads).size === inFlight,
            120_000,
            "the warm-up answers",
          );
          threads.clear();

          const latencies: number[] = [];
          for (let round = 0; round < rounds; round++) {
            if (round > 0) await sleep(gapMs);
            const acks = await burst(inFlight);
            for (const ack of acks) {
              if (ack.status !== 200)
                throw new Error(`a mention was answered ${ack.status}: ${ack.text.slice(0, 200)}`);
              latencies.push(ack.ms);
            }
          }
          // Answers the worker finished while the deliveries were being acknowledged, not after.
          const answeredUnderLoad = answeredThreads(fake, channel, threads).size;
          const loadEnded = performance.now();
          const total = rounds * inFlight;
          await until(
            server,
            () => answeredThreads(fake, channel, threads).size >= total,
            10 * 60_000,
            `${total} answers`,
          );
          const catchUpMs = performance.now() - loadEnded;
          const done = answeredThreads(fake, channel, threads);
          const correct = new Set(
            fake.messages
              .filter((m) => m.botId && m.threadTs && done.has(m.threadTs) && FakeSlack.textOf(m).includes(EXPECTED))
              .map((m) => m.threadTs),
          ).size;
          return {
            acks: latencies.length,
            p50: percentile(latencies, 50),
            p99: percentile(latencies, 99),
            answered: done.size,
            answeredUnderLoad,
            catchUpMs,
            correct,
          };
        } finally {
          sender.close();
        }
      },
    );
  } finally {
    await fake.stop();
  }
}

export interface ServerMemoryResult {
  tenants: number;
  /** Passages indexed per organisation (as the documents API reports them). */
  passagesPerTenant: number;
  questions: number;
  rssMiB: number;
}

/** SciFact's abstracts as `files` markdown documents, one heading and paragraph per abstract. */
export function sciFactMarkdown(corpus: readonly { title: string; text: string }[], files: number): string[] {
  const per = Math.ceil(corpus.length / files);
  return Array.from({ length: files }, (_, f) =>
    corpus
      .slice(f * per, (f + 1) * per)
      .map((d) => `## ${d.title.replace(/\s+/g, " ").trim()}\n\n${d.text.trim()}\n`)
      .join("\n"),
  );
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

/**
 * MEMORY_TENANTS organisations sign up and each uploads SciFact (5,183 abstracts as
 * MEMORY_FILES_PER_TENANT .md files); once every document is ready, MEMORY_QUESTIONS of SciFact's
 * questions are asked over the REST API, spread over the organisations; then the server's VmRSS is read.
 * Undefined (with the reason printed) when SciFact is not there.
 */
export async function measureServerMemory(
  options: { tenants?: number; questions?: number } & ServerOptions = {},
): Promise<ServerMemoryResult | undefined> {
  if (!sciFactAvailable()) {
    console.warn(`server memory: skipped. ${sciFactMissing()}`);
    return undefined;
  }
  const tenants = options.tenants ?? MEMORY_TENANTS;
  const questionCount = options.questions ?? MEMORY_QUESTIONS;
  const data = loadSciFact();
  const files = sciFactMarkdown(data.corpus, MEMORY_FILES_PER_TENANT);
  const questions = data.queries.slice(0, questionCount).map((q) => q.text);
  return withServer(
    options,
    {
      SIGNUP_RATE_LIMIT_PER_HOUR: "100000",
      RATE_LIMIT_TENANT_PER_MINUTE: "1000000",
      RATE_LIMIT_USER_PER_MINUTE: "1000000",
    },
    async (server) => {
      const orgs: Awaited<ReturnType<typeof newOrganisation>>[] = [];
      for (let t = 0; t < tenants; t++) orgs.push(await newOrganisation(server.url, `SciFact ${t}`));
      // Uploads of a few organisations at a time, as people would; the worker indexes behind them.
      const passages = await mapLimit(orgs, 4, async (org) => {
        const ids: string[] = [];
        for (const [i, text] of files.entries()) {
          const upload = await org.client.upload(`scifact-${i + 1}.md`, text, "text/markdown");
          if (upload.status !== 201 && upload.status !== 202)
            throw new Error(`upload: ${upload.status} ${JSON.stringify(upload.json)}`);
          ids.push(upload.json.document.id as string);
        }
        let chunks = 0;
        for (const id of ids) {
          const doc = await waitForDocument(org.client, id, 15 * 60_000);
          if (doc.status !== "ready") throw new Error(`a SciFact file was not indexed: ${JSON.stringify(doc)}`);
          chunks += Number(doc.chunks ?? 0);
        }
        return chunks;
      });
      await mapLimit(questions, 4, async (question, i) => {
        const org = orgs[i % orgs.length];
        if (!org) return;
        const res = await org.client.call("POST", "/api/ask", { question });
        if (res.status !== 200) throw new Error(`ask: ${res.status} ${JSON.stringify(res.json)}`);
      });
      return {
        tenants,
        passagesPerTenant: Math.round(passages.reduce((a, b) => a + b, 0) / passages.length),
        questions: questions.length,
        rssMiB: residentMiB(server.pid),
      };
    },
  );
}
