import { type Logger as BoltLogger, LogLevel } from "@slack/bolt";
import { redactPayload, redactPayloads } from "../domain/redact.js";
import type { Logger } from "../ports/logger.js";

/**
 * One line from the library's arguments. Whatever payload they carry (a Web API request body or
 * result, a Socket Mode envelope, an ack body, an object) keeps only its ids and metadata: message
 * text, blocks and URLs quote documents or carry link tokens, at debug as at any level.
 */
function describe(parts: unknown[]): { msg: string; error?: unknown } {
  const error = parts.find((p) => p instanceof Error);
  const msg = parts
    .filter((p) => !(p instanceof Error))
    .map((p) => (typeof p === "string" ? redactPayloads(p) : safeJson(redactPayload(p))))
    .join(" ");
  return { msg: msg || (error instanceof Error ? redactPayloads(error.message) : ""), ...(error ? { error } : {}) };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

const ORDER: Record<LogLevel, number> = {
  [LogLevel.DEBUG]: 10,
  [LogLevel.INFO]: 20,
  [LogLevel.WARN]: 30,
  [LogLevel.ERROR]: 40,
};

/** Bolt, the Web API client and Socket Mode log through our structured logger, tokens scrubbed. */
export class BoltLoggerAdapter implements BoltLogger {
  private level: LogLevel;

  constructor(
    private readonly logger: Logger,
    level: string,
  ) {
    this.level =
      level === "debug"
        ? LogLevel.DEBUG
        : level === "info"
          ? LogLevel.INFO
          : level === "warn"
            ? LogLevel.WARN
            : LogLevel.ERROR;
  }

  debug(...msg: unknown[]): void {
    if (ORDER[this.level] <= ORDER[LogLevel.DEBUG]) this.write("debug", msg);
  }
  info(...msg: unknown[]): void {
    if (ORDER[this.level] <= ORDER[LogLevel.INFO]) this.write("info", msg);
  }
  warn(...msg: unknown[]): void {
    if (ORDER[this.level] <= ORDER[LogLevel.WARN]) this.write("warn", msg);
  }
  error(...msg: unknown[]): void {
    this.write("error", msg);
  }
  setLevel(level: LogLevel): void {
    // Bolt sets INFO on its loggers by default; our configured level wins, except to get quieter.
    if (ORDER[level] > ORDER[this.level]) this.level = level;
  }
  getLevel(): LogLevel {
    return this.level;
  }
  setName(_name: string): void {}

  private write(level: "debug" | "info" | "warn" | "error", parts: unknown[]): void {
    const { msg, error } = describe(parts);
    this.logger[level](msg, error ? { error: scrubError(error) } : undefined);
  }
}

function scrubError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const copy: Error & { code?: unknown } = new Error(redactPayloads(error.message));
  copy.name = error.name;
  // Web API errors carry a stable code (slack_webapi_platform_error…); their data (the response) stays out.
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") copy.code = code;
  copy.stack = error.stack ? redactPayloads(error.stack) : undefined;
  return copy;
}
