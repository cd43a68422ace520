import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import { type FakeTeam, nextTs } from "../support/fake-slack.js";
import { newOrganisation, waitForDocument } from "../support/server.js";
import { commandForm, mentionEnvelope } from "../support/slack.js";
import {
  linkUrlIn,
  SIGNING_SECRET,
  type SlackHarness,
  settle,
  startSlackHarness,
  tokenOf,
  waitForReply,
  whoIn,
} from "../support/slack-harness.js";

// LOG_LEVEL=debug: Bolt, the Web API client and our own services log everything they log at debug.
// Whatever they log, an operator reading the lines must not read the documents, the messages or a
// live link token (which would let them link the workspace to their own organisation).

const SENTENCE = "Zephyrine badge holders receive eleven amber vouchers every solstice.";
const ANSWER_FRAGMENT = "eleven amber vouchers";
const THREAD_TEXT = "Quokka marmalade is the thread's private remark.";
const CHANNEL = "C0LOGGING1";
const ADMIN = "U0LOGADMN";

let h: SlackHarness;
let team: FakeTeam;
let org: Awaited<ReturnType<typeof newOrganisation>>;
let linkToken: string;
const lines: string[] = [];

beforeAll(async () => {
  const logger = new JsonLogger("debug", {}, (line) => lines.push(line));
  h = await startSlackHarness(
    (fake) => {
      team = fake.addTeam({
        id: "T0LOGGING",
        name: "Logging Slack",
        users: [{ id: ADMIN, name: "boss", isAdmin: true }],
      });
      return { SLACK_BOT_TOKEN: team.botToken };
    },
    { LOG_LEVEL: "debug" },
    { logger },
  );
  org = await newOrganisation(h.server.url, "Logging Org");
});

afterAll(async () => {
  await h?.stop();
});

describe("debug logs of the Slack surface", () => {
  it("hold ids but no document text, message text, link token, bot token or signing secret", async () => {
    const who = whoIn(team, ADMIN);

    // Unlinked: the bot hands the admin a one-time link button (chat.postEphemeral, a live token).
    const first = nextTs();
    await h.slack.event(mentionEnvelope(who, { channel: CHANNEL, text: `<@${team.botUserId}> hello?`, ts: first }));
    const notice = await h.fake.waitFor(() => h.fake.callsTo("chat.postEphemeral").at(-1), 10_000, "link notice");
    const url = linkUrlIn(notice.params);
    expect(url).toMatch(/\/link\?token=/);
    linkToken = tokenOf(url ?? "");

    // `/ask link`, acknowledged and answered with another link button.
    const responseUrl = h.fake.responseUrl();
    await h.slack.command(commandForm(who, { text: "link", channel: CHANNEL, responseUrl }));
    await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 10_000, "link reply");

    const linked = await org.client.call("POST", "/api/links", { token: linkToken });
    expect(linked.status, JSON.stringify(linked.json)).toBe(201);

    const upload = await org.client.upload("Badges.md", `# Badges\n\n${SENTENCE}\n`, "text/markdown");
    await waitForDocument(org.client, upload.json.document.id);

    // A follow-up in a thread: the bot reads the thread back (conversations.replies) and quotes the document.
    const root = h.fake.addUserMessage(team.id, { channel: CHANNEL, user: ADMIN, text: THREAD_TEXT });
    await h.slack.event(
      mentionEnvelope(who, {
        channel: CHANNEL,
        text: `<@${team.botUserId}> What do Zephyrine badge holders receive?`,
        ts: nextTs(),
        threadTs: root.ts,
      }),
    );
    await waitForReply(h.fake, { channel: CHANNEL, threadTs: root.ts }, ANSWER_FRAGMENT);
    expect(h.fake.callsTo("conversations.replies").length).toBeGreaterThan(0);
    await settle(h);

    const debug = lines.filter((l) => JSON.parse(l).level === "debug");
    // The libraries did log their payloads: the test reads real debug output, not silence.
    const bodies = debug.filter((l) => l.includes("http request body: {"));
    expect(bodies.length).toBeGreaterThan(3);
    expect(debug.some((l) => l.includes("http request result: {"))).toBe(true);
    // …with their ids kept for debugging.
    expect(bodies.some((l) => l.includes(CHANNEL))).toBe(true);
    expect(lines.some((l) => l.includes(team.id))).toBe(true);

    const all = lines.join("\n");
    for (const secret of [
      ANSWER_FRAGMENT,
      "Zephyrine",
      "Quokka marmalade",
      linkToken,
      encodeURIComponent(linkToken),
      linkToken.split(".")[2] ?? linkToken,
      team.botToken,
      "xoxb-",
      SIGNING_SECRET,
    ]) {
      expect(all.includes(secret), `a log line holds ${secret}`).toBe(false);
    }
  });
});
