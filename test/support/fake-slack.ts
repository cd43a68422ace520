import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { FakeSocketModeServer } from "./fake-socket-mode.js";

/**
 * A fake Slack for tests and the demo: the Web API methods the bot uses (under /api, so SLACK_API_URL is
 * `${url}/api`), response_url endpoints, file downloads behind a redirect that check the bot token,
 * the OAuth authorize page and oauth.v2.access, and Socket Mode (apps.connections.open + a WebSocket).
 * Every call is recorded; failures (429 with Retry-After, slow methods, standing refusals) can be injected.
 * Streamed answers (chat.startStream/appendStream/stopStream) are messages too, whose text grows with
 * each call; assistant.threads.setStatus is recorded and accepted.
 *
 * People and conversations (users.info, conversations.info, conversations.members, users.conversations)
 * answer as Slack answers a bot token: a private channel, group DM or DM the bot is not in does not exist
 * for it (channel_not_found); a public channel does, with `is_member: false`. Conversations are added per
 * team with `addChannel` (the bot is a member unless `botMember: false`).
 *
 * Leniency, so that tests written before conversations and users were modelled keep working:
 * - users.info of an id starting with U or W that no team knows answers an ordinary full member of the
 *   asking team (name = id). An id that another fake team knows stays `user_not_found`, as Slack hides
 *   other organisations' people, unless they share an externally shared channel with the asking team.
 *   `strictUsers = true`: every unknown id is `user_not_found`.
 * - An unknown conversation id starting with C is a public channel whose members are the team's known
 *   full members (added users who are neither guests, external, deleted nor bots), whoever posted or
 *   shared a file in it through the fake, and the bot. An unknown id starting with D is a DM between the
 *   bot and the first person who posted or shared a file in it through the fake, else the user whose id
 *   is the DM's with U for D (the rule chat.postMessage to a user id follows here: U0ASKER01 -> D0ASKER01).
 *   Any other unknown id (G...) is `channel_not_found`. users.conversations lists added conversations
 *   only. `strictConversations = true`: every unknown id is `channel_not_found`.
 */

export interface FakeUser {
  id: string;
  name: string;
  isAdmin?: boolean;
  isOwner?: boolean;
  /** The primary owner is also an owner and an admin in Slack's answers. */
  isPrimaryOwner?: boolean;
  email?: string;
  isBot?: boolean;
  /** "multi": a multi-channel guest (`is_restricted`); "single": a single-channel guest (also `is_ultra_restricted`). */
  isGuest?: "multi" | "single";
  /** Deactivated. */
  deleted?: boolean;
  /**
   * A Slack Connect user: visible from this team's token (they share a channel) but a member of another
   * organisation's team, which users.info reports as their `team_id`.
   */
  homeTeamId?: string;
}

export type FakeChannelKind = "public" | "private" | "im" | "mpim";

export interface FakeChannel {
  id: string;
  teamId: string;
  name: string;
  kind: FakeChannelKind;
  /** Every member, the team's bot user included when it is in the conversation. */
  members: string[];
  /** Shared with another organisation (Slack Connect). */
  externallyShared: boolean;
  /** The other teams the channel is shared with (Slack's `connected_team_ids`). */
  connectedTeams: string[];
  created: number;
}

export interface AddChannelInput {
  id: string;
  name?: string;
  kind: FakeChannelKind;
  members: string[];
  /** Default: true when a connected team is in another organisation (not this team's Enterprise Grid). */
  externallyShared?: boolean;
  connectedTeams?: string[];
  /** Default true: Slack only sends the bot events from conversations it is in. */
  botMember?: boolean;
}

/** One message that shared a file into a conversation. */
export interface FakeShare {
  channel: string;
  ts: string;
}

export interface FakeTeam {
  id: string;
  name: string;
  domain: string;
  enterpriseId?: string;
  botToken: string;
  botUserId: string;
  botId: string;
  users: Map<string, FakeUser>;
  channels: Map<string, FakeChannel>;
}

/**
 * Rich text elements as a reader of mrkdwn would write them (bold as `*…*`, links as `<url|text>`), so
 * tests can match one reading whichever way a message was built.
 */
function richText(elements: unknown): string {
  if (!Array.isArray(elements)) return "";
  return elements
    .map((e: { type?: string; text?: string; url?: string; style?: { bold?: boolean } }) => {
      const text = e.text ?? "";
      if (e.type === "link") return `<${e.url}|${text || e.url}>`;
      return e.style?.bold ? `*${text}*` : text;
    })
    .join("");
}

export interface FakeFile {
  id: string;
  teamId: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  prettyType: string;
  content: Buffer;
  user: string;
  /** The conversation it was first shared into. */
  channel: string;
  /** The message that shared it into `channel`. */
  ts: string;
  /** Every share, the first being `channel` and `ts` (see `shareFile`). */
  shares: FakeShare[];
  /** "same-host": one redirect hop on this server; "foreign-host": the hop goes to another host name. */
  redirect: "none" | "same-host" | "foreign-host";
  /** "same-host" only: how many redirect hops on this server before the file is served (default 1). */
  sameHostHops?: number;
  /** The download (with a valid token) answers 302 to exactly this Location instead (any URL). */
  redirectTo?: string;
  /** files.info's `url_private_download` is exactly this instead of this server's download link. */
  downloadUrl?: string;
  external?: boolean;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  user?: string;
  botId?: string;
  teamId: string;
  /** A message made with chat.startStream: its markdown so far, and whether it is still streaming. */
  stream?: { markdown: string; state: "streaming" | "stopped"; recipientUserId?: string; recipientTeamId?: string };
}

/** A standing refusal of a method (see `refuse`). */
interface Refusal {
  error: string;
  when?: (params: Record<string, any>) => boolean;
}

export interface RecordedCall {
  method: string;
  params: Record<string, any>;
  teamId?: string;
  at: number;
  /** What the fake answered (chat.postMessage: the new message's ts). */
  result?: Record<string, any>;
}

export interface ResponseUrlPost {
  id: string;
  body: any;
  at: number;
}

export interface DownloadRecord {
  path: string;
  host: string;
  authorization?: string;
  status: number;
}

interface Injected {
  status: number;
  retryAfter?: number;
  error?: string;
  times: number;
}

const JSON_FIELDS = new Set(["blocks", "attachments", "metadata", "view", "chunks"]);

let tsCounter = 0;
export function nextTs(): string {
  tsCounter++;
  return `${Math.floor(Date.now() / 1000)}.${String(100000 + (tsCounter % 900000)).padStart(6, "0")}`;
}

export class FakeSlack {
  readonly calls: RecordedCall[] = [];
  readonly responses: ResponseUrlPost[] = [];
  readonly downloads: DownloadRecord[] = [];
  readonly messages: FakeMessage[] = [];
  readonly teams = new Map<string, FakeTeam>();
  readonly files = new Map<string, FakeFile>();
  /** The Home tab views published with views.publish, per `team:user`, oldest first. */
  readonly homeViews = new Map<string, { view: { type: "home"; blocks: unknown[] }; at: number }[]>();
  readonly socket = new FakeSocketModeServer();
  /** Set by the test: who installs the app on the next OAuth authorize. */
  installingUser = "U0INSTALL1";
  clientId = "1111.2222";
  clientSecret = "fake-client-secret";
  appToken = `xapp-1-A0FAKE-${randomBytes(6).toString("hex")}`;
  /** users.info of an id no team knows: `user_not_found` instead of an ordinary member (see the class comment). */
  strictUsers = false;
  /** A conversation id that was not added: `channel_not_found` instead of a public channel or DM. */
  strictConversations = false;
  private readonly injected = new Map<string, Injected>();
  private readonly refusals = new Map<string, Refusal>();
  private readonly delays = new Map<string, number>();
  private readonly codes = new Map<string, string>();
  private readonly revoked = new Set<string>();
  private readonly tempLinks = new Map<string, string>();
  private server!: Server;
  private cdn!: Server;
  url = "";
  cdnUrl = "";

  get apiUrl(): string {
    return `${this.url}/api`;
  }

  static async start(): Promise<FakeSlack> {
    const fake = new FakeSlack();
    fake.server = createServer((req, res) => {
      fake.handle(req, res).catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
    });
    fake.server.on("upgrade", (req, socket, head) => fake.socket.upgrade(req, socket, head));
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    // A second host name for the same machine: a redirect there must not carry the bot token.
    fake.cdn = createServer((req, res) => fake.serveCdn(req, res));
    await new Promise<void>((resolve) => fake.cdn.listen(0, "127.0.0.1", resolve));
    fake.cdnUrl = `http://localhost:${(fake.cdn.address() as AddressInfo).port}`;
    return fake;
  }

  async stop(): Promise<void> {
    this.socket.closeAll();
    for (const s of [this.server, this.cdn]) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  addTeam(input: { id: string; name: string; enterpriseId?: string; users?: FakeUser[] }): FakeTeam {
    const suffix = randomBytes(8).toString("hex");
    const team: FakeTeam = {
      id: input.id,
      name: input.name,
      domain: input.name.toLowerCase().replace(/[^a-z0-9]+/g, "-"),
      ...(input.enterpriseId ? { enterpriseId: input.enterpriseId } : {}),
      botToken: `xoxb-${input.id}-${suffix}`,
      botUserId: `U0BOT${input.id.slice(1, 6)}`,
      botId: `B0BOT${input.id.slice(1, 6)}`,
      users: new Map((input.users ?? []).map((u) => [u.id, u])),
      channels: new Map(),
    };
    this.teams.set(team.id, team);
    return team;
  }

  addUser(teamId: string, user: FakeUser): void {
    this.team(teamId).users.set(user.id, user);
  }

  team(teamId: string): FakeTeam {
    const team = this.teams.get(teamId);
    if (!team) throw new Error(`no fake team ${teamId}`);
    return team;
  }

  /**
   * A conversation of `teamId`. The bot user is added to `members` unless `botMember: false`; a DM must
   * end up with exactly two members.
   */
  addChannel(teamId: string, input: AddChannelInput): FakeChannel {
    const team = this.team(teamId);
    const people = [...new Set(input.members)].filter((m) => m !== team.botUserId);
    const members = input.botMember === false ? people : [...people, team.botUserId];
    if (input.kind === "im" && members.length !== 2)
      throw new Error(`a DM has two members, ${input.id} has ${members.join(", ") || "none"}`);
    const connectedTeams = [...(input.connectedTeams ?? [])];
    const channel: FakeChannel = {
      id: input.id,
      teamId,
      name: input.name ?? this.defaultName(team, input.kind, input.id, members),
      kind: input.kind,
      members,
      externallyShared: input.externallyShared ?? connectedTeams.some((id) => !this.sameOrganisation(team, id)),
      connectedTeams,
      created: Math.floor(Date.now() / 1000),
    };
    team.channels.set(channel.id, channel);
    return channel;
  }

  /** An added conversation. */
  channel(teamId: string, channelId: string): FakeChannel {
    const channel = this.team(teamId).channels.get(channelId);
    if (!channel) throw new Error(`no fake channel ${channelId} in ${teamId}`);
    return channel;
  }

  /** Replaces the people in a conversation; the bot stays in it if it was (remove it with `removeMember`). */
  setMembers(teamId: string, channelId: string, members: string[]): void {
    const channel = this.channel(teamId, channelId);
    const bot = this.team(teamId).botUserId;
    const next = [...new Set(members)];
    if (channel.members.includes(bot) && !next.includes(bot)) next.push(bot);
    channel.members = next;
  }

  addMember(teamId: string, channelId: string, userId: string): void {
    const channel = this.channel(teamId, channelId);
    if (!channel.members.includes(userId)) channel.members.push(userId);
  }

  removeMember(teamId: string, channelId: string, userId: string): void {
    const channel = this.channel(teamId, channelId);
    channel.members = channel.members.filter((m) => m !== userId);
  }

  /**
   * A file and the message that shared it into `channel`; `channels` shares it into more conversations,
   * each with its own message, as when someone shares a file again elsewhere.
   */
  addFile(
    input: Omit<FakeFile, "ts" | "redirect" | "title" | "prettyType" | "shares"> &
      Partial<Pick<FakeFile, "ts" | "redirect" | "title" | "prettyType">> & { channels?: string[] },
  ): FakeFile {
    const { channels, ...rest } = input;
    const file: FakeFile = {
      ...rest,
      ts: rest.ts ?? nextTs(),
      redirect: rest.redirect ?? "same-host",
      title: rest.title ?? rest.name,
      prettyType: rest.prettyType ?? rest.filetype.toUpperCase(),
      shares: [],
    };
    this.files.set(`${file.teamId}:${file.id}`, file);
    this.recordShare(file, file.channel, file.ts);
    for (const channel of channels ?? []) if (channel !== file.channel) this.recordShare(file, channel, nextTs());
    return file;
  }

  /** Shares an added file into one more conversation; the share's ts is the new sharing message's. */
  shareFile(teamId: string, fileId: string, channelId: string): FakeShare {
    const file = this.files.get(`${teamId}:${fileId}`);
    if (!file) throw new Error(`no fake file ${fileId} in ${teamId}`);
    return this.recordShare(file, channelId, nextTs());
  }

  private recordShare(file: FakeFile, channel: string, ts: string): FakeShare {
    const share: FakeShare = { channel, ts };
    file.shares.push(share);
    // The sharing message exists in its channel, as in Slack.
    this.messages.push({ channel, ts, text: "", user: file.user, teamId: file.teamId });
    return share;
  }

  /** A human message, so conversations.replies can return it. */
  addUserMessage(
    teamId: string,
    m: { channel: string; user: string; text: string; ts?: string; threadTs?: string },
  ): FakeMessage {
    const message: FakeMessage = {
      channel: m.channel,
      ts: m.ts ?? nextTs(),
      text: m.text,
      user: m.user,
      teamId,
      ...(m.threadTs ? { threadTs: m.threadTs } : {}),
    };
    this.messages.push(message);
    return message;
  }

  /** A new response_url, as Slack puts in a command or action payload. */
  responseUrl(): string {
    return `${this.url}/response/${randomBytes(8).toString("hex")}`;
  }

  responsesTo(url: string): ResponseUrlPost[] {
    const id = url.split("/").pop();
    return this.responses.filter((r) => r.id === id);
  }

  failNext(method: string, failure: { status?: number; retryAfter?: number; error?: string; times?: number }): void {
    this.injected.set(method, { status: failure.status ?? 200, times: failure.times ?? 1, ...failure } as Injected);
  }

  /**
   * Makes every call of `method` (or those whose params satisfy `when`) answer `{ ok: false, error }`
   * until `allow(method)`, as Slack refuses chat.startStream outside the conversations it supports
   * (`not_allowed`, `method_not_supported_for_channel_type`) or without a scope (`missing_scope`).
   */
  refuse(method: string, error: string, when?: (params: Record<string, any>) => boolean): void {
    this.refusals.set(method, { error, ...(when ? { when } : {}) });
  }

  allow(method: string): void {
    this.refusals.delete(method);
  }

  /**
   * The bot's messages in a thread (`threadTs`), or at the top level of the conversation when it is
   * undefined, oldest first; streamed ones included.
   */
  botMessages(channel: string, threadTs: string | undefined, teamId?: string): FakeMessage[] {
    return this.messages
      .filter(
        (m) =>
          m.botId &&
          m.channel === channel &&
          (teamId === undefined || m.teamId === teamId) &&
          (threadTs === undefined ? m.threadTs === undefined : m.threadTs === threadTs),
      )
      .sort((a, b) => Number(a.ts) - Number(b.ts));
  }

  delay(method: string, ms: number): void {
    this.delays.set(method, ms);
  }

  revoke(token: string): void {
    this.revoked.add(token);
  }

  callsTo(method: string, teamId?: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && (teamId === undefined || c.teamId === teamId));
  }

  /** Polls until `probe` returns something truthy. */
  async waitFor<T>(probe: () => T | undefined | false | null, timeoutMs = 15_000, what = "condition"): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * The text of a message: its top-level text plus every mrkdwn/plain text in its blocks. For a streamed
   * message (or the params of a chat.startStream/appendStream/stopStream call), its markdown text too.
   */
  static textOf(message: {
    text?: string;
    blocks?: unknown;
    stream?: { markdown: string };
    markdown_text?: unknown;
    chunks?: unknown;
  }): string {
    const markdown = message.stream ? message.stream.markdown : markdownOf(message);
    const parts: string[] = markdown ? [...(message.text ? [message.text] : []), markdown] : [message.text ?? ""];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        const o = node as Record<string, unknown>;
        if ((o.type === "mrkdwn" || o.type === "plain_text") && typeof o.text === "string") parts.push(o.text);
        if (o.type === "rich_text_section" || o.type === "rich_text_quote") {
          parts.push(`${o.type === "rich_text_quote" ? ">" : ""}${richText(o.elements)}`);
          return;
        }
        for (const v of Object.values(o)) if (typeof v === "object") walk(v);
      }
    };
    walk(message.blocks);
    return parts.join("\n");
  }

  /** The last Home tab view published for a user of a team. */
  lastHomeView(teamId: string, userId: string): { type: "home"; blocks: unknown[] } | undefined {
    return this.homeViews.get(`${teamId}:${userId}`)?.at(-1)?.view;
  }

  /** The text of the last Home tab view published for a user ("" when none was). */
  homeText(teamId: string, userId: string): string {
    const view = this.lastHomeView(teamId, userId);
    return view ? FakeSlack.textOf({ blocks: view.blocks }) : "";
  }

  /** Waits for a Home tab view published for the user after `since` (a count of views published before). */
  async waitForHome(teamId: string, userId: string, since: number, timeoutMs = 15_000): Promise<string> {
    await this.waitFor(
      () => (this.homeViews.get(`${teamId}:${userId}`)?.length ?? 0) > since,
      timeoutMs,
      `home view for ${userId}`,
    );
    return this.homeText(teamId, userId);
  }

  homeViewCount(teamId: string, userId: string): number {
    return this.homeViews.get(`${teamId}:${userId}`)?.length ?? 0;
  }

  private teamOfToken(token: string | undefined): FakeTeam | undefined {
    if (!token || this.revoked.has(token)) return undefined;
    return [...this.teams.values()].find((t) => t.botToken === token);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    if (req.method === "POST" && url.pathname.startsWith("/api/")) return this.api(url.pathname.slice(5), req, res);
    if (req.method === "POST" && url.pathname.startsWith("/response/"))
      return this.responseUrlPost(url.pathname.slice(10), req, res);
    if (req.method === "GET" && url.pathname === "/oauth/v2/authorize") return this.authorize(url, res);
    if (req.method === "GET" && url.pathname.startsWith("/files-pri/")) return this.download(url, req, res);
    if (req.method === "GET" && url.pathname.startsWith("/files-tmp/")) return this.serveTemp(url, req, res);
    res.writeHead(404).end("not found");
  }

  private async api(method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const params = parseParams(raw, req.headers["content-type"] ?? "");
    const auth =
      req.headers.authorization?.replace(/^Bearer\s+/i, "") ??
      (typeof params.token === "string" ? params.token : undefined);
    const team = this.teamOfToken(auth);
    const call: RecordedCall = { method, params, ...(team ? { teamId: team.id } : {}), at: Date.now() };
    this.calls.push(call);
    const delay = this.delays.get(method);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const refusal = this.refusals.get(method);
    if (refusal && (!refusal.when || refusal.when(params))) return json(res, { ok: false, error: refusal.error });
    const injected = this.injected.get(method);
    if (injected && injected.times > 0) {
      injected.times--;
      if (injected.status !== 200) {
        res.writeHead(
          injected.status,
          injected.retryAfter !== undefined ? { "retry-after": String(injected.retryAfter) } : {},
        );
        res.end(JSON.stringify({ ok: false, error: injected.status === 429 ? "ratelimited" : "fatal_error" }));
        return;
      }
      return json(res, { ok: false, error: injected.error ?? "internal_error" });
    }
    const noAuth = ["oauth.v2.access", "apps.connections.open"];
    if (!noAuth.includes(method) && !team)
      return json(res, { ok: false, error: auth && this.revoked.has(auth) ? "token_revoked" : "invalid_auth" });
    const t = team as FakeTeam;
    switch (method) {
      case "auth.test":
        return json(res, {
          ok: true,
          url: `https://${t.domain}.slack.com/`,
          team: t.name,
          user: "enclave",
          team_id: t.id,
          user_id: t.botUserId,
          bot_id: t.botId,
          is_enterprise_install: false,
          ...(t.enterpriseId ? { enterprise_id: t.enterpriseId } : {}),
        });
      case "chat.postMessage": {
        const channel = String(params.channel ?? "");
        const ts = nextTs();
        const message: FakeMessage = {
          channel: channel.startsWith("U") ? `D${channel.slice(1)}` : channel,
          ts,
          text: String(params.text ?? ""),
          ...(Array.isArray(params.blocks) ? { blocks: params.blocks } : {}),
          ...(params.thread_ts ? { threadTs: String(params.thread_ts) } : {}),
          user: t.botUserId,
          botId: t.botId,
          teamId: t.id,
        };
        this.messages.push(message);
        call.result = { ts, channel: message.channel };
        return json(res, { ok: true, channel: message.channel, ts, message: { text: message.text, ts } });
      }
      case "chat.update": {
        const message = this.messages.find(
          (m) => m.teamId === t.id && m.channel === params.channel && m.ts === params.ts,
        );
        if (!message) return json(res, { ok: false, error: "message_not_found" });
        message.text = String(params.text ?? "");
        if (Array.isArray(params.blocks)) message.blocks = params.blocks;
        // An update replaces a streamed message's content as well.
        delete message.stream;
        return json(res, { ok: true, channel: message.channel, ts: message.ts });
      }
      case "chat.startStream": {
        const channel = String(params.channel ?? "");
        if (!params.thread_ts)
          return json(res, {
            ok: false,
            error: "invalid_arguments",
            response_metadata: { messages: ["[ERROR] missing required field: thread_ts"] },
          });
        const im = this.conversationOf(t, channel)?.kind === "im";
        if (!im && (!params.recipient_user_id || !params.recipient_team_id))
          return json(res, {
            ok: false,
            error: "invalid_arguments",
            response_metadata: {
              messages: ["[ERROR] recipient_user_id and recipient_team_id are required outside of a DM"],
            },
          });
        const ts = nextTs();
        const message: FakeMessage = {
          channel,
          ts,
          threadTs: String(params.thread_ts),
          text: "",
          user: t.botUserId,
          botId: t.botId,
          teamId: t.id,
          stream: {
            markdown: markdownOf(params),
            state: "streaming",
            ...(params.recipient_user_id ? { recipientUserId: String(params.recipient_user_id) } : {}),
            ...(params.recipient_team_id ? { recipientTeamId: String(params.recipient_team_id) } : {}),
          },
        };
        this.messages.push(message);
        call.result = { ts, channel };
        return json(res, { ok: true, channel, ts });
      }
      case "chat.appendStream":
      case "chat.stopStream": {
        const message = this.messages.find(
          (m) => m.teamId === t.id && m.channel === params.channel && m.ts === params.ts,
        );
        if (!message) return json(res, { ok: false, error: "message_not_found" });
        if (message.stream?.state !== "streaming")
          return json(res, { ok: false, error: "message_not_in_streaming_state" });
        message.stream.markdown += markdownOf(params);
        if (method === "chat.stopStream") {
          message.stream.state = "stopped";
          if (Array.isArray(params.blocks)) message.blocks = params.blocks;
        }
        return json(res, { ok: true, channel: message.channel, ts: message.ts });
      }
      case "assistant.threads.setStatus":
        if (!params.channel_id || !params.thread_ts || params.status === undefined)
          return json(res, { ok: false, error: "invalid_arguments" });
        return json(res, { ok: true });
      case "chat.postEphemeral":
        return json(res, { ok: true, message_ts: nextTs() });
      case "chat.delete":
      case "reactions.add":
      case "reactions.remove":
        return json(res, { ok: true });
      case "files.info": {
        const file = this.files.get(`${t.id}:${params.file}`);
        if (!file) return json(res, { ok: false, error: "file_not_found" });
        return json(res, { ok: true, file: this.fileJson(file) });
      }
      case "conversations.replies": {
        const root = String(params.ts ?? "");
        const thread = this.messages
          .filter((m) => m.teamId === t.id && m.channel === params.channel && (m.ts === root || m.threadTs === root))
          .sort((a, b) => Number(a.ts) - Number(b.ts))
          .map((m) => ({
            type: "message",
            ts: m.ts,
            // A streamed message's text is the markdown it was streamed.
            text: m.stream ? m.stream.markdown : m.text,
            ...(m.user ? { user: m.user } : {}),
            ...(m.botId ? { bot_id: m.botId } : {}),
            ...(m.threadTs ? { thread_ts: m.threadTs } : { thread_ts: root }),
          }));
        return json(res, { ok: true, messages: thread, has_more: false });
      }
      case "users.info": {
        const user = this.findUser(t, String(params.user ?? ""));
        if (!user) return json(res, { ok: false, error: "user_not_found" });
        return json(res, { ok: true, user: this.userJson(t, user) });
      }
      case "conversations.info": {
        const channel = this.conversationOf(t, String(params.channel ?? ""));
        if (!channel || !this.botCanSee(t, channel)) return json(res, { ok: false, error: "channel_not_found" });
        return json(res, {
          ok: true,
          channel: this.conversationJson(t, channel, isTrue(params.include_num_members)),
        });
      }
      case "conversations.members": {
        const channel = this.conversationOf(t, String(params.channel ?? ""));
        if (!channel || !this.botCanSee(t, channel)) return json(res, { ok: false, error: "channel_not_found" });
        const page = pageOf(channel.members, params.cursor, params.limit);
        if (!page) return json(res, { ok: false, error: "invalid_cursor" });
        return json(res, { ok: true, members: page.items, response_metadata: { next_cursor: page.next } });
      }
      case "users.conversations": {
        const userId = params.user === undefined ? t.botUserId : String(params.user);
        if (!this.findUser(t, userId)) return json(res, { ok: false, error: "user_not_found" });
        const kinds = kindsOf(params.types);
        if (!kinds) return json(res, { ok: false, error: "invalid_types" });
        // With a bot token Slack lists a user's private channels, group DMs and DMs only where the bot is
        // a member too; public channels whatever the bot's membership.
        const listed = [...t.channels.values()].filter(
          (c) => kinds.has(c.kind) && c.members.includes(userId) && this.botCanSee(t, c),
        );
        const page = pageOf(listed, params.cursor, params.limit);
        if (!page) return json(res, { ok: false, error: "invalid_cursor" });
        return json(res, {
          ok: true,
          channels: page.items.map((c) => this.conversationJson(t, c, false)),
          response_metadata: { next_cursor: page.next },
        });
      }
      case "views.publish": {
        const userId = String(params.user_id ?? "");
        if (!userId || !this.findUser(t, userId)) return json(res, { ok: false, error: "user_not_found" });
        const problem = homeViewProblem(params.view);
        if (problem)
          return json(res, { ok: false, error: problem.error, response_metadata: { messages: [problem.message] } });
        const view = params.view as { type: "home"; blocks: unknown[] };
        const key = `${t.id}:${userId}`;
        const published = this.homeViews.get(key) ?? [];
        published.push({ view, at: Date.now() });
        this.homeViews.set(key, published);
        return json(res, { ok: true, view: { id: `V0${published.length}`, team_id: t.id, ...view } });
      }
      case "team.info":
        return json(res, { ok: true, team: { id: t.id, name: t.name, domain: t.domain } });
      case "oauth.v2.access":
        return this.oauthAccess(params, req, res);
      case "apps.connections.open": {
        if (auth !== this.appToken) return json(res, { ok: false, error: "invalid_auth" });
        return json(res, {
          ok: true,
          url: `${this.url.replace(/^http/, "ws")}/socket-mode?ticket=${randomBytes(6).toString("hex")}`,
        });
      }
      default:
        return json(res, { ok: false, error: "unknown_method" });
    }
  }

  fileJson(file: FakeFile): Record<string, unknown> {
    const base = `${this.url}/files-pri/${file.teamId}-${file.id}`;
    const team = this.team(file.teamId);
    // Slack files every share under `public` or `private` by the conversation's kind, and lists the
    // conversations again as `channels` (public), `groups` (private channels, group DMs) and `ims`.
    const shares: Record<"public" | "private", Record<string, unknown[]>> = { public: {}, private: {} };
    const lists: Record<"channels" | "groups" | "ims", string[]> = { channels: [], groups: [], ims: [] };
    for (const share of file.shares) {
      const kind = this.shareKind(team, share.channel);
      const bucket = shares[kind === "public" ? "public" : "private"];
      const entries = bucket[share.channel] ?? [];
      bucket[share.channel] = entries;
      entries.push({
        ts: share.ts,
        channel_name: team.channels.get(share.channel)?.name ?? share.channel.toLowerCase(),
        team_id: team.id,
        share_user_id: file.user,
        reply_users: [],
        reply_users_count: 0,
        reply_count: 0,
      });
      const list = lists[kind === "public" ? "channels" : kind === "im" ? "ims" : "groups"];
      if (!list.includes(share.channel)) list.push(share.channel);
    }
    return {
      id: file.id,
      created: Math.floor(Date.now() / 1000),
      name: file.name,
      title: file.title,
      mimetype: file.mimetype,
      filetype: file.filetype,
      pretty_type: file.prettyType,
      user: file.user,
      size: file.content.length,
      mode: file.external ? "external" : "hosted",
      is_external: Boolean(file.external),
      is_public: lists.channels.length > 0,
      url_private: `${base}/${encodeURIComponent(file.name)}`,
      url_private_download: file.downloadUrl ?? `${base}/download/${encodeURIComponent(file.name)}`,
      permalink: `https://${team.domain}.slack.com/files/${file.user}/${file.id}/${encodeURIComponent(file.name)}`,
      ...lists,
      shares: Object.fromEntries(Object.entries(shares).filter(([, byChannel]) => Object.keys(byChannel).length > 0)),
    };
  }

  /** An added conversation's kind; for others the id's prefix, as Slack's ids once said (C public, D DM). */
  private shareKind(team: FakeTeam, channelId: string): FakeChannelKind {
    const added = team.channels.get(channelId)?.kind;
    if (added) return added;
    return channelId.startsWith("C") ? "public" : channelId.startsWith("D") ? "im" : "private";
  }

  /** An added conversation, or the lenient stand-in for an unknown C or D id (see the class comment). */
  private conversationOf(team: FakeTeam, channelId: string): FakeChannel | undefined {
    const added = team.channels.get(channelId);
    if (added || this.strictConversations || !channelId) return added;
    const posters = this.messages
      .filter((m) => m.teamId === team.id && m.channel === channelId && m.user && !m.botId)
      .map((m) => m.user as string)
      .filter((u) => u !== team.botUserId);
    const created = Math.floor(Date.now() / 1000);
    const lenient = { id: channelId, teamId: team.id, externallyShared: false, connectedTeams: [], created };
    if (channelId.startsWith("C")) {
      const fullMembers = [...team.users.values()]
        .filter((u) => !u.isGuest && !u.homeTeamId && !u.deleted && !u.isBot)
        .map((u) => u.id);
      const members = [...new Set([...fullMembers, ...posters]), team.botUserId];
      return { ...lenient, name: channelId.toLowerCase(), kind: "public", members };
    }
    if (channelId.startsWith("D")) {
      const other = posters[0] ?? `U${channelId.slice(1)}`;
      return { ...lenient, name: channelId, kind: "im", members: [other, team.botUserId] };
    }
    return undefined;
  }

  /** A bot token sees every public channel, and other conversations only while the bot is in them. */
  private botCanSee(team: FakeTeam, channel: FakeChannel): boolean {
    return channel.kind === "public" || channel.members.includes(team.botUserId);
  }

  private sameOrganisation(team: FakeTeam, otherTeamId: string): boolean {
    const other = this.teams.get(otherTeamId);
    return otherTeamId === team.id || Boolean(team.enterpriseId && other?.enterpriseId === team.enterpriseId);
  }

  private defaultName(team: FakeTeam, kind: FakeChannelKind, id: string, members: string[]): string {
    if (kind === "im") return id;
    if (kind !== "mpim") return id.toLowerCase();
    const names = members.filter((m) => m !== team.botUserId).map((m) => team.users.get(m)?.name ?? m.toLowerCase());
    return `mpdm-${names.join("--")}-1`;
  }

  /** Slack's conversation object, as a bot token gets it from conversations.info and users.conversations. */
  private conversationJson(team: FakeTeam, c: FakeChannel, includeNumMembers: boolean): Record<string, unknown> {
    if (c.kind === "im") {
      // A DM is Slack's slimmer im object: no name, no is_channel/is_private/is_member; `user` is the
      // other party (the caller being the bot).
      const user = c.members.find((m) => m !== team.botUserId) ?? c.members[0];
      return {
        id: c.id,
        created: c.created,
        is_archived: false,
        is_im: true,
        is_org_shared: false,
        context_team_id: team.id,
        updated: c.created * 1000,
        user,
        is_user_deleted: Boolean(user && team.users.get(user)?.deleted),
        is_open: true,
        priority: 0,
      };
    }
    const connected =
      c.connectedTeams.length > 0 ? c.connectedTeams : c.externallyShared ? this.homeTeamsIn(team, c) : [];
    const legacyGroup = c.kind === "private" && c.id.startsWith("G");
    return {
      id: c.id,
      name: c.name,
      name_normalized: c.name,
      // Private channels created before March 2021 (G ids) are "groups"; newer ones are channels too.
      is_channel: c.kind === "public" || (c.kind === "private" && !legacyGroup),
      is_group: legacyGroup,
      is_im: false,
      is_mpim: c.kind === "mpim",
      is_private: c.kind !== "public",
      created: c.created,
      is_archived: false,
      is_general: false,
      unlinked: 0,
      // is_ext_shared: another organisation; is_org_shared: other workspaces of the same Enterprise Grid.
      is_shared: c.externallyShared || connected.length > 0,
      is_ext_shared: c.externallyShared,
      is_org_shared: connected.some((id) => id !== team.id && this.sameOrganisation(team, id)),
      is_pending_ext_shared: false,
      pending_shared: [],
      context_team_id: team.id,
      updated: c.created * 1000,
      parent_conversation: null,
      creator: c.members.find((m) => m !== team.botUserId) ?? team.botUserId,
      shared_team_ids: [team.id, ...connected],
      ...(connected.length > 0 ? { connected_team_ids: connected, conversation_host_id: team.id } : {}),
      pending_connected_team_ids: [],
      is_member: c.members.includes(team.botUserId),
      topic: { value: "", creator: "", last_set: 0 },
      purpose: { value: "", creator: "", last_set: 0 },
      previous_names: [],
      ...(includeNumMembers ? { num_members: c.members.length } : {}),
    };
  }

  /** The other organisations' teams of a shared channel's members, when the test named none. */
  private homeTeamsIn(team: FakeTeam, c: FakeChannel): string[] {
    const homes = new Set<string>();
    for (const m of c.members) {
      const home = this.findUser(team, m)?.homeTeamId;
      if (home && home !== team.id) homes.add(home);
    }
    return [...homes];
  }

  /**
   * Whom users.info answers for: the team's own users (Slack Connect ones carry `homeTeamId`), its bot,
   * a user of another fake team in one of this team's externally shared channels, else (lenient) an
   * ordinary member for an id no fake team knows.
   */
  private findUser(team: FakeTeam, userId: string): FakeUser | undefined {
    const own = team.users.get(userId);
    if (own) return own;
    if (userId === team.botUserId) return { id: userId, name: "enclave", isBot: true };
    const others = [...this.teams.values()].filter((o) => o.id !== team.id);
    const shared = [...team.channels.values()].some(
      (c) => (c.externallyShared || c.connectedTeams.length > 0) && c.members.includes(userId),
    );
    for (const other of others) {
      const user = other.users.get(userId);
      if (user) return shared ? { ...user, homeTeamId: user.homeTeamId ?? other.id } : undefined;
      if (userId === other.botUserId) return undefined;
    }
    if (this.strictUsers || !/^[UW][A-Z0-9]+$/.test(userId)) return undefined;
    return { id: userId, name: userId };
  }

  /** Slack's user object. */
  private userJson(team: FakeTeam, user: FakeUser): Record<string, unknown> {
    const homeTeamId = user.homeTeamId ?? team.id;
    const home = this.teams.get(homeTeamId);
    const enterpriseId = homeTeamId === team.id ? team.enterpriseId : home?.enterpriseId;
    const owner = Boolean(user.isOwner || user.isPrimaryOwner);
    const admin = Boolean(user.isAdmin || owner);
    const roles = {
      is_admin: admin,
      is_owner: owner,
      is_primary_owner: Boolean(user.isPrimaryOwner),
      // Slack marks every guest restricted, and single-channel guests ultra restricted as well.
      is_restricted: Boolean(user.isGuest),
      is_ultra_restricted: user.isGuest === "single",
    };
    return {
      id: user.id,
      team_id: homeTeamId,
      name: user.name,
      deleted: Boolean(user.deleted),
      real_name: user.name,
      tz: "Europe/London",
      tz_label: "Greenwich Mean Time",
      tz_offset: 0,
      profile: {
        real_name: user.name,
        display_name: user.name,
        team: homeTeamId,
        ...(user.email ? { email: user.email } : {}),
        ...(user.id === team.botUserId ? { bot_id: team.botId } : {}),
      },
      // A deactivated account's object carries no roles in Slack's answers.
      ...(user.deleted ? {} : roles),
      is_bot: Boolean(user.isBot),
      is_app_user: false,
      updated: Math.floor(Date.now() / 1000),
      ...(enterpriseId
        ? {
            enterprise_user: {
              id: user.id,
              enterprise_id: enterpriseId,
              enterprise_name: "Grid",
              is_admin: admin,
              is_owner: owner,
              is_primary_owner: Boolean(user.isPrimaryOwner),
              teams: [homeTeamId],
            },
          }
        : {}),
    };
  }

  private download(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const auth = req.headers.authorization;
    const match = /^\/files-pri\/([A-Z0-9]+)-([A-Z0-9]+)\//.exec(url.pathname);
    const file = match ? this.files.get(`${match[1]}:${match[2]}`) : undefined;
    const team = this.teamOfToken(auth?.replace(/^Bearer\s+/i, ""));
    const ok = file && team && team.id === file.teamId;
    const record = (status: number) =>
      this.downloads.push({ path: url.pathname, host: url.host, ...(auth ? { authorization: auth } : {}), status });
    if (!ok) {
      // Like Slack: no valid token, no file (Slack sends its sign-in page).
      record(200);
      res.writeHead(200, { "content-type": "text/html" }).end("<html>Sign in to Slack</html>");
      return;
    }
    if (file.redirect === "none") {
      record(200);
      res.writeHead(200, { "content-type": file.mimetype, "content-length": file.content.length }).end(file.content);
      return;
    }
    const key = randomBytes(8).toString("hex");
    this.tempLinks.set(key, `${file.teamId}:${file.id}`);
    record(302);
    const location =
      file.redirectTo ??
      (file.redirect === "foreign-host"
        ? `${this.cdnUrl}/cdn/${key}`
        : `/files-tmp/${key}/${encodeURIComponent(file.name)}`);
    res.writeHead(302, { location }).end();
  }

  /** The hop after the redirect still needs the token, as Slack's own file hosts do. */
  private serveTemp(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const key = url.pathname.split("/")[2] ?? "";
    const file = this.files.get(this.tempLinks.get(key) ?? "");
    const auth = req.headers.authorization;
    const team = this.teamOfToken(auth?.replace(/^Bearer\s+/i, ""));
    const ok = file && team?.id === file.teamId;
    const hop = Number(url.searchParams.get("hop") ?? "1");
    const again = ok && hop < (file.sameHostHops ?? 1);
    this.downloads.push({
      path: url.pathname,
      host: url.host,
      ...(auth ? { authorization: auth } : {}),
      status: ok ? (again ? 302 : 200) : 403,
    });
    if (!ok) {
      res.writeHead(403).end("forbidden");
      return;
    }
    if (again) {
      res.writeHead(302, { location: `${url.pathname}?hop=${hop + 1}` }).end();
      return;
    }
    res.writeHead(200, { "content-type": file.mimetype, "content-length": file.content.length }).end(file.content);
  }

  /** A pre-signed link on another host: it needs no token, and must not receive one. */
  private serveCdn(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", this.cdnUrl);
    const key = url.pathname.split("/")[2] ?? "";
    const file = this.files.get(this.tempLinks.get(key) ?? "");
    const auth = req.headers.authorization;
    this.downloads.push({
      path: url.pathname,
      host: url.host,
      ...(auth ? { authorization: auth } : {}),
      status: file ? 200 : 404,
    });
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": file.mimetype, "content-length": file.content.length }).end(file.content);
  }

  private async responseUrlPost(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
    const injected = this.injected.get("response_url");
    if (injected && injected.times > 0) {
      injected.times--;
      res
        .writeHead(
          injected.status,
          injected.retryAfter !== undefined ? { "retry-after": String(injected.retryAfter) } : {},
        )
        .end("rate limited");
      return;
    }
    this.responses.push({ id, body, at: Date.now() });
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  }

  /** Slack's authorize page, approved at once by `installingUser` of `?team=` (default: the first team). */
  private authorize(url: URL, res: ServerResponse): void {
    const redirect = url.searchParams.get("redirect_uri");
    const state = url.searchParams.get("state") ?? "";
    const teamId = url.searchParams.get("team") ?? [...this.teams.keys()][0];
    if (!redirect || !teamId || url.searchParams.get("client_id") !== this.clientId) {
      res.writeHead(400).end("bad authorize request");
      return;
    }
    const code = randomBytes(10).toString("hex");
    this.codes.set(code, teamId);
    this.calls.push({
      method: "oauth/v2/authorize",
      params: Object.fromEntries(url.searchParams),
      teamId,
      at: Date.now(),
    });
    const target = new URL(redirect);
    target.searchParams.set("code", code);
    target.searchParams.set("state", state);
    res.writeHead(302, { location: target.toString() }).end();
  }

  private oauthAccess(params: Record<string, any>, req: IncomingMessage, res: ServerResponse): void {
    let clientId = params.client_id;
    let clientSecret = params.client_secret;
    const basic = req.headers.authorization?.match(/^Basic\s+(.+)$/i)?.[1];
    if (basic) [clientId, clientSecret] = Buffer.from(basic, "base64").toString().split(":");
    const teamId = this.codes.get(String(params.code));
    this.codes.delete(String(params.code));
    if (clientId !== this.clientId || clientSecret !== this.clientSecret) {
      json(res, { ok: false, error: "invalid_client_id" });
      return;
    }
    if (!teamId) {
      json(res, { ok: false, error: "invalid_code" });
      return;
    }
    const t = this.team(teamId);
    json(res, {
      ok: true,
      app_id: "A0FAKEAPP",
      authed_user: { id: this.installingUser },
      scope: String(this.calls.findLast((c) => c.method === "oauth/v2/authorize")?.params.scope ?? ""),
      token_type: "bot",
      access_token: t.botToken,
      bot_user_id: t.botUserId,
      team: { id: t.id, name: t.name },
      enterprise: t.enterpriseId ? { id: t.enterpriseId, name: "Grid" } : null,
      is_enterprise_install: false,
    });
  }
}

/**
 * Slack's checks of a published Home tab: a `home` view with at most 100 blocks, section texts of at
 * most 3,000 characters, header texts of at most 150.
 */
function homeViewProblem(view: unknown): { error: string; message: string } | undefined {
  if (!view || typeof view !== "object")
    return { error: "invalid_arguments", message: "[ERROR] missing required field: view" };
  const v = view as { type?: unknown; blocks?: unknown };
  if (v.type !== "home")
    return { error: "invalid_arguments", message: "[ERROR] must be 'home' [json-pointer:/view/type]" };
  if (!Array.isArray(v.blocks))
    return { error: "invalid_arguments", message: "[ERROR] missing required field: blocks" };
  if (v.blocks.length > 100)
    return { error: "invalid_blocks", message: "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]" };
  for (const [i, block] of v.blocks.entries()) {
    const b = block as { type?: unknown; text?: { text?: unknown } };
    const text = typeof b.text?.text === "string" ? b.text.text : "";
    const max = b.type === "header" ? 150 : b.type === "section" ? 3000 : Number.POSITIVE_INFINITY;
    if (text.length > max)
      return {
        error: "invalid_blocks",
        message: `[ERROR] must be less than ${max} characters [json-pointer:/view/blocks/${i}/text]`,
      };
  }
  return undefined;
}

/** The markdown a chat.startStream/appendStream/stopStream call carries: `markdown_text`, then its chunks'. */
function markdownOf(params: { markdown_text?: unknown; chunks?: unknown }): string {
  const chunks = Array.isArray(params.chunks) ? params.chunks : [];
  const texts = chunks.flatMap((c: { type?: unknown; text?: unknown }) =>
    c?.type === "markdown_text" && typeof c.text === "string" ? [c.text] : [],
  );
  return `${typeof params.markdown_text === "string" ? params.markdown_text : ""}${texts.join("")}`;
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(body));
}

const isTrue = (value: unknown): boolean => value === true || value === "true" || value === "1";

const TYPES: Record<string, FakeChannelKind> = {
  public_channel: "public",
  private_channel: "private",
  mpim: "mpim",
  im: "im",
};

/** users.conversations' `types` (comma-separated; Slack's default is public channels only). */
function kindsOf(types: unknown): Set<FakeChannelKind> | undefined {
  const names = String(types ?? "public_channel")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const kinds = new Set<FakeChannelKind>();
  for (const name of names.length > 0 ? names : ["public_channel"]) {
    const kind = TYPES[name];
    if (!kind) return undefined;
    kinds.add(kind);
  }
  return kinds;
}

/**
 * Slack's cursor pagination: at most `limit` items (default 100, at most 1,000), and an opaque
 * `next_cursor`, empty on the last page. Undefined for a cursor this fake did not hand out.
 */
function pageOf<T>(items: T[], cursor: unknown, limit: unknown): { items: T[]; next: string } | undefined {
  let start = 0;
  if (cursor !== undefined && cursor !== "") {
    const offset = /^next:(\d+)$/.exec(Buffer.from(String(cursor), "base64").toString("utf8"))?.[1];
    if (offset === undefined) return undefined;
    start = Number(offset);
  }
  const asked = Number(limit);
  const size = Number.isFinite(asked) && asked > 0 ? Math.min(Math.floor(asked), 1000) : 100;
  const end = start + size;
  return {
    items: items.slice(start, end),
    next: end < items.length ? Buffer.from(`next:${end}`).toString("base64") : "",
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

function parseParams(raw: string, contentType: string): Record<string, any> {
  if (contentType.includes("application/json")) {
    try {
      return JSON.parse(raw) as Record<string, any>;
    } catch {
      return {};
    }
  }
  const out: Record<string, any> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    if (JSON_FIELDS.has(key)) {
      try {
        out[key] = JSON.parse(value);
        continue;
      } catch {
        // keep the string
      }
    }
    out[key] = value;
  }
  return out;
}
