import { OpenAI } from "openai";
import { OpenAiChatModel } from "../adapters/openai/openai-chat-model.js";
import { openAiClientOptions } from "../adapters/openai/openai-client.js";
import type { Config } from "../config/config.js";
import type { ChatModel } from "../ports/chat-model.js";
import type { Logger } from "../ports/logger.js";

/** CHAT_MODEL=openai, on either backend: any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp). */
export function buildOpenAiChatModel(config: Config, logger: Logger): ChatModel {
  const model = config.OPENAI_MODEL;
  if (!model) throw new Error("OPENAI_MODEL is required when CHAT_MODEL=openai");
  const log = logger.child({ component: "model" });
  const client = new OpenAI(
    openAiClientOptions(
      {
        baseUrl: config.OPENAI_BASE_URL,
        apiKey: config.OPENAI_API_KEY,
        timeoutMs: config.OPENAI_TIMEOUT_MS,
        maxRetries: config.OPENAI_MAX_RETRIES,
      },
      log,
    ),
  );
  // The host only: a base URL may carry credentials in its user part or query.
  log.info("answers come from an OpenAI-compatible model", {
    model,
    server: new URL(config.OPENAI_BASE_URL).host,
    tools: config.OPENAI_TOOLS,
  });
  return new OpenAiChatModel(client, { model, tools: config.OPENAI_TOOLS }, log);
}
