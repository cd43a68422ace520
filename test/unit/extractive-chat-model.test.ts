import { describe, expect, it } from "vitest";
import { ExtractiveChatModel } from "../../src/adapters/local/extractive-chat-model.js";
import type { ChatMessage } from "../../src/ports/chat-model.js";

const tools = [{ name: "search_documents", description: "", inputSchema: {} }];
const user = (text: string): ChatMessage => ({ role: "user", content: [{ type: "text", text }] });
const assistant = (text: string): ChatMessage => ({ role: "assistant", content: [{ type: "text", text }] });

async function searchQuery(messages: ChatMessage[]): Promise<unknown> {
  const res = await new ExtractiveChatModel().converse({ system: "", messages, tools });
  const call = res.message.content[0];
  return call?.type === "tool_use" ? call.input : undefined;
}

type Passage = { n: number; title: string; page: number; text: string };

/** The conversation after the model asked to search: the question, its tool call, the passages found. */
function answered(question: string, passages: Passage[]): ChatMessage[] {
  return [
    user(question),
    { role: "assistant", content: [{ type: "tool_use", id: "s", name: "search_documents", input: {} }] },
    { role: "user", content: [{ type: "tool_result", toolUseId: "s", content: { passages } }] },
  ];
}

async function answer(question: string, passages: Passage[]): Promise<string> {
  const res = await new ExtractiveChatModel().converse({ system: "", tools, messages: answered(question, passages) });
  expect(res.stopReason).toBe("end_turn");
  return res.message.content[0]?.type === "text" ? res.message.content[0].text : "";
}

const faq: Passage = {
  n: 1,
  title: "IT FAQ",
  page: 1,
  text: [
    "How do I connect from home?",
    "Use the Tunnelbird VPN client, which is installed on every company laptop. Sign in with your account and approve the prompt. The VPN must be on before you open the finance systems.",
    "Can I get a second monitor?",
    "Yes. Every employee may order one external monitor for the office and one for home.",
  ].join("\n\n"),
};

describe("extractive answerer", () => {
  it("searches with the question, then quotes the sentence that answers, cited, without any notice", async () => {
    expect(await searchQuery([user("How long is parental leave?")])).toEqual({ query: "How long is parental leave?" });
    const text = await answer("How long is parental leave?", [
      {
        n: 1,
        title: "Handbook",
        page: 2,
        text: "Parents receive 16 weeks of paid parental leave. The canteen opens at noon.",
      },
      { n: 2, title: "Other", page: 1, text: "Leave requests go through the portal for all staff." },
    ]);
    expect(text).toBe("• “Parents receive 16 weeks of paid parental leave.” [1]");
    expect(text).not.toMatch(/language model|no model/i);
  });

  it("never quotes a question, and reads the answer under an FAQ question", async () => {
    const text = await answer("How do I connect from home?", [faq]);
    expect(text.split("\n")[0]).toBe(
      "• “Use the Tunnelbird VPN client, which is installed on every company laptop.” [1]",
    );
    for (const line of text.split("\n")) expect(line).not.toMatch(/\?\s*(\[\d+\])*$/);
  });

  it("keeps a short yes with the sentence that says why", async () => {
    expect(await answer("Can I get a second monitor?", [faq])).toBe(
      "• “Yes. Every employee may order one external monitor for the office and one for home.” [1]",
    );
  });

  it("prefers the sentence holding the kind of fact asked for over one that only repeats the question's words", async () => {
    const text = await answer("When are summer hours?", [
      {
        n: 1,
        title: "Guide",
        page: 1,
        text: "Summer hours\n\nSummer hours are a much loved tradition here. We work 4-day weeks from May 1 through August 31. Many say summer hours are the best part of the year.",
      },
    ]);
    expect(text).toBe("• “We work 4-day weeks from May 1 through August 31.” [1]");
  });

  it("matches a word that only names the kind of answer by a fact of that kind", async () => {
    const text = await answer("What is the hotel limit?", [
      {
        n: 1,
        title: "Handbook",
        page: 1,
        text: "Book all travel through the portal. Hotel costs are reimbursed up to 180 euros per night. Hotels are booked by the travel team.",
      },
    ]);
    expect(text).toBe("• “Hotel costs are reimbursed up to 180 euros per night.” [1]");
  });

  it("keeps short fragments with the sentence they continue, so a quoted line is found", async () => {
    const text = await answer("Here's to the crazy ones, the misfits and the rebels?", [
      {
        n: 1,
        title: "The Crazy Ones",
        page: 1,
        text: "Heres to the crazy ones. The misfits. The rebels. The troublemakers.\nThey push the human race forward.",
      },
    ]);
    expect(text).toBe("• “Heres to the crazy ones. The misfits. The rebels. The troublemakers.” [1]");
  });

  it("says nothing (the service then answers no_context) when the passages only share a word with the question", async () => {
    const text = await answer("Can I bring my dog to the office?", [
      { n: 1, title: "FAQ", page: 1, text: "Bring a broken laptop to the IT desk. The desk is open from 9:00." },
    ]);
    expect(text).toBe("");
  });

  it("streams the answer a quoted sentence at a time", async () => {
    const pieces: string[] = [];
    const res = await new ExtractiveChatModel().converseStream(
      { system: "", tools, messages: answered("How do I connect from home?", [faq]) },
      (piece) => pieces.push(piece),
    );
    const text = res.message.content[0]?.type === "text" ? res.message.content[0].text : "";
    expect(pieces.join("")).toBe(text);
    expect(pieces.length).toBe(text.split("\n").length);
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
