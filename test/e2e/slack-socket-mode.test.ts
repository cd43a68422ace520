import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, slackMode } from "../../src/config/config.js";
import { FakeSlack, type FakeTeam, nextTs } from "../support/fake-slack.js";
import { workspaceLinkToken } from "../support/link-tokens.js";
import { newOrganisation, startTestServer, type TestServer, waitForDocument } from "../support/server.js";
import { blockAction, commandForm, mentionEnvelope } from "../support/slack.js";
import { breakableQueue, PUBLIC_URL, waitForReply, whoIn } from "../support/slack-harness.js";

const handbook = readFileSync(
  new URL("../../examples/documents/northwind-employee-handbook.md", import.meta.url),
  "utf8",
);
const QUESTION = "What paid vacation do full-time employees receive per calendar year?";

describe("choosing the connection mode", () => {
  it("uses Socket Mode when SLACK_APP_TOKEN is set, HTTP otherwise, and is off without Slack settings", () => {
    expect(slackMode(loadConfig({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_APP_TOKEN: "xapp-1" }))).toBe("socket");
    expect(slackMode(loadConfig({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_SIGNING_SECRET: "s" }))).toBe("http");
    expect(
      slackMode(
        loadConfig({
          SLACK_CLIENT_ID: "1",
          SLACK_CLIENT_SECRET: "2",
          SLACK_STATE_SECRET: "3",
          SLACK_SIGNING_SECRET: "s",
        }),
      ),
    ).toBe("http");
    expect(slackMode(loadConfig({}))).toBe("off");
    expect(() => loadConfig({ SLACK_BOT_TOKEN: "xoxb-1" })).toThrow(/SLACK_SIGNING_SECRET/);
  });

  it("starts without Slack settings (Slack off) and has no /slack/events then", async () => {
    const server = await startTestServer();
    try {
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      expect((await fetch(`${server.url}/slack/events`, { method: "POST", body: "{}" })).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});

describe("Socket Mode against a fake Slack", () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let server: TestServer;
  let org: Awaited<ReturnType<typeof newOrganisation>>;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ id: "T0SOCKET1", name: "Socketeers" });
    server = await startTestServer({
      SLACK_APP_TOKEN: fake.appToken,
      SLACK_BOT_TOKEN: team.botToken,
      SLACK_API_URL: fake.apiUrl,
      PUBLIC_URL,
    });
    org = await newOrganisation(server.url, "Socketeers");
    const upload = await org.client.upload("handbook.md", handbook, "text/markdown");
    await waitForDocument(org.client, upload.json.document.id);
    const { token } = await workspaceLinkToken(server.container, { teamId: team.id, slackUserId: "U0SOCK001" });
    expect((await org.client.call("POST", "/api/links", { token })).status).toBe(201);
  });

  afterAll(async () => {
    await server?.stop();
    await fake?.stop();
  });

  it("connects with the app token, and serves no HTTP events endpoint", async () => {
    expect(fake.callsTo("apps.connections.open")).toHaveLength(1);
    expect(fake.socket.connected).toBe(true);
    expect((await fetch(`${server.url}/slack/events`, { method: "POST", body: "{}" })).status).toBe(404);
  });

  it("acknowledges an event envelope at once, answers it once, and drops its redelivery", async () => {
    const ts = nextTs();
    const event = mentionEnvelope(whoIn(team, "U0SOCK001"), {
      channel: "C0SOCKET1",
      text: `<@${team.botUserId}> ${QUESTION}`,
      ts,
    });
    const sentAt = Date.now();
    const first = fake.socket.send({ type: "events_api", payload: event, retry_attempt: 0, retry_reason: "" });
    const ack = await fake.waitFor(() => fake.socket.ackFor(first), 5000, "ack");
    expect(ack.at - sentAt).toBeLessThan(2500);
    // Slack redelivers the same event in a new envelope when it thinks the ack was late.
    const second = fake.socket.send({ type: "events_api", payload: event, retry_attempt: 1, retry_reason: "timeout" });
    await fake.waitFor(() => fake.socket.ackFor(second), 5000, "second ack");
    await waitForReply(fake, { channel: "C0SOCKET1", threadTs: ts }, "27 days");
    await server.container.runner.drain(10_000);
    expect(fake.botMessages("C0SOCKET1", ts)).toHaveLength(1);
    expect((await org.client.call("GET", "/api/audit?limit=50")).json.records).toHaveLength(1);
  });

  it("does not acknowledge an envelope whose job could not be stored, and answers the redelivery once", async () => {
    const queue = breakableQueue(server.container.queue);
    const ts = nextTs();
    const event = mentionEnvelope(whoIn(team, "U0SOCK003"), {
      channel: "C0SOCKET1",
      text: `<@${team.botUserId}> ${QUESTION}`,
      ts,
    });
    queue.down();
    const first = fake.socket.send({ type: "events_api", payload: event, retry_attempt: 0, retry_reason: "" });
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.socket.ackFor(first)).toBeUndefined();
    queue.up();
    // Unacknowledged, Slack sends the event again.
    const second = fake.socket.send({ type: "events_api", payload: event, retry_attempt: 1, retry_reason: "timeout" });
    await fake.waitFor(() => fake.socket.ackFor(second), 5000, "ack of the redelivery");
    await waitForReply(fake, { channel: "C0SOCKET1", threadTs: ts });
    await server.container.runner.drain(10_000);
    expect(fake.botMessages("C0SOCKET1", ts)).toHaveLength(1);
  });

  it("answers /ask through the socket: the ack carries the progress message, the answer goes to response_url", async () => {
    const responseUrl = fake.responseUrl();
    const form = commandForm(whoIn(team, "U0SOCK002"), { text: QUESTION, channel: "C0SOCKET1", responseUrl });
    const id = fake.socket.send({ type: "slash_commands", payload: Object.fromEntries(form) });
    const ack = await fake.waitFor(() => fake.socket.ackFor(id), 5000, "command ack");
    expect(ack.payload).toMatchObject({ response_type: "ephemeral" });
    expect(JSON.stringify(ack.payload)).toMatch(/Searching/);
    const reply = await fake.waitFor(() => fake.responsesTo(responseUrl)[0], 15_000, "answer");
    expect(FakeSlack.textOf(reply.body)).toContain("27 days");

    const auditId = reply.body.blocks.find((b: any) => b.type === "actions").elements[0].value;
    const feedbackUrl = fake.responseUrl();
    const click = fake.socket.send({
      type: "interactive",
      payload: blockAction(whoIn(team, "U0SOCK002"), {
        actionId: "enclave_feedback_up",
        value: auditId,
        channel: "C0SOCKET1",
        responseUrl: feedbackUrl,
      }),
    });
    await fake.waitFor(() => fake.socket.ackFor(click), 5000, "action ack");
    await fake.waitFor(() => fake.responsesTo(feedbackUrl)[0], 10_000, "thanks");
    expect((await org.client.call("GET", `/api/audit/${auditId}`)).json.feedback).toMatchObject({ value: "up" });
  });
});
