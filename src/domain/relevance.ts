import { cueKinds, hasFact } from "./question-type.js";
import { termSet } from "./terms.js";

/**
 * Whether a passage is about the question. BM25 returns a row as soon as one term matches, so a
 * passage sharing only a common word ("policy") with the question would look like an answer. A
 * passage counts only when it covers more than half of the question's meaningful terms (or exactly
 * half with at least two of them), each term weighted by how rare it is in the tenant's collection:
 * a common word weighs little, and a word found nowhere weighs as much as the rarest word present
 * (the question is then partly about something the documents never mention).
 *
 * A word that only names the kind of answer ("limit", "cost", "long", "contact") is matched by a fact
 * of that kind in the same sentence as one of the question's subject words: "What is the hotel limit?"
 * is about "Hotel costs are reimbursed up to 180 euros per night", which never says "limit".
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

// Sentences and lines, for the sentence-level rule of answer-kind words; splitting needs no precision here.
const SENTENCE_BREAK = /(?<=[.!?;])\s+|\n+/;

/** Whether a sentence of the passage holds a subject word of the question beside a fact of the cue's kind. */
function realised(cue: string, subjects: readonly string[], passage: string): boolean {
  const kinds = cueKinds(cue);
  if (kinds.length === 0 || subjects.length === 0) return false;
  return passage.split(SENTENCE_BREAK).some((sentence) => {
    const present = termSet(sentence);
    return subjects.some((t) => present.has(t)) && kinds.some((k) => hasFact(sentence, k));
  });
}

function measure(terms: readonly string[], passage: string, weights?: TermWeights) {
  const present = termSet(passage);
  const subjects = terms.filter((t) => cueKinds(t).length === 0);
  let matched = 0;
  let total = 0;
  let count = 0;
  for (const term of terms) {
    const w = termWeight(term, weights);
    total += w;
    if (present.has(term) || realised(term, subjects, passage)) {
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
