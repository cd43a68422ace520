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

// A sentence ends at . ! ? followed by space and a likely sentence start, or at CJK 。！？ (which
// need no space after them).
const SENTENCE_END =
  /(?<=[.!?])\s+(?=[\p{Lu}\p{N}"'“([]|\p{Script=Han}|\p{Script=Hiragana}|\p{Script=Katakana})|(?<=[。！？])\s*/u;
const PARAGRAPH_BREAK = /\n{2,}/;

interface Sentence {
  text: string;
  paragraph: number;
}

function sentencesOf(text: string): Sentence[] {
  return text.split(PARAGRAPH_BREAK).flatMap((para, paragraph) =>
    para
      .split(SENTENCE_END)
      .map((s) => ({ text: s.replace(/\s+/g, " ").trim(), paragraph }))
      .filter((s) => s.text.length > 0),
  );
}

/** Sentences of a text; a paragraph break (a heading, a list item) always ends one. */
export function splitSentences(text: string): string[] {
  return sentencesOf(text).map((s) => s.text);
}

/** Sentences of one paragraph are joined by a space, paragraphs by a blank line. */
function join(sentences: readonly Sentence[]): string {
  return sentences
    .map((s, i) => (i === 0 ? "" : s.paragraph === sentences[i - 1]?.paragraph ? " " : "\n\n") + s.text)
    .join("");
}

const wordCount = (s: string): number => {
  const latin = s.split(/\s+/).filter(Boolean).length;
  // Scripts without spaces: count roughly two characters a word so CJK pages still split.
  const cjk = (s.match(/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/gu) ?? []).length;
  return latin + Math.ceil(cjk / 2);
};

/** Very long "sentences" (tables, lists without punctuation) are cut to the target size. */
function boundSentence(sentence: Sentence, maxWords: number): Sentence[] {
  if (wordCount(sentence.text) <= maxWords) return [sentence];
  const tokens = sentence.text.split(/\s+/);
  const pieces: string[] = [];
  if (tokens.length > 1) {
    for (let i = 0; i < tokens.length; i += maxWords) pieces.push(tokens.slice(i, i + maxWords).join(" "));
  } else {
    const chars = maxWords * 2;
    for (let i = 0; i < sentence.text.length; i += chars) pieces.push(sentence.text.slice(i, i + chars));
  }
  return pieces.map((text) => ({ text, paragraph: sentence.paragraph }));
}

export function chunkPages(pages: readonly string[], options: ChunkOptions): Passage[] {
  const { targetWords, overlapWords } = options;
  const passages: Passage[] = [];
  pages.forEach((pageText, index) => {
    const sentences = sentencesOf(pageText).flatMap((s) => boundSentence(s, targetWords));
    let current: Sentence[] = [];
    let words = 0;
    let fresh = 0; // sentences added since the last emitted passage
    const emit = () => {
      if (fresh === 0) return;
      passages.push({ page: index + 1, text: join(current) });
      // Carry whole trailing sentences up to the overlap budget into the next passage.
      const carried: Sentence[] = [];
      let carriedWords = 0;
      for (let i = current.length - 1; i > 0; i--) {
        const sentence = current[i];
        if (!sentence) break;
        const w = wordCount(sentence.text);
        if (carriedWords + w > overlapWords) break;
        carried.unshift(sentence);
        carriedWords += w;
      }
      current = carried;
      words = carriedWords;
      fresh = 0;
    };
    for (const sentence of sentences) {
      const w = wordCount(sentence.text);
      if (words + w > targetWords && fresh > 0) emit();
      current.push(sentence);
      words += w;
      fresh++;
    }
    emit();
  });
  return passages;
}
