/**
 * What may reach a log line. Two rules, used by the log sink and by the Slack libraries' logger:
 * - `scrubSecrets`: Slack tokens, JWT-shaped strings and secret-bearing URL query parameters are
 *   replaced wherever they appear in a string, at every level.
 * - `redactPayloads`: a payload a library logs (a Web API request body or result, a Socket Mode
 *   envelope, an ack body) keeps its shape and only values that are ids or metadata; every other
 *   string (message text, blocks, URLs, names, titles, queries…) becomes a length marker. An allowlist,
 *   so a field Slack adds tomorrow is redacted by default.
 */

// Slack tokens look like xoxb-…, xoxp-…, xoxe.xoxp-…, xapp-….
const SLACK_TOKEN = /\b(xox[a-z]|xapp)-[A-Za-z0-9-]+/g;
// A JWT (ID tokens, access tokens): base64url header and claims, both JSON objects, so both start "eyJ".
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
// Query parameters that carry a credential: link tokens, OAuth codes and state, presigned-URL signatures.
const SECRET_PARAM =
  /([?&]|&amp;)((?:[a-z0-9_-]*token|ticket|code|state|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token|client_secret|secret|password|api_?key)=)[^&#\s"'<>\\]*/gi;

const scrubSlackTokens = (text: string): string => text.replace(SLACK_TOKEN, "$1-[redacted]");

/** `text` with every Slack token, JWT and secret URL query parameter replaced by a marker. */
export function scrubSecrets(text: string): string {
  return scrubSlackTokens(text)
    .replace(JWT, "[redacted jwt]")
    .replace(SECRET_PARAM, (_all, sep: string, name: string) => `${sep}${name}[redacted]`);
}

/**
 * Keys whose string values are ids or metadata, kept as they are. Anything else that is a string is
 * replaced by `[redacted N chars]`; numbers, booleans and null are kept.
 */
const SAFE_KEYS = new Set([
  "ok",
  "error",
  "errors",
  "warning",
  "needed",
  "provided",
  "type",
  "subtype",
  "channel",
  "channel_id",
  "channel_type",
  "ts",
  "thread_ts",
  "event_ts",
  "message_ts",
  "latest_reply",
  "team",
  "team_id",
  "user_team",
  "source_team",
  "recipient_team_id",
  "recipient_user_id",
  "enterprise",
  "enterprise_id",
  "user",
  "user_id",
  "bot_id",
  "bot_user_id",
  "app_id",
  "api_app_id",
  "event_id",
  "event_time",
  "envelope_id",
  "retry_attempt",
  "retry_reason",
  "client_msg_id",
  "file_id",
  "id",
  "action_id",
  "block_id",
  "callback_id",
  "command",
  "response_type",
  "method",
  "mimetype",
  "filetype",
  "status",
  "next_cursor",
  "reply_count",
  "count",
  "members",
  // The Web API client's own details (ChatStreamer) name ids in camelCase.
  "channelId",
  "teamId",
  "userId",
  "threadTs",
  "recipientTeamId",
  "recipientUserId",
]);

/** Under `response_metadata`, Slack's warnings and messages (`[ERROR] invalid blocks`) are kept. */
const SAFE_UNDER = new Map([["response_metadata", new Set(["messages", "warnings", "next_cursor"])]]);

const MAX_DEPTH = 20;

const marker = (s: string): string => `[redacted ${s.length} chars]`;

/** A copy of a parsed payload keeping its shape, ids and metadata; other strings become markers. */
export function redactPayload(value: unknown): unknown {
  return redactNode(value, undefined, undefined, []);
}

function redactNode(value: unknown, key: string | undefined, parentKey: string | undefined, path: object[]): unknown {
  if (typeof value === "string") return isSafe(key, parentKey) ? scrubSecrets(value) : marker(value);
  if (typeof value === "function" || typeof value === "symbol") return undefined;
  if (value === null || typeof value !== "object") return value;
  if (path.length >= MAX_DEPTH) return "[redacted: nested too deep]";
  if (path.includes(value)) return "[circular]";
  const inner = [...path, value];
  if (Array.isArray(value)) return value.map((v) => redactNode(v, key, parentKey, inner));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // An array serialised as an object ({"0": …}, as the Web API client logs them) keeps its owner's key.
    const index = /^\d+$/.test(k);
    out[k] = redactNode(v, index ? key : k, index ? parentKey : key, inner);
  }
  return out;
}

function isSafe(key: string | undefined, parentKey: string | undefined): boolean {
  if (key === undefined) return false;
  if (parentKey !== undefined && SAFE_UNDER.get(parentKey)?.has(key)) return true;
  return SAFE_KEYS.has(key);
}

/**
 * Messages the Slack libraries write with a payload after a fixed prefix: the Web API client's request
 * body, headers and result; Socket Mode's envelopes in and out; Bolt's ack bodies and Lambda events.
 * A payload that does not parse is dropped whole.
 */
const PAYLOAD_PREFIXES: RegExp[] = [
  /^(http request (?:body|headers|result): )([\s\S]*)()$/,
  /^(Received a message on the WebSocket: )([\s\S]*)()$/,
  /^(Sending a WebSocket message: )([\s\S]*)()$/,
  /^(Unable to parse an incoming WebSocket message \(will ignore\): )([\s\S]*)()$/,
  /^(Calling ack\(\) - [\s\S]*?data: )([\s\S]*)()$/,
  /^(ack\(\) (?:call begins|response stored|response sent) \(body: )([\s\S]*?)(\))$/,
  /^(AWS event: )([\s\S]*)()$/,
  /^([\s\S]*?storedResponse: )([\s\S]*)()$/,
  /^(ChatStreamer appended to buffer: )([\s\S]*)()$/,
  /^(Running handleInstallPath\(\) with )([\s\S]*)()$/,
];

export const PAYLOAD_REDACTED = "[payload redacted]";

/**
 * A library's log message with any payload in it replaced by its redacted copy (`redactPayload`) and
 * secrets scrubbed (`scrubSecrets`). A message with no payload passes through, scrubbed.
 */
export function redactPayloads(message: string): string {
  for (const prefix of PAYLOAD_PREFIXES) {
    const match = prefix.exec(message);
    if (!match) continue;
    const [, head = "", payload = "", tail = ""] = match;
    const parsed = parseJson(payload.trim());
    const body = parsed.ok ? JSON.stringify(redactPayload(parsed.value)) : payload.trim() ? PAYLOAD_REDACTED : "";
    return scrubSecrets(`${head}${body}${tail}`);
  }
  return scrubSecrets(redactEmbeddedJson(message));
}

/**
 * Every JSON object or array found in `message` replaced by its redacted copy. Brackets that never close
 * would make the search quadratic, so it has a budget of a few scans of the message: what is left when
 * it runs out is dropped as a payload.
 */
function redactEmbeddedJson(message: string): string {
  let out = "";
  let from = 0;
  const budget = { chars: 4 * message.length + 1024 };
  // Each pass consumes at least one character, so this ends within message.length passes.
  while (from < message.length) {
    const start = nextOpening(message, from);
    if (start < 0) break;
    const end = matchingClose(message, start, budget);
    if (budget.chars <= 0) return `${out}${message.slice(from, start)}${PAYLOAD_REDACTED}`;
    const parsed = end < 0 ? { ok: false as const } : parseJson(message.slice(start, end + 1));
    if (parsed.ok && typeof parsed.value === "object" && parsed.value !== null) {
      out += message.slice(from, start) + JSON.stringify(redactPayload(parsed.value));
      from = end + 1;
    } else {
      out += message.slice(from, start + 1);
      from = start + 1;
    }
  }
  return out + message.slice(from);
}

function nextOpening(text: string, from: number): number {
  for (let i = from; i < text.length; i++) if (text[i] === "{" || text[i] === "[") return i;
  return -1;
}

/** The index of the bracket closing the one at `start`, skipping JSON strings; -1 if none (or out of budget). */
function matchingClose(text: string, start: number, budget: { chars: number }): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    if (--budget.chars <= 0) return -1;
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  if (!text) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
