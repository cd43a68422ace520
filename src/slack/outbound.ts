import { AppError } from "../domain/errors.js";
import { backoffMs, type RetryPolicy, retryDelayMs, SLACK_HTTP_RETRY } from "../domain/retry.js";
import { formatBytes } from "../services/documents.js";
import type { SlackMessage } from "./blocks.js";
import { isTokenHost, type SlackSettings } from "./settings.js";

export type FetchFn = typeof fetch;

export interface OutboundOptions {
  fetch?: FetchFn;
  policy?: RetryPolicy;
  /** How to wait between tries (tests record the waits). */
  sleep?: (ms: number) => Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface ResponseUrlMessage extends SlackMessage {
  response_type?: "ephemeral" | "in_channel";
  replace_original?: boolean;
  delete_original?: boolean;
  thread_ts?: string;
}

/**
 * Posts to a `response_url` (slash commands and button clicks): valid 30 minutes, 5 uses. Network
 * errors, 429 and 5xx are retried by SLACK_HTTP_RETRY (Retry-After honoured, else backoff with jitter);
 * a URL that has expired is reported to the caller, never retried.
 */
export async function postToResponseUrl(
  responseUrl: string,
  message: ResponseUrlMessage,
  fetchOrOptions: FetchFn | OutboundOptions = fetch,
): Promise<void> {
  const { fetchFn, policy, wait } = outbound(fetchOrOptions);
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await fetchFn(responseUrl, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify(message),
        redirect: "error",
        signal: AbortSignal.timeout(15_000),
      });
    } catch (cause) {
      if (attempt < policy.attempts) {
        await wait(backoffMs(policy, attempt));
        continue;
      }
      throw new AppError("dependency_unavailable", "Slack could not be reached.", { cause, retryable: true });
    }
    const body = await res.text().catch(() => "");
    if (res.ok) return;
    if ((res.status === 429 || res.status >= 500) && attempt < policy.attempts) {
      await wait(retryDelayMs(policy, attempt, res.headers.get("retry-after")));
      continue;
    }
    throw new AppError("dependency_unavailable", "Slack refused the reply.", {
      detail: `response_url answered ${res.status}: ${body.slice(0, 200)}`,
      retryable: false,
    });
  }
}

/**
 * Downloads a Slack file (`url_private_download`) with the bot token. Redirects are followed by hand
 * so the token goes only to Slack's hosts (or the configured SLACK_API_URL host): `fetch` would either
 * drop it on every hop or, worse, carry it to wherever a redirect points.
 */
export async function downloadSlackFile(
  url: string,
  token: string,
  settings: Pick<SlackSettings, "apiUrl">,
  maxBytes: number,
  fetchOrOptions: FetchFn | OutboundOptions = fetch,
): Promise<Buffer> {
  const { fetchFn, policy, wait } = outbound(fetchOrOptions);
  let current = new URL(url);
  let failures = 0;
  for (let hop = 0; hop <= 5; ) {
    if (current.protocol !== "https:" && current.protocol !== "http:") break;
    const headers: Record<string, string> = isTokenHost(current, settings) ? { authorization: `Bearer ${token}` } : {};
    let res: Response;
    try {
      res = await fetchFn(current, { headers, redirect: "manual", signal: AbortSignal.timeout(120_000) });
    } catch (cause) {
      throw new AppError("dependency_unavailable", "I couldn't download the file from Slack. I'll try again.", {
        cause,
        retryable: true,
      });
    }
    if (res.status >= 300 && res.status < 400 && res.headers.get("location")) {
      await res.body?.cancel();
      current = new URL(res.headers.get("location") ?? "", current);
      hop++;
      continue;
    }
    if ((res.status === 429 || res.status >= 500) && failures + 1 < policy.attempts) {
      await res.body?.cancel();
      failures++;
      await wait(retryDelayMs(policy, failures, res.headers.get("retry-after")));
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new AppError(
        "dependency_unavailable",
        res.status === 401 || res.status === 403 || res.status === 404
          ? "Slack didn't let me download the file. Make sure I'm in the channel and have the files:read scope."
          : "I couldn't download the file from Slack. I'll try again.",
        { detail: `download answered ${res.status}`, retryable: res.status >= 500 },
      );
    }
    // Without a valid token Slack answers 200 with its sign-in page instead of the file.
    if ((res.headers.get("content-type") ?? "").startsWith("text/html")) {
      await res.body?.cancel();
      throw new AppError(
        "dependency_unavailable",
        "Slack sent a sign-in page instead of the file. Make sure the app has the files:read scope.",
        { detail: "download returned text/html" },
      );
    }
    return readCapped(res, maxBytes);
  }
  throw new AppError("dependency_unavailable", "I couldn't download the file from Slack (too many redirects).");
}

function outbound(o: FetchFn | OutboundOptions) {
  const options: OutboundOptions = typeof o === "function" ? { fetch: o } : o;
  return { fetchFn: options.fetch ?? fetch, policy: options.policy ?? SLACK_HTTP_RETRY, wait: options.sleep ?? sleep };
}

async function readCapped(res: Response, maxBytes: number): Promise<Buffer> {
  const declared = Number(res.headers.get("content-length"));
  const tooLarge = () => new AppError("file_too_large", `This file is larger than the ${formatBytes(maxBytes)} limit.`);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel();
    throw tooLarge();
  }
  const parts: Buffer[] = [];
  let total = 0;
  const reader = res.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    parts.push(Buffer.from(value));
  }
  return Buffer.concat(parts);
}
