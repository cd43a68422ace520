import { z } from "zod";
import { queryTerms } from "../../domain/terms.js";
import type { ChatMessage, ChatModel, ChatRequest, ChatResponse, TextSink } from "../../ports/chat-model.js";
import { pickSentences } from "./extractive-answer.js";

const toolResultSchema = z.object({
  passages: z.array(z.object({ n: z.number(), title: z.string(), page: z.number(), text: z.string() })),
});

/**
 * The embedded default "model": no generation, only extraction. It asks the search tool once with the
 * user's question, then answers with the retrieved sentences that hold the fact asked for (see
 * extractive-answer.ts), one a line, in quotation marks, each cited as [n]. It speaks the same tool-use protocol as a
 * real model, so the agent loop in services/answer-question is exercised the same way in both shapes.
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

function compose(question: string, passages: z.infer<typeof toolResultSchema>["passages"]): string {
  const picked = pickSentences(question, passages);
  // No sentence answers: an empty reply, which the answer service reports as no context.
  if (picked.length === 0) return "";
  return picked.map((p) => `• “${asQuotation(p.sentence)}” [${p.n}]`).join("\n");
}

// Inline Markdown a sentence of a .md file may carry: **bold**, __bold__, *it*, _it_, ~~struck~~, `code`.
const INLINE_MARKUP = /(?<!\w)(\*\*|__|~~|\*|_|`)(?=\S)([^*_~`\n]*?\S)\1(?!\w)/g;

/**
 * A document's sentence as a quotation: one line of plain words. A passage is untrusted text, so its
 * line breaks (which could start what looks like a new paragraph of the bot's own) and its inline
 * markup (which would render as emphasis the bot chose) do not survive; the quotation marks around it
 * show it is the document speaking.
 */
export function asQuotation(sentence: string): string {
  let text = sentence.replace(/\s+/g, " ").trim();
  // Nested markup (**_both_**) comes off a layer a pass.
  for (let layer = 0; layer < 3; layer++) {
    const plain = text.replace(INLINE_MARKUP, "$2");
    if (plain === text) break;
    text = plain;
  }
  return text;
}
