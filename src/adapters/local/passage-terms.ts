import { stem, words } from "../../domain/terms.js";

/**
 * What the SQLite index stores of each passage for BM25 re-scoring, computed once when the passage is
 * written so that a search never tokenises or stems candidate texts: its length in words (title and
 * text, one field, as FTS5 counts them) and the frequency of each of its stemmed terms, encoded as
 * " term:tf term:tf ". Stop words are counted too: Porter gives some of them the stem of a meaningful
 * word ("us" and "use" are both "us"), and FTS5's document frequencies count them that way. Terms are
 * runs of letters and digits, so a space before and a colon after delimit one exactly and a lookup is
 * a substring search.
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

/** How often `term` occurs in a passage, read from its encoded terms. */
export function termFrequency(terms: string, term: string): number {
  const at = terms.indexOf(` ${term}:`);
  if (at < 0) return 0;
  let count = 0;
  for (let i = at + term.length + 2; i < terms.length; i++) {
    const digit = terms.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    count = count * 10 + digit;
  }
  return count;
}
