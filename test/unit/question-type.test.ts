import { describe, expect, it } from "vitest";
import { hasFact, isQuestion, questionType } from "../../src/domain/question-type.js";
import { isRelevant } from "../../src/domain/relevance.js";
import { queryTerms } from "../../src/domain/terms.js";

const kinds = (q: string) => questionType(q, queryTerms(q)).kinds;

describe("question types", () => {
  it("reads the kind of fact a question asks for from its wording", () => {
    expect(kinds("What is the hotel limit?")).toEqual(["number"]);
    expect(kinds("How much can I spend on a hotel?")).toEqual(["number", "money"]);
    expect(kinds("When are summer hours?")).toEqual(["time"]);
    expect(kinds("How long is parental leave?")).toEqual(["time", "number", "duration"]);
    expect(kinds("When is the expense claim deadline?")).toEqual(["time", "deadline"]);
    expect(kinds("How often are laptops replaced?")).toEqual(["time", "frequency"]);
    expect(kinds("Who approves long vacations?")).toEqual(["person"]);
    expect(kinds("Where do I book travel?")).toEqual(["place"]);
    expect(kinds("How do I connect from home?")).toEqual(["steps"]);
    expect(kinds("Can I get a second monitor?")).toEqual(["permission"]);
    expect(kinds("What does P2 mean?")).toEqual(["definition"]);
  });

  it("names the words that only say what kind of answer is wanted", () => {
    expect([...questionType("What is the hotel limit?", queryTerms("What is the hotel limit?")).cues]).toEqual([
      "limit",
    ]);
    // With no subject word left, the kind words must be found as words.
    expect(questionType("What about time?", queryTerms("What about time?")).cues.size).toBe(0);
  });

  it("finds facts of each kind in a sentence", () => {
    expect(hasFact("Hotel costs are reimbursed up to 180 euros per night.", "money")).toBe(true);
    expect(hasFact("Hotels are booked through the portal.", "money")).toBe(false);
    expect(hasFact("We work 4-day weeks from May 1 through August 31.", "time")).toBe(true);
    expect(hasFact("Leave may be taken in up to three blocks.", "time")).toBe(false);
    expect(hasFact("Claims may be split.", "time")).toBe(false);
    expect(hasFact("Requests must be approved by your manager.", "person")).toBe(true);
    expect(hasFact("Write to people@fabrikam.example.", "person")).toBe(true);
    expect(hasFact("Training is in the Academy portal at https://learn.example.com.", "place")).toBe(true);
    expect(hasFact("Reset it yourself at the self-service portal.", "steps")).toBe(true);
  });

  it("recognises questions, which are never quoted as answers", () => {
    expect(isQuestion("How do I connect from home?")).toBe(true);
    expect(isQuestion("Use the VPN client.")).toBe(false);
  });
});

describe("relevance of answer-kind words", () => {
  const hotel = "Travel and expenses\nHotel costs are reimbursed up to 180 euros per night in capital cities.";

  it("counts a word like 'limit' as matched by an amount beside the question's subject", () => {
    expect(isRelevant(queryTerms("What is the hotel limit?"), hotel)).toBe(true);
    expect(isRelevant(queryTerms("How much can I spend on a hotel?"), hotel)).toBe(true);
  });

  it("does not let the kind word alone make a passage relevant", () => {
    expect(isRelevant(queryTerms("What is the parking limit?"), hotel)).toBe(false);
    const fines = "Parking fines are never reimbursed. Hotel costs are reimbursed up to 180 euros per night.";
    // "parking" and the amount are in different sentences: the amount is not the parking limit.
    expect(isRelevant(queryTerms("What is the parking limit?"), fines)).toBe(false);
  });
});
