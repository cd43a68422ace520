import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { RateDecision, RateLimit, RateLimiter } from "../../ports/rate-limiter.js";
import { guarded } from "./aws-errors.js";
import { epochSeconds, isConditionFailure } from "./dynamo.js";

/**
 * Limits shared by every instance (Lambda scales out, so per-process counters would not limit anything):
 * one counter item per key and fixed window in the directory table, `rate#<key>` / `<window start>`,
 * incremented with a conditional update that refuses at the limit. All or nothing: when a later limit
 * refuses, the counts already taken are given back (as `giveBack` gives back an accepted take's). Items
 * expire (TTL) after their window. `peek` reads the same counters (strongly consistent) and writes nothing.
 */
const windowStart = (limit: RateLimit, now: number): number => Math.floor(now / limit.windowMs) * limit.windowMs;

export class DynamoRateLimiter implements RateLimiter {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async take(limits: readonly RateLimit[], now = Date.now()): Promise<RateDecision> {
    return guarded("Rate limiting", async () => {
      const taken: { key: string; window: number }[] = [];
      for (const limit of limits) {
        const window = windowStart(limit, now);
        try {
          await this.db.send(
            new UpdateCommand({
              TableName: this.table,
              Key: { pk: `rate#${limit.key}`, sk: String(window) },
              UpdateExpression: "ADD hits :one SET expires_at = :expires",
              ConditionExpression: "attribute_not_exists(hits) OR hits < :limit",
              ExpressionAttributeValues: {
                ":one": 1,
                ":limit": limit.limit,
                ":expires": epochSeconds(window + 2 * limit.windowMs),
              },
            }),
          );
          taken.push({ key: limit.key, window });
        } catch (error) {
          if (!isConditionFailure(error)) throw error;
          await Promise.all(taken.map((t) => this.giveBackHit(t.key, t.window)));
          return { ok: false, key: limit.key, retryAfterMs: Math.max(1, window + limit.windowMs - now) };
        }
      }
      return { ok: true };
    });
  }

  async peek(limits: readonly RateLimit[], now = Date.now()): Promise<RateDecision> {
    return guarded("Rate limiting", async () => {
      for (const limit of limits) {
        const window = windowStart(limit, now);
        const result = await this.db.send(
          new GetCommand({
            TableName: this.table,
            Key: { pk: `rate#${limit.key}`, sk: String(window) },
            ConsistentRead: true,
          }),
        );
        const hits = Number(result.Item?.hits ?? 0);
        if (hits >= limit.limit)
          return { ok: false, key: limit.key, retryAfterMs: Math.max(1, window + limit.windowMs - now) };
      }
      return { ok: true };
    });
  }

  async giveBack(limits: readonly RateLimit[], now: number): Promise<void> {
    await Promise.all(limits.map((limit) => this.giveBackHit(limit.key, windowStart(limit, now))));
  }

  private async giveBackHit(key: string, window: number): Promise<void> {
    await this.db
      .send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: `rate#${key}`, sk: String(window) },
          UpdateExpression: "ADD hits :minus",
          ConditionExpression: "attribute_exists(hits)",
          ExpressionAttributeValues: { ":minus": -1 },
        }),
      )
      .catch(() => undefined);
  }
}
