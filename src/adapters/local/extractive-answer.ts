import {
  cueKinds,
  type FactKind,
  hasFact,
  isQuestion,
  type QuestionType,
  questionType,
  startsWithImperative,
} from "../../domain/question-type.js";
import { queryTerms, stem, termSet, words } from "../../domain/terms.js";
import { splitSentences } from "../../ingest/chunk.js";

/**
 * Picks the sentences of retrieved passages that answer a question, for the extractive answerer.
 * A sentence is scored by how much of the question it covers (its own words first, then the heading
 * or FAQ question it stands under, then the document title; rare words count more than words many
 * sentences share) and by whether it holds the kind of fact the question asks for: "When are summer
 * hours?" is answered by the sentence with the dates, not by the one that repeats "summer hours".
 * Questions and headings are never quoted: they ask, they do not answer, but they tell what the
 * sentences under them are about. A second or third sentence is quoted only when it scores nearly as
 * well and adds something the first does not say, or scores just as well (nothing tells them apart).
 */
export interface RetrievedPassage {
  n: number;
  title: string;
  text: string;
}

export interface PickedSentence {
  n: number;
  sentence: string;
}

const MAX_SENTENCES = 3;
const MAX_ANSWER_CHARS = 900;
/** Sentences shorter than this are dropped, or glued to what they introduce ("Yes." + the reason). */
const MIN_WORDS = 4;
/** A paragraph of one short line without closing punctuation is a heading. */
const HEADING_MAX_WORDS = 12;
/** How much a question word found only in the sentence's heading, or only in the title, counts. */
const CONTEXT_WEIGHT = 0.6;
const TITLE_WEIGHT = 0.3;
/** A sentence must cover at least this share of the question (answer-kind words count when a fact stands for them). */
const MIN_COVERAGE = 0.45;
/** Kinds a sentence can be checked for with some confidence; the others (how, yes/no) only nudge. */
const STRONG: readonly FactKind[] = ["number", "money", "time", "person", "place", "definition"];
const KIND_BONUS = 0.3;
const WEAK_KIND_BONUS = 0.1;
const NO_KIND_PENALTY = 0.2;
/** Further sentences must score within this much of the best one, and add to it... */
const MARGIN = 0.15;
/** ...unless they score as well as the best one: then nothing tells which one is meant, and both are shown. */
const TIE = 0.02;
const RANK_PENALTY = 0.02;
/** "approved by your manager", "chosen by the team lead", "paid by the company": who does it. */
const PASSIVE_AGENT = /\b[a-z]{2,}(ed|en|wn|id|de|ne|un|nt|ht|lt) by (the |your |a |an |their |our )?[\w-]+/i;

// Abbreviations that end a "sentence" for the splitter but not for a reader ("Dr. Amir Haddad").
const ABBREVIATION = /\b(dr|mr|mrs|ms|prof|st|no|nr|vs|approx|dept|ext|tel|e\.g|i\.e|etc|inc|ltd|co)\.$/i;
// Short answers that open an FAQ reply; other short lead-ins ("Paging.") are run-in headings.
const SHORT_ANSWER = /^(yes|no|yes and no|correct|right|sure|indeed|absolutely|never|always|not yet|it depends)\b/i;

interface Sentence {
  n: number;
  text: string;
  /** The heading, run-in heading and FAQ question the sentence stands under. */
  context: string;
  title: string;
  rank: number;
  paragraph: number;
  order: number;
}

interface Scored extends Sentence {
  score: number;
  fits: boolean;
  /** Question terms the sentence itself covers (cues by a fact of their kind). */
  covers: Set<string>;
}

const wordCount = (s: string): number => words(s).length;

/**
 * One short line that asks (an FAQ entry: "I forgot my password. What now?") or does not end like a
 * sentence and holds no fact ("Summer hours", "1. On-call rotation"; not "Helpdesk: extension 4400").
 */
function isHeading(block: string): boolean {
  const line = block.trim();
  if (line.includes("\n") || wordCount(line) > HEADING_MAX_WORDS) return false;
  if (isQuestion(line)) return true;
  const unnumbered = line.replace(/^(\d+(\.\d+)*|[a-z]|[ivx]+)[.)]\s+/i, "");
  return !/[.!;:,。．！；：，]$/.test(line) && !/[:@\d]|https?:|www\./i.test(unnumbered);
}

/** The splitter's sentences of a paragraph, with abbreviations joined back to what follows them. */
function paragraphSentences(block: string): string[] {
  const out: string[] = [];
  for (const part of splitSentences(block)) {
    const last = out.at(-1);
    if (last !== undefined && ABBREVIATION.test(last)) out[out.length - 1] = `${last} ${part}`;
    else out.push(part);
  }
  return out;
}

/** A passage's sentences, each with what it stands under; questions and headings become context only. */
function sentencesOf(p: RetrievedPassage, rank: number): Sentence[] {
  const out: Sentence[] = [];
  let heading = "";
  p.text.split(/\n{2,}/).forEach((block, paragraph) => {
    if (isHeading(block)) {
      heading = block.trim();
      return;
    }
    let lead = "";
    let asked = "";
    let carry = "";
    let previous: Sentence | undefined;
    for (const part of paragraphSentences(block)) {
      const text = carry ? `${carry} ${part}` : part;
      carry = "";
      if (isQuestion(text)) {
        asked = text;
        previous = undefined;
        continue;
      }
      if (wordCount(text) < MIN_WORDS) {
        if (SHORT_ANSWER.test(text)) carry = text;
        // After a sentence, a fragment goes on with it ("Here's to the crazy ones. The misfits."); before
        // any, it is a run-in heading ("Paging. …").
        else if (previous) previous.text = `${previous.text} ${text}`;
        else lead = text;
        continue;
      }
      previous = {
        n: p.n,
        text,
        context: [heading, lead, asked].filter(Boolean).join(" "),
        title: p.title,
        rank,
        paragraph,
        order: rank * 1000 + out.length,
      };
      out.push(previous);
    }
  });
  return out;
}

/** How early in a clause the defined term stands. */
const DEFINED_WITHIN = 4;
// Verbs that make a sentence say what its subject is.
const DEFINING = new Set(["is", "are", "means", "mean", "refers", "stands", "covers", "describes", "denotes"]);

/** Whether one of the subject terms is followed closely by "is", "means"… ("P2 means a major feature is broken"). */
function defines(sentence: string, subjects: readonly string[]): boolean {
  // The term opens a clause ("A SEV1 incident is…", "…; P2 means…"), not "…until the incident is resolved".
  return sentence.split(/[;:,]/).some((clause) => {
    const tokens = words(clause);
    return tokens.some(
      (w, i) =>
        i < DEFINED_WITHIN && subjects.includes(stem(w)) && tokens.slice(i + 1, i + 4).some((n) => DEFINING.has(n)),
    );
  });
}

function fitsKind(s: string, kind: FactKind, subjects: readonly string[]): boolean {
  return kind === "definition" ? defines(s, subjects) : hasFact(s, kind);
}

interface Weighting {
  terms: readonly string[];
  type: QuestionType;
  subjects: readonly string[];
  weight: ReadonlyMap<string, number>;
}

/**
 * Terms weigh by how few of the retrieved sentences hold them: the word that sets the answer apart
 * ("stolen") counts more than the one every sentence shares ("laptop"). A term no sentence holds
 * weighs like the rarest one: the question is then partly about something the passages never say.
 */
function weighting(question: string, sentences: readonly Sentence[]): Weighting {
  const terms = queryTerms(question);
  const type = questionType(question, terms);
  const subjects = terms.filter((t) => !type.cues.has(t));
  const sets = sentences.map((s) => termSet(`${s.context} ${s.text}`));
  const total = Math.max(1, sets.length);
  const idf = (t: string) => 1 + Math.log(total / Math.max(1, sets.filter((set) => set.has(t)).length));
  const weight = new Map<string, number>();
  for (const t of subjects) weight.set(t, idf(t));
  // Answer-kind words are matched by facts, which many sentences hold: they weigh like an average subject word.
  const mean = subjects.length > 0 ? subjects.reduce((sum, t) => sum + (weight.get(t) ?? 1), 0) / subjects.length : 1;
  for (const t of type.cues) weight.set(t, mean);
  return { terms, type, subjects, weight };
}

function score(s: Sentence, w: Weighting): Scored | undefined {
  const own = termSet(s.text);
  const context = termSet(s.context);
  const title = termSet(s.title);
  const covers = new Set<string>();
  let covered = 0;
  let total = 0;
  let anchored = false;
  for (const t of w.terms) {
    const weight = w.weight.get(t) ?? 1;
    total += weight;
    let m = 0;
    if (w.type.cues.has(t)) {
      if (own.has(t) || cueKinds(t).some((k) => hasFact(s.text, k))) m = 1;
      else if (context.has(t)) m = CONTEXT_WEIGHT;
    } else if (own.has(t)) {
      m = 1;
      anchored = true;
    } else if (context.has(t)) {
      m = CONTEXT_WEIGHT;
      anchored = true;
    } else if (title.has(t)) m = TITLE_WEIGHT;
    if (m === 1) covers.add(t);
    covered += m * weight;
  }
  // A sentence must be about the question's subject, not only hold a fact of the right kind.
  if (w.subjects.length > 0 && !anchored) return undefined;
  const coverage = total === 0 ? 0 : covered / total;
  if (coverage < MIN_COVERAGE) return undefined;
  const strong = w.type.kinds.filter((k) => STRONG.includes(k));
  const weak = w.type.kinds.filter((k) => !STRONG.includes(k));
  let bonus = 0;
  let fits = true;
  if (strong.length > 0) {
    fits = strong.some((k) => fitsKind(s.text, k, w.subjects));
    bonus += fits ? KIND_BONUS : -NO_KIND_PENALTY;
    // Finer signs of the best kind of fact: an amount of money for "how much", "approved by X" for "who".
    if (strong.includes("money") && hasFact(s.text, "money")) bonus += WEAK_KIND_BONUS;
    if (strong.includes("person") && PASSIVE_AGENT.test(s.text)) bonus += WEAK_KIND_BONUS;
  }
  if (weak.some((k) => hasFact(s.text, k))) bonus += WEAK_KIND_BONUS;
  return { ...s, score: coverage + bonus - s.rank * RANK_PENALTY, fits, covers };
}

// A sentence that goes on with a how-to: an imperative, a sequence word, or "you must/should".
const INSTRUCTION_START = /^(first|then|next|finally|afterwards|once|after that|please|do not|don't|never)\b/i;
const YOU_MUST = /\byou (must|should|need to|have to)\b/i;

const continuesInstructions = (sentence: string): boolean =>
  INSTRUCTION_START.test(sentence) || YOU_MUST.test(sentence) || startsWithImperative(sentence);

/** The sentences that answer the question, best first; empty when none does. */
export function pickSentences(question: string, passages: readonly RetrievedPassage[]): PickedSentence[] {
  const all = passages.flatMap((p, rank) => sentencesOf(p, rank));
  const w = weighting(question, all);
  if (w.terms.length === 0) return [];
  const scored = all
    .map((s) => score(s, w))
    .filter((s): s is Scored => s !== undefined)
    .sort((a, b) => b.score - a.score || a.order - b.order);
  const best = scored[0];
  if (!best) return [];
  const chosen: Sentence[] = [];
  const seen = new Set<string>();
  const said = new Set<string>();
  let length = 0;
  const take = (s: Sentence, covers: ReadonlySet<string>) => {
    const key = s.text.toLowerCase();
    if (seen.has(key) || chosen.length >= MAX_SENTENCES) return;
    if (chosen.length > 0 && length + s.text.length > MAX_ANSWER_CHARS) return;
    seen.add(key);
    chosen.push(s);
    for (const t of covers) said.add(t);
    length += s.text.length;
  };
  take(best, best.covers);
  // How-to answers go on in the sentences that follow the best one, while they still give instructions.
  if (w.type.kinds[0] === "steps") {
    const following = all.filter((s) => s.n === best.n && s.paragraph === best.paragraph && s.order > best.order);
    for (const s of following) {
      if (!continuesInstructions(s.text)) break;
      take(s, new Set());
    }
  }
  for (const s of scored) {
    if (s.score < best.score - MARGIN) break;
    // When the best sentence holds the kind of fact asked for, the others must too; and each must add
    // a part of the question the sentences before it did not cover, or be just as good an answer.
    if (best.fits && !s.fits) continue;
    if (s.score < best.score - TIE && ![...s.covers].some((t) => !said.has(t))) continue;
    take(s, s.covers);
  }
  return chosen.map((s) => ({ n: s.n, sentence: s.text }));
}
