import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDirectoryDatabase } from "../../src/adapters/local/directory-database.js";
import { ForegroundTracker } from "../../src/adapters/local/foreground.js";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import type { Db } from "../../src/adapters/local/sqlite.js";
import { SqliteJobQueue, type SqliteJobQueueOptions } from "../../src/adapters/local/sqlite-job-queue.js";
import { newTenantId } from "../../src/domain/tenant.js";
import { eventually } from "../contract/support.js";

/**
 * What only the embedded queue can know: which process holds a lease. A job held by a process that is
 * gone is taken over as soon as a worker starts, not after its lease (two minutes by default).
 */
const LONG_LEASE = { concurrency: 2, maxAttempts: 3, leaseMs: 10 * 60_000, retryBaseMs: 10, pollMs: 20 };
const silent = new JsonLogger("silent");

let dir: string;
let db: Db;
const queues: SqliteJobQueue[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "enclave-queue-"));
  db = openDirectoryDatabase(dir);
});

afterEach(async () => {
  for (const q of queues.splice(0)) await q.stop(100);
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function queue(options: Partial<SqliteJobQueueOptions> = {}): SqliteJobQueue {
  const q = new SqliteJobQueue(db, { ...LONG_LEASE, ...options }, silent);
  queues.push(q);
  return q;
}

/** A job left `running` under a lease held by `owner`, as a process that was killed leaves it. */
async function strandedJob(owner: string | null): Promise<string> {
  const key = `ingest:${randomUUID()}`;
  await queue().enqueue({ type: "ingest", tenantId: newTenantId(), payload: { n: 1 }, idempotencyKey: key });
  db.prepare(
    "UPDATE jobs SET status = 'running', attempt = 1, lease_until = ?, lease_owner = ? WHERE idempotency_key = ?",
  ).run(Date.now() + LONG_LEASE.leaseMs, owner, key);
  return key;
}

const statusOf = (key: string) =>
  (db.prepare("SELECT status FROM jobs WHERE idempotency_key = ?").get(key) as { status: string }).status;

/** A pid that existed a moment ago and does not any more. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

describe("SqliteJobQueue leases", () => {
  it("takes over at start a job whose process no longer exists, long before its lease runs out", async () => {
    const key = await strandedJob(`${hostname()}|${deadPid()}|${randomUUID()}`);
    const ran: number[] = [];
    const q = queue();
    q.register("ingest", async (job) => {
      ran.push(job.attempt);
    });
    q.start();
    await eventually(() => (ran.length === 1 ? true : undefined), 5_000, "the stranded job to run");
    await q.drain(5_000);
    expect(statusOf(key)).toBe("done");
    // The crashed try counts: a job that kills its process every time still ends.
    expect(ran).toEqual([2]);
  });

  it("takes over a job held by an earlier start of this same pid (a container restarts as pid 1)", async () => {
    const key = await strandedJob(`${hostname()}|${process.pid}|${randomUUID()}`);
    const q = queue();
    q.register("ingest", async () => {});
    q.start();
    await eventually(() => (statusOf(key) === "done" ? true : undefined), 5_000, "the job to run");
  });

  it("takes over a lease without an owner (written before owners were recorded) at start", async () => {
    const key = await strandedJob(null);
    const q = queue();
    q.register("ingest", async () => {});
    q.start();
    await eventually(() => (statusOf(key) === "done" ? true : undefined), 5_000, "the job to run");
  });

  it("leaves alone a job held by a live process, or by another host, until its lease runs out", async () => {
    // The parent of this test process is alive (a CLI worker beside the server, say).
    const live = await strandedJob(`${hostname()}|${process.ppid}|${randomUUID()}`);
    const elsewhere = await strandedJob(`another-host|${process.pid}|${randomUUID()}`);
    let runs = 0;
    const q = queue();
    q.register("ingest", async () => {
      runs++;
    });
    q.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(runs).toBe(0);
    expect(statusOf(live)).toBe("running");
    expect(statusOf(elsewhere)).toBe("running");
  });

  it("parks a damaged job row as dead with its reason and goes on with the others", async () => {
    const q = queue();
    const ran: string[] = [];
    q.register("ingest", async (job) => {
      ran.push(job.idempotencyKey);
    });
    await q.enqueue({ type: "ingest", tenantId: newTenantId(), payload: {}, idempotencyKey: "bad" });
    await q.enqueue({ type: "ingest", tenantId: newTenantId(), payload: {}, idempotencyKey: "good" });
    db.prepare("UPDATE jobs SET payload = '{not json' WHERE idempotency_key = 'bad'").run();
    q.start();
    await q.drain(5_000);
    expect(ran).toEqual(["good"]);
    expect(q.deadJobs()).toEqual([
      expect.objectContaining({ type: "ingest", lastError: expect.stringContaining("payload: not valid JSON") }),
    ]);
  });
});

/**
 * The embedded worker shares its event loop with Slack's acknowledgements: a job must never run inside
 * the request that queued it, and no job starts while a delivery is still being acknowledged.
 */
describe("SqliteJobQueue after each job", () => {
  it("hands the job's type to the after-job hook once its outcome is recorded, whether it succeeded or failed", async () => {
    let current = "";
    const seen: string[] = [];
    const q = queue({ maxAttempts: 1, afterJob: (type) => seen.push(`${type} ${statusOf(current)}`) });
    q.register("ingest", async (job) => {
      if (job.idempotencyKey === "breaks") throw new Error("this file cannot be read");
    });
    q.start();
    for (const key of ["works", "breaks"]) {
      current = key;
      await q.enqueue({ type: "ingest", tenantId: newTenantId(), payload: {}, idempotencyKey: key });
      await q.drain(5_000);
    }
    expect(seen).toEqual(["ingest done", "ingest dead"]);
  });

  it("goes on running jobs when the hook throws", async () => {
    const q = queue({
      afterJob: () => {
        throw new Error("hook broke");
      },
    });
    const ran: string[] = [];
    q.register("ingest", async (job) => {
      ran.push(job.idempotencyKey);
    });
    q.start();
    for (const key of ["one", "two"]) {
      await q.enqueue({ type: "ingest", tenantId: newTenantId(), payload: {}, idempotencyKey: key });
    }
    await q.drain(5_000);
    expect(ran.sort()).toEqual(["one", "two"]);
    expect([statusOf("one"), statusOf("two")]).toEqual(["done", "done"]);
  });
});

describe("SqliteJobQueue beside Slack deliveries in flight", () => {
  const ingest = (key: string) => ({
    type: "ingest" as const,
    tenantId: newTenantId(),
    payload: {},
    idempotencyKey: key,
  });
  const settleTurns = async (turns: number) => {
    for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
  };

  it("starts a job only after the request that queued it has been answered", async () => {
    const q = queue();
    const ran: string[] = [];
    q.register("ingest", async (job) => {
      ran.push(job.idempotencyKey);
    });
    q.start();
    expect(await q.enqueue(ingest("queued-in-a-request"))).toBe(true);
    // Whatever the request does next (its response) comes before the job's first step.
    expect(ran).toEqual([]);
    await eventually(() => (ran.length === 1 ? true : undefined), 5_000, "the job to run");
  });

  it("starts no job while a delivery is in flight, and starts it once the delivery is answered", async () => {
    const foreground = new ForegroundTracker();
    const q = queue({ foreground, foregroundMaxWaitMs: 10 * 60_000, pollMs: 5 });
    const ran: string[] = [];
    q.register("ingest", async (job) => {
      ran.push(job.idempotencyKey);
    });
    q.start();
    const answered = foreground.begin();
    await q.enqueue(ingest("during-a-delivery"));
    await settleTurns(20);
    await new Promise((r) => setTimeout(r, 50)); // several polls
    expect(ran).toEqual([]);
    expect(statusOf("during-a-delivery")).toBe("queued");
    answered();
    await eventually(() => (ran.length === 1 ? true : undefined), 5_000, "the job to run once the delivery is done");
    expect(statusOf("during-a-delivery")).toBe("done");
  });

  it("still runs jobs when deliveries never stop coming (a flood slows them, it does not stop them)", async () => {
    const foreground = new ForegroundTracker();
    const q = queue({ foreground, foregroundMaxWaitMs: 20, pollMs: 5 });
    const ran: string[] = [];
    q.register("ingest", async (job) => {
      ran.push(job.idempotencyKey);
    });
    q.start();
    const endless = foreground.begin();
    for (const key of ["a", "b", "c"]) await q.enqueue(ingest(key));
    await eventually(() => (ran.length === 3 ? true : undefined), 5_000, "the jobs to run during the flood");
    expect(foreground.busy).toBe(true);
    endless();
  });
});

describe("ForegroundTracker", () => {
  it("is busy from begin to its end, counts each end once, and calls idle listeners once it is idle", async () => {
    const tracker = new ForegroundTracker();
    const first = tracker.begin();
    const second = tracker.begin();
    const idle: string[] = [];
    tracker.whenIdle(() => idle.push("idle"));
    first();
    first(); // a request may end by both 'finish' and 'close'
    expect(tracker.busy).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(idle).toEqual([]);
    second();
    expect(tracker.busy).toBe(false);
    await eventually(() => (idle.length === 1 ? true : undefined), 1_000, "the idle listener");
    await new Promise((r) => setImmediate(r));
    expect(idle).toEqual(["idle"]);
  });

  it("calls a listener soon when nothing is in flight", async () => {
    const tracker = new ForegroundTracker();
    let called = false;
    tracker.whenIdle(() => {
      called = true;
    });
    expect(called).toBe(false);
    await eventually(() => (called ? true : undefined), 1_000, "the idle listener");
  });
});
