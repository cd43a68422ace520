import type { Actor } from "../domain/access.js";
import { AppError } from "../domain/errors.js";
import type { RateDecision, RateLimit, RateLimiter } from "../ports/rate-limiter.js";

export interface ThrottleLimits {
  /** Failed logins per account and per client address within the window; then every login waits. */
  loginMaxFailures: number;
  loginWindowMs: number;
  signUpsPerHourPerAddress: number;
  questionsPerMinutePerTenant: number;
  questionsPerMinutePerUser: number;
}

const HOUR = 3600_000;
const MINUTE = 60_000;

const seconds = (decision: Extract<RateDecision, { ok: false }>) =>
  Math.max(1, Math.ceil(decision.retryAfterMs / 1000));

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * Every limit on how often someone may try something, in one place so that the REST API, the web app
 * and Slack refuse alike. Backed by the shared limiter (in process embedded, DynamoDB on AWS).
 */
export class Throttle {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly limits: ThrottleLimits,
  ) {}

  private loginLimits(email: string, address: string | undefined): RateLimit[] {
    const window = { limit: this.limits.loginMaxFailures, windowMs: this.limits.loginWindowMs };
    const limits = [{ key: `login-fail:account:${email.trim().toLowerCase()}`, ...window }];
    if (address) limits.push({ key: `login-fail:address:${address}`, ...window });
    return limits;
  }

  /**
   * Before a login is even tried: an account or address with too many recent failures is locked out
   * until the window passes, whatever the password (so guessing gains nothing from a right guess).
   * The attempt is counted as a failure up front, atomically with that check: attempts sent all at once
   * cannot all pass a check made before any of them failed. `notFailed` gives the count back when the
   * attempt turns out not to be a failed log-in (the right password, or the identity provider down).
   */
  async loginAttempt(email: string, address: string | undefined): Promise<{ notFailed(): Promise<void> }> {
    const limits = this.loginLimits(email, address);
    const now = Date.now();
    const decision = await this.limiter.take(limits, now);
    if (!decision.ok) {
      const wait = seconds(decision);
      throw new AppError(
        "too_many_attempts",
        `Too many failed log-ins. Try again in ${plural(Math.ceil(wait / 60), "minute")}.`,
        { retryAfterSeconds: wait, detail: `locked: ${decision.key.split(":")[1]}` },
      );
    }
    let given = false;
    return {
      notFailed: async () => {
        if (given) return;
        given = true;
        await this.limiter.giveBack(limits, now);
      },
    };
  }

  async signUp(address: string | undefined): Promise<void> {
    if (!address) return;
    const decision = await this.limiter.take([
      { key: `signup:address:${address}`, limit: this.limits.signUpsPerHourPerAddress, windowMs: HOUR },
    ]);
    if (!decision.ok) {
      throw new AppError("rate_limited", "Too many sign-ups from your network. Please try again later.", {
        retryAfterSeconds: seconds(decision),
      });
    }
  }

  /** Questions, on every surface: per person and per organisation. */
  async question(actor: Actor): Promise<void> {
    const decision = await this.limiter.take([
      { key: `tenant:${actor.tenantId}`, limit: this.limits.questionsPerMinutePerTenant, windowMs: MINUTE },
      { key: `user:${actor.principal}`, limit: this.limits.questionsPerMinutePerUser, windowMs: MINUTE },
    ]);
    if (!decision.ok) {
      const wait = seconds(decision);
      const who = decision.key.startsWith("tenant:") ? "Your organisation is asking" : "You're asking";
      throw new AppError(
        "rate_limited",
        `${who} more questions than I can take right now. Please try again in ${plural(wait, "second")}.`,
        { retryAfterSeconds: wait },
      );
    }
  }
}
