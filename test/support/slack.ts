import { createHmac, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * Sending Slack's requests to the real server: signed exactly as Slack signs them (`v0:` + timestamp +
 * raw body, HMAC-SHA256 with the signing secret), using Slack's own payload files from
 * ../shared/data/slack as the wire format when present, else the self-contained shapes in
 * test/fixtures/slack. Ids are rewritten per test.
 */
export const SHARED_SLACK = resolve(process.cwd(), "../shared/data/slack");
export const hasSharedSlack = existsSync(join(SHARED_SLACK, "events_api", "app_mention.json"));
const LOCAL_SLACK = resolve(process.cwd(), "test/fixtures/slack");

let warned = false;
function base(relative: string): string {
  const shared = join(SHARED_SLACK, relative);
  if (existsSync(shared)) return readFileSync(shared, "utf8");
  if (!warned && !hasSharedSlack) {
    warned = true;
    console.warn(
      `../shared/data/slack is absent: using the self-contained payload shapes in test/fixtures/slack instead.`,
    );
  }
  return readFileSync(join(LOCAL_SLACK, relative), "utf8");
}

export function payload<T = any>(relative: string): T {
  return JSON.parse(base(relative)) as T;
}

/**
 * One of Slack's event envelopes, re-addressed to `who`'s workspace (and Grid) with a fresh event id.
 * `authorizations` names the installation the event is for (Bolt picks the installation from it before
 * the top-level `team_id`, which in a Slack Connect channel can be another organisation's team).
 */
function envelope(file: string, who: Who, options: EnvelopeOptions = {}) {
  const p = payload(file);
  p.team_id = options.envelopeTeamId ?? who.teamId;
  if (who.enterpriseId) p.enterprise_id = who.enterpriseId;
  else delete p.enterprise_id;
  p.event_id = options.eventId ?? newEventId();
  p.authorizations = [
    {
      enterprise_id: who.enterpriseId ?? null,
      team_id: who.teamId,
      user_id: who.botUserId ?? "U0BOT",
      is_bot: true,
      is_enterprise_install: false,
    },
  ];
  p.is_ext_shared_channel = options.extShared ?? isExternal(who);
  return p;
}

/** The author belongs to another organisation's team (a Slack Connect user). */
const isExternal = (who: Who): boolean => who.userTeamId !== undefined && who.userTeamId !== who.teamId;

/**
 * The author's team on a message-like event: `team` always; for a Slack Connect author Slack also sends
 * `user_team` and `source_team`, all three naming the author's own team, not the installation's.
 */
function authorTeam(who: Who): Record<string, string> {
  if (!isExternal(who)) return { team: who.teamId };
  const home = who.userTeamId as string;
  return { team: home, user_team: home, source_team: home };
}

export function signature(secret: string, timestamp: number | string, body: string): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
}

export interface SendOptions {
  timestamp?: number;
  signature?: string;
  omitHeaders?: boolean;
  retryNum?: number;
  secret?: string;
}

export interface SlackResponse {
  status: number;
  text: string;
  json: any;
  ms: number;
}

export class SlackSender {
  constructor(
    readonly serverUrl: string,
    readonly secret: string,
  ) {}

  async post(body: string, contentType: string, options: SendOptions = {}): Promise<SlackResponse> {
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      "content-type": contentType,
      "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    };
    if (!options.omitHeaders) {
      headers["x-slack-request-timestamp"] = String(timestamp);
      headers["x-slack-signature"] = options.signature ?? signature(options.secret ?? this.secret, timestamp, body);
    }
    if (options.retryNum !== undefined) {
      headers["x-slack-retry-num"] = String(options.retryNum);
      headers["x-slack-retry-reason"] = "http_timeout";
    }
    const started = performance.now();
    const res = await fetch(`${this.serverUrl}/slack/events`, { method: "POST", headers, body });
    const text = await res.text();
    const ms = performance.now() - started;
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json, ms };
  }

  event(envelope: unknown, options?: SendOptions): Promise<SlackResponse> {
    return this.post(JSON.stringify(envelope), "application/json", options);
  }

  command(fields: URLSearchParams, options?: SendOptions): Promise<SlackResponse> {
    return this.post(fields.toString(), "application/x-www-form-urlencoded", options);
  }

  action(body: unknown, options?: SendOptions): Promise<SlackResponse> {
    return this.post(
      new URLSearchParams({ payload: JSON.stringify(body) }).toString(),
      "application/x-www-form-urlencoded",
      options,
    );
  }
}

export const newEventId = () => `Ev${randomBytes(5).toString("hex").toUpperCase()}`;
export const newTriggerId = () => `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(8).toString("hex")}`;

export interface Who {
  /** The installation's workspace: where the app is installed and the event is delivered. */
  teamId: string;
  userId: string;
  enterpriseId?: string;
  botUserId?: string;
  /** The author's own team when it is not `teamId`: a Slack Connect user of another organisation. */
  userTeamId?: string;
}

/** What every event envelope builder also takes. */
export interface EnvelopeOptions {
  eventId?: string;
  /**
   * The envelope's top-level `team_id` when it should differ from `authorizations[0].team_id` (which is
   * always `who.teamId`): a forged or mis-routed event, or Slack Connect's shape where the top level
   * names the author's team.
   */
  envelopeTeamId?: string;
  /** `is_ext_shared_channel`; default: true when the author is external (`who.userTeamId`), else false. */
  extShared?: boolean;
}

/** Slack's app_mention envelope with our ids. */
export function mentionEnvelope(
  who: Who,
  m: { channel: string; text: string; ts: string; threadTs?: string } & EnvelopeOptions,
) {
  const p = envelope("events_api/app_mention.json", who, m);
  p.event_time = Math.floor(Date.now() / 1000);
  p.authed_users = who.botUserId ? [who.botUserId] : p.authed_users;
  Object.assign(p.event, {
    user: who.userId,
    ...authorTeam(who),
    channel: m.channel,
    text: m.text,
    ts: m.ts,
    event_ts: m.ts,
  });
  if (m.threadTs) p.event.thread_ts = m.threadTs;
  return p;
}

/** Slack's message envelope, as a DM (channel_type im) or a channel message. */
export function messageEnvelope(
  who: Who,
  m: { channel: string; text: string; ts: string; threadTs?: string; channelType?: string } & EnvelopeOptions,
) {
  const p = envelope("events_api/message.json", who, m);
  Object.assign(p.event, {
    user: who.userId,
    ...authorTeam(who),
    channel: m.channel,
    text: m.text,
    ts: m.ts,
    event_ts: m.ts,
    channel_type: m.channelType ?? (m.channel.startsWith("D") ? "im" : "channel"),
  });
  p.event.blocks = [
    {
      type: "rich_text",
      block_id: "x",
      elements: [{ type: "rich_text_section", elements: [{ type: "text", text: m.text }] }],
    },
  ];
  if (m.threadTs) p.event.thread_ts = m.threadTs;
  return p;
}

/** Slack's message with subtype file_share, pointing at a file of the fake. */
export function fileShareEnvelope(
  who: Who,
  m: { channel: string; ts: string; file: Record<string, unknown>; text?: string } & EnvelopeOptions,
) {
  const p = envelope("events_api/message_file_share.json", who, m);
  p.event_context = `1-message-${who.teamId}-${m.channel}`;
  Object.assign(p.event, {
    user: who.userId,
    ...authorTeam(who),
    channel: m.channel,
    channel_type: m.channel.startsWith("D") ? "im" : m.channel.startsWith("G") ? "group" : "channel",
    ts: m.ts,
    event_ts: m.ts,
    text: m.text ?? "",
    files: [m.file],
  });
  return p;
}

/**
 * `file_shared`, `file_change`, `file_deleted`: no Slack SDK repository has a sample, so the envelope is
 * Slack's (from app_uninstalled.json) with the event Slack's docs describe (ids only).
 */
export function fileEventEnvelope(
  who: Who,
  e: { type: "file_shared" | "file_change" | "file_deleted"; fileId: string; channel?: string } & EnvelopeOptions,
) {
  const p = envelope("events_api/app_uninstalled.json", who, e);
  const ts = `${Math.floor(Date.now() / 1000)}.000100`;
  p.event =
    e.type === "file_shared"
      ? {
          type: "file_shared",
          channel_id: e.channel,
          file_id: e.fileId,
          user_id: who.userId,
          file: { id: e.fileId },
          event_ts: ts,
        }
      : e.type === "file_change"
        ? { type: "file_change", file_id: e.fileId, file: { id: e.fileId } }
        : { type: "file_deleted", file_id: e.fileId, event_ts: ts, ...(e.channel ? { channel_ids: [e.channel] } : {}) };
  return p;
}

/**
 * `app_home_opened`: the user opened one of the app's tabs. No Slack SDK repository has a sample, so
 * the shape is Slack's documented one (test/fixtures/slack/events_api/app_home_opened.json).
 */
export function homeOpenedEnvelope(
  who: Who,
  e: { tab?: "home" | "messages"; channel?: string } & EnvelopeOptions = {},
) {
  const p = envelope("events_api/app_home_opened.json", who, e);
  p.event_time = Math.floor(Date.now() / 1000);
  Object.assign(p.event, {
    user: who.userId,
    channel: e.channel ?? `D${who.userId.slice(1)}`,
    tab: e.tab ?? "home",
    event_ts: `${Math.floor(Date.now() / 1000)}.000100`,
  });
  delete p.is_ext_shared_channel;
  return p;
}

export function lifecycleEnvelope(teamId: string, kind: "app_uninstalled" | "tokens_revoked", eventId = newEventId()) {
  const p = payload(`events_api/${kind}.json`);
  p.team_id = teamId;
  delete p.enterprise_id;
  p.event_id = eventId;
  return p;
}

/**
 * Slack's slash-command form body with our ids. A command carries no separate user team: `team_id` (and
 * `enterprise_id`) name the workspace whose installation of the app receives the command. Assumed for a
 * Slack Connect user (`who.userTeamId`) in a shared channel: Slack offers them only the commands of apps
 * installed in their own organisation, so `team_id` is their own team, `channel_id` the shared channel,
 * and the installation's Grid id is left out (the other organisation's is not known here).
 */
export function commandForm(
  who: Who,
  c: { text: string; channel: string; responseUrl: string; triggerId?: string },
): URLSearchParams {
  const p = new URLSearchParams(base("slash_commands/slash_command.form.txt"));
  const external = isExternal(who);
  p.set("team_id", external ? (who.userTeamId as string) : who.teamId);
  p.set("user_id", who.userId);
  p.set("channel_id", c.channel);
  p.set("command", "/ask");
  p.set("text", c.text);
  p.set("response_url", c.responseUrl);
  p.set("trigger_id", c.triggerId ?? newTriggerId());
  if (who.enterpriseId && !external) p.set("enterprise_id", who.enterpriseId);
  else {
    p.delete("enterprise_id");
    p.delete("enterprise_name");
  }
  return p;
}

/**
 * Slack's block_actions payload for one of our buttons. `team` is the workspace of the installation
 * whose message holds the button; `user.team_id` is the clicker's own team, another organisation's for
 * a Slack Connect user (`who.userTeamId`).
 */
export function blockAction(
  who: Who,
  a: { actionId: string; value: string; channel: string; responseUrl: string; messageTs?: string },
) {
  const p = payload("interactivity/block_actions.json");
  p.user = { ...p.user, id: who.userId, team_id: who.userTeamId ?? who.teamId };
  p.team = { ...p.team, id: who.teamId };
  if (who.enterpriseId) p.team.enterprise_id = who.enterpriseId;
  else {
    delete p.team.enterprise_id;
    delete p.team.enterprise_name;
  }
  p.enterprise = who.enterpriseId ? { id: who.enterpriseId, name: p.team.enterprise_name ?? "Grid" } : null;
  p.is_enterprise_install = false;
  p.channel = { id: a.channel, name: "channel" };
  p.container = { ...p.container, channel_id: a.channel, message_ts: a.messageTs ?? "1700000000.000001" };
  p.trigger_id = newTriggerId();
  p.response_url = a.responseUrl;
  p.actions = [
    {
      ...p.actions[0],
      action_id: a.actionId,
      block_id: "enclave_answer_actions",
      value: a.value,
      action_ts: `${Date.now() / 1000}`,
    },
  ];
  return p;
}
