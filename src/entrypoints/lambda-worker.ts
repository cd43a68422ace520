import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
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

type WorkerHandler = ((event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>) & {
  container(): Promise<Container>;
};

/**
 * SQS -> the job handlers (ingest, answer, Slack jobs) registered on the container's runner, with
 * partial batch failures (the event source mapping needs ReportBatchItemFailures). Retries, backoff
 * and the dead-letter state are SqsJobQueue.handleBatch's.
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
  const handler = (async (event: SQSEvent) => {
    const { queue } = await start();
    return queue.handleBatch(event);
  }) as WorkerHandler;
  handler.container = async () => (await start()).container;
  return handler;
}

export const handler = createWorkerHandler();
