import { describe, expect, it } from "vitest";
import { passageTerms, TermCounter } from "../../src/adapters/local/passage-terms.js";
import { queryTerms } from "../../src/domain/terms.js";

const frequencies = (terms: string[], encoded: string): number[] => {
  const found = terms.map(() => 0);
  new TermCounter(terms).forEach(encoded, (term, tf) => {
    found[term] = tf;
  });
  return found;
};

describe("passage term statistics", () => {
  it("counts every word of title and text, stemmed as FTS5's porter tokenizer does", () => {
    const { tokens, terms } = passageTerms("Cell biology", "Cells divide; a cell's division makes two cells.");
    expect(tokens).toBe(10);
    expect(frequencies(queryTerms("cells divides biology mitosis"), terms)).toEqual([4, 1, 1, 0]);
  });

  it("counts stop words too: Porter gives 'us' and 'use' one stem", () => {
    const { terms } = passageTerms("", "Tell us how to use it.");
    expect(frequencies(queryTerms("use"), terms)).toEqual([2]);
  });

  it("never mistakes a term for the end or the start of a longer one", () => {
    const { terms } = passageTerms("", "subcellular cellular cellist");
    expect(frequencies(["cell", "cellular", "subcellular"], terms)).toEqual([0, 1, 1]);
  });

  it("reads frequencies of many digits, and terms in any script", () => {
    const text = `${"budget ".repeat(123)}東京都 Zürich`;
    const { terms } = passageTerms("", text);
    expect(frequencies(["budget", "東京", "京都", "zürich"], terms)).toEqual([123, 1, 1, 1]);
  });

  it("finds nothing for a query without terms", () => {
    expect(frequencies([], passageTerms("", "anything").terms)).toEqual([]);
  });
});
