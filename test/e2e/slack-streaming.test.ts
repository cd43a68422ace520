import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { AskInput, AskProgress, AskResult } from "../../src/services/answer-question.js";
import { FakeSlack, type FakeTeam, nextTs, type RecordedCall } from "../support/fake-slack.js";
import { workspaceLinkToken } from "../support/link-tokens.js";
import { newOrganisation, waitForDocument } from "../support/server.js";
import { commandForm, mentionEnvelope, messageEnvelope } from "../support/slack.js";
import {
  PLACEHOLDER,
  replyIn,
  type SlackHarness,
  settle,
  startSlackHarness,
  visible,
  waitForReply,
  whoIn,
} from "../support/slack-harness.js";

/**
 * Answers stream into Slack (mentions and DMs): the assistant status while the documents are searched,
 * chat.startStream in the question's thread, chat.appendStream as the answer grows, chat.stopStream with
 * the note, the numbered sources and the feedback buttons. Where Slack refuses to stream, the answer
 * comes as before: a placeholder that the whole answer replaces. /ask still answers privately. Through
 * signed requests into the real Bolt app and the fake Slack; on the AWS shape too (`.aws.test.ts`).
 */
const AWS = process.env.ENCLAVE_TEST_SHAPE === "aws";
/** On AWS, Bedrock Converse (the scripted model) writes the answer; embedded, the extractive answerer. */
const SHAPE_ENV: Record<string, string> = AWS ? { CHAT_MODEL: "bedrock" } : {};

// The first sentence is the answer: over 512 characters, so that the scripted Bedrock model, which
// writes it word by word, streams it in three calls (the client sends 256 characters at a time). The
// extractive answerer hands over whole sentences, so its answer may come in one. One passage.
const GUIDE = [
  "# Relocation guide",
  "",
  [
    "Employees relocating abroad for a new assignment receive relocation support that covers economy flights for the whole family, up to three months of furnished temporary housing close to the new office, a shipping allowance of twelve cubic metres for furniture and belongings, language lessons for the household during the first year, help with visas and work permits from the mobility team, and a one-off relocation payment of 4,000 euros for everything else that moving abroad costs employees and their partners, children and pets in the first months.",
    "Relocation support also includes two paid days off for the move itself.",
  ].join(" "),
].join("\n");
const QUESTION = "What relocation support do employees relocating abroad receive?";
const NO_MODEL_NOTE = /No language model is configured, so this answer quotes/;

let h: SlackHarness;
let team: FakeTeam;
let org: Awaited<ReturnType<typeof newOrganisation>>;
const CHANNEL = "C0STREAM1";
const ASKER = "U0STREAM1";
const DM = "D0STREAM9";

beforeAll(async () => {
  h = await startSlackHarness((fake) => {
    team = fake.addTeam({ id: "T0STREAM1", name: "Streaming Slack", users: [{ id: ASKER, name: "asker" }] });
    return { SLACK_BOT_TOKEN: team.botToken };
  }, SHAPE_ENV);
  org = await newOrganisation(h.server.url, "Northwind");
  const upload = await org.client.upload("Relocation Guide.md", GUIDE, "text/markdown");
  expect((await waitForDocument(org.client, upload.json.document.id)).status).toBe("ready");
  const { token } = await workspaceLinkToken(h.server.container, { teamId: team.id, slackUserId: ASKER });
  expect((await org.client.call("POST", "/api/links", { token })).status).toBe(201);
});

afterAll(async () => {
  await h?.stop();
});

afterEach(() => {
  h.fake.allow("chat.startStream");
  vi.restoreAllMocks();
});

const audit = async () => (await org.client.call("GET", "/api/audit?limit=200")).json.records as any[];
const asker = () => whoIn(team, ASKER);

async function mention(question = QUESTION, channel = CHANNEL): Promise<string> {
  const ts = nextTs();
  h.fake.addUserMessage(team.id, { channel, user: ASKER, text: `<@${team.botUserId}> ${question}`, ts });
  const res = await h.slack.event(mentionEnvelope(asker(), { channel, text: `<@${team.botUserId}> ${question}`, ts }));
  expect(res.status).toBe(200);
  return ts;
}

/** The stream calls of the message that chat.startStream created in `threadTs`. */
function streamOf(channel: string, threadTs: string) {
  const start = h.fake
    .callsTo("chat.startStream")
    .find((c) => c.params.channel === channel && c.params.thread_ts === threadTs && c.result?.ts);
  const ts = start?.result?.ts as string | undefined;
  const of = (method: string) => h.fake.callsTo(method).filter((c) => ts && c.params.ts === ts);
  return { start, ts, appends: of("chat.appendStream"), stop: of("chat.stopStream")[0] };
}

const actionsOf = (blocks: unknown[] | undefined) =>
  (blocks as any[] | undefined)?.find((b) => b.type === "actions") as
    | { elements: { action_id: string; value: string }[] }
    | undefined;

/** The markdown a stream call carried (not its blocks). */
function markdownOf(call: RecordedCall | undefined): string {
  const chunks = (call?.params.chunks ?? []) as { type: string; text?: string }[];
  const texts = chunks.filter((c) => c.type === "markdown_text").map((c) => c.text ?? "");
  return `${call?.params.markdown_text ?? ""}${texts.join("")}`;
}

describe("a channel mention", () => {
  it("shows the status, streams the answer into the thread in several calls, and ends with the sources and buttons", async () => {
    const ts = await mention();
    const message = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, "relocation payment", 20_000);
    await settle(h);
    const { start, appends, stop } = streamOf(CHANNEL, ts);

    // The status first, in the question's thread; then the stream, to the asker.
    const status = h.fake.callsTo("assistant.threads.setStatus").find((c) => c.params.thread_ts === ts);
    expect(status?.params).toMatchObject({ channel_id: CHANNEL, thread_ts: ts, status: "Searching your documents…" });
    expect(start?.params).toMatchObject({
      channel: CHANNEL,
      thread_ts: ts,
      recipient_user_id: ASKER,
      recipient_team_id: team.id,
    });
    expect(h.fake.calls.indexOf(status as RecordedCall)).toBeLessThan(h.fake.calls.indexOf(start as RecordedCall));
    // The text grows over several calls, each carrying a part of it.
    // The text comes over the stream's calls, growing with each (on AWS the model writes word by word).
    const carrying = [start, ...appends, stop].filter((c) => markdownOf(c).length > 0);
    expect(carrying.length).toBeGreaterThanOrEqual(AWS ? 3 : 1);
    if (AWS) expect(appends.length).toBeGreaterThanOrEqual(1);
    expect(stop).toBeDefined();

    // The finished message: the answer as audited, the numbered sources, 👍/👎 carrying the audit id.
    const actions = actionsOf(stop?.params.blocks);
    expect(actions?.elements.map((e) => e.action_id)).toEqual(["enclave_feedback_up", "enclave_feedback_down"]);
    const auditId = actions?.elements[0]?.value;
    expect(actions?.elements[1]?.value).toBe(auditId);
    const record = (await audit()).find((r) => r.id === auditId);
    expect(record).toMatchObject({
      surface: "slack_mention",
      outcome: "answered",
      slack: { team_id: team.id, channel_id: CHANNEL, thread_ts: ts },
    });
    expect(visible(message.stream?.markdown ?? "")).toBe(record.answer);
    expect(record.answer).toMatch(/\[1\]/);
    const footer = FakeSlack.textOf({ blocks: stop?.params.blocks });
    expect(footer).toMatch(/\*\[1\]\* \*Relocation Guide\*, page 1/);

    // Exactly one answer: one message in the thread, never a placeholder, never an update.
    expect(h.fake.botMessages(CHANNEL, ts)).toHaveLength(1);
    expect(h.fake.callsTo("chat.postMessage").filter((c) => c.params.thread_ts === ts)).toHaveLength(0);
    expect(h.fake.callsTo("chat.update").filter((c) => c.params.ts === message.ts)).toHaveLength(0);
    expect((await audit()).filter((r) => r.slack?.thread_ts === ts)).toHaveLength(1);
  });

  it("appends to the stream as a model writes, 256 characters at a time, and ends with what is left", async () => {
    const answer = Array.from(
      { length: 24 },
      (_, i) => `Relocation support item ${i + 1} covers part of the move [1].`,
    ).join(" ");
    vi.spyOn(h.server.container.services.answers, "ask").mockImplementationOnce(
      async (_input: AskInput, progress?: AskProgress) => {
        progress?.onSearching?.();
        for (const word of answer.split(/(?<= )/)) {
          progress?.onText?.(word);
          await new Promise((r) => setTimeout(r, 2));
        }
        return { answer, sources: [], outcome: "answered", auditId: "a-words-0001", model: "test", latencyMs: 1 };
      },
    );
    const ts = await mention();
    const message = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, "item 24");
    await settle(h);
    const { start, appends, stop } = streamOf(CHANNEL, ts);
    expect(appends.length).toBeGreaterThanOrEqual(2);
    for (const call of [start, ...appends]) expect(markdownOf(call).length).toBeGreaterThanOrEqual(256);
    expect(markdownOf(stop).length).toBeLessThan(256);
    expect([start, ...appends, stop].map(markdownOf).join("")).toBe(message.stream?.markdown);
    expect(visible(message.stream?.markdown ?? "")).toBe(answer);
  });

  it("puts the no-model note under the answer as a context line, before the sources", async () => {
    const ts = await mention();
    await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, "relocation payment", 20_000);
    const blocks = (streamOf(CHANNEL, ts).stop?.params.blocks ?? []) as any[];
    if (AWS) {
      // A language model wrote it: no note.
      expect(FakeSlack.textOf({ blocks })).not.toMatch(NO_MODEL_NOTE);
      return;
    }
    expect(blocks[0]).toMatchObject({
      type: "context",
      elements: [{ type: "mrkdwn", text: expect.stringMatching(NO_MODEL_NOTE) }],
    });
    expect(blocks[1]).toMatchObject({ type: "divider" });
  });

  it("answers a question nothing covers with the reason, streamed, and the buttons", async () => {
    const ts = await mention("How do I feed the office zebras on Tuesdays?");
    const message = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, /couldn't find anything/);
    const { stop } = streamOf(CHANNEL, ts);
    expect(actionsOf(stop?.params.blocks)).toBeDefined();
    const record = (await audit()).find((r) => r.id === actionsOf(stop?.params.blocks)?.elements[0]?.value);
    expect(record.outcome).toBe("no_context");
    expect(visible(message.stream?.markdown ?? "")).toBe(record.answer);
  });
});

describe("a DM", () => {
  it("streams the answer in a thread of the DM's message", async () => {
    const ts = nextTs();
    const res = await h.slack.event(messageEnvelope(asker(), { channel: DM, text: QUESTION, ts }));
    expect(res.status).toBe(200);
    const message = await waitForReply(h.fake, { channel: DM, threadTs: ts }, "relocation payment", 20_000);
    const { start, stop } = streamOf(DM, ts);
    expect(start?.params).toMatchObject({ channel: DM, thread_ts: ts, recipient_user_id: ASKER });
    const auditId = actionsOf(stop?.params.blocks)?.elements[0]?.value;
    const record = (await audit()).find((r) => r.id === auditId);
    expect(record).toMatchObject({ surface: "slack_dm", slack: { channel_id: DM, thread_ts: ts } });
    expect(visible(message.stream?.markdown ?? "")).toBe(record.answer);
    // Nothing at the DM's top level.
    expect(h.fake.botMessages(DM, undefined)).toHaveLength(0);
  });
});

describe("where Slack refuses to stream", () => {
  it("posts the placeholder and replaces it with the whole answer, sources and buttons", async () => {
    h.fake.refuse("chat.startStream", "not_allowed");
    const ts = await mention();
    const message = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, "relocation payment", 20_000);
    await settle(h);
    const placeholder = h.fake.callsTo("chat.postMessage").find((c) => c.params.thread_ts === ts);
    expect(placeholder?.params.text).toMatch(PLACEHOLDER);
    const update = h.fake.callsTo("chat.update").find((c) => c.params.ts === placeholder?.result?.ts);
    expect(update).toBeDefined();
    expect(message.ts).toBe(placeholder?.result?.ts);
    const text = FakeSlack.textOf(update?.params ?? {});
    expect(text).toMatch(/\*\[1\]\* \*Relocation Guide\*, page 1/);
    const actions = actionsOf(update?.params.blocks);
    expect(actions?.elements.map((e) => e.action_id)).toEqual(["enclave_feedback_up", "enclave_feedback_down"]);
    const record = (await audit()).find((r) => r.id === actions?.elements[0]?.value);
    expect(text).toContain(record.answer.split("\n")[0].replace(/&/g, "&amp;"));
    if (!AWS) {
      // The note follows the answer's sections, before the sources.
      const blocks = update?.params.blocks as any[];
      const note = blocks.findIndex((b) => b.type === "context" && NO_MODEL_NOTE.test(b.elements[0].text));
      expect(note).toBeGreaterThan(0);
      expect(blocks[note - 1].type).toBe("section");
      expect(blocks[note + 1].type).toBe("divider");
    }
    expect(h.fake.botMessages(CHANNEL, ts)).toHaveLength(1);
    expect(streamOf(CHANNEL, ts).ts).toBeUndefined();
  });

  it("posts a short answer at once, where the DM answered before streaming", async () => {
    h.fake.refuse("chat.startStream", "method_not_supported_for_channel_type", (p) => p.channel === DM);
    const ts = nextTs();
    await h.slack.event(messageEnvelope(asker(), { channel: DM, text: "How do I feed the office zebras?", ts }));
    const message = await waitForReply(h.fake, { channel: DM, threadTs: undefined }, /couldn't find anything/);
    await settle(h);
    expect(actionsOf(message.blocks)).toBeDefined();
    // No placeholder was needed: the refusal came when the whole answer was known.
    expect(
      h.fake.callsTo("chat.postMessage").filter((c) => c.params.channel === DM && PLACEHOLDER.test(c.params.text)),
    ).toHaveLength(0);
    expect(h.fake.botMessages(DM, ts)).toHaveLength(0);
  });
});

describe("when answering fails", () => {
  /** `ask` that streams `streamed` through the surface's progress, then `end`s (a result, or a throw). */
  function askThat(streamed: string, end: () => Promise<AskResult>) {
    return vi
      .spyOn(h.server.container.services.answers, "ask")
      .mockImplementationOnce(async (_input: AskInput, progress?: AskProgress) => {
        progress?.onSearching?.();
        for (const word of streamed.split(/(?<= )/)) progress?.onText?.(word);
        await new Promise((r) => setTimeout(r, 200));
        return end();
      });
  }

  it("ends a stream cut short with a warning, then replaces it with the reason", async () => {
    askThat("Relocation support covers flights, housing and shipping, ".repeat(8), async () => {
      throw new Error("database on fire");
    });
    const ts = await mention();
    const message = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, /went wrong/);
    await settle(h);
    const { ts: streamTs, stop } = streamOf(CHANNEL, ts);
    expect(streamTs).toBe(message.ts);
    expect(markdownOf(stop)).toMatch(/⚠️/);
    const update = h.fake.callsTo("chat.update").find((c) => c.params.ts === streamTs);
    expect(update?.params.text).toMatch(/:warning: Something went wrong on my side/);
    expect(visible(FakeSlack.textOf(message))).not.toMatch(/fire|flights/);
    expect(h.fake.botMessages(CHANNEL, ts)).toHaveLength(1);
  });

  it("replaces what was streamed when the final answer differs from it", async () => {
    const auditId = "a-final-0001";
    askThat("The model began to say something about relocation that it never finished, ".repeat(6), async () => ({
      answer: "The language model is unavailable right now, so I can't answer.",
      sources: [],
      outcome: "model_unavailable",
      auditId,
      model: "test",
      latencyMs: 1,
    }));
    const ts = await mention();
    const message = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, /unavailable right now/);
    await settle(h);
    const { ts: streamTs } = streamOf(CHANNEL, ts);
    expect(message.ts).toBe(streamTs);
    expect(visible(FakeSlack.textOf(message))).not.toMatch(/never finished/);
    expect(actionsOf(message.blocks)?.elements[0]?.value).toBe(auditId);
    expect(h.fake.botMessages(CHANNEL, ts)).toHaveLength(1);
  });
});

describe("streamed text", () => {
  it("cannot mention anyone or become a link, and reads as written", async () => {
    const hostile =
      "Ping <!channel> and <!here> and <@U0STREAM1>, open <https://evil.example|the policy> or [the policy](https://evil.example) or ![x](https://evil.example/x.png) [1]: https://evil.example &lt;!everyone&gt; ";
    const answer = `${hostile.repeat(3).trim()}`;
    vi.spyOn(h.server.container.services.answers, "ask").mockImplementationOnce(
      async (_input: AskInput, progress?: AskProgress) => {
        // Cut anywhere, even inside a sequence.
        for (let i = 0; i < answer.length; i += 7) progress?.onText?.(answer.slice(i, i + 7));
        return { answer, sources: [], outcome: "answered", auditId: "a-hostile-01", model: "test", latencyMs: 1 };
      },
    );
    const ts = await mention();
    const message = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, "Ping");
    const markdown = message.stream?.markdown ?? "";
    for (const inert of ["<!channel>", "<!here>", "<@U", "<https:", "](", "]:", "&lt;", "://"])
      expect(markdown).not.toContain(inert);
    expect(visible(markdown)).toBe(answer);
  });
});

describe("long answers", () => {
  it("posts what does not fit in the stopped stream's 50 blocks below it, the buttons last", async () => {
    const sources = Array.from({ length: 60 }, (_, i) => ({
      n: i + 1,
      documentId: `d${i}`,
      title: `Policy ${i + 1}`,
      page: 1,
      snippet: "",
      score: 1,
    }));
    vi.spyOn(h.server.container.services.answers, "ask").mockImplementationOnce(
      async (_input: AskInput, progress?: AskProgress) => {
        progress?.onText?.("Many policies apply [1].");
        return {
          answer: "Many policies apply [1].",
          sources,
          outcome: "answered",
          auditId: "a-long-0001",
          model: "m",
          latencyMs: 1,
        };
      },
    );
    const ts = await mention();
    await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, "Many policies");
    await settle(h);
    const { stop } = streamOf(CHANNEL, ts);
    expect(((stop?.params.blocks ?? []) as unknown[]).length).toBeLessThanOrEqual(50);
    expect(actionsOf(stop?.params.blocks)).toBeUndefined();
    const more = h.fake.callsTo("chat.postMessage").filter((c) => c.params.thread_ts === ts);
    expect(more).toHaveLength(1);
    expect(FakeSlack.textOf({ blocks: more[0]?.params.blocks })).toContain("Policy 60");
    expect(actionsOf(more[0]?.params.blocks)?.elements[0]?.value).toBe("a-long-0001");
  });
});

describe("/ask", () => {
  it("still answers privately through response_url, with the note, and streams nothing", async () => {
    const streams = h.fake.callsTo("chat.startStream").length;
    const responseUrl = h.fake.responseUrl();
    const ack = await h.slack.command(commandForm(asker(), { text: QUESTION, channel: CHANNEL, responseUrl }));
    expect(ack.json.text).toMatch(/Searching/);
    const reply = await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 20_000, "answer");
    expect(reply.body).toMatchObject({ response_type: "ephemeral", replace_original: true });
    const text = FakeSlack.textOf(reply.body);
    expect(text).toContain("relocation payment");
    if (AWS) expect(text).not.toMatch(NO_MODEL_NOTE);
    else expect(text).toMatch(NO_MODEL_NOTE);
    await settle(h);
    expect(h.fake.callsTo("chat.startStream")).toHaveLength(streams);
    expect(replyIn(h.fake, { channel: CHANNEL, threadTs: undefined })).toBeUndefined();
  });
});
