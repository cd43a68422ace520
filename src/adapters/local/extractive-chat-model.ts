import { z } from "zod";
import { queryTerms, termSet } from "../../domain/terms.js";
import { splitSentences } from "../../ingest/chunk.js";
import type { ChatMessage, ChatModel, ChatRequest, ChatResponse, TextSink } from "../../ports/chat-model.js";

const toolResultSchema = z.object({
  passages: z.array(z.object({ n: z.number(), title: z.string(), page: z.number(), text: z.string() })),
});

const MAX_SENTENCES = 4;
const MAX_ANSWER_CHARS = 1200;

/**
 * The embedded default "model": no generation, only extraction. It asks the search tool once with the
 * user's question, then answers with the retrieved sentences that best cover the question's terms,
 * each cited as [n]. It speaks the same tool-use protocol as a real model, so the agent loop in
 * services/answer-question is exercised the same way in both shapes.
 */
export class ExtractiveChatModel implements ChatModel {
  readonly modelId = "extractive";
  readonly generative = false;
  readonly toolUse = true;

  /** Extraction has nothing to wait for; the answer is handed over a line (one quoted sentence) at a time. */
  async converseStream(request: ChatRequest, onText: TextSink): Promise<ChatResponse> {
    const response = await this.converse(request);
    for (const block of response.message.content) {
      if (block.type !== "text") continue;
      for (const line of block.text.split(/(?<=\n)/)) onText(line);
    }
    return response;
  }

  async converse(request: ChatRequest): Promise<ChatResponse> {
    const last = request.messages.at(-1);
    const question = latestQuestion(request.messages);
    const results = last?.role === "user" ? last.content.filter((b) => b.type === "tool_result") : [];
    if (results.length === 0 && request.tools.some((t) => t.name === "search_documents")) {
      return {
        stopReason: "tool_use",
        message: {
          role: "assistant",
          content: [{ type: "tool_use", id: "search-1", name: "search_documents", input: { query: question } }],
        },
      };
    }
    const passages = results.flatMap((r) => {
      const parsed = toolResultSchema.safeParse(r.type === "tool_result" ? r.content : undefined);
      return parsed.success ? parsed.data.passages : [];
    });
    return {
      stopReason: "end_turn",
      message: { role: "assistant", content: [{ type: "text", text: compose(question, passages) }] },
    };
  }
}

/** Follow-ups this short ("and for contractors?") lean on the previous question of the conversation. */
const FOLLOW_UP_TERMS = 2;

/**
 * The user's latest question, joined with their previous one when it is a short follow-up: without a
 * model to rewrite "what about contractors?", the earlier question supplies what it is about.
 */
function latestQuestion(messages: readonly ChatMessage[]): string {
  const questions: string[] = [];
  for (let i = messages.length - 1; i >= 0 && questions.length < 2; i--) {
    const m = messages[i];
    if (m?.role !== "user") continue;
    const text = m.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join(" ");
    if (text.trim()) questions.push(text.trim());
  }
  const [latest = "", previous] = questions;
  return previous && queryTerms(latest).length <= FOLLOW_UP_TERMS ? `${latest} ${previous}` : latest;
}

interface Candidate {
  n: number;
  sentence: string;
  score: number;
  order: number;
}

function compose(question: string, passages: z.infer<typeof toolResultSchema>["passages"]): string {
  const terms = queryTerms(question);
  const candidates: Candidate[] = [];
  passages.forEach((p, rank) => {
    splitSentences(p.text).forEach((sentence, i) => {
      if (sentence.split(/\s+/).length < 4) return;
      const present = termSet(sentence);
      const hits = terms.filter((t) => present.has(t)).length;
      if (hits === 0) return;
      // Coverage of the question first; among equals, prefer better-ranked passages and earlier sentences.
      candidates.push({ n: p.n, sentence, score: hits / terms.length - rank * 0.01, order: rank * 1000 + i });
    });
  });
  candidates.sort((a, b) => b.score - a.score || a.order - b.order);
  // Sentences far weaker than the best one are noise (they share one incidental word).
  const floor = (candidates[0]?.score ?? 0) / 2;
  const chosen: Candidate[] = [];
  const seen = new Set<string>();
  let length = 0;
  for (const c of candidates) {
    const key = c.sentence.toLowerCase();
    if (c.score < floor) break;
    if (seen.has(key)) continue;
    if (chosen.length > 0 && length + c.sentence.length > MAX_ANSWER_CHARS) continue;
    seen.add(key);
    chosen.push(c);
    length += c.sentence.length;
    if (chosen.length >= MAX_SENTENCES) break;
  }
  if (chosen.length === 0) return "I could not find an answer to that in your documents.";
  const lines = chosen.map((c) => `• ${c.sentence} [${c.n}]`);
  return lines.join("\n");
}
