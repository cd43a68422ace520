import { type ConversationsMembersResponse, type UsersConversationsResponse, WebClient } from "@slack/web-api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack, type FakeTeam } from "../support/fake-slack.js";
import {
  blockAction,
  commandForm,
  fileShareEnvelope,
  mentionEnvelope,
  messageEnvelope,
  type Who,
} from "../support/slack.js";

let fake: FakeSlack;
let team: FakeTeam;
let client: WebClient;

const ALICE = "U0ALICE01";
const BOB = "U0BOB0001";
const GUEST = "U0GUEST01";
const SOLO = "U0SOLO001";
const OWNER = "U0OWNER01";
const GONE = "U0GONE001";
const OUTSIDER = "U0OUTSID1";

/** The error code of a failed Web API call (WebClient throws on `ok: false`). */
async function slackError(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return (error as { data?: { error?: string } }).data?.error;
  }
}

beforeAll(async () => {
  fake = await FakeSlack.start();
  team = fake.addTeam({
    id: "T0FAKESL1",
    name: "Fake Slack Inc",
    enterpriseId: "E0FAKEGRD",
    users: [
      { id: ALICE, name: "alice" },
      { id: BOB, name: "bob" },
      { id: GUEST, name: "guest", isGuest: "multi" },
      { id: SOLO, name: "solo", isGuest: "single" },
      { id: OWNER, name: "owner", isPrimaryOwner: true },
      { id: GONE, name: "gone", deleted: true },
      { id: OUTSIDER, name: "outsider", homeTeamId: "T0OTHER" },
    ],
  });
  client = new WebClient(team.botToken, { slackApiUrl: `${fake.apiUrl}/`, retryConfig: { retries: 0 } });
});

afterAll(async () => {
  await fake?.stop();
});

afterEach(() => {
  fake.strictUsers = false;
  fake.strictConversations = false;
});

describe("conversations", () => {
  it("pages conversations.members at 100 by default, or at `limit`, with next_cursor", async () => {
    const many = Array.from({ length: 250 }, (_, i) => `U0MANY${String(i).padStart(3, "0")}`);
    fake.addChannel(team.id, { id: "C0CROWDED", kind: "private", members: many });
    const sizes: number[] = [];
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.conversations.members({ channel: "C0CROWDED", ...(cursor ? { cursor } : {}) });
      sizes.push(page.members?.length ?? 0);
      seen.push(...(page.members ?? []));
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    expect(sizes).toEqual([100, 100, 51]);
    expect(new Set(seen)).toEqual(new Set([...many, team.botUserId]));

    let pages = 0;
    for await (const page of client.paginate("conversations.members", { channel: "C0CROWDED", limit: 60 })) {
      pages++;
      expect((page as ConversationsMembersResponse).members?.length).toBeLessThanOrEqual(60);
    }
    expect(pages).toBe(5);
    expect(await slackError(client.conversations.members({ channel: "C0CROWDED", cursor: "bogus" }))).toBe(
      "invalid_cursor",
    );
  });

  it("answers conversations.info with Slack's flags for each kind", async () => {
    fake.addChannel(team.id, { id: "C0PUBLIC1", name: "general", kind: "public", members: [ALICE, BOB] });
    fake.addChannel(team.id, { id: "C0PRIVAT1", name: "secret", kind: "private", members: [ALICE] });
    fake.addChannel(team.id, { id: "G0LEGACY1", kind: "private", members: [ALICE] });
    fake.addChannel(team.id, { id: "C0GROUPDM", kind: "mpim", members: [ALICE, BOB] });
    fake.addChannel(team.id, { id: "D0ALICE01", kind: "im", members: [ALICE] });
    fake.addChannel(team.id, {
      id: "C0CONNECT",
      kind: "public",
      members: [ALICE, OUTSIDER],
      connectedTeams: ["T0OTHER"],
    });

    const info = async (channel: string) => (await client.conversations.info({ channel })).channel as any;
    expect(await info("C0PUBLIC1")).toMatchObject({
      name: "general",
      is_channel: true,
      is_group: false,
      is_im: false,
      is_mpim: false,
      is_private: false,
      is_shared: false,
      is_ext_shared: false,
      is_org_shared: false,
      is_member: true,
    });
    expect(await info("C0PRIVAT1")).toMatchObject({ is_channel: true, is_group: false, is_private: true });
    expect(await info("G0LEGACY1")).toMatchObject({ is_channel: false, is_group: true, is_private: true });
    expect(await info("C0GROUPDM")).toMatchObject({ is_mpim: true, is_private: true, name: "mpdm-alice--bob-1" });
    const dm = await info("D0ALICE01");
    expect(dm).toMatchObject({ is_im: true, user: ALICE });
    expect(dm.is_private).toBeUndefined();
    expect(await info("C0CONNECT")).toMatchObject({
      is_shared: true,
      is_ext_shared: true,
      connected_team_ids: ["T0OTHER"],
    });
  });

  it("hides non-public conversations the bot is not in, and follows membership changes", async () => {
    fake.addChannel(team.id, { id: "C0NOBOT01", kind: "private", members: [ALICE, BOB], botMember: false });
    fake.addChannel(team.id, { id: "C0OPEN001", kind: "public", members: [ALICE], botMember: false });
    expect(await slackError(client.conversations.info({ channel: "C0NOBOT01" }))).toBe("channel_not_found");
    expect(await slackError(client.conversations.members({ channel: "C0NOBOT01" }))).toBe("channel_not_found");
    expect((await client.conversations.info({ channel: "C0OPEN001" })).channel?.is_member).toBe(false);
    expect((await client.conversations.members({ channel: "C0OPEN001" })).members).toEqual([ALICE]);

    fake.addChannel(team.id, { id: "C0CHANGES", kind: "private", members: [ALICE, BOB] });
    fake.setMembers(team.id, "C0CHANGES", [BOB]);
    expect((await client.conversations.members({ channel: "C0CHANGES" })).members).toEqual([BOB, team.botUserId]);
    fake.addMember(team.id, "C0CHANGES", GUEST);
    fake.removeMember(team.id, "C0CHANGES", BOB);
    expect((await client.conversations.members({ channel: "C0CHANGES" })).members).toEqual([team.botUserId, GUEST]);
    fake.removeMember(team.id, "C0CHANGES", team.botUserId);
    expect(await slackError(client.conversations.members({ channel: "C0CHANGES" }))).toBe("channel_not_found");
  });

  it("lists a user's conversations only where a bot token may see them", async () => {
    const CAROL = "U0CAROL01";
    fake.addUser(team.id, { id: CAROL, name: "carol" });
    fake.addChannel(team.id, { id: "C0CAROLPU", kind: "public", members: [CAROL], botMember: false });
    fake.addChannel(team.id, { id: "C0CAROLPR", kind: "private", members: [CAROL] });
    fake.addChannel(team.id, { id: "C0CAROLHI", kind: "private", members: [CAROL], botMember: false });
    fake.addChannel(team.id, { id: "C0CAROLMP", kind: "mpim", members: [CAROL, ALICE] });
    fake.addChannel(team.id, { id: "C0CAROLMX", kind: "mpim", members: [CAROL, ALICE, BOB], botMember: false });
    fake.addChannel(team.id, { id: "D0CAROL01", kind: "im", members: [CAROL] });
    fake.addChannel(team.id, { id: "D0CAROLBB", kind: "im", members: [CAROL, BOB], botMember: false });

    const ids = async (types?: string, limit?: number) => {
      const out: string[] = [];
      const options = { user: CAROL, ...(types ? { types } : {}), ...(limit ? { limit } : {}) };
      for await (const page of client.paginate("users.conversations", options)) {
        out.push(...((page as UsersConversationsResponse).channels ?? []).map((c) => c.id ?? ""));
      }
      return out;
    };
    expect(await ids()).toEqual(["C0CAROLPU"]);
    const all = ["C0CAROLPU", "C0CAROLPR", "C0CAROLMP", "D0CAROL01"];
    expect(await ids("public_channel,private_channel,mpim,im")).toEqual(all);
    expect(await ids("public_channel,private_channel,mpim,im", 1)).toEqual(all);
    expect(await ids("im")).toEqual(["D0CAROL01"]);
    expect(await slackError(client.users.conversations({ user: CAROL, types: "huddle" }))).toBe("invalid_types");
  });
});

describe("users.info", () => {
  const user = async (id: string) => (await client.users.info({ user: id })).user as any;

  it("reports guests, owners, deleted accounts, bots and Slack Connect users as Slack does", async () => {
    expect(await user(ALICE)).toMatchObject({
      team_id: team.id,
      is_restricted: false,
      is_ultra_restricted: false,
      is_admin: false,
      deleted: false,
      is_bot: false,
      enterprise_user: { enterprise_id: "E0FAKEGRD", teams: [team.id] },
    });
    expect(await user(GUEST)).toMatchObject({ is_restricted: true, is_ultra_restricted: false });
    expect(await user(SOLO)).toMatchObject({ is_restricted: true, is_ultra_restricted: true });
    expect(await user(OWNER)).toMatchObject({ is_primary_owner: true, is_owner: true, is_admin: true });
    const gone = await user(GONE);
    expect(gone.deleted).toBe(true);
    expect(gone.is_admin).toBeUndefined();
    expect(await user(team.botUserId)).toMatchObject({ is_bot: true, profile: { bot_id: team.botId } });
    const outsider = await user(OUTSIDER);
    expect(outsider.team_id).toBe("T0OTHER");
    expect(outsider.enterprise_user).toBeUndefined();
  });

  it("shows another fake team's user only through an externally shared channel", async () => {
    const other = fake.addTeam({ id: "T0ELSEWHR", name: "Elsewhere", users: [{ id: "U0ELSE001", name: "else" }] });
    expect(await slackError(client.users.info({ user: "U0ELSE001" }))).toBe("user_not_found");
    expect(await slackError(client.users.info({ user: other.botUserId }))).toBe("user_not_found");
    fake.addChannel(team.id, {
      id: "C0SHARED9",
      kind: "public",
      members: [ALICE, "U0ELSE001"],
      connectedTeams: [other.id],
    });
    expect(await user("U0ELSE001")).toMatchObject({ team_id: other.id, name: "else" });
    expect((await client.conversations.info({ channel: "C0SHARED9" })).channel).toMatchObject({
      is_ext_shared: true,
    });
  });
});

describe("leniency", () => {
  const user = async (id: string) => (await client.users.info({ user: id })).user as any;

  it("answers unknown users and C/D conversations by default, and not when strict", async () => {
    expect(await user("U0ADHOC01")).toMatchObject({ id: "U0ADHOC01", name: "U0ADHOC01", team_id: team.id });
    expect(await user("U0ADHOC01")).toMatchObject({ is_restricted: false, is_admin: false });

    fake.addUserMessage(team.id, { channel: "C0ADHOC01", user: "U0POSTER1", text: "hi" });
    const members = (await client.conversations.members({ channel: "C0ADHOC01" })).members ?? [];
    expect(members).toEqual(expect.arrayContaining([ALICE, BOB, OWNER, "U0POSTER1", team.botUserId]));
    for (const notFull of [GUEST, SOLO, GONE, OUTSIDER]) expect(members).not.toContain(notFull);
    expect((await client.conversations.info({ channel: "C0ADHOC01" })).channel).toMatchObject({
      is_private: false,
      is_member: true,
    });
    expect((await client.conversations.info({ channel: "D0ADHOC01" })).channel).toMatchObject({
      is_im: true,
      user: "U0ADHOC01",
    });
    fake.addUserMessage(team.id, { channel: "D0NOTES01", user: ALICE, text: "note to self" });
    expect((await client.conversations.members({ channel: "D0NOTES01" })).members).toEqual([ALICE, team.botUserId]);
    expect(await slackError(client.conversations.info({ channel: "G0UNKNOWN" }))).toBe("channel_not_found");

    fake.strictUsers = true;
    fake.strictConversations = true;
    expect(await slackError(client.users.info({ user: "U0ADHOC01" }))).toBe("user_not_found");
    expect(await user(ALICE)).toMatchObject({ name: "alice" });
    expect(await slackError(client.conversations.info({ channel: "C0ADHOC01" }))).toBe("channel_not_found");
    expect(await slackError(client.conversations.members({ channel: "D0ADHOC01" }))).toBe("channel_not_found");
  });
});

describe("files", () => {
  it("files each share by its conversation's kind, for a file shared into several", async () => {
    fake.addChannel(team.id, { id: "C0FILESPU", kind: "public", members: [ALICE] });
    fake.addChannel(team.id, { id: "C0FILESPR", kind: "private", members: [ALICE] });
    const file = fake.addFile({
      id: "F0SHARED1",
      teamId: team.id,
      name: "notes.txt",
      content: Buffer.from("notes"),
      mimetype: "text/plain",
      filetype: "text",
      user: ALICE,
      channel: "C0FILESPR",
      channels: ["C0FILESPU"],
    });
    const dm = fake.shareFile(team.id, file.id, "D0ALICE77");
    const info = (await client.files.info({ file: file.id })).file as any;
    expect(Object.keys(info.shares.private)).toEqual(["C0FILESPR", "D0ALICE77"]);
    expect(Object.keys(info.shares.public)).toEqual(["C0FILESPU"]);
    expect(info.shares.private.D0ALICE77[0].ts).toBe(dm.ts);
    expect(info.shares.private.C0FILESPR[0].ts).toBe(file.ts);
    expect(info).toMatchObject({ channels: ["C0FILESPU"], groups: ["C0FILESPR"], ims: ["D0ALICE77"] });

    const legacy = fake.addFile({
      id: "F0LEGACY1",
      teamId: team.id,
      name: "old.txt",
      content: Buffer.from("old"),
      mimetype: "text/plain",
      filetype: "text",
      user: ALICE,
      channel: "C0NOTADDED",
    });
    expect(Object.keys((fake.fileJson(legacy) as any).shares)).toEqual(["public"]);
  });
});

describe("streamed messages", () => {
  it("streams as Slack does: start in a thread, append, stop with blocks; the text is every chunk's", async () => {
    const thread = "1700000000.000100";
    const streamer = client.chatStream({
      channel: "C0STREAMS",
      thread_ts: thread,
      recipient_user_id: ALICE,
      recipient_team_id: team.id,
      buffer_size: 5,
    });
    await streamer.append({ markdown_text: "Hello " });
    await streamer.append({ markdown_text: "streamed " });
    await streamer.append({ markdown_text: "world" });
    const blocks = [{ type: "section", text: { type: "mrkdwn", text: "*Sources*" } }];
    await streamer.stop({ blocks });
    const ts = streamer.ts as string;
    expect(fake.callsTo("chat.startStream").at(-1)?.result).toEqual({ ts, channel: "C0STREAMS" });
    expect(fake.callsTo("chat.appendStream").filter((c) => c.params.ts === ts)).toHaveLength(2);
    const [message] = fake.botMessages("C0STREAMS", thread);
    expect(message).toMatchObject({
      ts,
      threadTs: thread,
      stream: { markdown: "Hello streamed world", state: "stopped", recipientUserId: ALICE, recipientTeamId: team.id },
      blocks,
    });
    expect(FakeSlack.textOf(message ?? {})).toContain("Hello streamed world\n*Sources*");
    // Stopped: nothing more can be added.
    expect(await slackError(client.chat.appendStream({ channel: "C0STREAMS", ts, markdown_text: "more" }))).toBe(
      "message_not_in_streaming_state",
    );
    expect(await slackError(client.chat.stopStream({ channel: "C0STREAMS", ts: "1.000000" }))).toBe(
      "message_not_found",
    );
    // An update replaces a streamed message's content.
    await client.chat.update({ channel: "C0STREAMS", ts, text: "replaced", blocks: [] });
    expect(FakeSlack.textOf(fake.botMessages("C0STREAMS", thread)[0] ?? {})).toBe("replaced");
  });

  it("needs a thread, and outside a DM the recipient; refuses when told to", async () => {
    expect(
      await slackError(
        client.chat.startStream({ channel: "C0STREAMS", markdown_text: "x" } as Parameters<
          typeof client.chat.startStream
        >[0]),
      ),
    ).toBe("invalid_arguments");
    expect(
      await slackError(client.chat.startStream({ channel: "C0STREAMS", thread_ts: "1.1", markdown_text: "x" })),
    ).toBe("invalid_arguments");
    // In a DM the recipient is known.
    const dm = await client.chat.startStream({ channel: "D0ALICE01", thread_ts: "1.2", markdown_text: "hi" });
    expect(dm.ok).toBe(true);

    fake.refuse("chat.startStream", "not_allowed", (p) => p.channel === "C0REFUSES");
    try {
      const args = { thread_ts: "1.3", recipient_user_id: ALICE, recipient_team_id: team.id, markdown_text: "x" };
      expect(await slackError(client.chat.startStream({ channel: "C0REFUSES", ...args }))).toBe("not_allowed");
      expect((await client.chat.startStream({ channel: "C0STREAMS", ...args })).ok).toBe(true);
    } finally {
      fake.allow("chat.startStream");
    }
    expect(
      (
        await client.chat.startStream({
          channel: "C0REFUSES",
          thread_ts: "1.4",
          recipient_user_id: ALICE,
          recipient_team_id: team.id,
          markdown_text: "x",
        })
      ).ok,
    ).toBe(true);
  });

  it("records assistant statuses", async () => {
    await client.assistant.threads.setStatus({ channel_id: "C0STREAMS", thread_ts: "1.5", status: "Searching…" });
    expect(fake.callsTo("assistant.threads.setStatus").at(-1)?.params).toMatchObject({
      channel_id: "C0STREAMS",
      thread_ts: "1.5",
      status: "Searching…",
    });
  });
});

describe("envelopes", () => {
  const who: Who = { teamId: "T0HOME001", userId: ALICE, botUserId: "U0BOTHOME" };

  it("carry Slack's authorizations and is_ext_shared_channel", () => {
    const mention = mentionEnvelope(who, { channel: "C0ANY0001", text: "hi", ts: "1.000001" });
    expect(mention.authorizations).toEqual([
      { enterprise_id: null, team_id: "T0HOME001", user_id: "U0BOTHOME", is_bot: true, is_enterprise_install: false },
    ]);
    expect(mention.is_ext_shared_channel).toBe(false);
    expect(mention.event.team).toBe("T0HOME001");
    const grid = messageEnvelope({ ...who, enterpriseId: "E0GRID001" }, { channel: "D0X", text: "hi", ts: "1.1" });
    expect(grid.authorizations[0].enterprise_id).toBe("E0GRID001");
  });

  it("can come from a Slack Connect user, or name another team at the top level", () => {
    const external: Who = { ...who, userId: OUTSIDER, userTeamId: "T0OTHER" };
    const share = fileShareEnvelope(external, { channel: "C0CONNECT", ts: "1.2", file: { id: "F1" } });
    expect(share).toMatchObject({ team_id: "T0HOME001", is_ext_shared_channel: true });
    expect(share.event).toMatchObject({ team: "T0OTHER", user_team: "T0OTHER", source_team: "T0OTHER" });
    expect(share.authorizations[0].team_id).toBe("T0HOME001");

    const forged = mentionEnvelope(who, { channel: "C0ANY0001", text: "hi", ts: "1.3", envelopeTeamId: "T0VICTIM" });
    expect(forged.team_id).toBe("T0VICTIM");
    expect(forged.authorizations[0].team_id).toBe("T0HOME001");

    expect(blockAction(external, { actionId: "a", value: "v", channel: "C0CONNECT", responseUrl: "x" })).toMatchObject({
      team: { id: "T0HOME001" },
      user: { id: OUTSIDER, team_id: "T0OTHER" },
    });
    expect(commandForm(external, { text: "q", channel: "C0CONNECT", responseUrl: "x" }).get("team_id")).toBe("T0OTHER");
  });
});
