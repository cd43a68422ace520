import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack, type FakeTeam, nextTs } from "../support/fake-slack.js";
import { newOrganisation, waitForDocument } from "../support/server.js";
import { commandForm, mentionEnvelope } from "../support/slack.js";
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
