import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BedrockChatModel } from "../../src/adapters/aws/bedrock-chat-model.js";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import { isAppError } from "../../src/domain/errors.js";
import type { ChatRequest } from "../../src/ports/chat-model.js";
import { type FakeBedrockHttp, startFakeBedrockHttp } from "../support/emulators/fake-bedrock-http.js";
import { SEARCH_TOOL } from "./chat-model.contract.js";

/**
 * ConverseStream through the real SDK over HTTP/2 and Bedrock's binary event stream: the SDK decodes
 * the events and retries a throttled request, and failures inside the stream reach the user as
 * "model unavailable".
 */
let bedrock: FakeBedrockHttp;
let model: BedrockChatModel;

const question: ChatRequest = {
  system: "Answer from the documents only.",
  messages: [{ role: "user", content: [{ type: "text", text: "How many vacation days do employees get per year?" }] }],
  tools: [SEARCH_TOOL],
};

beforeAll(async () => {
  bedrock = await startFakeBedrockHttp();
  const client = new BedrockRuntimeClient({
    region: "us-east-1",
    endpoint: bedrock.endpoint,
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
    maxAttempts: 2,
  });
  model = new BedrockChatModel(client, { modelId: "amazon.nova-micro-v1:0" }, new JsonLogger("silent"));
});
afterAll(async () => {
  await bedrock?.stop();
});
beforeEach(() => {
  bedrock.clearFaults();
  bedrock.calls.length = 0;
});

async function toolRoundTrip() {
  const first = await model.converseStream(question, () => {});
  const call = first.message.content.find((b) => b.type === "tool_use");
  if (call?.type !== "tool_use") throw new Error("no tool call");
  const pieces: string[] = [];
  const second = await model.converseStream(
    {
      ...question,
      messages: [
        ...question.messages,
        first.message,
        {
          role: "user",
          content: [
            {
              type: "tool_result",
              toolUseId: call.id,
              content: {
                passages: [
                  { n: 1, title: "Handbook", page: 2, text: "Employees receive 27 days of paid vacation per year." },
                ],
              },
            },
          ],
        },
      ],
    },
    (t) => pieces.push(t),
  );
  return { first, call, second, pieces };
}

describe("BedrockChatModel ConverseStream over HTTP/2", () => {
  it("streams a tool call, then the cited answer in pieces", async () => {
    const { first, call, second, pieces } = await toolRoundTrip();
    expect(first.stopReason).toBe("tool_use");
    expect(call.input).toEqual({ query: "How many vacation days do employees get per year?" });
    expect(second.stopReason).toBe("end_turn");
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join("")).toBe("Employees receive 27 days of paid vacation per year. [1]");
    expect(bedrock.calls.map((c) => c.operation)).toEqual(["converse-stream", "converse-stream"]);
  });

  it("retries a throttled request, and the answer still arrives", async () => {
    bedrock.fail("converse-stream", "throttling", 1);
    const { pieces } = await toolRoundTrip();
    expect(pieces.join("")).toContain("27 days");
    expect(bedrock.calls.filter((c) => c.operation === "converse-stream")).toHaveLength(3); // one throttled, its retry, the answer
  });

  it("reports the model unavailable when it stays throttled", async () => {
    bedrock.fail("converse-stream", "throttling", 10);
    const error = await model.converseStream(question, () => {}).catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe("model_unavailable");
  });

  it("reports the model unavailable when the stream breaks off with an exception", async () => {
    bedrock.breakStream("modelStreamErrorException", 1);
    const error = await model.converseStream(question, () => {}).catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe("model_unavailable");
  });
});
