import type { Context, ScheduledEvent, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { SqsJobQueue } from "../adapters/aws/sqs-job-queue.js";
import { buildContainer, type Container, type ContainerOptions } from "../composition/container.js";
import { slackDeps } from "../composition/surfaces.js";
import { loadConfig } from "../config/config.js";
import { createSlackRuntime, registerSlackJobs } from "../slack/surface.js";
import { resolveSecretEnv, type SecretFetcher } from "./lambda-secrets.js";

export interface LambdaWorkerOptions {
  env?: Record<string, string | undefined>;
  fetchSecret?: SecretFetcher;
  container?: ContainerOptions;
}

/** What the recovery schedule's invocation answers (for its logs; EventBridge ignores it). */
export interface SweepResult {
  recovered: number;
}

type WorkerHandler = (<E extends SQSEvent | ScheduledEvent>(
  event: E,
  context?: Context,
) => Promise<E extends SQSEvent ? SQSBatchResponse : SweepResult>) & {
  container(): Promise<Container>;
};

const isScheduled = (event: SQSEvent | ScheduledEvent): event is ScheduledEvent =>
  !("Records" in event) && (event as ScheduledEvent).source === "aws.events";

/**
 * The worker function. SQS -> the job handlers (ingest, answer, Slack jobs) registered on the
 * container's runner, with partial batch failures (the event source mapping needs
 * ReportBatchItemFailures); retries, backoff and the dead-letter state are SqsJobQueue.handleBatch's.
 * An EventBridge scheduled event runs the recovery sweep instead.
 */
export function createWorkerHandler(options: LambdaWorkerOptions = {}): WorkerHandler {
  let ready: Promise<{ container: Container; queue: SqsJobQueue }> | undefined;
  const start = () => {
    ready ??= (async () => {
      const env = await resolveSecretEnv(options.env ?? process.env, options.fetchSecret);
      const container = await buildContainer(loadConfig(env), options.container);
      if (!(container.runner instanceof SqsJobQueue))
        throw new Error("the worker function needs BACKEND=aws (an SQS job queue)");
      // Ingest is registered by the container; the Slack jobs need the Slack runtime, without Bolt.
      const slack = slackDeps(container);
      if (slack) registerSlackJobs(createSlackRuntime(slack));
      return { container, queue: container.runner };
    })().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
  const handler = (async (event: SQSEvent | ScheduledEvent) => {
    const { queue, container } = await start();
    try {
      // The EventBridge schedule: re-queue documents whose ingest job was lost, and unfinished deletions.
      if (isScheduled(event)) return { recovered: await container.recovery.run() } satisfies SweepResult;
      return await queue.handleBatch(event);
    } finally {
      // Once per invocation, failed or not: the environment may be frozen (or end) right after it.
      container.metrics?.flush?.();
    }
  }) as WorkerHandler;
  handler.container = async () => (await start()).container;
  return handler;
}

export const handler = createWorkerHandler();
