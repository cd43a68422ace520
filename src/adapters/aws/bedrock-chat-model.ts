import {
  type ContentBlock as BedrockBlock,
  type Message as BedrockMessage,
  type BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandInput,
  ConverseStreamCommand,
  type ConverseStreamOutput,
} from "@aws-sdk/client-bedrock-runtime";
import { z } from "zod";
import { AppError } from "../../domain/errors.js";
import type {
  ChatMessage,
  ChatModel,
  ChatRequest,
  ChatResponse,
  ContentBlock,
  TextSink,
} from "../../ports/chat-model.js";
import type { Logger } from "../../ports/logger.js";
import { errorName, isTransient } from "./aws-errors.js";

export const MODEL_UNAVAILABLE_MESSAGE =
  "The language model is unavailable right now. Please try again in a few minutes.";

export interface BedrockChatModelOptions {
  modelId: string;
  maxTokens?: number;
  temperature?: number;
}

const responseSchema = z.object({
  stopReason: z.string().optional(),
  output: z.object({
    message: z.object({
      role: z.literal("assistant"),
      content: z.array(
        z.object({
          text: z.string().optional(),
          toolUse: z.object({ toolUseId: z.string(), name: z.string(), input: z.unknown() }).optional(),
        }),
      ),
    }),
  }),
});

/** Errors that mean "the model cannot answer now" rather than "we sent something wrong". */
const UNAVAILABLE = new Set([
  "AccessDeniedException",
  "ResourceNotFoundException",
  "ServiceQuotaExceededException",
  "ModelErrorException",
  "ModelStreamErrorException",
]);

/**
 * Bedrock Converse. Maps the provider-neutral conversation to Converse messages, `system` and
 * `toolConfig` (`toolSpec: {name, description, inputSchema: {json}}`), `toolUse` / `toolResult` blocks
 * (`toolResult.content: [{json}]`), and back. Throttling and 5xx are retried by the SDK; when the model
 * stays unavailable this throws `model_unavailable`, which the answer service reports to the user.
 */
export class BedrockChatModel implements ChatModel {
  readonly generative = true;
  readonly toolUse = true;
  readonly modelId: string;

  constructor(
    private readonly client: BedrockRuntimeClient,
    private readonly options: BedrockChatModelOptions,
    private readonly logger: Logger,
  ) {
    this.modelId = options.modelId;
  }

  async converse(request: ChatRequest): Promise<ChatResponse> {
    const input = toConverseInput(request, this.options);
    let raw: unknown;
    try {
      raw = await this.client.send(new ConverseCommand(input));
    } catch (error) {
      throw this.failure(error, "converse");
    }
    const parsed = responseSchema.safeParse(raw);
    if (!parsed.success) {
      throw new AppError("model_unavailable", MODEL_UNAVAILABLE_MESSAGE, {
        retryable: true,
        detail: "unexpected Converse response",
      });
    }
    const content: ContentBlock[] = [];
    for (const block of parsed.data.output.message.content) {
      if (block.text !== undefined) content.push({ type: "text", text: block.text });
      else if (block.toolUse)
        content.push({
          type: "tool_use",
          id: block.toolUse.toolUseId,
          name: block.toolUse.name,
          input: block.toolUse.input,
        });
    }
    return { message: { role: "assistant", content }, stopReason: stopReasonOf(parsed.data.stopReason) };
  }

  /**
   * ConverseStream: text deltas go to `onText` as they arrive; a tool call's input arrives as JSON text
   * in pieces and is parsed once its block stops. Errors inside the stream (throttling, a model error)
   * end it like a failed request.
   */
  async converseStream(request: ChatRequest, onText: TextSink): Promise<ChatResponse> {
    const input = toConverseInput(request, this.options);
    const blocks = new Map<number, { text: string } | { id: string; name: string; json: string }>();
    let stopReason: string | undefined;
    try {
      const response = await this.client.send(new ConverseStreamCommand(input));
      if (!response.stream) throw new AppError("model_unavailable", MODEL_UNAVAILABLE_MESSAGE, { detail: "no stream" });
      for await (const event of response.stream) {
        streamFailure(event);
        if (event.contentBlockStart?.start?.toolUse) {
          const { toolUseId = "", name = "" } = event.contentBlockStart.start.toolUse;
          blocks.set(event.contentBlockStart.contentBlockIndex ?? blocks.size, { id: toolUseId, name, json: "" });
        } else if (event.contentBlockDelta?.delta) {
          const index = event.contentBlockDelta.contentBlockIndex ?? 0;
          const { delta } = event.contentBlockDelta;
          const block = blocks.get(index);
          if (delta.text !== undefined) {
            if (block && "text" in block) block.text += delta.text;
            else blocks.set(index, { text: delta.text });
            if (delta.text) onText(delta.text);
          } else if (delta.toolUse?.input !== undefined && block && "json" in block) {
            block.json += delta.toolUse.input;
          }
        } else if (event.messageStop) {
          stopReason = event.messageStop.stopReason;
        }
      }
    } catch (error) {
      throw this.failure(error, "converse stream");
    }
    const content: ContentBlock[] = [...blocks.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, block]) =>
        "text" in block
          ? { type: "text" as const, text: block.text }
          : { type: "tool_use" as const, id: block.id, name: block.name, input: parseToolInput(block.json) },
      );
    return { message: { role: "assistant", content }, stopReason: stopReasonOf(stopReason) };
  }

  private failure(error: unknown, operation: string): AppError {
    if (error instanceof AppError) return error;
    const name = errorName(error);
    if (isTransient(error) || UNAVAILABLE.has(name)) {
      this.logger.warn(`bedrock ${operation} failed`, { model: this.modelId, error: name });
      return new AppError("model_unavailable", MODEL_UNAVAILABLE_MESSAGE, {
        retryable: true,
        cause: error,
        detail: name,
      });
    }
    return new AppError("internal", "Something went wrong on our side. Please try again.", {
      cause: error,
      detail: `${operation}: ${name}`,
    });
  }
}

/** The failures ConverseStream reports inside the stream, and the SDK error names they stand for. */
const STREAM_FAILURES = [
  ["throttlingException", "ThrottlingException"],
  ["serviceUnavailableException", "ServiceUnavailableException"],
  ["internalServerException", "InternalServerException"],
  ["modelStreamErrorException", "ModelStreamErrorException"],
  ["validationException", "ValidationException"],
] as const;

/** ConverseStream reports failures after the response started as events in the stream; raise them. */
function streamFailure(event: ConverseStreamOutput): void {
  for (const [member, name] of STREAM_FAILURES) {
    const failure = event[member];
    if (failure) throw Object.assign(new Error(failure.message ?? name), { name });
  }
}

/** A streamed tool call's input, sent as JSON text in pieces; an empty or broken one becomes `{}`. */
function parseToolInput(json: string): unknown {
  if (!json.trim()) return {};
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return {};
  }
}

function stopReasonOf(reason: string | undefined): ChatResponse["stopReason"] {
  if (reason === "end_turn" || reason === "stop_sequence") return "end_turn";
  if (reason === "tool_use") return "tool_use";
  if (reason === "max_tokens") return "max_tokens";
  return "other";
}

/** Builds the Converse request; exported for tests that check it against the documented shape. */
export function toConverseInput(request: ChatRequest, options: BedrockChatModelOptions): ConverseCommandInput {
  const tools = request.tools;
  // Converse rejects toolUse/toolResult blocks unless toolConfig is present, and has no "no tools"
  // choice; on a turn without tools, earlier tool turns are therefore replayed as plain text.
  const messages = mergeRoles(request.messages.map((m) => toBedrockMessage(m, tools.length > 0)));
  return {
    modelId: options.modelId,
    ...(request.system.trim() ? { system: [{ text: request.system }] } : {}),
    messages,
    ...(tools.length > 0
      ? {
          toolConfig: {
            tools: tools.map((t) => ({
              toolSpec: { name: t.name, description: t.description, inputSchema: { json: t.inputSchema as never } },
            })),
          },
        }
      : {}),
    inferenceConfig: {
      maxTokens: request.maxTokens ?? options.maxTokens ?? 1024,
      temperature: options.temperature ?? 0.2,
    },
  };
}

function toBedrockMessage(message: ChatMessage, toolsAllowed: boolean): BedrockMessage {
  const content: BedrockBlock[] = [];
  for (const block of message.content) {
    if (block.type === "text") {
      if (block.text.trim()) content.push({ text: block.text });
    } else if (block.type === "tool_use") {
      content.push(
        toolsAllowed
          ? { toolUse: { toolUseId: block.id, name: block.name, input: (block.input ?? {}) as never } }
          : { text: `(searched the documents: ${JSON.stringify(block.input)})` },
      );
    } else if (toolsAllowed) {
      content.push({
        toolResult: {
          toolUseId: block.toolUseId,
          content: [
            typeof block.content === "string"
              ? { text: block.content }
              : { json: asJsonObject(block.content) as never },
          ],
          status: block.isError ? "error" : "success",
        },
      });
    } else {
      content.push({
        text: `Search results:\n${typeof block.content === "string" ? block.content : JSON.stringify(block.content)}`,
      });
    }
  }
  return { role: message.role, content };
}

/** Converse's `json` must be a JSON object (a Smithy document); wrap anything else. */
function asJsonObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : { value };
}

/** Converse requires alternating roles and non-empty content: merge neighbours, drop empties. */
function mergeRoles(messages: BedrockMessage[]): BedrockMessage[] {
  const out: BedrockMessage[] = [];
  for (const m of messages) {
    if (!m.content?.length) continue;
    if (out.length === 0 && m.role === "assistant") continue; // a conversation must open with the user
    const last = out.at(-1);
    if (last && last.role === m.role) last.content = [...(last.content ?? []), ...m.content];
    else out.push({ role: m.role, content: [...m.content] });
  }
  return out;
}
