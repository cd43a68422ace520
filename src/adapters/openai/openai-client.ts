import type { ClientOptions } from "openai";
import type { Logger } from "../../ports/logger.js";

export interface OpenAiClientSettings {
  /** The server's base URL, ending in /v1. */
  baseUrl: string;
  apiKey?: string | undefined;
  /** How long one attempt may wait for the server to start answering. */
  timeoutMs: number;
  /** Retries of timeouts, 408/409/429/5xx and connection errors, with backoff. */
  maxRetries: number;
}

/**
 * Local servers (Ollama, vLLM, llama.cpp, LM Studio) need no key, but the client refuses to start
 * without one; they ignore the bearer token it then sends.
 */
export const NO_API_KEY = "not-needed";

/**
 * Options for the official `openai` client. Everything the client would otherwise read from the
 * environment (OPENAI_ORG_ID, OPENAI_PROJECT_ID, OPENAI_LOG, ...) is passed explicitly: config is the
 * only reader of the environment. The client's own timeout and retries are used, not a loop of ours.
 */
export function openAiClientOptions(settings: OpenAiClientSettings, logger: Logger): ClientOptions {
  return {
    baseURL: settings.baseUrl,
    apiKey: settings.apiKey ?? NO_API_KEY,
    organization: null,
    project: null,
    adminAPIKey: null,
    webhookSecret: null,
    timeout: settings.timeoutMs,
    maxRetries: settings.maxRetries,
    fetch: capRetryAfter(globalThis.fetch, settings.timeoutMs),
    logLevel: "warn",
    // Only the client's message: its extra arguments may hold request details.
    logger: {
      error: (message: string) => logger.error(`openai client: ${message}`),
      warn: (message: string) => logger.warn(`openai client: ${message}`),
      info: () => {},
      debug: () => {},
    },
  };
}

/**
 * The client honours any Retry-After, however long: a server asking for an hour would hold the
 * question (and the Slack thread) for an hour. A wait longer than `maxWaitMs` is not retried: the
 * response is marked `x-should-retry: false`, a header the client obeys, and the caller reports the
 * model unavailable at once.
 */
export function capRetryAfter(fetchImpl: typeof fetch, maxWaitMs: number): typeof fetch {
  return async (input, init) => {
    const response = await fetchImpl(input, init);
    if (response.ok) return response;
    const waitMs = retryAfterMs(response.headers);
    if (waitMs === undefined || waitMs <= maxWaitMs) return response;
    const headers = new Headers(response.headers);
    headers.set("x-should-retry", "false");
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
}

/** Retry-After (seconds or an HTTP date) or the non-standard retry-after-ms, as the client reads them. */
export function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number.parseFloat(headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms)) return ms;
  const value = headers.get("retry-after");
  if (!value) return undefined;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : date - Date.now();
}
