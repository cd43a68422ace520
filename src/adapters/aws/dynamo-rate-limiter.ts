import { createHash } from "node:crypto";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import type { RateDecision, RateLimit, RateLimiter } from "../../ports/rate-limiter.js";
import { guarded } from "./aws-errors.js";
import { epochSeconds, isConditionFailure } from "./dynamo.js";

const logSchema = z.object({ hits: z.array(z.number()).default([]), version: z.number().default(0) });

/** Rounds of read-and-write one key may take while others write it at the same moment. */
const MAX_ROUNDS = 40;
/** What a key so contended that no round got through answers: a short wait, never a free pass. */
const BUSY_MS = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The item of a limiter key: `rate#` and the key's SHA-256, never the key itself. Keys name a tenant
 * (`tenant:<id>`), an e-mail address or a client address (services/throttle.ts); hashed, the table holds
 * none of them, so erasing a tenant or a person has nothing to find here (the items expire by TTL anyway).
 */
const pkOf = (key: string) => `rate#${createHash("sha256").update(key, "utf8").digest("hex")}`;

/** The times of the hits still inside the window, oldest first. */
const recentHits = (hits: readonly number[], limit: RateLimit, now: number): number[] =>
  hits.filter((t) => t > now - limit.windowMs).sort((a, b) => a - b);

function decide(recent: readonly number[], limit: RateLimit, now: number): RateDecision {
  if (recent.length < limit.limit) return { ok: true };
  const oldest = recent[recent.length - limit.limit] ?? now;
  return { ok: false, key: limit.key, retryAfterMs: Math.max(1, oldest + limit.windowMs - now) };
}

/**
 * Limits shared by every instance (Lambda scales out, so per-process counters would not limit anything):
 * a sliding window, like the embedded limiter's. One item per key in the directory table,
 * `rate#<sha256 of key>` / `log`, holds the times of the hits inside the window (at most `limit` of them) and a
 * version; a hit is written only if the version is still the one read (optimistic concurrency), so
 * requests racing for the last place cannot all get it. Fixed windows would let a burst straddling a
 * window's edge count twice its limit, and end a lock-out after seconds. All or nothing across limits:
 * when a later limit refuses, the hits already taken are given back. Items expire (TTL) with their
 * newest hit's window.
 */
export class DynamoRateLimiter implements RateLimiter {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async take(limits: readonly RateLimit[], now = Date.now()): Promise<RateDecision> {
    return guarded("Rate limiting", async () => {
      const taken: RateLimit[] = [];
      for (const limit of limits) {
        const decision = await this.update(limit, now, (recent) => {
          const verdict = decide(recent, limit, now);
          return verdict.ok ? { verdict, hits: [...recent, now] } : { verdict };
        });
        if (!decision.ok) {
          await Promise.all(taken.map((t) => this.giveBackOne(t, now)));
          return decision;
        }
        taken.push(limit);
      }
      return { ok: true };
    });
  }

  async giveBack(limits: readonly RateLimit[], now: number): Promise<void> {
    await guarded("Rate limiting", () => Promise.all(limits.map((limit) => this.giveBackOne(limit, now))));
  }

  private async giveBackOne(limit: RateLimit, now: number): Promise<void> {
    await this.update(limit, now, (recent) => {
      const at = recent.lastIndexOf(now);
      if (at < 0) return { verdict: { ok: true } };
      return { verdict: { ok: true }, hits: [...recent.slice(0, at), ...recent.slice(at + 1)] };
    });
  }

  /** Reads the key's hits, lets `change` decide, and writes its new hits if nobody wrote in between. */
  private async update(
    limit: RateLimit,
    now: number,
    change: (recent: number[]) => { verdict: RateDecision; hits?: number[] },
  ): Promise<RateDecision> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const { hits, version } = await this.read(limit.key);
      const { verdict, hits: next } = change(recentHits(hits, limit, now));
      if (!next) return verdict;
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              pk: pkOf(limit.key),
              sk: "log",
              hits: next,
              version: version + 1,
              expires_at: epochSeconds(Math.max(now, ...next) + limit.windowMs),
            },
            ConditionExpression: "attribute_not_exists(pk) OR version = :version",
            ExpressionAttributeValues: { ":version": version },
          }),
        );
        return verdict;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        // Someone else wrote this key since it was read: read again, after a short random pause.
        await sleep(Math.random() * Math.min(50, 2 + round * 4));
      }
    }
    return { ok: false, key: limit.key, retryAfterMs: BUSY_MS };
  }

  private async read(key: string): Promise<{ hits: number[]; version: number }> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: pkOf(key), sk: "log" }, ConsistentRead: true }),
    );
    return logSchema.parse(result.Item ?? {});
  }
}
