import { describe, expect, it } from "vitest";
import { toFtsQuery } from "../../src/adapters/local/sqlite-chunk-index.js";
import { coverage, isRelevant } from "../../src/domain/relevance.js";
import { queryTerms } from "../../src/domain/terms.js";

describe("query terms", () => {
  it("drops stop words and request verbs, stems the rest like FTS5's porter tokenizer", () => {
    expect(queryTerms("Can you explain how the vacation days are carried over?")).toEqual(["vacat", "dai", "carri"]);
    expect(queryTerms("Tell me about the policies")).toEqual(["polici"]);
  });

  it("keeps words of spaced scripts whole", () => {
    expect(queryTerms("Что такое ГОСТ?")).toEqual(["что", "такое", "гост"]);
  });

  it("splits Chinese and Japanese into character pairs, without hiragana-only particles", () => {
    expect(queryTerms("東京都")).toEqual(["東京", "京都"]);
    expect(queryTerms("確率とは何ですか")).toEqual(["確率", "率と", "は何", "何で"]);
    const passage = "非完備の場合、リスク中立確率は一意ではない。";
    expect(isRelevant(queryTerms("リスク中立確率とは何ですか？"), passage)).toBe(true);
    expect(isRelevant(queryTerms("東京の天気は？"), passage)).toBe(false);
  });
});

describe("relevance", () => {
  const passage = "Every full-time employee receives 27 days of paid vacation per calendar year.";

  it("accepts a passage covering most of the question", () => {
    expect(isRelevant(queryTerms("How many vacation days does an employee get?"), passage)).toBe(true);
  });

  it("rejects a passage that shares only one common word", () => {
    const policy = "This policy applies to all employees of the company.";
    expect(isRelevant(queryTerms("Explain the quantum chromodynamics policy"), policy)).toBe(false);
    expect(isRelevant(queryTerms("What is the policy on pets?"), policy)).toBe(false);
  });

  it("weights terms by rarity: a term missing from the collection outweighs a common one", () => {
    const terms = queryTerms("travel policy");
    const weights = {
      total: 100,
      documentFrequency: new Map([
        ["travel", 3],
        ["polici", 60],
      ]),
    };
    expect(isRelevant(terms, "Travel is booked through the portal.", weights)).toBe(true);
    expect(isRelevant(terms, "This policy applies to everyone.", weights)).toBe(false);
    const unknown = {
      total: 100,
      documentFrequency: new Map([
        ["travel", 0],
        ["polici", 60],
      ]),
    };
    expect(coverage(terms, "This policy applies to everyone.", unknown)).toBeLessThan(0.5);
  });
});

describe("FTS5 query building", () => {
  it("quotes every term so no question can be read as FTS5 syntax", () => {
    expect(toFtsQuery('vacation" OR NEAR(a b) AND * ^ : title:x')).toBe(
      '"vacation" OR "near" OR "b" OR "title" OR "x"',
    );
    expect(toFtsQuery("??? !!! ...")).toBeUndefined();
    expect(toFtsQuery("the and of")).toBeUndefined();
  });
});
