import { termSet } from "./terms.js";

/**
 * Whether a passage is about the question. BM25 returns a row as soon as one term matches, so a
 * passage sharing only a common word ("policy") with the question would look like an answer. A
 * passage counts only when it covers MORE than half of the question's meaningful terms, each term
 * weighted by how rare it is in the tenant's collection (a term found nowhere weighs most: the
 * question is about something the documents do not mention).
 */
export interface TermWeights {
  /** Passages in the collection. */
  total: number;
  /** Passages containing each stemmed term; missing means unknown. */
  documentFrequency: ReadonlyMap<string, number>;
}

export const MIN_COVERAGE = 0.5;

export function termWeight(term: string, weights?: TermWeights): number {
  if (!weights || weights.total <= 0) return 1;
  const df = weights.documentFrequency.get(term);
  if (df === undefined) return 1;
  const n = weights.total;
  // Lucene-style idf, never negative; a term absent from the collection gets the highest weight.
  return Math.log(1 + (n - df + 0.5) / (df + 0.5)) / Math.log(1 + (n + 0.5) / 0.5);
}

export function coverage(terms: readonly string[], passage: string, weights?: TermWeights): number {
  if (terms.length === 0) return 0;
  const present = termSet(passage);
  let matched = 0;
  let total = 0;
  for (const term of terms) {
    const w = termWeight(term, weights);
    total += w;
    if (present.has(term)) matched += w;
  }
  return total === 0 ? 0 : matched / total;
}

export function isRelevant(terms: readonly string[], passage: string, weights?: TermWeights): boolean {
  return coverage(terms, passage, weights) > MIN_COVERAGE;
}
