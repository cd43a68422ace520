import { randomUUID } from "node:crypto";
import type { ScheduledEvent } from "aws-lambda";
import { startApiGateway } from "./api-gateway.js";
import { startAwsStack } from "./aws-stack.js";
import { FAULTS } from "./emulators/fault-proxy.js";
import { installBedrockMock } from "./fake-bedrock.js";
import { FakeSlack } from "./fake-slack.js";
import { startLambdaApp } from "./lambda.js";
import type { TestServer } from "./server.js";
import { SlackSender } from "./slack.js";
import { PUBLIC_URL, SIGNING_SECRET, type SlackHarness } from "./slack-harness.js";

/** What EventBridge sends the worker function on the recovery schedule. */
export function scheduledEvent(): ScheduledEvent {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: "000000000000",
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: ["arn:aws:events:us-east-1:000000000000:rule/enclave-recovery-sweep"],
    detail: {},
  };
}

/**
 * The Slack harness on the AWS shape: Slack's signed requests reach the HTTP Lambda handler through a
 * loopback API Gateway, jobs run in the worker handler fed SQS events, over the emulators; the fake Slack
 * Web API is the same. `server.container` is the worker's (jobs, directory and link tokens live there).
 */
export async function startAwsSlackHarness(
  setup: (fake: FakeSlack) => Record<string, string>,
  env: Record<string, string> = {},
): Promise<SlackHarness> {
  const fake = await FakeSlack.start();
  const bedrock = installBedrockMock({ dimensions: 256 });
  const stack = await startAwsStack(
    { SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: fake.apiUrl, PUBLIC_URL, ...setup(fake), ...env },
    { autoConfirm: true },
  );
  const app = await startLambdaApp(stack.env);
  const gateway = await startApiGateway(app.http);
  const server: TestServer = {
    url: gateway.url,
    dataDir: stack.dataDir,
    container: await app.worker.container(),
    stop: async () => {
      await gateway.stop();
      await app.stop();
      await stack.stop();
      bedrock.restore();
    },
  };
  return {
    fake,
    server,
    slack: new SlackSender(gateway.url, SIGNING_SECRET),
    queueDown: () =>
      stack.proxies.sqs.inject(FAULTS.sqsUnavailable, 1_000_000, (r) => r.target === "AmazonSQS.SendMessage"),
    queueUp: () => stack.proxies.sqs.clear(),
    sweep: async () => (await app.worker(scheduledEvent())).recovered,
    async stop() {
      await server.stop();
      await fake.stop();
    },
  };
}
