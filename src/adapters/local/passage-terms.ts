import { stem, words } from "../../domain/terms.js";

/**
 * What the SQLite index stores of each passage for BM25 re-scoring, computed once when the passage is
 * written so that a search never tokenises or stems candidate texts: its length in words (title and
 * text, one field, as FTS5 counts them) and the frequency of each of its stemmed terms, encoded as
 * " term:tf term:tf ". Stop words are counted too: Porter gives some of them the stem of a meaningful
 * word ("us" and "use" are both "us"), and FTS5's document frequencies count them that way. Terms are
 * runs of letters and digits, so a space before and a colon after delimit one exactly.
 */
export interface PassageTerms {
  tokens: number;
  terms: string;
}

export function passageTerms(title: string, text: string): PassageTerms {
  const all = words(`${title} ${text}`);
  const counts = new Map<string, number>();
  for (const word of all) {
    const term = stem(word);
    counts.set(term, (counts.get(term) ?? 0) + 1);
  }
  let terms = " ";
  for (const [term, count] of counts) terms += `${term}:${count} `;
  return { tokens: all.length, terms };
}

/**
 * Reads the frequencies of a query's terms from passages' encoded terms. One regular expression over
 * the encoding finds them all in a single pass (faster than a substring search per term).
 */
export class TermCounter {
  private readonly pattern: RegExp | undefined;
  private readonly index: Map<string, number>;

  constructor(terms: readonly string[]) {
    this.index = new Map(terms.map((term, i) => [term, i]));
    const alternatives = terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    this.pattern = terms.length > 0 ? new RegExp(` (${alternatives.join("|")}):(\\d+)`, "g") : undefined;
  }

  /** Calls `visit` with the position in the query and the frequency of each term found in the passage. */
  forEach(encoded: string, visit: (term: number, frequency: number) => void): void {
    const pattern = this.pattern;
    if (!pattern) return;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(encoded); match; match = pattern.exec(encoded)) {
      const term = this.index.get(match[1] as string);
      if (term !== undefined) visit(term, Number(match[2]));
    }
  }
}
