import { OpenAI } from "openai";
import { afterAll, beforeAll } from "vitest";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import { OpenAiChatModel } from "../../src/adapters/openai/openai-chat-model.js";
import { openAiClientOptions } from "../../src/adapters/openai/openai-client.js";
import { type FakeOpenAi, startFakeOpenAi } from "../support/fake-openai.js";
import { describeChatModelContract } from "./chat-model.contract.js";

/** The ChatModel contract against the OpenAI-compatible adapter and a fake Chat Completions server. */
let fake: FakeOpenAi;
beforeAll(async () => {
  fake = await startFakeOpenAi();
});
afterAll(async () => {
  await fake.close();
});

const silent = new JsonLogger("silent");

describeChatModelContract("OpenAiChatModel (Chat Completions, fake server)", async () => {
  const client = new OpenAI(openAiClientOptions({ baseUrl: fake.baseUrl, timeoutMs: 5000, maxRetries: 0 }, silent));
  return {
    adapter: new OpenAiChatModel(client, { model: "tiny", tools: true }, silent),
    cleanup: async () => {},
  };
});
