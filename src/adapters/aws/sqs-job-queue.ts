import { createHash, randomUUID } from "node:crypto";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";
import { settlesWithin } from "../../domain/deadline.js";
import { isAppError } from "../../domain/errors.js";
import { backoffMs, jobRetryPolicy } from "../../domain/retry.js";
import type { TenantId } from "../../domain/tenant.js";
import type { EnqueueOptions, Job, JobHandler, JobInput, JobQueue, JobRunner, JobType } from "../../ports/job-queue.js";
import type { Logger } from "../../ports/logger.js";
import { jobTypeSchema, tenantIdSchema } from "../shared/stored-records.js";
import { unavailable } from "./aws-errors.js";
import { conditional, epochSeconds, isConditionFailure, tenantPk } from "./dynamo.js";
import { deletePartition } from "./dynamo-batch.js";

/** The SQS message body. Validated on the way in: a queue is an edge like any other. */
const messageSchema = z.object({
  id: z.string().min(1),
  type: jobTypeSchema,
  tenantId: tenantIdSchema.optional(),
  payload: z.unknown(),
  idempotencyKey: z.string().min(1).max(1024),
});
type JobMessage = z.infer<typeof messageSchema>;

export interface SqsJobQueueOptions {
  queueUrl: string;
  jobsTable: string;
  /** Deliveries before a job is dead; the queue's redrive policy must use the same `maxReceiveCount`. */
  maxAttempts: number;
  /** First retry delay; doubles each attempt (with jitter). SQS counts in whole seconds. */
  retryBaseMs: number;
  /** Handlers at once in the in-process poller (CLI, local AWS-shape runs). Lambda uses its own concurrency. */
  concurrency: number;
  /** Long-poll wait of the in-process poller. */
  pollWaitSeconds?: number;
  /** How long a job record (and so its idempotency key) is kept. */
  recordTtlDays?: number;
}

export interface DeadJobRecord {
  id: string;
  type: string;
  tenantId?: string;
  lastError: string | null;
  attempt: number;
  updatedAt: string;
}

const MAX_VISIBILITY_SECONDS = 12 * 3600;
/**
 * A queued or running job whose record has not changed for this long is taken for lost (its message
 * never sent, or its worker gone past every redelivery) and may be revived: past the stack's
 * visibility timeout (six worker timeouts) and the longest backoff.
 */
const QUIET_AFTER_MS = 2 * 3600_000;

/**
 * Jobs over SQS, with a DynamoDB record per job in the jobs table (`<tenant>#job` / idempotency key)
 * that makes enqueue idempotent on a standard queue (a conditional put; FIFO queues also get a
 * deduplication id) and keeps each job's state and last error.
 *
 * The worker side is `handleBatch`, the SQS-to-Lambda handler: every record runs its registered
 * handler; failures go back as `batchItemFailures` after the message's visibility is set to the
 * backoff delay, so SQS redelivers it then. `ApproximateReceiveCount` is the attempt. A job out of
 * attempts is recorded `dead` with its reason and left to the queue's redrive policy, which moves it
 * to the dead-letter queue; a non-retryable AppError is recorded `dead` at once and removed.
 * `start()` runs the same handler from an in-process long-poll loop (CLI and local runs).
 */
export class SqsJobQueue implements JobQueue, JobRunner {
  private readonly handlers = new Map<JobType, JobHandler>();
  private readonly fifo: boolean;
  private started = false;
  private loop: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private readonly active = new Map<Promise<void>, string>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly db: DynamoDBDocumentClient,
    private readonly options: SqsJobQueueOptions,
    private readonly logger: Logger,
  ) {
    this.fifo = options.queueUrl.endsWith(".fifo");
  }

  private key(tenantId: TenantId | undefined, idempotencyKey: string) {
    return { pk: tenantId ? tenantPk(tenantId, "job") : "job", sk: idempotencyKey };
  }

  async enqueue(job: JobInput, options: EnqueueOptions = {}): Promise<boolean> {
    const id = randomUUID();
    const now = new Date();
    const key = this.key(job.tenantId, job.idempotencyKey);
    const quietSince = new Date(now.getTime() - QUIET_AFTER_MS).toISOString();
    const claimed = await conditional(() =>
      this.db.send(
        new PutCommand({
          TableName: this.options.jobsTable,
          Item: {
            ...key,
            id,
            type: job.type,
            status: "queued",
            attempt: 0,
            maxAttempts: this.options.maxAttempts,
            createdAt: now.toISOString(),
            updatedAt: now.toISOString(),
            expires_at: epochSeconds(now.getTime() + (this.options.recordTtlDays ?? 30) * 86_400_000),
          },
          // Reviving takes over a record that finished, died or went quiet; never a live one.
          ...(options.revive
            ? {
                ConditionExpression: "attribute_not_exists(pk) OR #status IN (:done, :dead) OR updatedAt < :quietSince",
                ExpressionAttributeNames: { "#status": "status" },
                ExpressionAttributeValues: { ":done": "done", ":dead": "dead", ":quietSince": quietSince },
              }
            : { ConditionExpression: "attribute_not_exists(pk)" }),
        }),
      ),
    ).catch((error: unknown) => {
      throw unavailable("The job queue", error);
    });
    if (!claimed) return false;
    const body: JobMessage = {
      id,
      type: job.type,
      ...(job.tenantId ? { tenantId: job.tenantId } : {}),
      payload: job.payload,
      idempotencyKey: job.idempotencyKey,
    };
    try {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.options.queueUrl,
          MessageBody: JSON.stringify(body),
          ...(this.fifo
            ? {
                MessageGroupId: job.tenantId ?? "system",
                MessageDeduplicationId: createHash("sha256").update(job.idempotencyKey).digest("hex"),
              }
            : {}),
        }),
      );
    } catch (error) {
      // Not queued after all: release the key so the caller's retry can enqueue it.
      await conditional(() =>
        this.db.send(
          new DeleteCommand({
            TableName: this.options.jobsTable,
            Key: key,
            ConditionExpression: "id = :id",
            ExpressionAttributeValues: { ":id": id },
          }),
        ),
      ).catch(() => false);
      throw unavailable("The job queue", error);
    }
    return true;
  }

  /**
   * Forgets every job record of the tenant, the erasure job's own included (a record holds its last error,
   * which can quote a question or a file name). Messages already in SQS cannot be removed selectively (SQS
   * deletes a message only by the receipt handle of a receive, and a purge takes every tenant's): they are
   * still delivered, find no record to update (`mark` never re-creates one), and their handlers meet a
   * tenant that is gone, so they fail harmlessly. One that keeps failing waits in the dead-letter queue
   * until that queue's retention (14 days in infra/) ends it.
   */
  async deleteTenant(tenant: TenantId): Promise<void> {
    await deletePartition(this.db, this.options.jobsTable, tenantPk(tenant, "job")).catch((error: unknown) => {
      throw unavailable("The job queue", error);
    });
  }

  register(type: JobType, handler: JobHandler): void {
    this.handlers.set(type, handler);
  }

  /** The SQS event handler of the worker Lambda (ReportBatchItemFailures). */
  async handleBatch(event: SQSEvent): Promise<SQSBatchResponse> {
    const outcomes = await Promise.all(
      event.Records.map(async (record) => ({ record, ok: await this.handleRecord(record) })),
    );
    return { batchItemFailures: outcomes.filter((o) => !o.ok).map((o) => ({ itemIdentifier: o.record.messageId })) };
  }

  /** True when the message is finished with (delete it); false to have SQS deliver it again. */
  private async handleRecord(record: SQSRecord): Promise<boolean> {
    let message: JobMessage;
    try {
      message = messageSchema.parse(JSON.parse(record.body));
    } catch (error) {
      // Cannot ever succeed: let the redrive policy park it in the dead-letter queue for a human.
      this.logger.error("unreadable job message", { messageId: record.messageId, error });
      return false;
    }
    const attempt = Math.max(1, Number.parseInt(record.attributes?.ApproximateReceiveCount ?? "1", 10) || 1);
    const log = this.logger.child({ jobId: message.id, jobType: message.type, tenantId: message.tenantId, attempt });
    if (attempt > this.options.maxAttempts) {
      await this.setVisibility(record.receiptHandle, 0);
      return false;
    }
    const job: Job = {
      id: message.id,
      type: message.type,
      ...(message.tenantId ? { tenantId: message.tenantId } : {}),
      payload: message.payload,
      idempotencyKey: message.idempotencyKey,
      attempt,
      maxAttempts: this.options.maxAttempts,
    };
    await this.mark(message, "running", attempt, null);
    const handler = this.handlers.get(job.type);
    try {
      if (!handler) throw new Error(`no handler for job type ${job.type}`);
      await handler(job);
      await this.mark(message, "done", attempt, null);
      return true;
    } catch (error) {
      const retryable = !isAppError(error) || error.retryable;
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (retryable && attempt < this.options.maxAttempts) {
        const delayMs = backoffMs(jobRetryPolicy(this.options.maxAttempts, this.options.retryBaseMs), attempt);
        const seconds = Math.min(MAX_VISIBILITY_SECONDS, Math.round(delayMs / 1000));
        log.warn("job failed, will retry", { error, delaySeconds: seconds });
        await this.mark(message, "queued", attempt, reason);
        await this.setVisibility(record.receiptHandle, seconds);
        return false;
      }
      log.error("job failed for good", { error });
      await this.mark(message, "dead", attempt, reason);
      if (!retryable) return true;
      await this.setVisibility(record.receiptHandle, 0);
      return false;
    }
  }

  private async setVisibility(receiptHandle: string, seconds: number): Promise<void> {
    try {
      await this.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.options.queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    } catch (error) {
      // The queue's own visibility timeout then decides when the job is tried again.
      this.logger.warn("could not set job visibility", { error });
    }
  }

  private async mark(
    message: JobMessage,
    status: "running" | "queued" | "done" | "dead",
    attempt: number,
    error: string | null,
  ) {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.options.jobsTable,
          Key: this.key(message.tenantId, message.idempotencyKey),
          UpdateExpression: `SET #status = :status, attempt = :attempt, updatedAt = :now, id = if_not_exists(id, :id), #type = if_not_exists(#type, :type)${error ? ", lastError = :error" : ""}`,
          // Only a record that exists: the tenant's records may have been forgotten (deleteTenant) while
          // this job ran, and an update without the condition would write the record back.
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: { "#status": "status", "#type": "type" },
          ExpressionAttributeValues: {
            ":status": status,
            ":attempt": attempt,
            ":now": new Date().toISOString(),
            ":id": message.id,
            ":type": message.type,
            ...(error ? { ":error": error.slice(0, 2000) } : {}),
          },
        }),
      );
    } catch (cause) {
      if (isConditionFailure(cause)) {
        this.logger.debug("job record gone; nothing to record", { jobId: message.id, status });
        return;
      }
      // Bookkeeping only: the queue itself still retries or dead-letters the message.
      this.logger.warn("could not record job state", { error: cause, status });
    }
  }

  /** Jobs recorded dead, newest first (operators and tests; a scan: the dead-letter queue is the alarm). */
  async deadJobs(): Promise<DeadJobRecord[]> {
    const out: DeadJobRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new ScanCommand({
          TableName: this.options.jobsTable,
          FilterExpression: "#status = :dead",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":dead": "dead" },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const pk = String(item.pk);
        out.push({
          id: String(item.id),
          type: String(item.type),
          ...(pk.includes("#") ? { tenantId: pk.split("#")[0] } : {}),
          lastError: typeof item.lastError === "string" ? item.lastError : null,
          attempt: Number(item.attempt ?? 0),
          updatedAt: String(item.updatedAt ?? ""),
        });
      }
      start = page.LastEvaluatedKey as Record<string, unknown> | undefined;
    } while (start);
    return out.sort((x, y) => (x.updatedAt < y.updatedAt ? 1 : x.updatedAt > y.updatedAt ? -1 : 0));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.loop = this.poll();
  }

  async stop(timeoutMs?: number): Promise<void> {
    this.started = false;
    this.abort?.abort();
    await this.loop?.catch(() => undefined);
    this.loop = undefined;
    const running = Promise.allSettled([...this.active.keys()]);
    const finished = await settlesWithin(running, timeoutMs ?? Number.POSITIVE_INFINITY);
    if (finished) return;
    // Still running at the deadline: visible again at once, for another worker or the next start.
    const handles = [...this.active.values()];
    await Promise.allSettled(handles.map((handle) => this.setVisibility(handle, 0)));
    this.logger.warn("jobs still running at shutdown were handed back to the queue", { jobs: handles.length });
  }

  async drain(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const attributes = await this.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: this.options.queueUrl,
          AttributeNames: [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
          ],
        }),
      );
      const a = attributes.Attributes ?? {};
      const pending =
        Number(a.ApproximateNumberOfMessages ?? 0) +
        Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
        Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
      if (pending === 0 && this.active.size === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("job queue did not drain in time");
  }

  /** The in-process stand-in for the SQS event source: receive, run, delete what succeeded. */
  private async poll(): Promise<void> {
    while (this.started) {
      const room = this.options.concurrency - this.active.size;
      if (room <= 0) {
        await Promise.race(this.active.keys());
        continue;
      }
      this.abort = new AbortController();
      let messages: Message[] = [];
      try {
        const result = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.options.queueUrl,
            MaxNumberOfMessages: Math.min(10, room),
            WaitTimeSeconds: this.options.pollWaitSeconds ?? 20,
            MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = result.Messages ?? [];
      } catch (error) {
        if (!this.started) return;
        this.logger.warn("receiving jobs failed", { error });
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      for (const message of messages) {
        const work = this.runMessage(message).finally(() => this.active.delete(work));
        this.active.set(work, message.ReceiptHandle ?? "");
      }
    }
  }

  private async runMessage(message: Message): Promise<void> {
    const record = toSqsRecord(message, this.options.queueUrl);
    const ok = await this.handleRecord(record);
    if (!ok) return;
    try {
      await this.sqs.send(
        new DeleteMessageCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: record.receiptHandle }),
      );
    } catch (error) {
      this.logger.warn("could not delete a finished job message", { error });
    }
  }
}

/** Shapes a received message like the record the SQS event source hands to Lambda. */
export function toSqsRecord(message: Message, queueUrl: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? randomUUID(),
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? "",
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: queueArnFromUrl(queueUrl),
    awsRegion: "",
  };
}

function queueArnFromUrl(queueUrl: string): string {
  const parts = queueUrl.split("/");
  return `arn:aws:sqs:::${parts.at(-1) ?? ""}`;
}
