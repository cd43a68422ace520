import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { evaluateSciFact } from "../../bench/eval-scifact.js";
import { loadSciFact, sciFactAvailable, sciFactMissing } from "../../bench/scifact.js";

const available = sciFactAvailable();
if (!available) console.warn(`${sciFactMissing()}\nRetrieval quality test skipped.`);

describe.skipIf(!available)("retrieval quality on BEIR SciFact", () => {
  it("beats the published BM25 and bare FTS5 nDCG@10 (0.665, 0.682)", async () => {
    const r = await evaluateSciFact();
    expect(r.queries).toBe(300);
    expect(r.ndcg10).toBeGreaterThanOrEqual(0.685);
    expect(r.recall100).toBeGreaterThanOrEqual(0.9);
  }, 120_000);
});

describe("SCIFACT_DIR", () => {
  const saved = process.env.SCIFACT_DIR;
  const dirs: string[] = [];
  afterEach(() => {
    if (saved === undefined) delete process.env.SCIFACT_DIR;
    else process.env.SCIFACT_DIR = saved;
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("reads BEIR's own unzipped layout, keeping the queries the test judgements name", () => {
    const dir = mkdtempSync(join(tmpdir(), "enclave-scifact-"));
    dirs.push(dir);
    mkdirSync(join(dir, "qrels"));
    writeFileSync(
      join(dir, "corpus.jsonl"),
      `${JSON.stringify({ _id: "d1", title: "Cells", text: "Cells divide." })}\n${JSON.stringify({ _id: "d2", title: "Rna", text: "RNA folds." })}\n`,
    );
    writeFileSync(
      join(dir, "queries.jsonl"),
      `${JSON.stringify({ _id: "q1", text: "Do cells divide?" })}\n${JSON.stringify({ _id: "q9", text: "train query" })}\n`,
    );
    writeFileSync(join(dir, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
    process.env.SCIFACT_DIR = dir;
    expect(sciFactAvailable()).toBe(true);
    const data = loadSciFact();
    expect(data.corpus.map((d) => d.id)).toEqual(["d1", "d2"]);
    expect(data.queries).toEqual([{ id: "q1", text: "Do cells divide?" }]);
    expect(data.qrels.get("q1")?.get("d1")).toBe(1);
  });

  it("says where it looked, where to download the data and how to lay it out", () => {
    const dir = mkdtempSync(join(tmpdir(), "enclave-scifact-"));
    dirs.push(dir);
    process.env.SCIFACT_DIR = dir;
    expect(sciFactAvailable()).toBe(false);
    const message = sciFactMissing();
    expect(message).toContain(dir);
    expect(message).toContain("https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip");
    expect(message).toContain("qrels/test.tsv");
    expect(() => loadSciFact()).toThrow(/SCIFACT_DIR/);
  });
});
