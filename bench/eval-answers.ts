import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { buildContainer } from "../src/composition/container.js";
import { loadConfig } from "../src/config/config.js";
import type { Outcome } from "../src/domain/audit.js";
import { newTenantId, type TenantId } from "../src/domain/tenant.js";
import type { ChatModel } from "../src/ports/chat-model.js";
import type { AskInput, AskResult } from "../src/services/answer-question.js";

/**
 * Answer quality of the whole ask path (real ingest, SQLite FTS5 retrieval, the relevance filter and
 * the answerer) on the project's own question set, bench/answers/questions.json. No external data.
 *
 * - fact accuracy: answerable questions whose answer contains every expected fact (and was answered);
 * - off-topic share: of the sentences quoted for answerable questions, those holding none of the
 *   question's expected facts (a correct but redundant second sentence counts as off-topic too);
 * - no_context rate: unanswerable questions whose outcome is `no_context` (nothing relevant found, or
 *   no sentence of what was found answers).
 */
const QUESTIONS_FILE = resolve(import.meta.dirname, "answers/questions.json");
const ROOT = resolve(import.meta.dirname, "..");

const questionSet = z.object({
  corpora: z.record(z.string(), z.string()),
  questions: z.array(
    z.union([
      z.object({ corpus: z.string(), question: z.string(), facts: z.array(z.string()).min(1) }),
      z.object({ corpus: z.string(), question: z.string(), unanswerable: z.literal(true) }),
    ]),
  ),
});

export interface QuestionResult {
  corpus: string;
  question: string;
  /** Expected facts; empty for an unanswerable question. */
  facts: string[];
  outcome: Outcome;
  answer: string;
  /** The sentences the answer quotes, without their citation markers. */
  quoted: string[];
  /** Answerable: every fact found. Unanswerable: no_context. */
  correct: boolean;
  /** Quoted sentences holding none of the expected facts (all of them for an unanswerable question). */
  offTopic: number;
}

export interface AnswerEvalReport {
  answerable: number;
  unanswerable: number;
  factAccuracy: number;
  quotedSentences: number;
  offTopicShare: number;
  /** Mean number of sentences quoted by an answer to an answerable question. */
  sentencesPerAnswer: number;
  noContextRate: number;
  /** The same figures for each corpus of the question set. */
  byCorpus: Record<string, Omit<AnswerEvalReport, "results" | "byCorpus">>;
  results: QuestionResult[];
}

export interface AnswerEvalOptions {
  /** The answerer to measure; the configured default (the extractive answerer) when absent. */
  model?: ChatModel;
  questionsFile?: string;
}

/** Lines of the form `• “sentence” [1]` (or `- sentence [1][2]`), without the bullet, quotation marks and markers. */
export function quotedSentences(answer: string): string[] {
  return answer
    .split("\n")
    .map((line) => /^\s*[•\-*]\s+“?(.*?)”?(?:\s*(?:\[\d+\])+)?\s*$/u.exec(line)?.[1])
    .filter((s): s is string => !!s);
}

/** Organisations holding the documents of each corpus folder, ingested through the real pipeline. */
export interface Corpora {
  ask(corpus: string, question: string, history?: AskInput["history"]): Promise<AskResult>;
  close(): Promise<void>;
}

/**
 * Builds the embedded container on a temporary data folder, creates one organisation a corpus and adds
 * every .md, .txt and .pdf file of its folder (paths relative to the repository) the way the CLI does.
 */
export async function openCorpora(corpora: Record<string, string>, model?: ChatModel): Promise<Corpora> {
  const dir = mkdtempSync(join(tmpdir(), "enclave-answers-"));
  const config = loadConfig({
    DATA_DIR: dir,
    LOG_LEVEL: "silent",
    RATE_LIMIT_TENANT_PER_MINUTE: "100000",
    RATE_LIMIT_USER_PER_MINUTE: "100000",
  });
  const c = await buildContainer(config, model ? { overrides: { chat: model } } : {});
  const close = async () => {
    await c.runner.stop();
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const tenants = new Map<string, TenantId>();
    c.runner.start();
    for (const [name, folder] of Object.entries(corpora)) {
      const tenant = newTenantId();
      await c.directory.createTenant({ id: tenant, name, createdAt: new Date().toISOString() });
      tenants.set(name, tenant);
      const operator = c.services.access.operatorActor(tenant);
      const files = readdirSync(resolve(ROOT, folder)).filter((f) => /\.(md|txt|pdf)$/i.test(f));
      for (const file of files.sort()) {
        await c.services.documents.add(operator, {
          fileName: file,
          data: readFileSync(resolve(ROOT, folder, file)),
          source: { kind: "cli" },
          visibility: { kind: "organisation" },
        });
      }
    }
    await c.runner.drain(120_000);
    return {
      async ask(corpus, question, history) {
        const tenant = tenants.get(corpus);
        if (!tenant) throw new Error(`no corpus ${corpus}`);
        const actor = c.services.access.operatorActor(tenant);
        return c.services.answers.ask({
          actor,
          audience: { kind: "asker" },
          question,
          ...(history ? { history } : {}),
        });
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export async function evaluateAnswers(options: AnswerEvalOptions = {}): Promise<AnswerEvalReport> {
  const set = questionSet.parse(JSON.parse(readFileSync(options.questionsFile ?? QUESTIONS_FILE, "utf8")));
  for (const q of set.questions)
    if (!(q.corpus in set.corpora)) throw new Error(`question "${q.question}" names an unknown corpus ${q.corpus}`);
  const corpora = await openCorpora(set.corpora, options.model);
  try {
    const results: QuestionResult[] = [];
    for (const q of set.questions) {
      const result = await corpora.ask(q.corpus, q.question);
      const facts = "facts" in q ? q.facts : [];
      const patterns = facts.map((f) => new RegExp(f, "iu"));
      const quoted = result.outcome === "answered" ? quotedSentences(result.answer) : [];
      const correct =
        patterns.length === 0
          ? result.outcome === "no_context"
          : result.outcome === "answered" && patterns.every((p) => p.test(result.answer));
      const offTopic = quoted.filter((s) => !patterns.some((p) => p.test(s))).length;
      results.push({
        corpus: q.corpus,
        question: q.question,
        facts,
        outcome: result.outcome,
        answer: result.answer,
        quoted,
        correct,
        offTopic,
      });
    }
    const byCorpus = Object.fromEntries(
      Object.keys(set.corpora).map((name) => [name, summarise(results.filter((r) => r.corpus === name))]),
    );
    return { ...summarise(results), byCorpus, results };
  } finally {
    await corpora.close();
  }
}

const ratio = (n: number, d: number) => (d === 0 ? 0 : n / d);

function summarise(results: readonly QuestionResult[]): Omit<AnswerEvalReport, "results" | "byCorpus"> {
  const answerable = results.filter((r) => r.facts.length > 0);
  const unanswerable = results.filter((r) => r.facts.length === 0);
  const quoted = answerable.reduce((sum, r) => sum + r.quoted.length, 0);
  return {
    answerable: answerable.length,
    unanswerable: unanswerable.length,
    factAccuracy: ratio(answerable.filter((r) => r.correct).length, answerable.length),
    quotedSentences: quoted,
    offTopicShare: ratio(
      answerable.reduce((sum, r) => sum + r.offTopic, 0),
      quoted,
    ),
    sentencesPerAnswer: ratio(quoted, answerable.length),
    noContextRate: ratio(unanswerable.filter((r) => r.outcome === "no_context").length, unanswerable.length),
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The figures as a small table, then every miss (with `verbose`, every answer). */
export function formatReport(r: AnswerEvalReport, verbose = false): string {
  const rows: [string, Omit<AnswerEvalReport, "results" | "byCorpus">][] = [...Object.entries(r.byCorpus), ["all", r]];
  const cell = (text: string, width: number) => text.padStart(width);
  const lines = [
    `Answer quality on bench/answers/questions.json (${r.answerable} answerable, ${r.unanswerable} unanswerable questions)`,
    "  corpus      answerable  fact accuracy  quoted/answer  off-topic quoted  unanswerable  no_context",
    ...rows.map(
      ([name, x]) =>
        `  ${name.padEnd(10)}${cell(String(x.answerable), 12)}${cell(pct(x.factAccuracy), 15)}${cell(x.sentencesPerAnswer.toFixed(2), 15)}` +
        `${cell(pct(x.offTopicShare), 18)}${cell(String(x.unanswerable), 14)}${cell(pct(x.noContextRate), 12)}`,
    ),
    "  fact accuracy: the answer holds every expected fact. off-topic: quoted sentences holding none of them.",
    "  no_context: nothing relevant found, or no sentence of it answers.",
  ];
  const shown = verbose ? r.results : r.results.filter((x) => !x.correct);
  if (shown.length > 0) lines.push("", verbose ? "Answers:" : "Misses:");
  for (const x of shown) {
    const expected = x.facts.length > 0 ? x.facts.join(" & ") : "(no answer)";
    lines.push(`${x.correct ? "✓" : "✗"} [${x.corpus}] ${x.question}   expected: ${expected}   outcome: ${x.outcome}`);
    for (const line of x.answer.split("\n")) lines.push(`    ${line}`);
  }
  return lines.join("\n");
}

const isMain = process.argv[1]?.endsWith("eval-answers.ts");
if (isMain) {
  const report = await evaluateAnswers();
  console.log(formatReport(report, process.argv.includes("--verbose")));
}
