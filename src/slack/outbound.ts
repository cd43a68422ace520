import { AppError } from "../domain/errors.js";
import { backoffMs, type RetryPolicy, retryDelayMs, SLACK_HTTP_RETRY } from "../domain/retry.js";
import { formatBytes } from "../services/documents.js";
import type { SlackMessage } from "./blocks.js";
import { type FileDestination, fileDestination } from "./file-hosts.js";
import type { SlackSettings } from "./settings.js";

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

/** Redirects a file download may follow before it gives up. */
export const MAX_DOWNLOAD_REDIRECTS = 3;

/**
 * Downloads a Slack file (`url_private_download`) with the bot token. Redirects are followed by hand,
 * at most MAX_DOWNLOAD_REDIRECTS, and every hop, the first included, must pass `fileDestination`
 * (Slack's file hosts over https, or exactly SLACK_API_URL's origin; never a local or private address)
 * before anything is sent to it; the token goes only where `isTokenHost` allows. `fetch` itself would
 * either drop the token on every hop or, worse, carry it to wherever a redirect points.
 */
export async function downloadSlackFile(
  url: string,
  token: string,
  settings: Pick<SlackSettings, "apiUrl">,
  maxBytes: number,
  fetchOrOptions: FetchFn | OutboundOptions = fetch,
): Promise<Buffer> {
  const { fetchFn, policy, wait } = outbound(fetchOrOptions);
  let current = parsedUrl(url, undefined, "first");
  let failures = 0;
  for (let hop = 0; ; ) {
    const destination = fileDestination(current, settings);
    if (!destination.allowed) throw refusedDestination(destination, hop === 0 ? "first" : "redirect");
    const headers: Record<string, string> = destination.token ? { authorization: `Bearer ${token}` } : {};
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
      if (hop >= MAX_DOWNLOAD_REDIRECTS)
        throw new AppError(
          "dependency_unavailable",
          `the download was redirected more than ${MAX_DOWNLOAD_REDIRECTS} times, so I stopped following it.`,
          { detail: `download redirect ${hop + 1} to ${res.headers.get("location")?.slice(0, 200)}` },
        );
      current = parsedUrl(res.headers.get("location") ?? "", current, "redirect");
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
}

function parsedUrl(location: string, base: URL | undefined, hop: "first" | "redirect"): URL {
  try {
    return new URL(location, base);
  } catch (cause) {
    throw new AppError(
      "dependency_unavailable",
      hop === "first"
        ? "the download link Slack gave me is not a valid URL."
        : "the download was redirected to an invalid URL.",
      { cause, detail: `unparsable download URL ${location.slice(0, 200)}` },
    );
  }
}

/** Said to the sharer after "I couldn't index <title>: ", so it starts in lower case. */
function refusedDestination(d: Extract<FileDestination, { allowed: false }>, hop: "first" | "redirect"): AppError {
  const where = hop === "first" ? "the download link Slack gave me points to" : "the download was redirected to";
  const what =
    d.why === "local_address"
      ? "a local or private network address, not one of Slack's file hosts"
      : "not one of Slack's file hosts";
  return new AppError("dependency_unavailable", `${where} ${d.host}, which is ${what}, so I didn't download it.`, {
    detail: `download destination refused (${d.why}): ${d.host}`,
  });
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
