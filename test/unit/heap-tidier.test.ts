import { getHeapStatistics } from "node:v8";
import { describe, expect, it } from "vitest";
import { HeapTidier, v8Collector } from "../../src/adapters/local/heap-tidier.js";

const MiB = 2 ** 20;

describe("HeapTidier", () => {
  it("collects once the heap has grown by the threshold since its last collection, and not before", () => {
    let used = 40 * MiB;
    let collections = 0;
    const tidier = new HeapTidier({
      thresholdBytes: 64 * MiB,
      usedBytes: () => used,
      collect: () => {
        collections++;
        used = 30 * MiB; // what survives
      },
    });
    tidier.afterHeavyWork();
    expect(collections).toBe(0);
    used = 70 * MiB;
    tidier.afterHeavyWork();
    expect(collections).toBe(1);
    // Measured from what the collection kept (30 MiB), not from zero.
    used = 90 * MiB;
    tidier.afterHeavyWork();
    expect(collections).toBe(1);
    used = 95 * MiB;
    tidier.afterHeavyWork();
    expect(collections).toBe(2);
  });

  it("does nothing where no collector can be had", () => {
    const tidier = new HeapTidier({ collect: undefined, usedBytes: () => 10_000 * MiB });
    expect(() => tidier.afterHeavyWork()).not.toThrow();
  });

  it("gets V8's own full collection on this Node, which frees dead objects at once", () => {
    const collect = v8Collector();
    expect(collect).toBeTypeOf("function");
    // About 80 MiB of arrays, in V8's large-object space, then dropped: only a full collection frees them.
    let garbage: number[][] | undefined = Array.from({ length: 200 }, () => new Array(50_000).fill(1.5));
    expect(garbage).toHaveLength(200);
    garbage = undefined;
    const before = getHeapStatistics().used_heap_size;
    collect?.();
    const after = getHeapStatistics().used_heap_size;
    expect(before - after).toBeGreaterThan(40 * MiB);
  });
});
