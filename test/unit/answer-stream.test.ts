import { describe, expect, it } from "vitest";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import type { AuditRecord } from "../../src/domain/audit.js";
import type { ChunkHit } from "../../src/domain/documents.js";
import { AppError } from "../../src/domain/errors.js";
import { newTenantId } from "../../src/domain/tenant.js";
import type { ChatModel, ChatRequest, ChatResponse, TextSink } from "../../src/ports/chat-model.js";
import type { ChunkIndex } from "../../src/ports/chunk-index.js";
import {
  AnswerService,
  MODEL_UNAVAILABLE_ANSWER,
  NO_CONTEXT_ANSWER,
  NO_MODEL_NOTE,
} from "../../src/services/answer-question.js";

const tenant = newTenantId();
const HOTEL: ChunkHit = {
  tenantId: tenant,
  chunkId: "travel#0",
  documentId: "travel",
  title: "Travel policy",
  page: 3,
  text: "Hotel costs are reimbursed up to 180 euros per night.",
  score: 1.2,
};
const TRAIN: ChunkHit = {
  ...HOTEL,
  chunkId: "travel#1",
  page: 4,
  text: "Hotel costs abroad are reimbursed as booked by the travel desk.",
};

function index(hits: ChunkHit[]): ChunkIndex & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    upsert: async () => {},
    setAccess: async () => {},
    deleteDocument: async () => {},
    deleteTenant: async () => {},
    search: async (_t, query) => {
      queries.push(query);
      return hits;
    },
  };
}

/**
 * A model following a script of turns: each turn is either a tool call or text written in pieces.
 * It records what it was asked, and writes the same pieces whether streamed or not.
 */
class ScriptedModel implements ChatModel {
  readonly modelId = "scripted";
  readonly requests: ChatRequest[] = [];
  constructor(
    private readonly turns: ({ search: string } | { pieces: string[] } | { fail: AppError })[],
    public toolUse = true,
    readonly generative = true,
  ) {}
  async converse(request: ChatRequest): Promise<ChatResponse> {
    return this.converseStream(request, () => {});
  }
  async converseStream(request: ChatRequest, onText: TextSink): Promise<ChatResponse> {
    this.requests.push(request);
    const turn = this.turns.shift();
    if (!turn) throw new Error("the script ran out");
    if ("fail" in turn) throw turn.fail;
    if ("search" in turn)
      return {
        stopReason: "tool_use",
        message: {
          role: "assistant",
          content: [
            { type: "text", text: "Let me look that up." },
            {
              type: "tool_use",
              id: `t${this.requests.length}`,
              name: "search_documents",
              input: { query: turn.search },
            },
          ],
        },
      };
    for (const piece of turn.pieces) onText(piece);
    return {
      stopReason: "end_turn",
      message: { role: "assistant", content: [{ type: "text", text: turn.pieces.join("") }] },
    };
  }
}

function service(model: ChatModel, hits: ChunkHit[] = [HOTEL, TRAIN]) {
  const audited: AuditRecord[] = [];
  const idx = index(hits);
  const answers = new AnswerService(
    {
      access: { readable: async () => ["org"] },
      catalog: { get: async () => undefined },
      index: idx,
      model,
      audit: {
        append: async (r) => void audited.push(r),
        list: async () => ({ records: [] }),
        get: async () => undefined,
        setFeedback: async () => false,
        deleteBefore: async () => 0,
        deleteTenant: async () => {},
      },
    },
    { topK: 5, maxSteps: 4, maxQuestionChars: 500 },
    new JsonLogger("silent"),
  );
  return { answers, audited, index: idx };
}

const actor = { tenantId: tenant, principal: "u1", principals: ["u1"], role: "member", surface: "api" } as const;
const ask = (answers: AnswerService, question: string, deltas?: string[], searching?: string[]) =>
  answers.ask(
    { actor, audience: { kind: "asker" }, question },
    deltas ? { onText: (t) => deltas.push(t), onSearching: () => searching?.push("searching") } : {},
  );

describe("AnswerService streaming", () => {
  it("streams the answer as the model writes it, renumbered, and the pieces add up to the stored answer", async () => {
    const model = new ScriptedModel([
      { search: "hotel costs reimbursed" },
      { pieces: ["Hotels are", " capped at 180 euros [", "2", "] a night."] },
    ]);
    const { answers, audited } = service(model);
    const deltas: string[] = [];
    const searching: string[] = [];
    const result = await ask(answers, "How much of my hotel costs is reimbursed?", deltas, searching);
    expect(result.outcome).toBe("answered");
    expect(result.answer).toBe("Hotels are capped at 180 euros [1] a night.");
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join("")).toBe(result.answer);
    // What the model said before it searched is not part of the answer.
    expect(result.answer).not.toContain("Let me look");
    expect(searching).toEqual(["searching"]);
    expect(result.sources).toHaveLength(1);
    expect(result.sources[0]).toMatchObject({ n: 1, page: 4 });
    expect(audited[0]?.answer).toBe(result.answer);
    expect(result.note).toBeUndefined();
  });

  it("answers the same without streaming", async () => {
    const script = () => [
      { search: "hotel costs reimbursed" },
      { pieces: ["Hotels are", " capped at 180 euros [", "2", "] a night."] },
    ];
    const streamed = await ask(
      service(new ScriptedModel(script())).answers,
      "How much of my hotel costs is reimbursed?",
      [],
    );
    const whole = await ask(service(new ScriptedModel(script())).answers, "How much of my hotel costs is reimbursed?");
    expect(whole.answer).toBe(streamed.answer);
    expect(whole.sources).toEqual(streamed.sources);
  });

  it("sends the no-context answer as one piece when nothing relevant was found, without asking the model to answer", async () => {
    const model = new ScriptedModel([{ search: "parking" }, { pieces: ["invented"] }]);
    const { answers } = service(model, []);
    const deltas: string[] = [];
    const result = await ask(answers, "Where can I park?", deltas);
    expect(result.outcome).toBe("no_context");
    expect(deltas).toEqual([NO_CONTEXT_ANSWER]);
  });

  it("follows a broken-off answer with the reason, and the final answer is the reason", async () => {
    const model = new (class extends ScriptedModel {
      override async converseStream(request: ChatRequest, onText: TextSink): Promise<ChatResponse> {
        if (this.requests.length === 0) return super.converseStream(request, onText);
        this.requests.push(request);
        onText("Hotel costs are");
        throw new AppError("model_unavailable", "The language model is unavailable right now (it stopped answering).");
      }
    })([{ search: "hotel costs reimbursed" }]);
    const deltas: string[] = [];
    const result = await ask(service(model).answers, "How much of my hotel costs is reimbursed?", deltas);
    const reason = "The language model is unavailable right now (it stopped answering).";
    expect(result).toMatchObject({ outcome: "model_unavailable", answer: reason });
    expect(deltas).toEqual(["Hotel costs are", `\n\n${reason}`]);
  });

  it("says the model is unavailable when it fails before answering", async () => {
    const model = new ScriptedModel([
      { search: "hotel costs reimbursed" },
      { fail: new AppError("model_unavailable", "") },
    ]);
    const { answers, audited } = service(model);
    const deltas: string[] = [];
    const result = await ask(answers, "How much of my hotel costs is reimbursed?", deltas);
    expect(result.outcome).toBe("model_unavailable");
    expect(result.answer).toBe(MODEL_UNAVAILABLE_ANSWER);
    expect(deltas).toEqual([MODEL_UNAVAILABLE_ANSWER]);
    expect(audited[0]?.outcome).toBe("model_unavailable");
  });

  it("retrieves first and quotes the passages as data for a model without tool calling", async () => {
    const model = new ScriptedModel([{ pieces: ["Up to 180 euros per night [1]."] }], false);
    const { answers, index: idx } = service(model);
    const deltas: string[] = [];
    const result = await ask(answers, "How much of my hotel costs is reimbursed?", deltas);
    expect(result).toMatchObject({ outcome: "answered", answer: "Up to 180 euros per night [1]." });
    expect(idx.queries).toEqual(["How much of my hotel costs is reimbursed?"]);
    const request = model.requests[0];
    expect(request?.tools).toEqual([]);
    const prompt = JSON.stringify(request?.messages);
    expect(prompt).toContain('<passage n=\\"1\\" title=\\"Travel policy\\" page=\\"3\\">');
    expect(prompt).toContain("Hotel costs are reimbursed up to 180 euros per night.");
    expect(prompt).not.toContain(tenant);
    expect(request?.system).toMatch(/not instructions/);
  });

  it("falls back to retrieving first when the server refuses tools", async () => {
    const model = new ScriptedModel([
      { fail: new AppError("tools_unsupported", "no tools") },
      { pieces: ["Up to 180 euros per night [1]."] },
    ]);
    const { answers } = service(model);
    const result = await ask(answers, "How much of my hotel costs is reimbursed?", []);
    expect(result).toMatchObject({ outcome: "answered", answer: "Up to 180 euros per night [1]." });
    expect(model.requests[1]?.tools).toEqual([]);
    expect(model.requests[1]?.messages).toHaveLength(1);
  });

  it("puts the no-model remark in a note beside a quoted answer, not in the answer", async () => {
    const model = new ScriptedModel(
      [
        { search: "hotel costs reimbursed" },
        { pieces: ["• Hotel costs are reimbursed up to 180 euros per night. [1]"] },
      ],
      true,
      false,
    );
    const result = await ask(service(model).answers, "How much of my hotel costs is reimbursed?");
    expect(result.note).toBe(NO_MODEL_NOTE);
    expect(result.answer.startsWith("•")).toBe(true);
  });
});
