/**
 * One retry policy for everything Enclave retries: background jobs, Slack Web API calls, `response_url`
 * posts and file downloads. Waits grow exponentially with "equal jitter" (half of each step fixed, half
 * random), so a retry never fires at once and many clients that failed together do not come back in
 * lockstep. A server's `Retry-After` is honoured when it gives one, up to a cap.
 */
export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** The wait after the first failure (before jitter); it doubles with each further one. */
  baseMs: number;
  /** No single wait is longer than this. */
  maxMs: number;
}

/** Outbound HTTP to Slack (`response_url`, file downloads) and the Slack Web API client. */
export const SLACK_HTTP_RETRY: RetryPolicy = { attempts: 4, baseMs: 500, maxMs: 8_000 };

/** Background jobs: the queue's attempts and first wait come from settings; waits stop growing at 15 minutes. */
export const jobRetryPolicy = (attempts: number, baseMs: number): RetryPolicy => ({
  attempts,
  baseMs,
  maxMs: 15 * 60_000,
});

/** A `Retry-After` longer than this is not waited for in-line: the job is retried later instead. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** The wait before try `attempt + 1`, after `attempt` (1-based) tries failed. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

/**
 * A `Retry-After` header (delta-seconds or an HTTP-date) in milliseconds; undefined when absent or
 * unreadable, so that the caller backs off instead of retrying at once.
 */
export function retryAfterMs(header: string | null | undefined, now: number = Date.now()): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // An HTTP-date starts with the day's name ("Tue, 01 Dec 2026 10:00:05 GMT"); nothing else is a date.
  if (!/^[A-Za-z]{3}/.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The wait before the next try: the server's `Retry-After` when it gave one (capped), else the backoff. */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  retryAfterHeader?: string | null,
  random: () => number = Math.random,
): number {
  const told = retryAfterMs(retryAfterHeader);
  return told === undefined ? backoffMs(policy, attempt, random) : Math.min(told, MAX_RETRY_AFTER_MS);
}

/** The Slack Web API client's own retries (p-retry options), from the same policy. */
export function webApiRetryConfig(policy: RetryPolicy = SLACK_HTTP_RETRY) {
  return {
    retries: policy.attempts - 1,
    factor: 2,
    minTimeout: policy.baseMs,
    maxTimeout: policy.maxMs,
    randomize: true,
  };
}
