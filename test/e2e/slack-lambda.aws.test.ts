import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Container } from "../../src/composition/container.js";
import { createHttpHandler } from "../../src/entrypoints/lambda-http.js";
import { eventKey } from "../../src/slack/jobs.js";
import { type ApiGateway, startApiGateway } from "../support/api-gateway.js";
import { type AwsStack, startAwsStack } from "../support/aws-stack.js";
import { FAULTS } from "../support/emulators/fault-proxy.js";
import { FakeSlack, type FakeTeam, nextTs } from "../support/fake-slack.js";
import { commandForm, mentionEnvelope, newEventId, newTriggerId, SlackSender } from "../support/slack.js";
import { PUBLIC_URL, SIGNING_SECRET, whoIn } from "../support/slack-harness.js";

/**
 * Lambda freezes the moment its response is sent, so on the AWS shape Slack is answered only after the
 * listener claimed and enqueued (processBeforeResponse). Only the HTTP handler runs here (no worker):
 * whatever is in the jobs table and on the queue when the response arrives was put there before it. The
 * job-table writes are throttled twice, so an acknowledgement sent before the enqueue would be caught.
 */
let fake: FakeSlack;
let team: FakeTeam;
let stack: AwsStack;
let http: ReturnType<typeof createHttpHandler>;
let container: Container;
let gateway: ApiGateway;
let slack: SlackSender;

const ASKER = "U0LAMBDA1";
const CHANNEL = "C0LAMBDA1";

beforeAll(async () => {
  fake = await FakeSlack.start();
  team = fake.addTeam({ id: "T0LAMBDA1", name: "Lambda Slack", users: [{ id: ASKER, name: "asker" }] });
  stack = await startAwsStack({
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
    SLACK_BOT_TOKEN: team.botToken,
    PUBLIC_URL,
  });
  http = createHttpHandler({ env: stack.env });
  container = await http.container();
  gateway = await startApiGateway(http);
  slack = new SlackSender(gateway.url, SIGNING_SECRET);
});

afterAll(async () => {
  await gateway?.stop();
  await container?.close();
  await stack?.stop();
  await fake?.stop();
});

const jobsTable = () => stack.config.JOBS_TABLE ?? "";
const queued = () => stack.sqs.messages(stack.config.SQS_QUEUE_URL?.split("/").at(-1) ?? "");

let faultsBefore = 0;
beforeEach(() => {
  stack.proxies.dynamodb.clear();
  faultsBefore = stack.proxies.dynamodb.injected();
  stack.proxies.dynamodb.inject(
    FAULTS.dynamoThrottling,
    2,
    (r, body) =>
      r.target === "DynamoDB_20120810.PutItem" && body.toString("utf8").includes(`"TableName":"${jobsTable()}"`),
  );
});

/** The job record for a Slack job (no tenant yet: the worker resolves it), read straight from DynamoDB. */
async function jobRecord(idempotencyKey: string) {
  const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
  const { DynamoDBDocumentClient } = await import("@aws-sdk/lib-dynamodb");
  const { clientConfig } = await import("../../src/adapters/aws/client-config.js");
  const db = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig(stack.config, "dynamodb")));
  try {
    return (await db.send(new GetCommand({ TableName: jobsTable(), Key: { pk: "job", sk: idempotencyKey } }))).Item;
  } finally {
    db.destroy();
  }
}

describe("Slack through the HTTP Lambda handler", () => {
  it("acknowledges an @mention only once its job is in the table and on the queue", async () => {
    const before = queued().length;
    const eventId = newEventId();
    const res = await slack.event(
      mentionEnvelope(whoIn(team, ASKER), {
        channel: CHANNEL,
        text: `<@${team.botUserId}> how many vacation days?`,
        ts: nextTs(),
        eventId,
      }),
    );
    // Nothing awaited between the response and these reads.
    const [job, messages] = [jobRecord(`slack:${eventKey(team.id, eventId, "app_mention")}`), queued()];
    expect(res.status).toBe(200);
    expect(stack.proxies.dynamodb.injected() - faultsBefore).toBe(2);
    expect(messages.length).toBe(before + 1);
    expect(JSON.parse(messages.at(-1)?.body ?? "{}")).toMatchObject({
      type: "answer",
      payload: {
        kind: "question",
        surface: "slack_mention",
        teamId: team.id,
        text: expect.stringContaining("vacation"),
      },
    });
    expect(await job).toMatchObject({ type: "answer", status: "queued" });
  });

  it("answers /ask with the immediate “Searching…” text after the job is enqueued", async () => {
    const before = queued().length;
    const triggerId = newTriggerId();
    const res = await slack.command(
      commandForm(whoIn(team, ASKER), {
        text: "how many vacation days?",
        channel: CHANNEL,
        responseUrl: fake.responseUrl(),
        triggerId,
      }),
    );
    const messages = queued();
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      response_type: "ephemeral",
      text: expect.stringMatching(/^:mag: Searching your documents for “how many vacation days\?”/),
    });
    expect(stack.proxies.dynamodb.injected() - faultsBefore).toBe(2);
    expect(messages.length).toBe(before + 1);
    expect(await jobRecord(`slack:command:${triggerId}`)).toMatchObject({ type: "answer", status: "queued" });
  });
});
