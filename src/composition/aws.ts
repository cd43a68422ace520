import type { TokenCipher } from "../adapters/shared/token-cipher.js";
import type { Config } from "../config/config.js";
import type { ChatModel } from "../ports/chat-model.js";
import type { Logger } from "../ports/logger.js";
import type { Adapters } from "./container.js";

/** The AWS shape. Filled in by the AWS adapters; importing this module loads the AWS SDK. */
export async function buildAwsAdapters(_config: Config, _logger: Logger, _cipher: TokenCipher): Promise<Adapters> {
  throw new Error("BACKEND=aws is not available in this build");
}

export async function buildBedrockChatModel(_config: Config, _logger: Logger): Promise<ChatModel> {
  throw new Error("CHAT_MODEL=bedrock is not available in this build");
}
