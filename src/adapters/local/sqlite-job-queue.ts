import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { z } from "zod";
import { settlesWithin } from "../../domain/deadline.js";
import { isAppError } from "../../domain/errors.js";
import { backoffMs, jobRetryPolicy } from "../../domain/retry.js";
import type { TenantId } from "../../domain/tenant.js";
import type {
  EnqueueOptions,
  Foreground,
  Job,
  JobHandler,
  JobInput,
  JobQueue,
  JobRunner,
  JobType,
} from "../../ports/job-queue.js";
import type { Logger } from "../../ports/logger.js";
import { jobTypeSchema, jsonText, tenantIdSchema } from "../shared/stored-records.js";
import { type Db, statement } from "./sqlite.js";

export interface SqliteJobQueueOptions {
  concurrency: number;
  maxAttempts: number;
  leaseMs: number;
  retryBaseMs: number;
  pollMs?: number;
  /**
   * Requests this worker gives way to (Slack deliveries awaiting their acknowledgement): no job starts
   * while one is in flight, for at most `foregroundMaxWaitMs` (default 250) at a time, so that a flood
   * of deliveries slows the jobs down without stopping them.
   */
  foreground?: Foreground;
  foregroundMaxWaitMs?: number;
  /** Called with each job's type once it has run and its outcome is recorded (the heap tidier). */
  afterJob?: (type: JobType) => void;
}

/** A claimed row, checked before it becomes a job: a damaged row is parked as dead, not run. */
const jobRowSchema = z.object({
  id: z.string(),
  type: jobTypeSchema,
  tenant_id: tenantIdSchema.nullable(),
  payload: jsonText(z.unknown()),
  idempotency_key: z.string(),
  attempt: z.number().int(),
  max_attempts: z.number().int(),
});

/** Who holds a lease: this host, this process id and this start of it (a restarted process reuses pids). */
interface LeaseOwner {
  host: string;
  pid: number;
  boot: string;
}

const ownerOf = (value: string | null): LeaseOwner | undefined => {
  const [host, pid, boot] = (value ?? "").split("|");
  return host && pid && boot ? { host, pid: Number(pid), boot } : undefined;
};

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** How often a running worker looks for leases of processes that are gone (start-up always does). */
const TAKEOVER_CHECK_MS = 5_000;
const FOREGROUND_MAX_WAIT_MS = 250;

/**
 * A durable job queue in the directory database, run by an in-process worker. A claimed job holds a
 * lease naming its process (host, pid, start); a job whose process is gone is taken over at once (a
 * restart after a crash resumes it), and a lease that simply runs out is taken over by any worker.
 * Failures retry with the shared backoff; a job out of attempts, or one whose error is not retryable,
 * is kept in the `dead` state with its reason. Stopping hands back what is still running.
 */
export class SqliteJobQueue implements JobQueue, JobRunner {
  private readonly handlers = new Map<JobType, JobHandler>();
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  /** Runs in flight by job id; a run handed back by stop() must not record its late outcome. */
  private readonly active = new Map<string, { work: Promise<void>; handedBack: boolean }>();
  private readonly owner: LeaseOwner = { host: hostname(), pid: process.pid, boot: randomUUID() };
  private lastTakeoverCheck = 0;
  /** Until the first look succeeded, a lease without an owner is taken for a predecessor's. */
  private lookedForOrphans = false;
  /** Since when new jobs have been waiting for the foreground, and whether it will call back. */
  private yieldingSince: number | undefined;
  private awaitingIdle = false;
  private wakeQueued = false;

  constructor(
    private readonly db: Db,
    private readonly options: SqliteJobQueueOptions,
    private readonly logger: Logger,
  ) {}

  private get ownerId(): string {
    return `${this.owner.host}|${this.owner.pid}|${this.owner.boot}`;
  }

  async enqueue(job: JobInput, options: EnqueueOptions = {}): Promise<boolean> {
    const now = Date.now();
    // Reviving resets a finished or dead job with this key; a queued or running one is left alone.
    const onConflict = options.revive
      ? `DO UPDATE SET id = excluded.id, payload = excluded.payload, status = 'queued', attempt = 0,
           max_attempts = excluded.max_attempts, run_at = excluded.run_at, lease_until = NULL, lease_owner = NULL,
           updated_at = excluded.updated_at
         WHERE jobs.status IN ('done', 'dead')`
      : "DO NOTHING";
    const inserted = statement(
      this.db,
      `INSERT INTO jobs (id, type, tenant_id, payload, idempotency_key, status, attempt, max_attempts, run_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?) ON CONFLICT (idempotency_key) ${onConflict}`,
    ).run(
      randomUUID(),
      job.type,
      job.tenantId ?? null,
      JSON.stringify(job.payload),
      job.idempotencyKey,
      this.options.maxAttempts,
      now,
      new Date(now).toISOString(),
      new Date(now).toISOString(),
    );
    if (inserted.changes === 1) this.wakeSoon();
    return inserted.changes === 1;
  }

  /**
   * The worker looks for the new job on the next turn of the event loop, not inside `enqueue`: the
   * request that queued it (a Slack delivery) is answered first, not after the job's first steps.
   */
  private wakeSoon(): void {
    if (this.wakeQueued || !this.started) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      this.poke();
    });
  }

  register(type: JobType, handler: JobHandler): void {
    this.handlers.set(type, handler);
  }

  start(): void {
    this.started = true;
    this.lastTakeoverCheck = 0; // the first tick looks for leases of a predecessor at once
    this.poke();
  }

  async stop(timeoutMs?: number): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const running = Promise.allSettled([...this.active.values()].map((r) => r.work));
    const finished = await settlesWithin(running, timeoutMs ?? Number.POSITIVE_INFINITY);
    if (finished) return;
    // Still running at the deadline: back to the queue, without counting this try, for the next start.
    const ids = [...this.active.keys()];
    for (const run of this.active.values()) run.handedBack = true;
    const back = this.db.prepare(
      `UPDATE jobs SET status = 'queued', attempt = max(attempt - 1, 0), run_at = ?, lease_until = NULL,
         lease_owner = NULL, updated_at = ? WHERE id = ? AND status = 'running' AND lease_owner = ?`,
    );
    const now = Date.now();
    for (const id of ids) back.run(now, new Date(now).toISOString(), id, this.ownerId);
    this.logger.warn("jobs still running at shutdown were handed back to the queue", { jobs: ids.length });
  }

  async deleteTenant(tenant: TenantId, teamIds: readonly string[] = []): Promise<void> {
    // A run in flight finds its row gone when it finishes: finish() then updates nothing. Slack
    // deliveries are queued before their tenant is known, so they are found by their workspace.
    statement(
      this.db,
      `DELETE FROM jobs WHERE tenant_id = ?
          OR (tenant_id IS NULL AND json_valid(payload) AND json_extract(payload, '$.teamId') IN (SELECT value FROM json_each(?)))`,
    ).run(tenant, JSON.stringify(teamIds));
  }

  async drain(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const pending = this.db.prepare("SELECT count(*) AS n FROM jobs WHERE status IN ('queued', 'running')").get() as {
        n: number;
      };
      if (pending.n === 0 && this.running === 0) return;
      this.poke();
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("job queue did not drain in time");
  }

  /**
   * Jobs by state, for the metrics page. Finished jobs are left out of the WHERE: they pile up, and the
   * (status, run_at) index then reads only the rows counted.
   */
  counts(): { queued: number; running: number; dead: number } {
    const rows = statement(
      this.db,
      "SELECT status, count(*) AS n FROM jobs WHERE status IN ('queued', 'running', 'dead') GROUP BY status",
    ).all() as { status: "queued" | "running" | "dead"; n: number }[];
    const counts = { queued: 0, running: 0, dead: 0 };
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  /** Dead jobs with their reasons, newest first (operators and tests). */
  deadJobs(): { id: string; type: string; lastError: string | null; attempt: number }[] {
    return this.db
      .prepare(
        "SELECT id, type, last_error AS lastError, attempt FROM jobs WHERE status = 'dead' ORDER BY updated_at DESC",
      )
      .all() as { id: string; type: string; lastError: string | null; attempt: number }[];
  }

  private poke(): void {
    if (!this.started) return;
    const wait = this.foregroundWait();
    if (wait > 0) {
      this.schedule(wait);
      return;
    }
    try {
      this.claimAndRun();
    } catch (error) {
      // The database is busy (another process holds its lock) or failing: try again at the next tick.
      this.logger.warn("could not claim jobs; trying again shortly", { error });
    }
    this.schedule();
  }

  /**
   * How long new jobs should still wait for the foreground: 0 when nothing is in flight, or when they
   * have waited `foregroundMaxWaitMs` already. While they wait, the foreground's end wakes the worker.
   */
  private foregroundWait(): number {
    const foreground = this.options.foreground;
    if (!foreground?.busy) {
      this.yieldingSince = undefined;
      return 0;
    }
    const now = Date.now();
    this.yieldingSince ??= now;
    const left = this.yieldingSince + (this.options.foregroundMaxWaitMs ?? FOREGROUND_MAX_WAIT_MS) - now;
    if (left <= 0) {
      this.yieldingSince = undefined;
      return 0;
    }
    if (!this.awaitingIdle) {
      this.awaitingIdle = true;
      foreground.whenIdle(() => {
        this.awaitingIdle = false;
        this.poke();
      });
    }
    return left;
  }

  private claimAndRun(): void {
    this.takeOverOrphans();
    while (this.running < this.options.concurrency) {
      const job = this.claim();
      if (!job) break;
      this.running++;
      const run = { work: Promise.resolve(), handedBack: false };
      run.work = this.run(job, run).finally(() => {
        this.running--;
        if (this.active.get(job.id) === run) this.active.delete(job.id);
        this.poke();
      });
      this.active.set(job.id, run);
    }
  }

  /**
   * Running jobs whose process is gone go back to the queue at once: a process of this host that no
   * longer exists, or an earlier start of this very pid (containers restart as pid 1). Leases of other
   * hosts, or of live processes (a CLI run beside the server), are left to run out.
   */
  private takeOverOrphans(): void {
    const now = Date.now();
    if (now - this.lastTakeoverCheck < TAKEOVER_CHECK_MS) return;
    const owners = this.db.prepare("SELECT DISTINCT lease_owner AS owner FROM jobs WHERE status = 'running'").all() as {
      owner: string | null;
    }[];
    const release = this.db.prepare(
      `UPDATE jobs SET status = 'queued', run_at = ?, lease_until = NULL, lease_owner = NULL, updated_at = ?
        WHERE status = 'running' AND lease_owner IS ?`,
    );
    for (const { owner } of owners) {
      if (owner === this.ownerId) continue;
      const o = ownerOf(owner);
      // A lease without an owner was taken before owners were recorded: by an earlier start of this server.
      const gone = !o
        ? !this.lookedForOrphans
        : o.host === this.owner.host && (o.pid === this.owner.pid || !processExists(o.pid));
      if (!gone) continue;
      const taken = release.run(now, new Date(now).toISOString(), owner).changes;
      if (taken > 0) this.logger.info("took over the jobs of a process that stopped", { jobs: taken, owner });
    }
    this.lastTakeoverCheck = now;
    this.lookedForOrphans = true;
  }

  private schedule(ms = this.options.pollMs ?? 250): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poke(), ms);
    this.timer.unref();
  }

  private claim(): Job | undefined {
    for (;;) {
      const now = Date.now();
      const row = statement(
        this.db,
        `UPDATE jobs SET status = 'running', attempt = attempt + 1, lease_until = @lease, lease_owner = @owner,
             updated_at = @iso
            WHERE id = (SELECT id FROM jobs
                         WHERE (status = 'queued' AND run_at <= @now) OR (status = 'running' AND lease_until < @now)
                         ORDER BY run_at LIMIT 1)
            RETURNING id, type, tenant_id, payload, idempotency_key, attempt, max_attempts`,
      ).get({ now, lease: now + this.options.leaseMs, owner: this.ownerId, iso: new Date(now).toISOString() }) as
        | Record<string, unknown>
        | undefined;
      if (!row) return undefined;
      const parsed = jobRowSchema.safeParse(row);
      if (!parsed.success) {
        const what = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
        this.logger.error("damaged job record; parked as dead", { jobId: row.id, problem: what });
        this.finish(String(row.id), "dead", `damaged job record: ${what}`, null);
        continue;
      }
      const r = parsed.data;
      return {
        id: r.id,
        type: r.type,
        ...(r.tenant_id ? { tenantId: r.tenant_id } : {}),
        payload: r.payload,
        idempotencyKey: r.idempotency_key,
        attempt: r.attempt,
        maxAttempts: r.max_attempts,
      };
    }
  }

  private async run(job: Job, state: { handedBack: boolean }): Promise<void> {
    const log = this.logger.child({
      jobId: job.id,
      jobType: job.type,
      tenantId: job.tenantId,
      attempt: job.attempt,
    });
    const handler = this.handlers.get(job.type);
    let outcome: Parameters<SqliteJobQueue["finish"]>;
    try {
      if (!handler) throw new Error(`no handler for job type ${job.type}`);
      await handler(job);
      outcome = [job.id, "done", null, null];
    } catch (error) {
      const retryable = !isAppError(error) || error.retryable;
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (retryable && job.attempt < job.maxAttempts) {
        const delay = backoffMs(jobRetryPolicy(job.maxAttempts, this.options.retryBaseMs), job.attempt);
        log.warn("job failed, will retry", { error, delayMs: delay });
        outcome = [job.id, "queued", reason, Date.now() + delay];
      } else {
        log.error("job failed for good", { error });
        outcome = [job.id, "dead", reason, null];
      }
    }
    if (state.handedBack) return;
    try {
      this.finish(...outcome);
    } catch (error) {
      // Not recorded (the database is busy or gone): the lease runs out and the job runs again.
      log.error("could not record a job's outcome; it will run again when its lease expires", { error });
    }
    try {
      this.options.afterJob?.(job.type);
    } catch (error) {
      log.warn("the after-job hook failed", { error });
    }
  }

  private finish(id: string, status: "done" | "queued" | "dead", error: string | null, runAt: number | null): void {
    statement(
      this.db,
      // A finished job's payload (a question, a file name) is needed no more: the row keeps only its
      // key and outcome, so the queue's table does not become a second copy of what was asked.
      `UPDATE jobs SET status = ?, last_error = coalesce(?, last_error), run_at = coalesce(?, run_at), lease_until = NULL,
           lease_owner = NULL, updated_at = ?, payload = CASE WHEN ? THEN 'null' ELSE payload END
         WHERE id = ?`,
    ).run(status, error, runAt, new Date().toISOString(), status === "done" ? 1 : 0, id);
  }
}
