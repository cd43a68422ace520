import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FakeSlack, type FakeTeam, nextTs } from "../support/fake-slack.js";
import { workspaceLinkToken } from "../support/link-tokens.js";
import { apiClient, newOrganisation, waitForDocument } from "../support/server.js";
import {
  blockAction,
  commandForm,
  lifecycleEnvelope,
  mentionEnvelope,
  messageEnvelope,
  newEventId,
  payload,
} from "../support/slack.js";
import {
  linkOverHttp,
  linkUrlIn,
  PUBLIC_URL,
  type SlackHarness,
  settle,
  startSlackHarness,
  tokenOf,
  visible,
  waitForReply,
  whoIn,
} from "../support/slack-harness.js";

const handbook = readFileSync(
  new URL("../../examples/documents/northwind-employee-handbook.md", import.meta.url),
  "utf8",
);

let h: SlackHarness;
let team: FakeTeam;
let org: Awaited<ReturnType<typeof newOrganisation>>;
let other: Awaited<ReturnType<typeof newOrganisation>>;
let docId: string;
const CHANNEL = "C0GENERAL1";
const ASKER = "U0ASKER01";
const MEMBER = "U0MEMBER1";
const SLACK_ADMIN = "U0SLADMIN";
const GUEST = "U0GUEST01";
const asker = () => whoIn(team, ASKER);

beforeAll(async () => {
  h = await startSlackHarness((fake) => {
    team = fake.addTeam({
      id: "T0NORTH01",
      name: "Northwind Slack",
      enterpriseId: "E0GRID001",
      users: [
        // The asker is a Slack workspace admin: only admins (and the installer) are handed link tokens.
        { id: ASKER, name: "asker", isAdmin: true },
        { id: MEMBER, name: "member" },
        { id: SLACK_ADMIN, name: "boss", isAdmin: true },
        { id: GUEST, name: "guest", isGuest: "multi" },
      ],
    });
    return { SLACK_BOT_TOKEN: team.botToken };
  });
  org = await newOrganisation(h.server.url, "Northwind");
  other = await newOrganisation(h.server.url, "Globex");
  const upload = await org.client.upload("Employee Handbook.md", handbook, "text/markdown");
  docId = upload.json.document.id;
  await waitForDocument(org.client, docId);
});

afterAll(async () => {
  await h?.stop();
});

/** The chat.stopStream that finished the answer streamed into the thread of `threadTs`. */
const stopIn = (channel: string, threadTs: string) => {
  const ts = h.fake
    .callsTo("chat.startStream")
    .find((c) => c.params.channel === channel && c.params.thread_ts === threadTs)?.result?.ts;
  return ts ? h.fake.callsTo("chat.stopStream").find((c) => c.params.ts === ts) : undefined;
};

const audit = async (client = org.client) => (await client.call("GET", "/api/audit?limit=200")).json.records as any[];

describe("an unlinked workspace", () => {
  it("answers any use, ephemerally, with a one-time link button", async () => {
    const ts = nextTs();
    const res = await h.slack.event(
      mentionEnvelope(asker(), { channel: CHANNEL, text: `<@${team.botUserId}> vacation days?`, ts }),
    );
    expect(res.status).toBe(200);
    const notice = await h.fake.waitFor(() => h.fake.callsTo("chat.postEphemeral").at(-1), 10_000, "ephemeral");
    expect(notice.params).toMatchObject({ channel: CHANNEL, user: ASKER, thread_ts: ts });
    const url = linkUrlIn(notice.params);
    expect(url).toMatch(new RegExp(`^${PUBLIC_URL}/link\\?token=`));
    expect(FakeSlack.textOf(notice.params)).toMatch(/not linked/i);
    // Nothing visible to the channel.
    expect(h.fake.callsTo("chat.postMessage")).toHaveLength(0);

    const responseUrl = h.fake.responseUrl();
    const ack = await h.slack.command(
      commandForm(asker(), { text: "how many vacation days?", channel: CHANNEL, responseUrl }),
    );
    expect(ack.status).toBe(200);
    const reply = await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 10_000, "command reply");
    expect(reply.body.response_type).toBe("ephemeral");
    expect(linkUrlIn(reply.body)).toMatch(/\/link\?token=/);

    const dm = await h.slack.event(messageEnvelope(asker(), { channel: "D0ASKER01", text: "hello?", ts: nextTs() }));
    expect(dm.status).toBe(200);
    await h.fake.waitFor(
      () => h.fake.callsTo("chat.postEphemeral").find((c) => c.params.channel === "D0ASKER01"),
      10_000,
      "dm notice",
    );
  });

  it("tells a member who is not a workspace admin to ask one, and hands them no link", async () => {
    const responseUrl = h.fake.responseUrl();
    await h.slack.command(commandForm(whoIn(team, MEMBER), { text: "link", channel: CHANNEL, responseUrl }));
    const reply = await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 10_000, "link refusal");
    expect(linkUrlIn(reply.body)).toBeUndefined();
    expect(FakeSlack.textOf(reply.body)).toMatch(/Only a Slack workspace admin or owner/);
    const ts = nextTs();
    await h.slack.event(
      mentionEnvelope(whoIn(team, MEMBER), { channel: CHANNEL, text: `<@${team.botUserId}> vacation days?`, ts }),
    );
    const notice = await h.fake.waitFor(
      () => h.fake.callsTo("chat.postEphemeral").find((c) => c.params.user === MEMBER && c.params.thread_ts === ts),
      10_000,
      "member notice",
    );
    expect(linkUrlIn(notice.params)).toBeUndefined();
    expect(FakeSlack.textOf(notice.params)).toMatch(/isn't linked.*workspace admin/s);
  });
});

describe("linking a workspace over HTTP", () => {
  let token: string;

  it("previews a link token without logging in, and refuses a member who is not an admin", async () => {
    const responseUrl = h.fake.responseUrl();
    await h.slack.command(commandForm(asker(), { text: "link", channel: CHANNEL, responseUrl }));
    const reply = await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 10_000, "link reply");
    token = tokenOf(linkUrlIn(reply.body) ?? "");
    const preview = await apiClient(h.server.url).call("POST", "/api/links/preview", { token });
    expect(preview.status).toBe(200);
    expect(preview.json).toMatchObject({
      team_id: team.id,
      team_name: "Northwind Slack",
      slack_user_id: ASKER,
      already_linked: false,
    });
    expect(Date.parse(preview.json.expires_at) - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(Date.parse(preview.json.expires_at) - Date.now()).toBeLessThanOrEqual(15 * 60_000);

    const invite = await org.client.call("POST", "/api/invites");
    const email = `member-${Date.now()}@northwind.example`;
    await apiClient(h.server.url).call("POST", "/auth/signup", {
      email,
      password: "Member-pass-1",
      invite_code: invite.json.code,
    });
    const login = await apiClient(h.server.url).call("POST", "/auth/login", { email, password: "Member-pass-1" });
    const member = apiClient(h.server.url, login.json.id_token);
    const refused = await member.call("POST", "/api/links", { token });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe("forbidden");
    expect(await h.server.container.directory.getLink(team.id)).toBeUndefined();
    // Without a login, nothing at all.
    expect((await apiClient(h.server.url).call("POST", "/api/links", { token })).status).toBe(401);
  });

  it("rejects tampered and expired tokens with 400", async () => {
    const [v, body, sig] = token.split(".");
    const claims = JSON.parse(Buffer.from(body ?? "", "base64url").toString());
    const forgedBody = Buffer.from(JSON.stringify({ ...claims, team_id: "T0OTHER99" })).toString("base64url");
    for (const bad of [`${v}.${forgedBody}.${sig}`, `${token}x`, "v1.e30.AAAA", "not-a-token"]) {
      const res = await org.client.call("POST", "/api/links", { token: bad });
      expect(res.status, bad).toBe(400);
      expect(res.json.error.code).toBe("invalid_link_token");
    }
    const expired = (
      await workspaceLinkToken(
        h.server.container,
        { teamId: team.id, slackUserId: ASKER },
        { now: () => Date.now() - 16 * 60_000, publicUrl: PUBLIC_URL },
      )
    ).token;
    const res = await org.client.call("POST", "/api/links", { token: expired });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/expired/);
    expect((await apiClient(h.server.url).call("POST", "/api/links/preview", { token: expired })).status).toBe(400);
  });

  it("links for an admin, confirms to the Slack user, and refuses a replay", async () => {
    const res = await org.client.call("POST", "/api/links", { token });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ team_id: team.id, tenant_id: org.tenantId });
    const confirmation = await h.fake.waitFor(
      () => h.fake.callsTo("chat.postMessage").find((c) => c.params.channel === ASKER),
      10_000,
      "confirmation DM",
    );
    expect(confirmation.params.text).toMatch(/linked to \*Northwind\*/);
    const replay = await org.client.call("POST", "/api/links", { token });
    expect(replay.status).toBe(400);
    expect(replay.json.error.message).toMatch(/already used/);
    const links = await org.client.call("GET", "/api/links");
    // The Enterprise Grid id from the Slack payload is kept with the link.
    expect(links.json.links).toEqual([
      expect.objectContaining({ team_id: team.id, enterprise_id: "E0GRID001", tenant_id: org.tenantId }),
    ]);
    expect((await other.client.call("GET", "/api/links")).json.links).toEqual([]);
  });

  it("does not let another tenant's admin take a linked workspace", async () => {
    const fresh = (await workspaceLinkToken(h.server.container, { teamId: team.id, slackUserId: ASKER })).token;
    const res = await other.client.call("POST", "/api/links", { token: fresh });
    expect(res.status).toBe(403);
    expect((await h.server.container.directory.getLink(team.id))?.tenantId).toBe(org.tenantId);
    expect((await other.client.call("DELETE", `/api/links/${team.id}`)).status).toBe(404);
  });

  it("reports the link with /ask status", async () => {
    const responseUrl = h.fake.responseUrl();
    await h.slack.command(commandForm(asker(), { text: "status", channel: CHANNEL, responseUrl }));
    const reply = await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 10_000, "status");
    expect(reply.body.text).toMatch(/linked to \*Northwind\*.*1 document you can ask about/);
  });
});

describe("asking in a linked workspace", () => {
  it("answers a channel mention in its thread, visible to the channel, with sources and feedback buttons", async () => {
    const ts = nextTs();
    h.fake.addUserMessage(team.id, { channel: CHANNEL, user: ASKER, text: "vacation?", ts });
    const res = await h.slack.event(
      mentionEnvelope(asker(), {
        channel: CHANNEL,
        text: `<@${team.botUserId}> What paid vacation do full-time employees receive per calendar year?`,
        ts,
      }),
    );
    expect(res.status).toBe(200);
    // Streamed into the mention's thread, for the asker to watch; the channel sees the finished message.
    const message = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, "27 days");
    const start = h.fake.callsTo("chat.startStream").find((c) => c.params.thread_ts === ts);
    expect(start?.params).toMatchObject({ channel: CHANNEL, recipient_user_id: ASKER, recipient_team_id: team.id });
    const stop = stopIn(CHANNEL, ts);
    const text = visible(FakeSlack.textOf(message));
    expect(text).toMatch(/\[1\]/);
    expect(text).toMatch(/\*\[1\]\* \*Employee Handbook\*, page 1/);
    const actions = ((stop?.params.blocks ?? []) as any[]).find((b) => b.type === "actions");
    expect(actions.elements.map((e: any) => e.action_id)).toEqual(["enclave_feedback_up", "enclave_feedback_down"]);
    const records = await audit();
    const record = records.find((r) => r.id === actions.elements[0].value);
    expect(record).toMatchObject({
      surface: "slack_mention",
      slack_user_id: ASKER,
      user_id: `slack:${team.id}:${ASKER}`,
      slack: { team_id: team.id, channel_id: CHANNEL, thread_ts: ts },
      outcome: "answered",
    });
  });

  it("answers an event delivered four times (Slack retries) once, with one audit row, acknowledging each fast", async () => {
    const before = (await audit()).length;
    const ts = nextTs();
    const envelope = mentionEnvelope(asker(), {
      channel: CHANNEL,
      text: `<@${team.botUserId}> What is the hotel limit in capital cities?`,
      ts,
    });
    const acks = [];
    for (let retry = 0; retry < 4; retry++) acks.push(await h.slack.event(envelope, retry ? { retryNum: retry } : {}));
    for (const ack of acks) {
      expect(ack.status).toBe(200);
      expect(ack.ms).toBeLessThan(2500); // Slack gives up at 3 s
    }
    await settle(h);
    await new Promise((r) => setTimeout(r, 300));
    await settle(h);
    expect(h.fake.callsTo("chat.startStream").filter((c) => c.params.thread_ts === ts)).toHaveLength(1);
    expect(h.fake.botMessages(CHANNEL, ts)).toHaveLength(1);
    expect((await audit()).length - before).toBe(1);
  });

  it("answers a mention once although it also arrives as a message, and ignores bots", async () => {
    const before = (await audit()).length;
    const ts = nextTs();
    await h.slack.event(
      messageEnvelope(asker(), { channel: CHANNEL, text: `<@${team.botUserId}> When do laptops get replaced?`, ts }),
    );
    await h.slack.event(
      mentionEnvelope(asker(), { channel: CHANNEL, text: `<@${team.botUserId}> When do laptops get replaced?`, ts }),
    );
    // In a DM both may come too: the message answers, the mention twin is dropped.
    const dmTs = nextTs();
    await h.slack.event(
      messageEnvelope(asker(), { channel: "D0ASKER01", text: "When do laptops get replaced?", ts: dmTs }),
    );
    await h.slack.event(
      mentionEnvelope(asker(), {
        channel: "D0ASKER01",
        text: `<@${team.botUserId}> When do laptops get replaced?`,
        ts: dmTs,
      }),
    );
    // Bots: a classic bot message, another app's bot user, and our own bot's message.
    const classic = payload("events_api/message_bot_classic.json");
    classic.team_id = team.id;
    classic.authorizations[0].team_id = team.id;
    classic.event_id = newEventId();
    classic.event.channel = "D0ASKER01";
    classic.event.channel_type = "im";
    const otherApp = payload("events_api/message_from_bot_user.json");
    otherApp.team_id = team.id;
    otherApp.authorizations[0].team_id = team.id;
    otherApp.event_id = newEventId();
    otherApp.event.channel = "D0ASKER01";
    otherApp.event.channel_type = "im";
    const own = messageEnvelope(
      { teamId: team.id, userId: team.botUserId },
      { channel: "D0ASKER01", text: "my own words", ts: nextTs() },
    );
    for (const e of [classic, otherApp, own]) expect((await h.slack.event(e)).status).toBe(200);
    await settle(h);
    const records = (await audit()).slice(0, (await audit()).length - before);
    expect(records.map((r) => r.surface).sort()).toEqual(["slack_dm", "slack_mention"]);
    expect(records.every((r) => r.question === "When do laptops get replaced?")).toBe(true);
  });

  it("answers every DM as a question, in the DM (in the thread of the question, where it streams)", async () => {
    const ts = nextTs();
    await h.slack.event(
      messageEnvelope(asker(), { channel: "D0ASKER01", text: "What is the daily meal allowance during travel?", ts }),
    );
    await waitForReply(h.fake, { channel: "D0ASKER01", threadTs: ts }, "45 euros");
    expect(stopIn("D0ASKER01", ts)).toBeDefined();
  });

  it("uses the thread's earlier messages as context for a follow-up mention", async () => {
    const root = h.fake.addUserMessage(team.id, {
      channel: CHANNEL,
      user: ASKER,
      text: `<@${team.botUserId}> How many vacation days do we get?`,
    });
    h.fake.messages.push({
      channel: CHANNEL,
      ts: nextTs(),
      threadTs: root.ts,
      text: "Every employee receives 27 days of paid vacation [1]",
      user: team.botUserId,
      botId: team.botId,
      teamId: team.id,
    });
    h.fake.messages.push({
      channel: CHANNEL,
      ts: nextTs(),
      threadTs: root.ts,
      text: "deploy finished",
      botId: "B0OTHERBOT",
      teamId: team.id,
    });
    const ts = nextTs();
    const ask = vi.spyOn(h.server.container.services.answers, "ask");
    try {
      await h.slack.event(
        mentionEnvelope(asker(), {
          channel: CHANNEL,
          text: `<@${team.botUserId}> and can unused vacation days be carried over?`,
          ts,
          threadTs: root.ts,
        }),
      );
      // The answer goes to the existing thread.
      await waitForReply(h.fake, { channel: CHANNEL, threadTs: root.ts }, "carried over");
      const input = ask.mock.calls.at(-1)?.[0];
      expect(input?.history).toEqual([
        { role: "user", text: "How many vacation days do we get?" },
        { role: "assistant", text: "Every employee receives 27 days of paid vacation [1]" },
      ]);
      expect(input?.slack).toMatchObject({ teamId: team.id, channelId: CHANNEL, threadTs: root.ts });
      expect(h.fake.callsTo("conversations.replies").at(-1)?.params).toMatchObject({ channel: CHANNEL, ts: root.ts });
      expect(h.fake.callsTo("chat.startStream").find((c) => c.params.thread_ts === root.ts)).toBeDefined();
    } finally {
      ask.mockRestore();
    }
  });

  it("answers with the reason when answering fails", async () => {
    const ask = vi
      .spyOn(h.server.container.services.answers, "ask")
      .mockRejectedValueOnce(new Error("database on fire"));
    try {
      const ts = nextTs();
      await h.slack.event(
        mentionEnvelope(asker(), { channel: CHANNEL, text: `<@${team.botUserId}> anything about parental leave?`, ts }),
      );
      // Nothing was streamed yet, so the reason is the thread's one reply.
      const reply = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, /went wrong/);
      expect(reply.text).toMatch(/:warning: Something went wrong on my side/);
      expect(FakeSlack.textOf(reply)).not.toMatch(/fire/);
      expect(h.fake.botMessages(CHANNEL, ts)).toHaveLength(1);
    } finally {
      ask.mockRestore();
    }
  });

  it("acknowledges within 3 s even when answering takes longer", async () => {
    h.fake.delay("chat.startStream", 3500);
    try {
      const ts = nextTs();
      const started = Date.now();
      const ack = await h.slack.event(
        mentionEnvelope(asker(), {
          channel: CHANNEL,
          text: `<@${team.botUserId}> Who must approve vacation requests of more than ten consecutive days?`,
          ts,
        }),
      );
      expect(ack.status).toBe(200);
      expect(ack.ms).toBeLessThan(2500); // Slack gives up at 3 s
      const reply = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, "six weeks", 20_000);
      expect(FakeSlack.textOf(reply)).toContain("six weeks");
      expect(Date.now() - started).toBeGreaterThan(3000);
    } finally {
      h.fake.delay("chat.startStream", 0);
    }
  });
});

describe("/ask", () => {
  it("acknowledges at once and answers privately through response_url, with Share and feedback buttons", async () => {
    const responseUrl = h.fake.responseUrl();
    const ack = await h.slack.command(
      commandForm(asker(), { text: "What parental leave do parents receive?", channel: CHANNEL, responseUrl }),
    );
    expect(ack.status).toBe(200);
    expect(ack.ms).toBeLessThan(2500); // Slack gives up at 3 s
    expect(ack.json).toMatchObject({ response_type: "ephemeral" });
    expect(ack.json.text).toMatch(/Searching/);
    const reply = await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 10_000, "answer");
    expect(reply.body).toMatchObject({ response_type: "ephemeral", replace_original: true });
    const text = FakeSlack.textOf(reply.body);
    expect(text).toContain("16 weeks");
    expect(text).toContain("You asked: _What parental leave do parents receive?_");
    const actions = reply.body.blocks.find((b: any) => b.type === "actions");
    expect(actions.elements.map((e: any) => e.action_id)).toEqual([
      "enclave_feedback_up",
      "enclave_feedback_down",
      "enclave_share",
    ]);
    const auditId = actions.elements[2].value;
    const record = (await audit()).find((r) => r.id === auditId);
    expect(record).toMatchObject({ surface: "slack_command", slack: { team_id: team.id, channel_id: CHANNEL } });

    // Share to channel: a public message with the answer, then the private one goes.
    const shareUrl = h.fake.responseUrl();
    const click = await h.slack.action(
      blockAction(asker(), { actionId: "enclave_share", value: auditId, channel: CHANNEL, responseUrl: shareUrl }),
    );
    expect(click.status).toBe(200);
    await h.fake.waitFor(() => h.fake.responsesTo(shareUrl).length >= 2 && true, 10_000, "share");
    const [shared, removed] = h.fake.responsesTo(shareUrl);
    expect(shared?.body).toMatchObject({ response_type: "in_channel", replace_original: false });
    expect(FakeSlack.textOf(shared?.body)).toContain(`<@${ASKER}> asked: _What parental leave do parents receive?_`);
    expect(FakeSlack.textOf(shared?.body)).toContain("16 weeks");
    expect(removed?.body).toMatchObject({ delete_original: true });
  });

  it("shares an answer only for its asker: anyone else is told so privately and nothing is posted", async () => {
    const responseUrl = h.fake.responseUrl();
    await h.slack.command(commandForm(asker(), { text: "How many vacation days?", channel: CHANNEL, responseUrl }));
    const reply = await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 10_000, "answer");
    const actions = reply.body.blocks.find((b: any) => b.type === "actions");
    const auditId = actions.elements.find((e: any) => e.action_id === "enclave_share").value;
    const share = async (clicker: ReturnType<typeof whoIn>, value = auditId) => {
      const url = h.fake.responseUrl();
      const click = await h.slack.action(
        blockAction(clicker, { actionId: "enclave_share", value, channel: CHANNEL, responseUrl: url }),
      );
      expect(click.status).toBe(200);
      await h.fake.waitFor(() => h.fake.responsesTo(url)[0], 10_000, "share reply");
      await settle(h);
      return h.fake.responsesTo(url).map((r) => r.body);
    };
    // Another member of the workspace (who could read every source): refused, privately; nothing in the channel.
    const bodies = await share(whoIn(team, MEMBER));
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toMatchObject({ response_type: "ephemeral", replace_original: false });
    expect(FakeSlack.textOf(bodies[0])).toMatch(/Only the person who asked can share this answer/);
    // A guest is not served at all (the membership rules), and nothing is posted either.
    const guest = await share(whoIn(team, GUEST));
    expect(guest).toHaveLength(1);
    expect(guest[0]).toMatchObject({ response_type: "ephemeral" });
    expect(FakeSlack.textOf(guest[0])).toMatch(/only answer full members/);
    // An audit id of another tenant is not found, as if it did not exist.
    const theirs = await other.client.call("POST", "/api/ask", { question: "anything?" });
    const foreign = await share(asker(), theirs.json.audit_id);
    expect(foreign).toHaveLength(1);
    expect(FakeSlack.textOf(foreign[0])).toMatch(/couldn't find that answer/);
    expect(FakeSlack.textOf(foreign[0])).not.toMatch(/Only the person who asked/);
    // The asker still can.
    const own = await share(asker());
    expect(own.map((b) => b.response_type ?? (b.delete_original ? "delete" : undefined))).toEqual([
      "in_channel",
      "delete",
    ]);
  });

  it("stores 👍/👎 of the asker only on the audit record, tenant taken from the workspace link only", async () => {
    const auditId = (await audit())[0].id;
    const rate = async (userId: string, actionId: string) => {
      const url = h.fake.responseUrl();
      await h.slack.action(
        blockAction(whoIn(team, userId), { actionId, value: auditId, channel: CHANNEL, responseUrl: url }),
      );
      return (await h.fake.waitFor(() => h.fake.responsesTo(url)[0], 10_000, "feedback reply")).body;
    };
    // Someone else cannot rate the asker's answer.
    expect(FakeSlack.textOf(await rate(MEMBER, "enclave_feedback_up"))).toMatch(/Only the person who asked/);
    expect((await org.client.call("GET", `/api/audit/${auditId}`)).json.feedback).toBeNull();
    expect(FakeSlack.textOf(await rate(ASKER, "enclave_feedback_down"))).toMatch(/Thanks for the feedback/);
    const record = (await org.client.call("GET", `/api/audit/${auditId}`)).json;
    expect(record.feedback).toMatchObject({ value: "down", by: `slack:${team.id}:${ASKER}` });
    // An audit id of another tenant finds nothing through this workspace.
    const theirs = await other.client.call("POST", "/api/ask", { question: "anything?" });
    const url2 = h.fake.responseUrl();
    await h.slack.action(
      blockAction(asker(), {
        actionId: "enclave_feedback_up",
        value: theirs.json.audit_id,
        channel: CHANNEL,
        responseUrl: url2,
      }),
    );
    const reply = await h.fake.waitFor(() => h.fake.responsesTo(url2)[0], 10_000, "feedback reply");
    expect(reply.body.text).toMatch(/couldn't find/);
    expect((await other.client.call("GET", `/api/audit/${theirs.json.audit_id}`)).json.feedback).toBeNull();
  });

  it("lists documents and forgets one only for whoever added it or an organisation admin", async () => {
    const upload = await org.client.upload(
      "Zebra care.txt",
      "Zebras in the Northwind petting zoo are fed striped hay every Tuesday.",
    );
    await waitForDocument(org.client, upload.json.document.id);
    const docsUrl = h.fake.responseUrl();
    await h.slack.command(commandForm(asker(), { text: "docs", channel: CHANNEL, responseUrl: docsUrl }));
    const docs = await h.fake.waitFor(() => h.fake.responsesTo(docsUrl)[0], 10_000, "docs");
    expect(docs.body.text).toMatch(/2 documents/);
    expect(docs.body.text).toMatch(/Employee Handbook \(1 page, \d+ passages\)/);
    expect(docs.body.text).toMatch(/Zebra care/);

    const deniedUrl = h.fake.responseUrl();
    await h.slack.command(
      commandForm(whoIn(team, MEMBER), { text: "forget zebra care", channel: CHANNEL, responseUrl: deniedUrl }),
    );
    const denied = await h.fake.waitFor(() => h.fake.responsesTo(deniedUrl)[0], 10_000, "forget denied");
    expect(denied.body.text).toMatch(/Only the person who added this document, or an admin/);
    // A Slack workspace admin is not an organisation admin until they prove which web account is theirs.
    const notYetUrl = h.fake.responseUrl();
    await h.slack.command(
      commandForm(whoIn(team, SLACK_ADMIN), { text: "forget Zebra", channel: CHANNEL, responseUrl: notYetUrl }),
    );
    expect((await h.fake.waitFor(() => h.fake.responsesTo(notYetUrl)[0], 10_000, "not yet")).body.text).toMatch(
      /Only the person who added/,
    );
    const connectUrl = h.fake.responseUrl();
    await h.slack.command(
      commandForm(whoIn(team, SLACK_ADMIN), { text: "connect", channel: CHANNEL, responseUrl: connectUrl }),
    );
    const connect = await h.fake.waitFor(() => h.fake.responsesTo(connectUrl)[0], 10_000, "connect link");
    const tie = await org.client.call("POST", "/api/identities", { token: tokenOf(linkUrlIn(connect.body) ?? "") });
    expect(tie.status, JSON.stringify(tie.json)).toBe(201);
    expect(tie.json).toMatchObject({ team_id: team.id, user_id: SLACK_ADMIN });
    const okUrl = h.fake.responseUrl();
    await h.slack.command(
      commandForm(whoIn(team, SLACK_ADMIN), { text: "forget Zebra", channel: CHANNEL, responseUrl: okUrl }),
    );
    const ok = await h.fake.waitFor(() => h.fake.responsesTo(okUrl)[0], 10_000, "forget");
    expect(ok.body.text).toMatch(/Forgotten: “Zebra care”/);
    expect((await org.client.call("GET", `/api/documents/${upload.json.document.id}`)).status).toBe(404);
  });

  it("shows help for an empty /ask, and answers a renamed command the same way", async () => {
    const ack = await h.slack.command(
      commandForm(asker(), { text: "", channel: CHANNEL, responseUrl: h.fake.responseUrl() }),
    );
    expect(ack.json.text).toMatch(/\/ask <question>/);
    const responseUrl = h.fake.responseUrl();
    const form = commandForm(asker(), {
      text: "What parental leave do parents receive?",
      channel: CHANNEL,
      responseUrl,
    });
    form.set("command", "/enclave");
    expect((await h.slack.command(form)).json.text).toMatch(/Searching/);
    expect(
      FakeSlack.textOf((await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 10_000, "answer")).body),
    ).toContain("16 weeks");
  });

  it("acknowledges other interactions at once (Slack's own shortcut and view payloads)", async () => {
    const foreign = blockAction(asker(), {
      actionId: "someone_elses_button",
      value: "x",
      channel: CHANNEL,
      responseUrl: h.fake.responseUrl(),
    });
    const shortcut = payload("interactivity/global_shortcut.json");
    const view = payload("interactivity/view_submission.json");
    for (const body of [foreign, shortcut, view]) {
      if (body.team) body.team.id = team.id;
      if (body.user) body.user.team_id = team.id;
      if (body.view) {
        body.view.team_id = team.id;
        body.view.app_installed_team_id = team.id;
      }
      const res = await h.slack.action(body);
      expect(res.status, body.type).toBe(200);
      expect(res.ms, body.type).toBeLessThan(2500);
    }
  });
});

describe("unlinking", () => {
  it("/ask unlink needs a Slack workspace admin (or tenant admin); documents stay with the tenant", async () => {
    const deniedUrl = h.fake.responseUrl();
    await h.slack.command(
      commandForm(whoIn(team, MEMBER), { text: "unlink", channel: CHANNEL, responseUrl: deniedUrl }),
    );
    expect((await h.fake.waitFor(() => h.fake.responsesTo(deniedUrl)[0], 10_000, "denied")).body.text).toMatch(
      /Only a Slack workspace admin/,
    );
    expect(await h.server.container.directory.getLink(team.id)).toBeDefined();

    const okUrl = h.fake.responseUrl();
    await h.slack.command(
      commandForm(whoIn(team, SLACK_ADMIN), { text: "unlink", channel: CHANNEL, responseUrl: okUrl }),
    );
    expect((await h.fake.waitFor(() => h.fake.responsesTo(okUrl)[0], 10_000, "unlinked")).body.text).toMatch(
      /Unlinked/,
    );
    expect(await h.server.container.directory.getLink(team.id)).toBeUndefined();
    expect((await org.client.call("GET", `/api/documents/${docId}`)).status).toBe(200);

    // Linked again by the tenant admin, via Slack and the REST API; then the tenant admin unlinks on the web.
    await linkOverHttp(h, asker(), org.client);
    expect((await org.client.call("DELETE", `/api/links/${team.id}`)).status).toBe(204);
    expect(await h.server.container.directory.getLink(team.id)).toBeUndefined();
  });

  it("app_uninstalled removes the link (documents stay)", async () => {
    await linkOverHttp(h, asker(), org.client);
    const res = await h.slack.event(lifecycleEnvelope(team.id, "app_uninstalled"));
    expect(res.status).toBe(200);
    await settle(h);
    expect(await h.server.container.directory.getLink(team.id)).toBeUndefined();
    expect((await org.client.call("GET", `/api/documents/${docId}`)).status).toBe(200);
  });
});
