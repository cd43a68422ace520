/**
 * Splits page texts into passages of about `targetWords` words that end on sentence boundaries and
 * overlap by about `overlapWords` words, so a fact that straddles a boundary is still found whole.
 * Passages never cross pages: each carries the page a citation should point to.
 */
export interface ChunkOptions {
  targetWords: number;
  overlapWords: number;
}

export interface Passage {
  page: number;
  text: string;
}

// A sentence ends at . ! ? (or CJK 。！？) followed by space, or at a paragraph break.
const SENTENCE_END = /(?<=[.!?。！？])\s+(?=[\p{Lu}\p{N}"'“(\[]|\p{Script=Han}|\p{Script=Hiragana}|\p{Script=Katakana})|\n{2,}/u;

export function splitSentences(text: string): string[] {
  return text
    .split(SENTENCE_END)
    .map((s) => s.replace(/\s+/g, " ").trim())
    .filter((s) => s.length > 0);
}

const wordCount = (s: string): number => {
  const latin = s.split(/\s+/).filter(Boolean).length;
  // Scripts without spaces: count roughly two characters a word so CJK pages still split.
  const cjk = (s.match(/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/gu) ?? []).length;
  return latin + Math.ceil(cjk / 2);
};

/** Very long "sentences" (tables, lists without punctuation) are cut to the target size. */
function boundSentence(sentence: string, maxWords: number): string[] {
  if (wordCount(sentence) <= maxWords) return [sentence];
  const tokens = sentence.split(/\s+/);
  if (tokens.length > 1) {
    const out: string[] = [];
    for (let i = 0; i < tokens.length; i += maxWords) out.push(tokens.slice(i, i + maxWords).join(" "));
    return out;
  }
  const chars = maxWords * 2;
  const out: string[] = [];
  for (let i = 0; i < sentence.length; i += chars) out.push(sentence.slice(i, i + chars));
  return out;
}

export function chunkPages(pages: readonly string[], options: ChunkOptions): Passage[] {
  const { targetWords, overlapWords } = options;
  const passages: Passage[] = [];
  pages.forEach((pageText, index) => {
    const sentences = splitSentences(pageText).flatMap((s) => boundSentence(s, targetWords));
    let current: string[] = [];
    let words = 0;
    let fresh = 0; // sentences added since the last emitted passage
    const emit = () => {
      if (fresh === 0) return;
      passages.push({ page: index + 1, text: current.join(" ") });
      // Carry whole trailing sentences up to the overlap budget into the next passage.
      const carried: string[] = [];
      let carriedWords = 0;
      for (let i = current.length - 1; i > 0; i--) {
        const w = wordCount(current[i] ?? "");
        if (carriedWords + w > overlapWords) break;
        carried.unshift(current[i] ?? "");
        carriedWords += w;
      }
      current = carried;
      words = carriedWords;
      fresh = 0;
    };
    for (const sentence of sentences) {
      const w = wordCount(sentence);
      if (words + w > targetWords && fresh > 0) emit();
      current.push(sentence);
      words += w;
      fresh++;
    }
    emit();
  });
  return passages;
}
