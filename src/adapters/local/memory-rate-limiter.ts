import type { RateDecision, RateLimit, RateLimiter } from "../../ports/rate-limiter.js";

/**
 * Sliding-window limits in process memory: right for the single embedded process. A deployment with
 * several instances needs a shared store behind the same interface.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly hits = new Map<string, number[]>();
  private sweeps = 0;

  async take(limits: readonly RateLimit[], now = Date.now()): Promise<RateDecision> {
    const decision = this.decide(limits, now);
    if (!decision.ok) return decision;
    for (const limit of limits) this.recent(limit.key, limit.windowMs, now).push(now);
    if (++this.sweeps % 1000 === 0) this.sweep(now, Math.max(...limits.map((l) => l.windowMs)));
    return decision;
  }

  async giveBack(limits: readonly RateLimit[], now: number): Promise<void> {
    for (const limit of limits) {
      const times = this.hits.get(limit.key);
      const at = times?.lastIndexOf(now) ?? -1;
      if (times && at >= 0) times.splice(at, 1);
    }
  }

  private decide(limits: readonly RateLimit[], now: number): RateDecision {
    for (const limit of limits) {
      const recent = this.recent(limit.key, limit.windowMs, now);
      if (recent.length >= limit.limit) {
        const oldest = recent[recent.length - limit.limit] ?? now;
        return { ok: false, key: limit.key, retryAfterMs: Math.max(1, oldest + limit.windowMs - now) };
      }
    }
    return { ok: true };
  }

  private recent(key: string, windowMs: number, now: number): number[] {
    const all = this.hits.get(key) ?? [];
    const kept = all.filter((t) => t > now - windowMs);
    this.hits.set(key, kept);
    return kept;
  }

  /** Drops keys with no recent hits so memory stays bounded by the active users. */
  private sweep(now: number, windowMs: number): void {
    for (const [key, times] of this.hits) {
      if (!times.some((t) => t > now - windowMs)) this.hits.delete(key);
    }
  }
}
