import { termSet } from "./terms.js";

/**
 * Whether a passage is about the question. BM25 returns a row as soon as one term matches, so a
 * passage sharing only a common word ("policy") with the question would look like an answer. A
 * passage counts only when it covers more than half of the question's meaningful terms (or exactly
 * half with at least two of them), each term weighted by how rare it is in the tenant's collection:
 * a common word weighs little, and a word found nowhere weighs as much as the rarest word present
 * (the question is then partly about something the documents never mention).
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
  const n = weights.total;
  // Absent terms count like a term seen once: rarer than that says nothing more about the passage.
  const df = Math.max(1, weights.documentFrequency.get(term) ?? 1);
  // Lucene-style idf, never negative; a term absent from the collection gets the highest weight.
  return Math.log(1 + (n - df + 0.5) / (df + 0.5)) / Math.log(1 + (n + 0.5) / 0.5);
}

function measure(terms: readonly string[], passage: string, weights?: TermWeights) {
  const present = termSet(passage);
  let matched = 0;
  let total = 0;
  let count = 0;
  for (const term of terms) {
    const w = termWeight(term, weights);
    total += w;
    if (present.has(term)) {
      matched += w;
      count++;
    }
  }
  return { coverage: total === 0 ? 0 : matched / total, matchedTerms: count };
}

export function coverage(terms: readonly string[], passage: string, weights?: TermWeights): number {
  return measure(terms, passage, weights).coverage;
}

export function isRelevant(terms: readonly string[], passage: string, weights?: TermWeights): boolean {
  if (terms.length === 0) return false;
  const m = measure(terms, passage, weights);
  // Float sums of equal weights can land a hair under one half: compare with a tolerance.
  return m.coverage > MIN_COVERAGE + 1e-9 || (m.coverage >= MIN_COVERAGE - 1e-9 && m.matchedTerms >= 2);
}
