import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Corpora, openCorpora } from "../../bench/eval-answers.js";

/**
 * The extractive answerer through the whole ask path (real ingest of examples/documents and of the
 * bench documents, SQLite FTS5, the relevance filter, AnswerService): the problems a new user met.
 */
let corpora: Corpora;

beforeAll(async () => {
  corpora = await openCorpora({ northwind: "examples/documents", company: "bench/answers/documents" });
});
afterAll(async () => {
  await corpora?.close();
});

const quotedLines = (answer: string) => answer.split("\n").filter((line) => line.startsWith("• "));

describe("extractive answers over the example documents", () => {
  it.each(["What is the hotel limit?", "How much can I spend on a hotel?"])(
    "%s: quotes the hotel reimbursement sentence",
    async (question) => {
      const r = await corpora.ask("northwind", question);
      expect(r.outcome).toBe("answered");
      expect(r.answer).toContain("Hotel costs are reimbursed up to 180 euros per night");
      expect(r.sources[0]?.title).toMatch(/handbook/i);
    },
  );

  it("who approves long vacations: the approval rule, not the core-hours remark", async () => {
    const r = await corpora.ask("northwind", "Who approves long vacations?");
    expect(r.answer).toContain("must be approved by your manager");
    expect(r.answer).not.toContain("Outside core hours");
  });

  it("connecting from home: the VPN instructions, with no question quoted back", async () => {
    const r = await corpora.ask("northwind", "How do I connect from home?");
    expect(r.answer).toContain("Tunnelbird VPN");
    const lines = quotedLines(r.answer);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).not.toMatch(/\?”?\s*(\[\d+\])*$/);
    expect(r.answer).not.toContain("How do I connect from home?");
  });

  it("summer hours: the sentence with the dates, not the side remarks", async () => {
    const r = await corpora.ask("company", "When are summer hours and what do they mean?");
    expect(r.answer).toContain("We work 4-day work weeks from May 1 through August 31");
    expect(r.answer).not.toContain("most loved traditions");
    expect(r.answer).not.toContain("best part of the year");
  });

  it("keeps answers short: one to three quoted sentences", async () => {
    for (const question of ["How many vacation days do I get per year?", "What is a SEV1 incident?"]) {
      const lines = quotedLines((await corpora.ask("northwind", question)).answer);
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(lines.length).toBeLessThanOrEqual(3);
    }
  });

  it.each([
    ["northwind", "What is the dress code?"],
    ["northwind", "Who is the CEO of Northwind?"],
    ["northwind", "How do I rotate the TLS certificates?"],
    ["company", "What is the fire evacuation procedure?"],
    ["company", "How do I expense a gym membership?"],
  ])("%s: %s still finds no context", async (corpus, question) => {
    const r = await corpora.ask(corpus, question);
    expect(r.outcome).toBe("no_context");
    expect(r.sources).toEqual([]);
  });
});
