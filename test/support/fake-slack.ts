import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { FakeSocketModeServer } from "./fake-socket-mode.js";

/**
 * A fake Slack for tests and the demo: the Web API methods the bot uses (under /api, so SLACK_API_URL is
 * `${url}/api`), response_url endpoints, file downloads behind a redirect that check the bot token,
 * the OAuth authorize page and oauth.v2.access, and Socket Mode (apps.connections.open + a WebSocket).
 * Every call is recorded; failures (429 with Retry-After, slow methods) can be injected.
 */

export interface FakeUser {
  id: string;
  name: string;
  isAdmin?: boolean;
  isOwner?: boolean;
  email?: string;
  isBot?: boolean;
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
  channel: string;
  /** The message that shared it. */
  ts: string;
  /** "same-host": one redirect hop on this server; "foreign-host": the hop goes to another host name. */
  redirect: "none" | "same-host" | "foreign-host";
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

const JSON_FIELDS = new Set(["blocks", "attachments", "metadata"]);

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
  readonly socket = new FakeSocketModeServer();
  /** Set by the test: who installs the app on the next OAuth authorize. */
  installingUser = "U0INSTALL1";
  clientId = "1111.2222";
  clientSecret = "fake-client-secret";
  appToken = `xapp-1-A0FAKE-${randomBytes(6).toString("hex")}`;
  private readonly injected = new Map<string, Injected>();
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

  addFile(
    input: Omit<FakeFile, "ts" | "redirect" | "title" | "prettyType"> &
      Partial<Pick<FakeFile, "ts" | "redirect" | "title" | "prettyType">>,
  ): FakeFile {
    const file: FakeFile = {
      ts: input.ts ?? nextTs(),
      redirect: input.redirect ?? "same-host",
      title: input.title ?? input.name,
      prettyType: input.prettyType ?? input.filetype.toUpperCase(),
      ...input,
    };
    this.files.set(`${file.teamId}:${file.id}`, file);
    // The sharing message exists in its channel, as in Slack.
    this.messages.push({ channel: file.channel, ts: file.ts, text: "", user: file.user, teamId: file.teamId });
    return file;
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

  /** The text of a message: its top-level text plus every mrkdwn/plain text in its blocks. */
  static textOf(message: { text?: string; blocks?: unknown }): string {
    const parts: string[] = [message.text ?? ""];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        const o = node as Record<string, unknown>;
        if ((o.type === "mrkdwn" || o.type === "plain_text") && typeof o.text === "string") parts.push(o.text);
        for (const v of Object.values(o)) if (typeof v === "object") walk(v);
      }
    };
    walk(message.blocks);
    return parts.join("\n");
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
        return json(res, { ok: true, channel: message.channel, ts: message.ts });
      }
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
            text: m.text,
            ...(m.user ? { user: m.user } : {}),
            ...(m.botId ? { bot_id: m.botId } : {}),
            ...(m.threadTs ? { thread_ts: m.threadTs } : { thread_ts: root }),
          }));
        return json(res, { ok: true, messages: thread, has_more: false });
      }
      case "users.info": {
        const user = t.users.get(String(params.user));
        if (!user) return json(res, { ok: false, error: "user_not_found" });
        return json(res, {
          ok: true,
          user: {
            id: user.id,
            team_id: t.id,
            name: user.name,
            is_admin: Boolean(user.isAdmin),
            is_owner: Boolean(user.isOwner),
            is_primary_owner: false,
            is_bot: Boolean(user.isBot),
            profile: { real_name: user.name, ...(user.email ? { email: user.email } : {}) },
          },
        });
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
    const shares = {
      [file.channel.startsWith("C") ? "public" : "private"]: { [file.channel]: [{ ts: file.ts, reply_count: 0 }] },
    };
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
      url_private: `${base}/${encodeURIComponent(file.name)}`,
      url_private_download: `${base}/download/${encodeURIComponent(file.name)}`,
      permalink: `https://${this.team(file.teamId).domain}.slack.com/files/${file.user}/${file.id}/${encodeURIComponent(file.name)}`,
      channels: file.channel.startsWith("C") ? [file.channel] : [],
      shares,
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
      file.redirect === "foreign-host"
        ? `${this.cdnUrl}/cdn/${key}`
        : `/files-tmp/${key}/${encodeURIComponent(file.name)}`;
    res.writeHead(302, { location }).end();
  }

  /** The hop after the redirect still needs the token, as Slack's own file hosts do. */
  private serveTemp(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const key = url.pathname.split("/")[2] ?? "";
    const file = this.files.get(this.tempLinks.get(key) ?? "");
    const auth = req.headers.authorization;
    const team = this.teamOfToken(auth?.replace(/^Bearer\s+/i, ""));
    const ok = file && team?.id === file.teamId;
    this.downloads.push({
      path: url.pathname,
      host: url.host,
      ...(auth ? { authorization: auth } : {}),
      status: ok ? 200 : 403,
    });
    if (!ok) {
      res.writeHead(403).end("forbidden");
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

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(body));
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
