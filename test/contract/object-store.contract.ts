import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ObjectStore } from "../../src/ports/object-store.js";
import { appError, type Factory, type Fixture, twoTenants } from "./support.js";

export interface ObjectStoreContractOptions {
  /** Bytes of the large-object case (big enough to cross a backend's multipart threshold). */
  largeBytes?: number;
}

export function describeObjectStoreContract(
  name: string,
  factory: Factory<ObjectStore>,
  options: ObjectStoreContractOptions = {},
) {
  describe(`ObjectStore contract: ${name}`, () => {
    let fx: Fixture<ObjectStore>;
    let store: ObjectStore;
    beforeEach(async () => {
      fx = await factory();
      store = fx.adapter;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it("stores and returns the exact bytes, and overwrites in place", async () => {
      const { a } = twoTenants();
      const bytes = new Uint8Array(256).map((_, i) => i);
      await store.put(a, "documents/d1/original", bytes, "application/pdf");
      expect(Buffer.compare(await store.get(a, "documents/d1/original"), Buffer.from(bytes))).toBe(0);
      await store.put(a, "documents/d1/original", Buffer.from("second version"), "text/plain");
      expect((await store.get(a, "documents/d1/original")).toString()).toBe("second version");
    });

    it("fails with not_found for a missing key, and deleting a missing key is fine", async () => {
      const { a } = twoTenants();
      expect((await appError(store.get(a, "documents/none/original"))).code).toBe("not_found");
      await store.delete(a, "documents/none/original");
      await store.put(a, "x.txt", Buffer.from("x"));
      await store.delete(a, "x.txt");
      expect((await appError(store.get(a, "x.txt"))).code).toBe("not_found");
    });

    it("keeps tenants apart: B can neither read, overwrite nor delete A's object under the same key", async () => {
      const { a, b } = twoTenants();
      await store.put(a, "documents/shared-key/original", Buffer.from("tenant A secret"));
      expect((await appError(store.get(b, "documents/shared-key/original"))).code).toBe("not_found");
      await store.delete(b, "documents/shared-key/original");
      await store.put(b, "documents/shared-key/original", Buffer.from("tenant B data"));
      expect((await store.get(a, "documents/shared-key/original")).toString()).toBe("tenant A secret");
      expect((await store.get(b, "documents/shared-key/original")).toString()).toBe("tenant B data");
    });

    it("refuses keys that could escape the tenant's space", async () => {
      const { a, b } = twoTenants();
      await store.put(b, "victim.txt", Buffer.from("B"));
      for (const key of ["../victim.txt", `../${b}/victim.txt`, "a/../../victim.txt", "/abs", "", "a//b", "./x"]) {
        await expect(store.put(a, key, Buffer.from("x")), key).rejects.toThrow();
        await expect(store.get(a, key), key).rejects.toThrow();
      }
      expect((await store.get(b, "victim.txt")).toString()).toBe("B");
    });

    it("deleteTenant removes every object of the tenant, overwritten ones included, and nothing of another", async () => {
      const { a, b } = twoTenants();
      const keys = ["documents/d1/original", "documents/d2/original", "exports/archive.tar", "x.txt"];
      for (const key of keys) await store.put(a, key, Buffer.from(`A ${key}`));
      // A second write of the same key: a versioned backend keeps the first one as an older version.
      await store.put(a, "documents/d1/original", Buffer.from("A d1, second version"));
      for (const key of keys) await store.put(b, key, Buffer.from(`B ${key}`));
      await store.deleteTenant(a);
      for (const key of keys) expect((await appError(store.get(a, key))).code, key).toBe("not_found");
      for (const key of keys) expect((await store.get(b, key)).toString(), key).toBe(`B ${key}`);
      await store.deleteTenant(a);
      await store.deleteTenant(twoTenants().a);
      await store.put(a, "x.txt", Buffer.from("A again"));
      expect((await store.get(a, "x.txt")).toString()).toBe("A again");
    });

    it("round-trips a large object", async () => {
      const { a } = twoTenants();
      const size = options.largeBytes ?? 3 * 1024 * 1024;
      const big = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4096) big[i] = (i / 4096) % 251;
      await store.put(a, "documents/big/original", big, "application/pdf");
      const back = await store.get(a, "documents/big/original");
      expect(back.length).toBe(size);
      expect(Buffer.compare(back, big)).toBe(0);
    });
  });
}
