import { scrubSecrets } from "../../domain/redact.js";
import type { LogFields, Logger } from "../../ports/logger.js";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

// Field names whose values must never reach a log line, whatever a caller passes.
const SECRET_KEY = /token|password|secret|authorization|cookie|signature/i;

/**
 * JSON lines on stdout (stderr for warnings and errors), one object a line. At every level, the message
 * and every string in the fields (and in errors) are scrubbed of Slack tokens, JWTs and secret URL
 * query parameters; fields named like a secret are dropped whole.
 */
export class JsonLogger implements Logger {
  constructor(
    private readonly level: LogLevel = "info",
    private readonly bindings: LogFields = {},
    private readonly write: (line: string, level: LogLevel) => void = defaultWrite,
  ) {}

  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }
  child(fields: LogFields): Logger {
    return new JsonLogger(this.level, { ...this.bindings, ...fields }, this.write);
  }

  private log(level: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields): void {
    if (LEVELS[level] < LEVELS[this.level]) return;
    const entry: LogFields = { time: new Date().toISOString(), level, msg: scrubSecrets(String(msg)) };
    for (const [key, value] of Object.entries({ ...this.bindings, ...fields })) {
      entry[key] = SECRET_KEY.test(key) ? "[redacted]" : scrub(serialise(value), 0);
    }
    this.write(JSON.stringify(entry), level);
  }
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown; detail?: unknown };
    return {
      name: e.name,
      message: e.message,
      code: e.code,
      detail: e.detail,
      stack: e.stack?.split("\n").slice(0, 6).join("\n"),
    };
  }
  return value;
}

const MAX_DEPTH = 10;

/** The value as JSON would write it, every string in it scrubbed (nested errors serialised too). */
function scrub(value: unknown, depth: number): unknown {
  if (typeof value === "string") return scrubSecrets(value);
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "[nested too deep]";
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === "function") return scrub(json.call(value), depth + 1);
  if (Array.isArray(value)) return value.map((v) => scrub(serialise(v), depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(serialise(v), depth + 1);
  return out;
}

function defaultWrite(line: string, level: LogLevel): void {
  if (level === "warn" || level === "error") process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
}
