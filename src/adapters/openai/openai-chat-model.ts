import { randomBytes } from "node:crypto";
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, type OpenAI } from "openai";
import type {
  ChatCompletionAssistantMessageParam,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from "openai/resources/chat/completions";
import { z } from "zod";
import { AppError } from "../../domain/errors.js";
import type { ChatModel, ChatRequest, ChatResponse, ContentBlock, TextSink } from "../../ports/chat-model.js";
import type { Logger } from "../../ports/logger.js";
import { NO_API_KEY } from "./openai-client.js";

export interface OpenAiChatModelOptions {
  /** The model name the server knows (`llama3.1`, `gpt-4o-mini`). */
  model: string;
  maxTokens?: number;
  temperature?: number;
  /** False (OPENAI_TOOLS=false): never offer tools; the agent loop retrieves first. */
  tools: boolean;
}

export const modelUnavailableMessage = (reason: string) =>
  `The language model is unavailable right now (${reason}). Please try again in a few minutes.`;

const TOOLS_UNSUPPORTED_MESSAGE = "The language model cannot search the documents itself; answering without tools.";

const toolCallSchema = z.object({
  id: z.string().nullish(),
  function: z.object({
    name: z.string().min(1),
    // JSON text per the API; some servers send the object itself.
    arguments: z.union([z.string(), z.record(z.string(), z.unknown())]).nullish(),
  }),
});

const completionSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullish(), tool_calls: z.array(toolCallSchema).nullish() }),
        finish_reason: z.string().nullish(),
      }),
    )
    .min(1),
});

const chunkSchema = z.object({
  choices: z
    .array(
      z.object({
        index: z.number().int().nullish(),
        delta: z
          .object({
            content: z.string().nullish(),
            tool_calls: z
              .array(
                z.object({
                  index: z.number().int().min(0).nullish(),
                  id: z.string().nullish(),
                  function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
                }),
              )
              .nullish(),
          })
          .nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .nullish(),
});

/**
 * How servers say they cannot do tools, each in its own words: Ollama "... does not support tools", vLLM
 * "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set", llama.cpp
 * "tools param requires --jinja flag". The message must mention tools AND refuse them: a validation
 * error about tool messages ("must be followed by tool messages") is our bug, not a missing feature.
 */
const TOOLS_MENTIONED = /\btools?\b|tool[_ -]?choice|tool[_ -]?call|function[_ -]?call/i;
const REFUSAL = /support|requires?\b|enable|flag|jinja|parser|not allowed|not available/i;
const refusesTools = (message: string) => TOOLS_MENTIONED.test(message) && REFUSAL.test(message);
/** How servers say the prompt does not fit the model's context window. */
const CONTEXT_TOO_LONG = /context length|context window|maximum context|too many tokens|prompt is too long/i;

interface PendingCall {
  id: string;
  name: string;
  args: string | Record<string, unknown>;
}

/**
 * Any server speaking the OpenAI Chat Completions API: OpenAI, Ollama, vLLM, llama.cpp, LM Studio.
 * Maps the provider-neutral conversation to Chat Completions messages (`system`, `tool_calls` with JSON
 * text arguments, `role: "tool"` results) and back. Timeouts and retries are the client's own; when the
 * server stays unavailable this throws `model_unavailable`. A server that refuses tools is remembered
 * (`toolUse` turns false) and reported as `tools_unsupported`, which the agent loop answers by
 * retrieving first.
 */
export class OpenAiChatModel implements ChatModel {
  readonly generative = true;
  readonly modelId: string;
  private toolsRefused = false;

  constructor(
    private readonly client: OpenAI,
    private readonly options: OpenAiChatModelOptions,
    private readonly logger: Logger,
  ) {
    this.modelId = options.model;
  }

  get toolUse(): boolean {
    return this.options.tools && !this.toolsRefused;
  }

  async converse(request: ChatRequest): Promise<ChatResponse> {
    const withTools = this.offersTools(request);
    let raw: unknown;
    try {
      raw = await this.client.chat.completions.create(this.body(request, withTools));
    } catch (error) {
      throw this.failure(error, withTools, "chat completion");
    }
    const parsed = completionSchema.safeParse(raw);
    const choice = parsed.data?.choices[0];
    if (!choice) throw unexpected("unexpected chat completion response");
    const calls = (choice.message.tool_calls ?? []).map((call) => ({
      id: call.id || newCallId(),
      name: call.function.name,
      args: call.function.arguments ?? "",
    }));
    return toResponse(choice.message.content ?? "", calls, choice.finish_reason);
  }

  /**
   * The same request with `stream: true`: text deltas go to `onText` as they arrive; a tool call comes
   * in pieces keyed by `index` (id and name in the first, the arguments as JSON text pieces after). The
   * client's timeout covers only the wait for the response to start, so a stream that falls silent for
   * that long is ended here.
   */
  async converseStream(request: ChatRequest, onText: TextSink): Promise<ChatResponse> {
    const withTools = this.offersTools(request);
    let text = "";
    const calls = new Map<number, PendingCall>();
    let finish: string | null | undefined;
    let stalled = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const stream = await this.client.chat.completions.create({ ...this.body(request, withTools), stream: true });
      const watch = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          stalled = true;
          stream.controller.abort();
        }, this.client.timeout);
      };
      watch();
      for await (const raw of stream) {
        watch();
        const chunk = chunkSchema.safeParse(raw);
        if (!chunk.success) throw unexpected("unexpected chat completion chunk");
        for (const choice of chunk.data.choices ?? []) {
          if (choice.index) continue; // only the first choice is asked for
          if (choice.finish_reason) finish = choice.finish_reason;
          const piece = choice.delta?.content;
          if (piece) {
            text += piece;
            onText(piece);
          }
          for (const part of choice.delta?.tool_calls ?? []) {
            const key = part.index ?? callKey(calls, part.id);
            const call = calls.get(key) ?? { id: "", name: "", args: "" };
            if (!call.id && part.id) call.id = part.id;
            if (!call.name && part.function?.name) call.name = part.function.name;
            if (part.function?.arguments) call.args = `${call.args as string}${part.function.arguments}`;
            calls.set(key, call);
          }
        }
      }
    } catch (error) {
      throw stalled ? this.stalled(error) : this.failure(error, withTools, "chat completion stream");
    } finally {
      clearTimeout(timer);
    }
    // An aborted stream may also just end: what came so far is not the whole reply.
    if (stalled) throw this.stalled(undefined);
    const complete = [...calls.entries()]
      .sort(([a], [b]) => a - b)
      .flatMap(([, call]) => (call.name ? [{ ...call, id: call.id || newCallId() }] : []));
    return toResponse(text, complete, finish);
  }

  private offersTools(request: ChatRequest): boolean {
    return request.tools.length > 0 && this.toolUse;
  }

  private body(request: ChatRequest, withTools: boolean): ChatCompletionCreateParamsNonStreaming {
    return {
      model: this.modelId,
      messages: toOpenAiMessages(request, withTools),
      ...(withTools ? { tools: request.tools.map(toOpenAiTool) } : {}),
      max_tokens: request.maxTokens ?? this.options.maxTokens ?? 1024,
      temperature: this.options.temperature ?? 0.2,
    };
  }

  private failure(error: unknown, withTools: boolean, operation: string): AppError {
    if (error instanceof AppError) return error;
    if (!(error instanceof APIError)) {
      return new AppError("internal", "Something went wrong on our side. Please try again.", {
        cause: error,
        detail: `openai ${operation}: ${error instanceof Error ? error.name : typeof error}`,
      });
    }
    const detail = this.describe(error, operation);
    const { status } = error;
    // The model's own name may contain "tool"; only the server's words count.
    const wording = error.message.replaceAll(this.modelId, "");
    if (
      withTools &&
      status !== undefined &&
      ![401, 403, 408, 409, 429].includes(status) &&
      status < 502 &&
      refusesTools(wording)
    ) {
      if (!this.toolsRefused) {
        this.toolsRefused = true;
        this.logger.warn("the model server refused tools: answering without tool calls from now on", {
          model: this.modelId,
          detail,
        });
      }
      return new AppError("tools_unsupported", TOOLS_UNSUPPORTED_MESSAGE, { cause: error, detail });
    }
    if (error instanceof APIConnectionTimeoutError)
      return this.unavailable(error, "the model server did not answer in time", detail, true);
    if (error instanceof APIUserAbortError)
      return this.unavailable(error, "the request to the model server was cancelled", detail, true);
    if (error instanceof APIConnectionError)
      return this.unavailable(error, "the model server could not be reached", detail, true);
    if (status === undefined) return this.unavailable(error, "the model server reported an error", detail, true);
    if (status === 429) {
      const quota = error.code === "insufficient_quota";
      return this.unavailable(
        error,
        quota ? "the model account has no quota left" : "the model server is busy",
        detail,
        true,
      );
    }
    if (status === 401) return this.unavailable(error, "the model server did not accept the API key", detail, true);
    if (status === 403) return this.unavailable(error, "the model server denied access to the model", detail, true);
    if (status === 404) return this.unavailable(error, "the model server does not know the model", detail, true);
    if (status === 408 || status >= 500)
      return this.unavailable(error, `the model server failed with HTTP ${status}`, detail, true);
    if (CONTEXT_TOO_LONG.test(wording))
      return this.unavailable(error, "the question and its passages are too long for the model", detail, false);
    // Anything else means the server refused what we sent: worth an error line, though the user still
    // gets the "unavailable" answer rather than an error.
    this.logger.error("the model server refused a request", { model: this.modelId, detail });
    return new AppError("model_unavailable", modelUnavailableMessage(`the model server refused the request`), {
      cause: error,
      detail,
    });
  }

  private stalled(error: unknown): AppError {
    const detail = `openai chat completion stream: nothing received for ${this.client.timeout} ms`;
    return this.unavailable(error, "the model server stopped answering", detail, true);
  }

  private unavailable(error: unknown, reason: string, detail: string, retryable: boolean): AppError {
    this.logger.warn("the model server cannot answer", { model: this.modelId, reason, detail });
    return new AppError("model_unavailable", modelUnavailableMessage(reason), { retryable, cause: error, detail });
  }

  /** Log detail: kind, status, the server's words (shortened: they may echo the request); never the key. */
  private describe(error: APIError, operation: string): string {
    const parts = [`openai ${operation}`, error.constructor.name, error.status, error.code, error.message]
      .filter((p) => p !== undefined && p !== null && p !== "")
      .join(" ");
    const key = this.client.apiKey;
    const safe = key && key !== NO_API_KEY && key.length >= 4 ? parts.replaceAll(key, "[redacted]") : parts;
    return safe.length > 300 ? `${safe.slice(0, 299)}…` : safe;
  }
}

/** Where a streamed tool-call piece without `index` belongs: a new call when its id is new. */
function callKey(calls: Map<number, PendingCall>, id: string | null | undefined): number {
  if (calls.size === 0) return 0;
  const last = Math.max(...calls.keys());
  return id && calls.get(last)?.id && calls.get(last)?.id !== id ? last + 1 : last;
}

function toResponse(
  text: string,
  calls: { id: string; name: string; args: string | Record<string, unknown> }[],
  finish: string | null | undefined,
): ChatResponse {
  const content: ContentBlock[] = [];
  if (text) content.push({ type: "text", text });
  for (const call of calls)
    content.push({ type: "tool_use", id: call.id, name: call.name, input: parseArguments(call.args) });
  // Some servers end a tool-calling turn with finish_reason "stop": the calls themselves decide.
  const stopReason = calls.length > 0 ? "tool_use" : stopReasonOf(finish);
  return { message: { role: "assistant", content }, stopReason };
}

function stopReasonOf(reason: string | null | undefined): ChatResponse["stopReason"] {
  if (reason === "stop") return "end_turn";
  if (reason === "tool_calls" || reason === "function_call") return "tool_use";
  if (reason === "length") return "max_tokens";
  return "other";
}

/** A tool call's arguments, JSON text per the API; empty or broken JSON becomes `{}`. */
function parseArguments(args: string | Record<string, unknown>): unknown {
  if (typeof args !== "string") return args;
  if (!args.trim()) return {};
  try {
    return JSON.parse(args) as unknown;
  } catch {
    return {};
  }
}

const newCallId = () => `call_${randomBytes(12).toString("hex")}`;

const toOpenAiTool = (tool: ChatRequest["tools"][number]): ChatCompletionTool => ({
  type: "function",
  function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
});

const asText = (content: unknown): string => (typeof content === "string" ? content : JSON.stringify(content));

/** Builds the Chat Completions messages; exported for tests that check them against the documented shape. */
export function toOpenAiMessages(request: ChatRequest, toolsAllowed: boolean): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  if (request.system.trim()) out.push({ role: "system", content: request.system });
  for (const message of request.messages) {
    const texts: string[] = [];
    const calls: NonNullable<ChatCompletionAssistantMessageParam["tool_calls"]> = [];
    const results: ChatCompletionMessageParam[] = [];
    for (const block of message.content) {
      if (block.type === "text") {
        if (block.text.trim()) texts.push(block.text);
      } else if (block.type === "tool_use") {
        if (toolsAllowed)
          calls.push({
            id: block.id,
            type: "function",
            function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
          });
        // Servers reject tool messages in a request without tools: earlier tool turns become text.
        else texts.push(`(searched the documents: ${JSON.stringify(block.input)})`);
      } else if (toolsAllowed) {
        results.push({ role: "tool", tool_call_id: block.toolUseId, content: asText(block.content) });
      } else {
        texts.push(`Search results:\n${asText(block.content)}`);
      }
    }
    if (message.role === "assistant") {
      if (texts.length > 0 || calls.length > 0)
        append(out, {
          role: "assistant",
          content: texts.length > 0 ? texts.join("\n\n") : null,
          ...(calls.length > 0 ? { tool_calls: calls } : {}),
        });
    } else {
      // Tool results answer the assistant turn just before; the user's own words follow them.
      out.push(...results);
      if (texts.length > 0) append(out, { role: "user", content: texts.join("\n\n") });
    }
  }
  return out;
}

/**
 * Many chat templates (Mistral, Gemma, Llama on llama.cpp) insist that user and assistant alternate and
 * that the user speaks first: neighbours of one role are merged, and a leading assistant turn dropped.
 */
function append(out: ChatCompletionMessageParam[], message: ChatCompletionMessageParam): void {
  if (message.role === "assistant" && !out.some((m) => m.role === "user")) return;
  const last = out.at(-1);
  if (last?.role === "user" && message.role === "user") {
    last.content = [last.content, message.content].join("\n\n");
  } else if (last?.role === "assistant" && message.role === "assistant" && !last.tool_calls) {
    last.content = [last.content, message.content].filter(Boolean).join("\n\n") || null;
    if (message.tool_calls) last.tool_calls = message.tool_calls;
  } else {
    out.push(message);
  }
}

function unexpected(detail: string): AppError {
  return new AppError("model_unavailable", modelUnavailableMessage("the model server sent an unexpected answer"), {
    retryable: true,
    detail,
  });
}
