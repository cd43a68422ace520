import { expect } from "vitest";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import { AppError } from "../../src/domain/errors.js";
import { newTenantId, type TenantId } from "../../src/domain/tenant.js";
import type { Logger } from "../../src/ports/logger.js";

/** What every contract factory returns: the adapter under test and a way to release what it holds. */
export interface Fixture<T> {
  adapter: T;
  cleanup: () => Promise<void>;
}

export type Factory<T, Extra = object> = () => Promise<Fixture<T> & Extra>;

/** Two fresh tenants per test: adapters under test may share their backing store across tests. */
export function twoTenants(): { a: TenantId; b: TenantId } {
  return { a: newTenantId(), b: newTenantId() };
}

/** Resolves to the AppError a promise rejects with, failing the test when it resolves or throws something else. */
export async function appError(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected the call to fail with an AppError");
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value other than undefined. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** One JSON log line as the product writes it. */
export type LogLine = { level: string; msg: string } & Record<string, unknown>;

/** A real JSON logger whose lines are kept (parsed) instead of written, with the raw text for leak checks. */
export function recordingLogger(): { logger: Logger; lines: LogLine[]; text: () => string } {
  const raw: string[] = [];
  const lines: LogLine[] = [];
  const logger = new JsonLogger("debug", {}, (line) => {
    raw.push(line);
    lines.push(JSON.parse(line) as LogLine);
  });
  return { logger, lines, text: () => raw.join("\n") };
}
