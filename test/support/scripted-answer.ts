import { queryTerms } from "../../src/domain/terms.js";

/**
 * What the scripted models (fake-bedrock.ts and fake-openai.ts) answer: the passage sentence
 * sharing most terms with the question, cited [n]; that the documents do not cover it when none does.
 */
export function bestSentence(question: string, passages: readonly { n: number; text: string }[]): string {
  const terms = queryTerms(question);
  let best: { n: number; sentence: string; hits: number } | undefined;
  for (const p of passages) {
    for (const sentence of p.text.split(/(?<=[.!?])\s+|\n+/)) {
      const present = new Set(queryTerms(sentence));
      const hits = terms.filter((t) => present.has(t)).length;
      if (hits > 0 && (!best || hits > best.hits)) best = { n: p.n, sentence: sentence.trim(), hits };
    }
  }
  return best ? `${best.sentence} [${best.n}]` : "The documents do not cover that.";
}
