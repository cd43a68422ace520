import type { TenantId } from "../domain/tenant.js";

export type JobType = "ingest" | "answer" | "slack_file" | "slack_event";

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

export interface JobQueue {
  /** Returns false when a job with the same idempotency key already exists. */
  enqueue(job: JobInput): Promise<boolean>;
}

/** The in-process side of a queue: the local worker polls; on AWS the SQS event source pushes. */
export interface JobRunner {
  register(type: JobType, handler: JobHandler): void;
  start(): void;
  stop(): Promise<void>;
  /** Resolves when no job is queued or running (tests and the CLI). */
  drain(timeoutMs?: number): Promise<void>;
}
