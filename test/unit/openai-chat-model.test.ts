import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { OpenAI } from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OpenAiChatModel } from "../../src/adapters/openai/openai-chat-model.js";
import { openAiClientOptions } from "../../src/adapters/openai/openai-client.js";
import type { ChatRequest } from "../../src/ports/chat-model.js";
import { SEARCH_TOOL } from "../contract/chat-model.contract.js";
import { appError, recordingLogger } from "../contract/support.js";
import { type ChatCompletionRequest, type FakeOpenAi, startFakeOpenAi } from "../support/fake-openai.js";

const QUESTION = "How many vacation days do employees get per year?";
const PASSAGES = {
  passages: [
    { n: 1, title: "Employee Handbook", page: 2, text: "Employees receive 27 days of paid vacation per year." },
  ],
};
const ask = (tools = [SEARCH_TOOL]): ChatRequest => ({
  system: "Answer from the documents only.",
  messages: [{ role: "user", content: [{ type: "text", text: QUESTION }] }],
  tools,
});

let fake: FakeOpenAi;
beforeEach(async () => {
  fake = await startFakeOpenAi();
});
afterEach(async () => {
  await fake.close();
});

function modelFor(
  baseUrl: string,
  settings: { tools?: boolean; timeoutMs?: number; maxRetries?: number; apiKey?: string } = {},
) {
  const { logger, lines, text } = recordingLogger();
  const client = new OpenAI(
    openAiClientOptions(
      {
        baseUrl,
        apiKey: settings.apiKey,
        timeoutMs: settings.timeoutMs ?? 2000,
        maxRetries: settings.maxRetries ?? 0,
      },
      logger,
    ),
  );
  const model = new OpenAiChatModel(client, { model: "tiny", tools: settings.tools ?? true }, logger);
  return { model, lines, logText: text };
}

const sent = (i: number) => fake.calls[i] as ChatCompletionRequest;
const textOf = (r: { message: { content: { type: string; text?: string }[] } }) =>
  r.message.content.flatMap((b) => (b.type === "text" && b.text ? [b.text] : [])).join("");

/** Runs the first step (a tool call) and hands back the request for the second, with the tool result. */
async function toolRound(model: OpenAiChatModel): Promise<ChatRequest> {
  const first = await model.converse(ask());
  const call = first.message.content.find((b) => b.type === "tool_use");
  if (call?.type !== "tool_use") throw new Error("no tool call");
  return {
    ...ask(),
    messages: [
      ...ask().messages,
      first.message,
      { role: "user", content: [{ type: "tool_result", toolUseId: call.id, content: PASSAGES }] },
    ],
  };
}

describe("OpenAiChatModel against an OpenAI-compatible server", () => {
  it("calls the search tool with the question, then answers from the passages with a citation", async () => {
    const { model } = modelFor(fake.baseUrl);
    const first = await model.converse(ask());
    expect(first.stopReason).toBe("tool_use");
    expect(first.message.content).toEqual([
      { type: "tool_use", id: expect.stringMatching(/^call_/), name: "search_documents", input: { query: QUESTION } },
    ]);
    expect(sent(0)).toMatchObject({
      model: "tiny",
      messages: [
        { role: "system", content: "Answer from the documents only." },
        { role: "user", content: QUESTION },
      ],
      tools: [{ type: "function", function: { name: "search_documents", parameters: SEARCH_TOOL.inputSchema } }],
    });

    const second = await model.converse(await toolRound(model));
    expect(second.stopReason).toBe("end_turn");
    expect(textOf(second)).toBe("Employees receive 27 days of paid vacation per year. [1]");
    // The model's call went back as tool_calls, its result as a tool message answering that call id.
    const messages = sent(2).messages;
    const assistant = messages.at(-2);
    expect(assistant).toEqual({
      role: "assistant",
      content: null,
      tool_calls: [
        {
          id: expect.stringMatching(/^call_/),
          type: "function",
          function: { name: "search_documents", arguments: JSON.stringify({ query: QUESTION }) },
        },
      ],
    });
    expect(messages.at(-1)).toEqual({
      role: "tool",
      tool_call_id: assistant?.role === "assistant" ? assistant.tool_calls?.[0]?.id : "",
      content: JSON.stringify(PASSAGES),
    });
  });

  it("streams the answer in several pieces as the server sends them", async () => {
    const { model } = modelFor(fake.baseUrl);
    const request = await toolRound(model);
    const pieces: string[] = [];
    const response = await model.converseStream(request, (piece) => pieces.push(piece));
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join("")).toBe("Employees receive 27 days of paid vacation per year. [1]");
    expect(textOf(response)).toBe(pieces.join(""));
    expect(sent(fake.calls.length - 1).stream).toBe(true);

    // A streamed tool call arrives whole: id and name from its first piece, arguments from the rest.
    const streamedCall = await model.converseStream(ask(), () => {});
    expect(streamedCall.stopReason).toBe("tool_use");
    expect(streamedCall.message.content).toEqual([
      { type: "tool_use", id: expect.stringMatching(/^call_/), name: "search_documents", input: { query: QUESTION } },
    ]);
  });

  it("notices a server without tool support once, then stops offering tools", async () => {
    fake.noTools();
    const { model, lines } = modelFor(fake.baseUrl);
    expect(model.toolUse).toBe(true);
    const refused = await appError(model.converse(ask()));
    expect(refused.code).toBe("tools_unsupported");
    expect(model.toolUse).toBe(false);

    // The agent loop now asks without tools; earlier tool turns, if any, go as plain text.
    const answer = await model.converse(ask());
    expect(answer.stopReason).toBe("end_turn");
    expect(textOf(answer).length).toBeGreaterThan(0);
    expect(sent(1).tools).toBeUndefined();
    await model.converseStream(ask(), () => {});
    expect(sent(2).tools).toBeUndefined();
    expect(lines.filter((l) => l.level === "warn" && /refused tools/.test(l.msg))).toHaveLength(1);
  });

  it("notices it on a streamed request too", async () => {
    fake.noTools();
    const { model } = modelFor(fake.baseUrl);
    expect((await appError(model.converseStream(ask(), () => {}))).code).toBe("tools_unsupported");
    expect(model.toolUse).toBe(false);
  });

  it("recognises vLLM's and llama.cpp's refusals too, but not an ordinary error about tool messages", async () => {
    for (const [status, message] of [
      [400, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'],
      [500, "tools param requires --jinja flag"],
    ] as const) {
      const server = await startFakeOpenAi();
      try {
        server.failNext(status, 1, { message });
        const { model } = modelFor(server.baseUrl);
        expect((await appError(model.converse(ask()))).code, message).toBe("tools_unsupported");
        expect(model.toolUse).toBe(false);
      } finally {
        await server.close();
      }
    }
    fake.failNext(400, 1, {
      message:
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'.",
    });
    const { model } = modelFor(fake.baseUrl);
    expect((await appError(model.converse(ask()))).code).toBe("model_unavailable");
    expect(model.toolUse).toBe(true);
  });

  it("never offers tools with OPENAI_TOOLS=false, and replays earlier tool turns as text", async () => {
    const { model } = modelFor(fake.baseUrl, { tools: false });
    expect(model.toolUse).toBe(false);
    const response = await model.converse({
      ...ask(),
      messages: [
        ...ask().messages,
        {
          role: "assistant",
          content: [{ type: "tool_use", id: "t1", name: "search_documents", input: { query: "x" } }],
        },
        { role: "user", content: [{ type: "tool_result", toolUseId: "t1", content: PASSAGES }] },
      ],
    });
    expect(response.message.content.some((b) => b.type === "tool_use")).toBe(false);
    expect(sent(0).tools).toBeUndefined();
    expect(sent(0).messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(JSON.stringify(sent(0).messages)).toContain("27 days");
  });

  it("waits out a 429 with Retry-After, then answers", async () => {
    fake.failNext(429, 1, { retryAfter: 1 });
    const { model } = modelFor(fake.baseUrl, { maxRetries: 2, timeoutMs: 5000 });
    const started = Date.now();
    const response = await model.converse(ask());
    expect(response.stopReason).toBe("tool_use");
    expect(fake.calls).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("does not wait out a Retry-After longer than its timeout: the model is unavailable at once", async () => {
    fake.failNext(429, 5, { retryAfter: 3600 });
    const { model } = modelFor(fake.baseUrl, { maxRetries: 2, timeoutMs: 2000 });
    const started = Date.now();
    const error = await appError(model.converse(ask()));
    expect(error.code).toBe("model_unavailable");
    expect(error.message).toMatch(/busy/);
    expect(fake.calls).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("says the model is unavailable, with a reason, when the server stays down", async () => {
    fake.down();
    const { model, lines } = modelFor(fake.baseUrl, { maxRetries: 1, timeoutMs: 1000 });
    const started = Date.now();
    const error = await appError(model.converse(ask()));
    expect(error.code).toBe("model_unavailable");
    expect(error.retryable).toBe(true);
    expect(error.message).toBe(
      "The language model is unavailable right now (the model server failed with HTTP 503). Please try again in a few minutes.",
    );
    expect(fake.calls).toHaveLength(2); // the first try and one retry
    expect(Date.now() - started).toBeLessThan(4000);
    expect(lines.some((l) => l.level === "warn" && l.model === "tiny")).toBe(true);
    expect((await appError(model.converseStream(ask(), () => {}))).code).toBe("model_unavailable");
  });

  it("gives up on a server that does not answer, within the timeout and retries", async () => {
    fake.hang();
    const { model } = modelFor(fake.baseUrl, { maxRetries: 1, timeoutMs: 200 });
    const started = Date.now();
    const error = await appError(model.converse(ask()));
    expect(error.code).toBe("model_unavailable");
    expect(error.message).toMatch(/\(the model server did not answer in time\)/);
    expect(fake.calls).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("says the model server cannot be reached when nothing listens there", async () => {
    const closed = await startFakeOpenAi();
    await closed.close();
    const { model } = modelFor(closed.baseUrl, { maxRetries: 0 });
    const error = await appError(model.converse(ask()));
    expect(error.code).toBe("model_unavailable");
    expect(error.message).toMatch(/could not be reached/);
  });

  it("reports a refused API key without ever showing or logging the key", async () => {
    const guarded = await startFakeOpenAi({ apiKey: "sk-right-key-0000" });
    try {
      const secret = "sk-wrong-key-1234567890";
      const { model, logText } = modelFor(guarded.baseUrl, { apiKey: secret });
      const error = await appError(model.converse(ask()));
      expect(error.code).toBe("model_unavailable");
      expect(error.message).toMatch(/did not accept the API key/);
      expect(`${error.message} ${error.detail}`).not.toContain(secret);
      expect(error.detail).toContain("[redacted]");
      expect(logText()).not.toContain(secret);
      expect(logText()).toContain("AuthenticationError");
    } finally {
      await guarded.close();
    }
  });

  it("says which kind of failure it was for an unknown model", async () => {
    fake.failNext(404, 1);
    const { model } = modelFor(fake.baseUrl);
    expect((await appError(model.converse(ask()))).message).toMatch(/does not know the model/);
  });

  it("ends a stream that falls silent instead of waiting for ever", async () => {
    // Headers and one piece of text, then nothing: a model that hangs mid-answer.
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(
        `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 1, model: "tiny", choices: [{ index: 0, delta: { content: "Employees " }, finish_reason: null }] })}\n\n`,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const { model } = modelFor(`http://127.0.0.1:${port}/v1`, { timeoutMs: 300 });
      const pieces: string[] = [];
      const started = Date.now();
      const error = await appError(model.converseStream(ask([]), (p) => pieces.push(p)));
      expect(error.code).toBe("model_unavailable");
      expect(error.message).toMatch(/stopped answering/);
      expect(pieces).toEqual(["Employees "]);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("OpenAiChatModel response mapping", () => {
  /** A client whose create() returns `reply` as the server would have. */
  const stubbed = (reply: unknown) => {
    const client = { chat: { completions: { create: async () => reply } }, timeout: 1000, apiKey: "x" };
    return new OpenAiChatModel(client as unknown as OpenAI, { model: "m", tools: true }, recordingLogger().logger);
  };

  it("turns broken tool arguments into {}, a missing call id into one of its own, length into max_tokens", async () => {
    const broken = await stubbed({
      choices: [
        {
          message: {
            content: "",
            tool_calls: [{ type: "function", function: { name: "search_documents", arguments: "{" } }],
          },
          finish_reason: "stop",
        },
      ],
    }).converse(ask());
    expect(broken.stopReason).toBe("tool_use");
    expect(broken.message.content).toEqual([
      { type: "tool_use", id: expect.stringMatching(/^call_/), name: "search_documents", input: {} },
    ]);
    const cut = await stubbed({
      choices: [{ message: { content: "Employees get" }, finish_reason: "length" }],
    }).converse(ask());
    expect(cut).toEqual({
      message: { role: "assistant", content: [{ type: "text", text: "Employees get" }] },
      stopReason: "max_tokens",
    });
  });

  it("says the model is unavailable when the server answers something that is not a chat completion", async () => {
    const error = await appError(stubbed("<html>502 Bad Gateway</html>").converse(ask()));
    expect(error.code).toBe("model_unavailable");
    expect(error.message).toMatch(/unexpected answer/);
  });
});
