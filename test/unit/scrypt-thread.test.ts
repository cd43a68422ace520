import { randomBytes, scryptSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ScryptThread } from "../../src/adapters/local/scrypt-thread.js";

const PARAMS = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

describe("ScryptThread", () => {
  it("computes the same keys as crypto's scrypt, for hashes asked for at once", async () => {
    const thread = new ScryptThread();
    const inputs = ["correct horse", "pässwört ✓", ""].map((password) => ({ password, salt: randomBytes(16) }));
    const keys = await Promise.all(inputs.map((i) => thread.hash(i.password, i.salt, 32, PARAMS)));
    keys.forEach((key, n) => {
      const input = inputs[n] as (typeof inputs)[number];
      expect(key.equals(scryptSync(input.password, input.salt, 32, PARAMS))).toBe(true);
    });
  });

  it("rejects what scrypt refuses, and goes on hashing afterwards", async () => {
    const thread = new ScryptThread();
    await expect(thread.hash("pw", randomBytes(16), 32, { ...PARAMS, N: 1000 })).rejects.toThrow(/N|param/i);
    const salt = randomBytes(16);
    expect((await thread.hash("pw", salt, 32, PARAMS)).equals(scryptSync("pw", salt, 32, PARAMS))).toBe(true);
  });
});
