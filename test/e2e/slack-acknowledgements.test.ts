import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FakeSlack, type FakeTeam, nextTs } from "../support/fake-slack.js";
import { workspaceLinkToken } from "../support/link-tokens.js";
import { newOrganisation, waitForDocument } from "../support/server.js";
import { mentionEnvelope } from "../support/slack.js";
import { type SlackHarness, startSlackHarness, waitForReply, whoIn } from "../support/slack-harness.js";

/**
 * The embedded worker answers on the event loop that acknowledges Slack: a delivery is marked in flight
 * until its acknowledgement is sent (no job starts meanwhile), and a burst of deliveries is acknowledged
 * and answered in full, each once.
 */
const handbook = readFileSync(
  new URL("../../examples/documents/northwind-employee-handbook.md", import.meta.url),
  "utf8",
);
const QUESTION = "What paid vacation do full-time employees receive per calendar year?";
const CHANNEL = "C0ACKS001";

let h: SlackHarness;
let team: FakeTeam;

beforeAll(async () => {
  h = await startSlackHarness(
    (fake) => {
      team = fake.addTeam({
        id: "T0ACKS001",
        name: "Acks",
        users: [{ id: "U0ACKADM1", name: "admin", isAdmin: true }],
      });
      return { SLACK_BOT_TOKEN: team.botToken };
    },
    { RATE_LIMIT_USER_PER_MINUTE: "1000", RATE_LIMIT_TENANT_PER_MINUTE: "1000" },
  );
  const org = await newOrganisation(h.server.url, "Northwind");
  const upload = await org.client.upload("handbook.md", handbook, "text/markdown");
  await waitForDocument(org.client, upload.json.document.id);
  const { token } = await workspaceLinkToken(h.server.container, { teamId: team.id, slackUserId: "U0ACKADM1" });
  expect((await org.client.call("POST", "/api/links", { token })).status).toBe(201);
});

afterAll(async () => {
  await h?.stop();
});

const mention = (user: string, ts: string) =>
  mentionEnvelope(whoIn(team, user), { channel: CHANNEL, text: `<@${team.botUserId}> ${QUESTION}`, ts });

describe("acknowledging Slack while the worker answers", () => {
  it("marks a delivery in flight from its arrival until it is acknowledged, and answers it afterwards", async () => {
    const foreground = h.server.container.foreground;
    if (!foreground) throw new Error("the embedded server tracks deliveries in flight");
    const begin = foreground.begin.bind(foreground);
    const order: string[] = [];
    const tracked = vi.spyOn(foreground, "begin").mockImplementation(() => {
      order.push("arrived");
      const done = begin();
      return () => {
        if (!order.includes("acknowledged")) order.push("acknowledged");
        done();
      };
    });
    const ask = h.server.container.services.answers.ask.bind(h.server.container.services.answers);
    const answering = vi.spyOn(h.server.container.services.answers, "ask").mockImplementation((...args) => {
      order.push("answering");
      return ask(...args);
    });
    try {
      const ts = nextTs();
      const ack = await h.slack.event(mention("U0ACKER01", ts));
      expect(ack.status).toBe(200);
      const reply = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, "27 days");
      expect(FakeSlack.textOf(reply)).toContain("27 days");
      expect(order).toEqual(["arrived", "acknowledged", "answering"]);
      expect(foreground.busy).toBe(false);
    } finally {
      tracked.mockRestore();
      answering.mockRestore();
    }
  });

  it("acknowledges 50 mentions sent at once and answers each of them once", async () => {
    const threads = Array.from({ length: 50 }, () => nextTs());
    const acks = await Promise.all(
      threads.map((ts, i) => h.slack.event(mention(`U0BURST${String(i).padStart(2, "0")}`, ts))),
    );
    expect(acks.map((a) => a.status)).toEqual(threads.map(() => 200));
    for (const ts of threads) await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, "27 days", 60_000);
    for (const ts of threads) expect(h.fake.botMessages(CHANNEL, ts)).toHaveLength(1);
  });
});
