import { stemmer } from "stemmer";

/**
 * Query-side text analysis shared by retrieval and relevance checks. The stemmer is Porter's, the
 * same algorithm as SQLite FTS5's `porter` tokenizer, so a stem computed here matches an indexed term.
 */

// Function words plus the verbs people use to phrase a request ("explain", "tell me"): they say how
// to answer, not what about, so they must never make a passage look relevant.
const STOP_WORDS = new Set(
  (
    "a about above after again against all am an and any are aren't as at be because been before being below " +
    "between both but by can cannot could couldn't did didn't do does doesn't doing don't down during each few " +
    "for from further had hadn't has hasn't have haven't having he her here hers herself him himself his how " +
    "i if in into is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once " +
    "only or other ought our ours ourselves out over own same shan't she should shouldn't so some such than " +
    "that that's the their theirs them themselves then there there's these they this those through to too " +
    "under until up very was wasn't we were weren't what what's when where which while who whom why with " +
    "won't would wouldn't you your yours yourself yourselves also just may might must shall will " +
    "s t d ll m o re ve y etc eg ie vs via per " +
    "explain explains describe describes tell tells say says know give show list summarize summarise " +
    "please thanks thank hi hello hey anything something everything anyone someone mean means meaning " +
    "happen happens happened " +
    // Contractions as words() leaves them, apostrophe folded ("I'm" -> "im"); not "id", "ill", "well", "wed".
    "im ive youre youve youd youll theyre theyve weve hes shes isnt arent wasnt werent dont doesnt didnt cant " +
    "couldnt wont wouldnt shouldnt hasnt havent hadnt mustnt shant lets thats theres whats whos wheres hows heres " +
    "find get got us lot lots thing things kind sort many much often"
  ).split(/\s+/),
);

// Chinese and Japanese are written without spaces: a run of these characters is one "word" to a
// Unicode tokenizer, so nothing inside a sentence could ever match. Like Lucene's CJK analyzer, we
// index and search overlapping character pairs instead.
const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}ー]+/gu;

/** Replaces every CJK run by its overlapping character pairs, space-separated ("東京都" -> "東京 京都"). */
export function cjkBigrams(text: string): string {
  return text.replace(CJK_RUN, (run) => {
    const chars = [...run];
    if (chars.length < 2) return ` ${run} `;
    const pairs: string[] = [];
    for (let i = 0; i + 1 < chars.length; i++) pairs.push(`${chars[i]}${chars[i + 1]}`);
    return ` ${pairs.join(" ")} `;
  });
}

/** Words of a text: letters and digits (any script, CJK as character pairs), lower-cased, apostrophes folded. */
export function words(text: string): string[] {
  return cjkBigrams(text.normalize("NFKC").toLowerCase().replace(/['’]/g, "")).match(/[\p{L}\p{N}]+/gu) ?? [];
}

// Japanese particles and endings (は, です, ですか) are written in hiragana: a pair of hiragana says
// how a question is phrased, not what it is about.
const HIRAGANA_ONLY = /^\p{Script=Hiragana}+$/u;

export const isStopWord = (word: string): boolean => STOP_WORDS.has(word) || HIRAGANA_ONLY.test(word);

// Stemming is the hot part of scoring passages; the vocabulary repeats, so remember recent stems.
const STEM_CACHE_LIMIT = 100_000;
const stems = new Map<string, string>();

export function stem(word: string): string {
  const cached = stems.get(word);
  if (cached !== undefined) return cached;
  const result = /^[a-z]+$/.test(word) ? stemmer(word) : word;
  if (stems.size >= STEM_CACHE_LIMIT) stems.clear();
  stems.set(word, result);
  return result;
}

/** Distinct stemmed meaningful terms of a question, in order of first appearance. */
export function queryTerms(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const word of words(text)) {
    if (isStopWord(word) || word.length > 64) continue;
    const term = stem(word);
    if (!seen.has(term)) {
      seen.add(term);
      out.push(term);
    }
  }
  return out;
}

/** The set of stemmed terms in a passage (stop words included: cheap, and harmless for lookups). */
export function termSet(text: string): Set<string> {
  return new Set(words(text).map(stem));
}
