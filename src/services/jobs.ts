import type { JobHandler, JobInput, JobQueue, JobRunner, JobType } from "../ports/job-queue.js";

/** Background work for the surfaces: queue a job, or say which handler runs a kind of job. */
export class JobService {
  constructor(
    private readonly queue: JobQueue,
    private readonly runner: JobRunner,
  ) {}

  /** False when a job with the same idempotency key was queued before. */
  enqueue(job: JobInput): Promise<boolean> {
    return this.queue.enqueue(job);
  }

  handle(type: JobType, handler: JobHandler): void {
    this.runner.register(type, handler);
  }
}
