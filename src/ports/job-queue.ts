import type { TenantId } from "../domain/tenant.js";

export type JobType = "ingest" | "answer" | "slack_file" | "slack_event" | "delete_tenant";

export interface JobInput {
  type: JobType;
  tenantId?: TenantId;
  payload: unknown;
  /** A second enqueue with the same key is ignored. */
  idempotencyKey: string;
}

export interface Job extends JobInput {
  id: string;
  attempt: number;
  maxAttempts: number;
}

export type JobHandler = (job: Job) => Promise<void>;

export interface EnqueueOptions {
  /**
   * Queue it again when a job with this key exists but can no longer run: it finished, died, or (where
   * the queue cannot see its workers) went quiet for longer than a job can wait and run. A job that is
   * queued or running is left alone. The recovery sweep and duplicate uploads of stranded documents.
   */
  revive?: boolean;
}

export interface JobQueue {
  /**
   * Durable when it resolves (the job will run even if this process dies next). Returns false when a
   * job with the same idempotency key already exists (and, with `revive`, is still alive). Throws when
   * the job could not be stored: nothing was queued, and the caller must say so or fail its request.
   */
  enqueue(job: JobInput, options?: EnqueueOptions): Promise<boolean>;
  /**
   * Forgets every job of the tenant, whatever its state (the tenant is being deleted: a job's payload
   * can hold a question or a file name), and the Slack deliveries from its workspaces `teamIds` (queued
   * before their tenant was known). A job running now finishes, and nothing records its outcome.
   */
  deleteTenant(tenant: TenantId, teamIds?: readonly string[]): Promise<void>;
}

/** The in-process side of a queue: the local worker polls; on AWS the SQS event source pushes. */
export interface JobRunner {
  register(type: JobType, handler: JobHandler): void;
  start(): void;
  /**
   * Stops claiming work and waits for the jobs in flight, at most `timeoutMs`; jobs still running then
   * are handed back to the queue (they run again after a restart, or on another worker).
   */
  stop(timeoutMs?: number): Promise<void>;
  /** Resolves when no job is queued or running (tests and the CLI). */
  drain(timeoutMs?: number): Promise<void>;
}

/**
 * Requests someone is waiting on right now: Slack deliveries, which must be acknowledged within
 * 3 seconds. An in-process worker shares their event loop, so it starts no job while one is in flight.
 */
export interface Foreground {
  /** Marks one request as started; call the returned function when it is done (more calls do nothing). */
  begin(): () => void;
  readonly busy: boolean;
  /** Calls `listener` once, soon after nothing is in flight (soon, too, when nothing is now). */
  whenIdle(listener: () => void): void;
}
