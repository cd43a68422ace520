import { type Logger as BoltLogger, LogLevel } from "@slack/bolt";
import type { Logger } from "../ports/logger.js";

// Slack tokens look like xoxb-…, xoxp-…, xapp-…: none may reach a log line, whoever logs it.
const TOKEN = /\b(xox[a-z]|xapp)-[A-Za-z0-9-]+/g;

export const scrubTokens = (text: string): string => text.replace(TOKEN, "$1-[redacted]");

function describe(parts: unknown[]): { msg: string; error?: unknown } {
  const error = parts.find((p) => p instanceof Error);
  const msg = parts
    .filter((p) => !(p instanceof Error))
    .map((p) => (typeof p === "string" ? p : safeJson(p)))
    .join(" ");
  return { msg: scrubTokens(msg || (error instanceof Error ? error.message : "")), ...(error ? { error } : {}) };
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
  const copy = new Error(scrubTokens(error.message));
  copy.name = error.name;
  copy.stack = error.stack ? scrubTokens(error.stack) : undefined;
  return copy;
}
