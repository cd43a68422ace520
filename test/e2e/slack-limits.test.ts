import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack, type FakeTeam, nextTs } from "../support/fake-slack.js";
import { newOrganisation, waitForDocument } from "../support/server.js";
import { commandForm, mentionEnvelope, messageEnvelope } from "../support/slack.js";
import { linkOverHttp, type SlackHarness, startSlackHarness, waitForReply, whoIn } from "../support/slack-harness.js";

const handbook = readFileSync(
  new URL("../../examples/documents/northwind-employee-handbook.md", import.meta.url),
  "utf8",
);
const QUESTION = "What paid vacation do full-time employees receive per calendar year?";

let h: SlackHarness;
let team: FakeTeam;
let org: Awaited<ReturnType<typeof newOrganisation>>;

beforeAll(async () => {
  h = await startSlackHarness(
    (fake) => {
      // U0LIMIT01 is a Slack workspace admin, so they can link the workspace.
      team = fake.addTeam({
        id: "T0LIMITS1",
        name: "Limits",
        users: [{ id: "U0LIMIT01", name: "admin", isAdmin: true }],
      });
      return { SLACK_BOT_TOKEN: team.botToken };
    },
    { RATE_LIMIT_USER_PER_MINUTE: "2", RATE_LIMIT_TENANT_PER_MINUTE: "5" },
  );
  org = await newOrganisation(h.server.url, "Limits");
  const upload = await org.client.upload("handbook.md", handbook, "text/markdown");
  await waitForDocument(org.client, upload.json.document.id);
  await linkOverHttp(h, whoIn(team, "U0LIMIT01"), org.client);
});

afterAll(async () => {
  await h?.stop();
});

async function command(user: string, text: string) {
  const responseUrl = h.fake.responseUrl();
  await h.slack.command(commandForm(whoIn(team, user), { text, channel: "C0LIMITS1", responseUrl }));
  return (await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 15_000, "reply")).body;
}

describe("rate limits", () => {
  it("answers a user over their per-minute limit politely, and then the tenant over its limit", async () => {
    expect(FakeSlack.textOf(await command("U0LIMIT01", QUESTION))).toContain("27 days");
    expect(FakeSlack.textOf(await command("U0LIMIT01", QUESTION))).toContain("27 days");
    const third = await command("U0LIMIT01", QUESTION);
    expect(third.text).toMatch(
      /^:raised_hand: You're asking more questions than I can take right now\. Please try again in \d+ seconds?\.$/,
    );
    // Other users still get answers until the tenant's limit (5 a minute) is used up.
    expect(FakeSlack.textOf(await command("U0LIMIT02", QUESTION))).toContain("27 days");
    expect(FakeSlack.textOf(await command("U0LIMIT03", QUESTION))).toContain("27 days");
    expect(FakeSlack.textOf(await command("U0LIMIT04", QUESTION))).toContain("27 days");
    expect((await command("U0LIMIT05", QUESTION)).text).toMatch(/Your organisation is asking more questions/);
    // Refused questions are not answered, so not audited.
    expect((await org.client.call("GET", "/api/audit?limit=50")).json.records).toHaveLength(5);
  });
});

describe("Slack's own rate limits", () => {
  it("waits for Retry-After when the Web API answers 429, then posts", async () => {
    h.server.container.rateLimiter.take = async () => ({ ok: true });
    // The answer's first post is the start of its stream.
    h.fake.failNext("chat.startStream", { status: 429, retryAfter: 1 });
    const ts = nextTs();
    await h.slack.event(
      mentionEnvelope(whoIn(team, "U0LIMIT09"), { channel: "C0LIMITS1", text: `<@${team.botUserId}> ${QUESTION}`, ts }),
    );
    await waitForReply(h.fake, { channel: "C0LIMITS1", threadTs: ts }, "27 days", 20_000);
    const attempts = h.fake.callsTo("chat.startStream").filter((c) => c.params.thread_ts === ts);
    expect(attempts).toHaveLength(2);
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
    // One answer: the retry did not double anything.
    expect(h.fake.messages.filter((m) => m.threadTs === ts)).toHaveLength(1);
  });

  it("waits for Retry-After on a response_url too", async () => {
    h.fake.failNext("response_url", { status: 429, retryAfter: 1 });
    const started = Date.now();
    const body = await command("U0LIMIT10", QUESTION);
    expect(FakeSlack.textOf(body)).toContain("27 days");
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });
});

describe("questions too long to answer", () => {
  const audited = async () => (await org.client.call("GET", "/api/audit?limit=200")).json.records.length as number;
  /** The private notice to `user` in `channel` saying the question is too long. */
  const tooLong = (channel: string, user: string) =>
    h.fake.waitFor(
      () =>
        h.fake
          .callsTo("chat.postEphemeral")
          .find(
            (c) =>
              c.params.channel === channel && c.params.user === user && /too long/.test(FakeSlack.textOf(c.params)),
          ),
      15_000,
      `too-long notice in ${channel}`,
    );
  /** Nothing but notices in the conversation: no placeholder, no stream, no answer. */
  const nothingPostedIn = (channel: string) => {
    expect(h.fake.messages.filter((m) => m.channel === channel)).toEqual([]);
    expect(
      h.fake.calls.filter(
        (c) => c.method.startsWith("chat.") && c.method !== "chat.postEphemeral" && c.params.channel === channel,
      ),
    ).toEqual([]);
  };

  it("tells a DM of 45,000 characters that it is too long, with its length, and answers nothing", async () => {
    const before = await audited();
    const text = "How many vacation days do I get? ".repeat(1400).slice(0, 45_000);
    expect(text).toHaveLength(45_000);
    const res = await h.slack.event(
      messageEnvelope(whoIn(team, "U0LIMIT21"), { channel: "D0LIMIT21", text, ts: nextTs() }),
    );
    expect(res.status).toBe(200);
    const notice = await tooLong("D0LIMIT21", "U0LIMIT21");
    expect(FakeSlack.textOf(notice.params)).toContain(
      "Your question is too long (45000 characters). Keep it under 2000.",
    );
    nothingPostedIn("D0LIMIT21");
    expect(await audited()).toBe(before);
  });

  it("tells a mention of 45,000 characters and an /ask of 45,000 characters the same", async () => {
    const before = await audited();
    const text = `<@${team.botUserId}> ${"x".repeat(45_000)}`;
    const ts = nextTs();
    const res = await h.slack.event(mentionEnvelope(whoIn(team, "U0LIMIT22"), { channel: "C0LIMITS2", text, ts }));
    expect(res.status).toBe(200);
    const notice = await tooLong("C0LIMITS2", "U0LIMIT22");
    expect(notice.params.thread_ts).toBe(ts);
    expect(FakeSlack.textOf(notice.params)).toContain(`Your question is too long (${text.length} characters).`);
    nothingPostedIn("C0LIMITS2");

    const body = await command("U0LIMIT23", "y".repeat(45_000));
    expect(body).toMatchObject({ response_type: "ephemeral" });
    expect(FakeSlack.textOf(body)).toContain("Your question is too long (45000 characters). Keep it under 2000.");
    expect(await audited()).toBe(before);
  });

  it("tells a DM of 2,500 characters (over the question limit, under Slack's) that it is too long", async () => {
    const before = await audited();
    const res = await h.slack.event(
      messageEnvelope(whoIn(team, "U0LIMIT24"), { channel: "D0LIMIT24", text: "z".repeat(2500), ts: nextTs() }),
    );
    expect(res.status).toBe(200);
    const notice = await tooLong("D0LIMIT24", "U0LIMIT24");
    expect(FakeSlack.textOf(notice.params)).toContain(
      "Your question is too long (2500 characters). Keep it under 2000.",
    );
    nothingPostedIn("D0LIMIT24");
    expect(await audited()).toBe(before);
  });
});
