import { randomUUID } from "node:crypto";
import { isAppError } from "../../domain/errors.js";
import type { TenantId } from "../../domain/tenant.js";
import type { Job, JobHandler, JobInput, JobQueue, JobRunner, JobType } from "../../ports/job-queue.js";
import type { Logger } from "../../ports/logger.js";
import type { Db } from "./sqlite.js";

export interface SqliteJobQueueOptions {
  concurrency: number;
  maxAttempts: number;
  leaseMs: number;
  retryBaseMs: number;
  pollMs?: number;
}

interface JobRow {
  id: string;
  type: JobType;
  tenant_id: string | null;
  payload: string;
  idempotency_key: string;
  attempt: number;
  max_attempts: number;
}

/**
 * A durable job queue in the directory database, run by an in-process worker. A claimed job holds a
 * lease; a crash leaves the lease to expire and another worker (or the restarted process) picks the
 * job up again. Failures retry with exponential backoff and jitter; a job out of attempts, or one
 * whose error is not retryable, is kept in the `dead` state with its reason.
 */
export class SqliteJobQueue implements JobQueue, JobRunner {
  private readonly handlers = new Map<JobType, JobHandler>();
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private readonly active = new Set<Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly options: SqliteJobQueueOptions,
    private readonly logger: Logger,
  ) {}

  async enqueue(job: JobInput): Promise<boolean> {
    const now = Date.now();
    const inserted = this.db
      .prepare(
        `INSERT INTO jobs (id, type, tenant_id, payload, idempotency_key, status, attempt, max_attempts, run_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
      )
      .run(
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
    if (inserted.changes === 1) this.poke();
    return inserted.changes === 1;
  }

  register(type: JobType, handler: JobHandler): void {
    this.handlers.set(type, handler);
  }

  start(): void {
    this.started = true;
    this.poke();
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.active]);
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
    while (this.running < this.options.concurrency) {
      const job = this.claim();
      if (!job) break;
      this.running++;
      const work = this.run(job).finally(() => {
        this.running--;
        this.active.delete(work);
        this.poke();
      });
      this.active.add(work);
    }
    this.schedule();
  }

  private schedule(): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poke(), this.options.pollMs ?? 250);
    this.timer.unref();
  }

  private claim(): Job | undefined {
    const now = Date.now();
    const row = this.db
      .prepare(
        `UPDATE jobs SET status = 'running', attempt = attempt + 1, lease_until = @lease, updated_at = @iso
          WHERE id = (SELECT id FROM jobs
                       WHERE (status = 'queued' AND run_at <= @now) OR (status = 'running' AND lease_until < @now)
                       ORDER BY run_at LIMIT 1)
          RETURNING id, type, tenant_id, payload, idempotency_key, attempt, max_attempts`,
      )
      .get({ now, lease: now + this.options.leaseMs, iso: new Date(now).toISOString() }) as JobRow | undefined;
    if (!row) return undefined;
    return {
      id: row.id,
      type: row.type,
      ...(row.tenant_id ? { tenantId: row.tenant_id as TenantId } : {}),
      payload: JSON.parse(row.payload) as unknown,
      idempotencyKey: row.idempotency_key,
      attempt: row.attempt,
      maxAttempts: row.max_attempts,
    };
  }

  private async run(job: Job): Promise<void> {
    const log = this.logger.child({
      jobId: job.id,
      jobType: job.type,
      tenantId: job.tenantId,
      attempt: job.attempt,
    });
    const handler = this.handlers.get(job.type);
    try {
      if (!handler) throw new Error(`no handler for job type ${job.type}`);
      await handler(job);
      this.finish(job.id, "done", null, null);
    } catch (error) {
      const retryable = !isAppError(error) || error.retryable;
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (retryable && job.attempt < job.maxAttempts) {
        const delay = this.options.retryBaseMs * 2 ** (job.attempt - 1) * (0.5 + Math.random());
        log.warn("job failed, will retry", { error, delayMs: Math.round(delay) });
        this.finish(job.id, "queued", reason, Date.now() + delay);
      } else {
        log.error("job failed for good", { error });
        this.finish(job.id, "dead", reason, null);
      }
    }
  }

  private finish(id: string, status: "done" | "queued" | "dead", error: string | null, runAt: number | null): void {
    this.db
      .prepare(
        `UPDATE jobs SET status = ?, last_error = coalesce(?, last_error), run_at = coalesce(?, run_at), lease_until = NULL,
           updated_at = ? WHERE id = ?`,
      )
      .run(status, error, runAt, new Date().toISOString(), id);
  }
}
