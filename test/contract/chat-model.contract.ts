import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ChatModel, ChatRequest, ChatResponse, ToolSpec } from "../../src/ports/chat-model.js";
import type { Factory, Fixture } from "./support.js";

export const SEARCH_TOOL: ToolSpec = {
  name: "search_documents",
  description: "Search the organisation's documents.",
  inputSchema: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
};

const PASSAGES = {
  passages: [
    {
      n: 1,
      title: "Employee Handbook",
      page: 2,
      text: "Employees receive 27 days of paid vacation per year, plus public holidays.",
    },
  ],
};

/** The tool-use protocol the agent loop in services/answer-question relies on. */
export function describeChatModelContract(name: string, factory: Factory<ChatModel>) {
  describe(`ChatModel contract: ${name}`, () => {
    let fx: Fixture<ChatModel>;
    let model: ChatModel;
    beforeEach(async () => {
      fx = await factory();
      model = fx.adapter;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it("names its model and says whether it generates text and calls tools", () => {
      expect(model.modelId.length).toBeGreaterThan(0);
      expect(typeof model.generative).toBe("boolean");
      expect(typeof model.toolUse).toBe("boolean");
    });

    it("asks for the search tool with a query, then answers from the tool result", async () => {
      const request: ChatRequest = {
        system: "Answer from the documents only.",
        messages: [
          { role: "user", content: [{ type: "text", text: "How many vacation days do employees get per year?" }] },
        ],
        tools: [SEARCH_TOOL],
      };
      const first = await model.converse(request);
      expect(first.message.role).toBe("assistant");
      expect(first.stopReason).toBe("tool_use");
      const call = first.message.content.find((b) => b.type === "tool_use");
      expect(call).toMatchObject({ type: "tool_use", name: "search_documents", id: expect.any(String) });
      if (call?.type !== "tool_use") throw new Error("no tool call");
      expect(call.id.length).toBeGreaterThan(0);
      expect(call.input).toMatchObject({ query: expect.any(String) });

      const second = await model.converse({
        ...request,
        messages: [
          ...request.messages,
          first.message,
          { role: "user", content: [{ type: "tool_result", toolUseId: call.id, content: PASSAGES }] },
        ],
      });
      expect(second.stopReason).toBe("end_turn");
      expect(second.message.role).toBe("assistant");
      const text = second.message.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
      expect(text).toMatch(/27/);
      expect(text).toMatch(/\[1\]/);
      expect(second.message.content.some((b) => b.type === "tool_use")).toBe(false);
    });

    it("streams the same conversation: the pieces make up the final text, tool calls come whole", async () => {
      const request: ChatRequest = {
        system: "Answer from the documents only.",
        messages: [
          { role: "user", content: [{ type: "text", text: "How many vacation days do employees get per year?" }] },
        ],
        tools: [SEARCH_TOOL],
      };
      const plain = await model.converse(request);
      const plainCall = plain.message.content.find((b) => b.type === "tool_use");

      const firstPieces: string[] = [];
      const first = await model.converseStream(request, (piece) => firstPieces.push(piece));
      expect(first.message.role).toBe("assistant");
      expect(first.stopReason).toBe(plain.stopReason);
      expect(firstPieces.join("")).toBe(textOf(first));
      const call = first.message.content.find((b) => b.type === "tool_use");
      if (call?.type !== "tool_use" || plainCall?.type !== "tool_use") throw new Error("no tool call");
      expect(call.name).toBe(plainCall.name);
      expect(call.id.length).toBeGreaterThan(0);
      expect(call.input).toEqual(plainCall.input);

      const pieces: string[] = [];
      const second = await model.converseStream(
        {
          ...request,
          messages: [
            ...request.messages,
            first.message,
            { role: "user", content: [{ type: "tool_result", toolUseId: call.id, content: PASSAGES }] },
          ],
        },
        (piece) => pieces.push(piece),
      );
      expect(second.stopReason).toBe("end_turn");
      expect(second.message.content.some((b) => b.type === "tool_use")).toBe(false);
      const text = textOf(second);
      expect(text).toMatch(/27/);
      expect(text).toMatch(/\[1\]/);
      expect(pieces.length).toBeGreaterThan(0);
      expect(pieces.join("")).toBe(text);
    });

    it("answers in text when no tool is offered, even after earlier tool turns", async () => {
      const response = await model.converse({
        system: "Answer from the documents only.",
        messages: [
          { role: "user", content: [{ type: "text", text: "How many vacation days do employees get per year?" }] },
          {
            role: "assistant",
            content: [{ type: "tool_use", id: "t1", name: "search_documents", input: { query: "vacation days" } }],
          },
          { role: "user", content: [{ type: "tool_result", toolUseId: "t1", content: PASSAGES }] },
        ],
        tools: [],
      });
      expect(response.message.role).toBe("assistant");
      expect(response.message.content.some((b) => b.type === "tool_use")).toBe(false);
      expect(response.message.content.some((b) => b.type === "text" && b.text.length > 0)).toBe(true);
    });
  });
}

function textOf(response: ChatResponse): string {
  return response.message.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
}
