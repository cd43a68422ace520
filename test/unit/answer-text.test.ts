import { describe, expect, it } from "vitest";
import { AnswerText } from "../../src/domain/answer-text.js";

/** Feeds `raw` in the given pieces and returns what was shown piece by piece, and the whole text. */
function feed(pieces: string[], known = (n: number) => n >= 1 && n <= 5) {
  const text = new AnswerText(known);
  const shown = pieces.map((p) => text.push(p));
  shown.push(text.end());
  return { shown, text };
}

/** Every way of cutting `raw` into two pieces, plus one character at a time. */
function cuts(raw: string): string[][] {
  const out: string[][] = [[raw], [...raw]];
  for (let i = 1; i < raw.length; i++) out.push([raw.slice(0, i), raw.slice(i)]);
  return out;
}

describe("AnswerText", () => {
  it("renumbers citations in order of first use and drops markers naming no passage", () => {
    const { text } = feed(["Hotels are capped at 180 euros [3]. Trains go second class [5][3]. Not [9]."]);
    expect(text.text).toBe("Hotels are capped at 180 euros [1]. Trains go second class [2][1]. Not .");
    expect(text.cited).toEqual([3, 5]);
  });

  it("gives the same text however the stream is cut", () => {
    const raw = "  <thinking>look up [1]</thinking>Hotels [2] up to 180 €  \n\n[x] a<b [12 and [4]  ";
    const whole = feed([raw]).text.text;
    expect(whole).toBe("Hotels [1] up to 180 €\n\n[x] a<b [12 and [2]");
    for (const pieces of cuts(raw)) {
      const { shown, text } = feed(pieces);
      expect(text.text).toBe(whole);
      expect(shown.join("")).toBe(whole);
    }
  });

  it("shows text as soon as it is safe and holds back only what may still be a marker or a tag", () => {
    const text = new AnswerText(() => true);
    expect(text.push("Employees get 27 days")).toBe("Employees get 27 days");
    expect(text.push(" [")).toBe("");
    expect(text.push("2] of")).toBe(" [1] of");
    expect(text.push(" leave <thin")).toBe(" leave");
    expect(text.push("king>hidden</thinking>.")).toBe(" .");
    expect(text.end()).toBe("");
  });

  it("leaves out <think> asides too, however they are cut", () => {
    const raw = "<think>The user wants [1]</think>\n\nHotels: 180 euros [1].";
    for (const pieces of cuts(raw)) expect(feed(pieces).text.text).toBe("Hotels: 180 euros [1].");
  });

  it("leaves out an unfinished thinking aside at the end", () => {
    const { text } = feed(["Answer [1]. <thinking>never shown"]);
    expect(text.text).toBe("Answer [1].");
  });
});
