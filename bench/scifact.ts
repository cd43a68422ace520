import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { type AccessKey, ORG_KEY } from "../src/domain/access.js";
import type { TenantId } from "../src/domain/tenant.js";
import type { ChunkIndex } from "../src/ports/chunk-index.js";

/**
 * BEIR SciFact (test split), and trec_eval's nDCG@10 and Recall@100. The data is read from SCIFACT_DIR,
 * by default ../shared/data/beir-scifact. Either layout works: BEIR's own download unzipped
 * (corpus.jsonl, queries.jsonl, qrels/test.tsv) or the same files with the corpus gzipped and the test
 * judgements as qrels.tsv.
 */
export const sciFactDir = (): string =>
  resolve(process.cwd(), process.env.SCIFACT_DIR || "../shared/data/beir-scifact");

export interface SciFact {
  corpus: { id: string; title: string; text: string }[];
  queries: { id: string; text: string }[];
  qrels: Map<string, Map<string, number>>;
}

const first = (...names: string[]): string | undefined =>
  names.map((name) => resolve(sciFactDir(), name)).find((file) => existsSync(file));
const corpusFile = () => first("corpus.jsonl.gz", "corpus.jsonl");
const queriesFile = () => first("queries.jsonl");
const qrelsFile = () => first("qrels.tsv", "qrels/test.tsv");

export const sciFactAvailable = (): boolean =>
  corpusFile() !== undefined && queriesFile() !== undefined && qrelsFile() !== undefined;

/** Where the data was looked for, where to get it and how to lay it out. */
export function sciFactMissing(): string {
  return [
    `BEIR SciFact not found in ${sciFactDir()}.`,
    "  Download https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip, unzip it and",
    "  point SCIFACT_DIR at the scifact folder: it must hold corpus.jsonl (or corpus.jsonl.gz), queries.jsonl",
    "  and qrels/test.tsv (or qrels.tsv), e.g. SCIFACT_DIR=~/data/scifact npm run bench",
  ].join("\n");
}

export function loadSciFact(): SciFact {
  const [corpusPath, queriesPath, qrelsPath] = [corpusFile(), queriesFile(), qrelsFile()];
  if (!corpusPath || !queriesPath || !qrelsPath) throw new Error(sciFactMissing());
  const lines = (buf: string) => buf.split("\n").filter((l) => l.trim());
  const corpusBytes = readFileSync(corpusPath);
  const corpusText = (corpusPath.endsWith(".gz") ? gunzipSync(corpusBytes) : corpusBytes).toString("utf8");
  const corpus = lines(corpusText).map((l) => {
    const d = JSON.parse(l) as { _id: string; title: string; text: string };
    return { id: d._id, title: d.title, text: d.text };
  });
  const queries = lines(readFileSync(queriesPath, "utf8")).map((l) => {
    const q = JSON.parse(l) as { _id: string; text: string };
    return { id: q._id, text: q.text };
  });
  const qrels = new Map<string, Map<string, number>>();
  for (const line of lines(readFileSync(qrelsPath, "utf8")).slice(1)) {
    const [qid, docId, score] = line.split("\t");
    if (!qid || !docId) continue;
    const m = qrels.get(qid) ?? new Map<string, number>();
    m.set(docId, Number(score));
    qrels.set(qid, m);
  }
  return { corpus, queries: queries.filter((q) => qrels.has(q.id)), qrels };
}

export function ndcgAt(ranked: readonly string[], relevant: ReadonlyMap<string, number>, k: number): number {
  let dcg = 0;
  ranked.slice(0, k).forEach((id, i) => {
    const gain = relevant.get(id) ?? 0;
    if (gain > 0) dcg += (2 ** gain - 1) / Math.log2(i + 2);
  });
  const ideal = [...relevant.values()].sort((a, b) => b - a).slice(0, k);
  const idcg = ideal.reduce((sum, gain, i) => sum + (2 ** gain - 1) / Math.log2(i + 2), 0);
  return idcg === 0 ? 0 : dcg / idcg;
}

export function recallAt(ranked: readonly string[], relevant: ReadonlyMap<string, number>, k: number): number {
  const rel = [...relevant.entries()].filter(([, g]) => g > 0).map(([id]) => id);
  if (rel.length === 0) return 0;
  const top = new Set(ranked.slice(0, k));
  return rel.filter((id) => top.has(id)).length / rel.length;
}

/** Every abstract is the organisation's and every query a member's: retrieval is measured unfiltered. */
export const MEMBER: readonly AccessKey[] = [ORG_KEY];

/** Loads every abstract as one passage (title + text) of `tenant`. */
export async function indexSciFact(index: ChunkIndex, tenant: TenantId, corpus: SciFact["corpus"]): Promise<void> {
  await index.upsert(
    tenant,
    corpus.map((d, ordinal) => ({
      id: `${d.id}#0`,
      tenantId: tenant,
      documentId: d.id,
      ordinal,
      title: d.title,
      page: 1,
      text: d.text,
      access: MEMBER,
    })),
  );
}
