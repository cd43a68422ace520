import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Embedder } from "../../src/ports/embedder.js";
import type { Factory, Fixture } from "./support.js";

const cosine = (x: number[], y: number[]) => {
  let dot = 0;
  let nx = 0;
  let ny = 0;
  for (let i = 0; i < x.length; i++) {
    dot += (x[i] ?? 0) * (y[i] ?? 0);
    nx += (x[i] ?? 0) ** 2;
    ny += (y[i] ?? 0) ** 2;
  }
  return dot / Math.sqrt(nx * ny);
};

export function describeEmbedderContract(name: string, factory: Factory<Embedder>) {
  describe(`Embedder contract: ${name}`, () => {
    let fx: Fixture<Embedder>;
    let embedder: Embedder;
    beforeEach(async () => {
      fx = await factory();
      embedder = fx.adapter;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it("declares its model, dimensions and batch size", () => {
      expect(embedder.modelId).toEqual(expect.any(String));
      expect(embedder.modelId.length).toBeGreaterThan(0);
      expect(Number.isInteger(embedder.dimensions) && embedder.dimensions > 0).toBe(true);
      expect(Number.isInteger(embedder.maxBatchSize) && embedder.maxBatchSize > 0).toBe(true);
    });

    it("returns one vector of the declared size per input, in input order", async () => {
      const texts = Array.from({ length: embedder.maxBatchSize }, (_, i) => `passage number ${i} about topic ${i % 7}`);
      const vectors = await embedder.embed(texts, "document");
      expect(vectors).toHaveLength(texts.length);
      for (const v of vectors) {
        expect(v).toHaveLength(embedder.dimensions);
        expect(v.every((x) => Number.isFinite(x))).toBe(true);
      }
      const [single] = await embedder.embed([texts[3] ?? ""], "document");
      expect(cosine(single ?? [], vectors[3] ?? [])).toBeCloseTo(1, 5);
      expect(await embedder.embed([], "query")).toEqual([]);
    });

    it("places a question nearer to the passage about it than to an unrelated one", async () => {
      const [q, near, far] = await Promise.all([
        embedder.embed(["how many vacation days do employees get"], "query"),
        embedder.embed(["Employees get 27 vacation days per year."], "document"),
        embedder.embed(["Rotate database credentials every ninety days."], "document"),
      ]);
      expect(cosine(q[0] ?? [], near[0] ?? [])).toBeGreaterThan(cosine(q[0] ?? [], far[0] ?? []));
    });
  });
}
