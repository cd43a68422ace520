/** A limit on how often something may happen: at most `limit` hits per `windowMs` for one key. */
export interface RateLimit {
  key: string;
  limit: number;
  windowMs: number;
}

export type RateDecision = { ok: true } | { ok: false; key: string; retryAfterMs: number };

export interface RateLimiter {
  /**
   * Counts one hit against every limit, all or nothing: when any limit is already reached, nothing is
   * counted and the answer says which key refused and how long until it has room again.
   */
  take(limits: readonly RateLimit[], now?: number): Promise<RateDecision>;
  /**
   * Returns the hit an accepted `take(limits, now)` counted (the same limits and `now`): a reservation
   * that turned out not to count, such as a log-in attempt that succeeded.
   */
  giveBack(limits: readonly RateLimit[], now: number): Promise<void>;
}
