import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RateLimiter } from "../../src/ports/rate-limiter.js";
import type { Factory, Fixture } from "./support.js";

export function describeRateLimiterContract(name: string, factory: Factory<RateLimiter>) {
  describe(`RateLimiter contract: ${name}`, () => {
    let fx: Fixture<RateLimiter>;
    beforeEach(async () => {
      fx = await factory();
    });
    afterEach(async () => {
      await fx.cleanup();
    });
    const key = (k: string) => `${k}:${randomUUID()}`;
    const t0 = Math.floor(Date.now() / 60_000) * 60_000 + 1000;

    it("allows up to the limit in a window, then refuses with the wait until there is room", async () => {
      const user = key("user");
      for (let i = 0; i < 3; i++)
        expect(await fx.adapter.take([{ key: user, limit: 3, windowMs: 60_000 }], t0 + i)).toEqual({ ok: true });
      const refused = await fx.adapter.take([{ key: user, limit: 3, windowMs: 60_000 }], t0 + 10);
      expect(refused).toMatchObject({ ok: false, key: user });
      if (refused.ok) throw new Error("expected a refusal");
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect(await fx.adapter.take([{ key: key("other"), limit: 3, windowMs: 60_000 }], t0 + 10)).toEqual({ ok: true });
      expect(await fx.adapter.take([{ key: user, limit: 3, windowMs: 60_000 }], t0 + 61_000)).toEqual({ ok: true });
    });

    it("slides: hits just before and just after a minute's edge count together", async () => {
      const account = key("account");
      const limit = [{ key: account, limit: 3, windowMs: 60_000 }];
      const edge = t0 - 1000 + 60_000; // a whole minute on the clock
      for (const at of [edge - 900, edge - 600, edge - 300])
        expect(await fx.adapter.take(limit, at)).toEqual({ ok: true });
      const refused = await fx.adapter.take(limit, edge + 100);
      expect(refused).toMatchObject({ ok: false, key: account });
      if (refused.ok) throw new Error("expected a refusal");
      // Room again when the oldest hit leaves the window, not at the next minute.
      expect(refused.retryAfterMs).toBe(edge - 900 + 60_000 - (edge + 100));
      expect(await fx.adapter.take(limit, edge - 900 + 60_000 - 1)).toMatchObject({ ok: false });
      expect(await fx.adapter.take(limit, edge - 900 + 60_000 + 1)).toEqual({ ok: true });
    });

    it("gives the last place to exactly one of many callers racing for it", async () => {
      const account = key("account");
      const limit = [{ key: account, limit: 5, windowMs: 60_000 }];
      const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => fx.adapter.take(limit, t0 + i)));
      expect(decisions.filter((d) => d.ok)).toHaveLength(5);
    });

    it("counts all limits or none: a refusal by one key takes nothing from the others", async () => {
      const tenant = key("tenant");
      const user = key("user");
      const both = [
        { key: tenant, limit: 3, windowMs: 60_000 },
        { key: user, limit: 1, windowMs: 60_000 },
      ];
      expect(await fx.adapter.take(both, t0)).toEqual({ ok: true });
      expect(await fx.adapter.take(both, t0 + 1)).toMatchObject({ ok: false, key: user });
      expect(await fx.adapter.take(both, t0 + 2)).toMatchObject({ ok: false, key: user });
      expect(await fx.adapter.take([{ key: tenant, limit: 3, windowMs: 60_000 }], t0 + 3)).toEqual({ ok: true });
      expect(await fx.adapter.take([{ key: tenant, limit: 3, windowMs: 60_000 }], t0 + 4)).toEqual({ ok: true });
      expect(await fx.adapter.take([{ key: tenant, limit: 3, windowMs: 60_000 }], t0 + 5)).toMatchObject({
        ok: false,
        key: tenant,
      });
    });

    it("giveBack returns an accepted take's hit to every limit it counted against", async () => {
      const account = key("account");
      const address = key("address");
      const limits = [
        { key: account, limit: 2, windowMs: 60_000 },
        { key: address, limit: 3, windowMs: 60_000 },
      ];
      expect(await fx.adapter.take(limits, t0)).toEqual({ ok: true });
      expect(await fx.adapter.take(limits, t0 + 1)).toEqual({ ok: true });
      expect(await fx.adapter.take(limits, t0 + 2)).toMatchObject({ ok: false, key: account });
      await fx.adapter.giveBack(limits, t0 + 1);
      // Room again for one on both keys: the account is full again, the address has one left.
      expect(await fx.adapter.take(limits, t0 + 3)).toEqual({ ok: true });
      expect(await fx.adapter.take(limits, t0 + 4)).toMatchObject({ ok: false, key: account });
      const addressOnly = [{ key: address, limit: 3, windowMs: 60_000 }];
      expect(await fx.adapter.take(addressOnly, t0 + 5)).toEqual({ ok: true });
      expect(await fx.adapter.take(addressOnly, t0 + 6)).toMatchObject({ ok: false, key: address });
    });
  });
}
