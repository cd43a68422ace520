import { describe, expect, it } from "vitest";
import { evaluateSciFact } from "../../bench/eval-scifact.js";
import { sciFactAvailable } from "../../bench/scifact.js";

const available = sciFactAvailable();
if (!available) console.warn("BEIR SciFact not found at ../shared/data/beir-scifact: retrieval quality test skipped.");

describe.skipIf(!available)("retrieval quality on BEIR SciFact", () => {
  it("reaches at least the published BM25 nDCG@10 (0.665)", async () => {
    const r = await evaluateSciFact();
    expect(r.queries).toBe(300);
    expect(r.ndcg10).toBeGreaterThanOrEqual(0.665);
    expect(r.recall100).toBeGreaterThanOrEqual(0.9);
  }, 120_000);
});
