import { describe, expect, it } from "vitest";
import { chunkPages, splitSentences } from "../../src/ingest/chunk.js";

const sentence = (i: number) => `Sentence number ${i} talks about topic ${i} in some words here.`; // 11 words

describe("chunking", () => {
  it("splits on sentence boundaries into passages of about the target size, with overlap", () => {
    const page = Array.from({ length: 60 }, (_, i) => sentence(i)).join(" ");
    const passages = chunkPages([page], { targetWords: 50, overlapWords: 12 });
    expect(passages.length).toBeGreaterThanOrEqual(12);
    for (const p of passages) {
      expect(p.text.split(/\s+/).length).toBeLessThanOrEqual(50);
      expect(p.text).toMatch(/^Sentence number \d+/);
      expect(p.text).toMatch(/here\.$/);
    }
    // Overlap: each passage starts with the last sentence of the previous one.
    const lastOfFirst = passages[0]?.text.split(/(?<=\.)\s/).at(-1);
    expect(passages[1]?.text.startsWith(lastOfFirst ?? "?")).toBe(true);
    // Nothing lost: every sentence appears somewhere.
    for (let i = 0; i < 60; i++) expect(passages.some((p) => p.text.includes(`number ${i} `))).toBe(true);
  });

  it("never crosses pages and records the page", () => {
    const passages = chunkPages(["First page text. More of it.", "", "Third page."], {
      targetWords: 150,
      overlapWords: 30,
    });
    expect(passages).toEqual([
      { page: 1, text: "First page text. More of it." },
      { page: 3, text: "Third page." },
    ]);
  });

  it("cuts run-on text without punctuation and long CJK runs", () => {
    const runOn = Array.from({ length: 400 }, (_, i) => `w${i}`).join(" ");
    const passages = chunkPages([runOn], { targetWords: 100, overlapWords: 0 });
    expect(passages.length).toBe(4);
    const cjk = "日本語のテキスト".repeat(200);
    expect(chunkPages([cjk], { targetWords: 100, overlapWords: 0 }).length).toBeGreaterThan(3);
  });

  it("splits sentences at terminal punctuation and paragraph breaks", () => {
    expect(splitSentences("One. Two? Three!\n\nFour")).toEqual(["One.", "Two?", "Three!", "Four"]);
    expect(splitSentences("e.g. this stays whole")).toEqual(["e.g. this stays whole"]);
    expect(splitSentences("東京は晴れです。大阪は雨です！明日は？")).toEqual([
      "東京は晴れです。",
      "大阪は雨です！",
      "明日は？",
    ]);
  });
});
