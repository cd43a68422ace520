import { describe, expect, it } from "vitest";
import { ExtractiveChatModel, NO_MODEL_NOTICE } from "../../src/adapters/local/extractive-chat-model.js";
import type { ChatMessage } from "../../src/ports/chat-model.js";

const tools = [{ name: "search_documents", description: "", inputSchema: {} }];
const user = (text: string): ChatMessage => ({ role: "user", content: [{ type: "text", text }] });
const assistant = (text: string): ChatMessage => ({ role: "assistant", content: [{ type: "text", text }] });

async function searchQuery(messages: ChatMessage[]): Promise<unknown> {
  const res = await new ExtractiveChatModel().converse({ system: "", messages, tools });
  const call = res.message.content[0];
  return call?.type === "tool_use" ? call.input : undefined;
}

describe("extractive answerer", () => {
  it("searches with the question, then quotes the best sentences with citations", async () => {
    const model = new ExtractiveChatModel();
    expect(await searchQuery([user("How long is parental leave?")])).toEqual({ query: "How long is parental leave?" });
    const res = await model.converse({
      system: "",
      tools,
      messages: [
        user("How long is parental leave?"),
        { role: "assistant", content: [{ type: "tool_use", id: "s", name: "search_documents", input: {} }] },
        {
          role: "user",
          content: [
            {
              type: "tool_result",
              toolUseId: "s",
              content: {
                passages: [
                  {
                    n: 1,
                    title: "Handbook",
                    page: 2,
                    text: "Parents receive 16 weeks of paid parental leave. The canteen opens at noon.",
                  },
                  { n: 2, title: "Other", page: 1, text: "Leave requests go through the portal for all staff." },
                ],
              },
            },
          ],
        },
      ],
    });
    const text = res.message.content[0]?.type === "text" ? res.message.content[0].text : "";
    expect(res.stopReason).toBe("end_turn");
    expect(text.startsWith(NO_MODEL_NOTICE)).toBe(true);
    expect(text).toContain("Parents receive 16 weeks of paid parental leave. [1]");
    expect(text).not.toContain("canteen");
  });

  it("gives a short follow-up the subject of the previous question", async () => {
    const history = [user("How many vacation days do full-time employees get?"), assistant("27 days [1]")];
    expect(await searchQuery([...history, user("And part-timers?")])).toEqual({
      query: "And part-timers? How many vacation days do full-time employees get?",
    });
    expect(await searchQuery([...history, user("What is the hotel limit in capital cities?")])).toEqual({
      query: "What is the hotel limit in capital cities?",
    });
  });
});
