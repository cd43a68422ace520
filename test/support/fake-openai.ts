import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { bestSentence } from "./scripted-answer.js";

const textPart = z.object({ type: z.literal("text"), text: z.string() }).strict();
const textContent = z.union([z.string(), z.array(textPart).min(1)]);
const toolCall = z
  .object({
    id: z.string().min(1),
    type: z.literal("function"),
    function: z.object({ name: z.string().min(1), arguments: z.string() }).strict(),
  })
  .strict();

/** The documented Chat Completions request (the parts an OpenAI-compatible server accepts), strictly. */
export const chatCompletionRequest = z
  .object({
    model: z.string().min(1),
    messages: z
      .array(
        z.discriminatedUnion("role", [
          z.object({ role: z.literal("system"), content: textContent, name: z.string().optional() }).strict(),
          z.object({ role: z.literal("developer"), content: textContent, name: z.string().optional() }).strict(),
          z.object({ role: z.literal("user"), content: textContent, name: z.string().optional() }).strict(),
          z
            .object({
              role: z.literal("assistant"),
              content: textContent.nullish(),
              tool_calls: z.array(toolCall).min(1).optional(),
              name: z.string().optional(),
              refusal: z.string().nullish(),
            })
            .strict(),
          z.object({ role: z.literal("tool"), content: textContent, tool_call_id: z.string().min(1) }).strict(),
        ]),
      )
      .min(1),
    tools: z
      .array(
        z
          .object({
            type: z.literal("function"),
            function: z
              .object({
                name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
                description: z.string().optional(),
                parameters: z.record(z.string(), z.unknown()).optional(),
                strict: z.boolean().nullish(),
              })
              .strict(),
          })
          .strict(),
      )
      .min(1)
      .optional(),
    tool_choice: z.unknown().optional(),
    parallel_tool_calls: z.boolean().optional(),
    max_tokens: z.number().int().positive().optional(),
    max_completion_tokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().optional(),
    stop: z.union([z.string(), z.array(z.string())]).optional(),
    stream: z.boolean().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).optional(),
    user: z.string().optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    const problem = (message: string) => ctx.addIssue({ code: "custom", message });
    body.messages.forEach((m, i) => {
      if (m.role === "assistant" && !m.content && !m.tool_calls)
        problem(`message ${i}: an assistant message needs content or tool_calls`);
      if (m.role === "assistant" && m.tool_calls) {
        // OpenAI: "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'."
        const answered = new Set<string>();
        for (let j = i + 1; j < body.messages.length; j++) {
          const next = body.messages[j];
          if (next?.role !== "tool") break;
          answered.add(next.tool_call_id);
        }
        for (const call of m.tool_calls)
          if (!answered.has(call.id)) problem(`message ${i}: tool call ${call.id} has no tool message`);
      }
      if (m.role === "tool") {
        // OpenAI: "messages with role 'tool' must be a response to a preceding message with 'tool_calls'."
        let j = i - 1;
        while (body.messages[j]?.role === "tool") j--;
        const previous = body.messages[j];
        const ids = previous?.role === "assistant" ? (previous.tool_calls ?? []).map((c) => c.id) : [];
        if (!ids.includes(m.tool_call_id)) problem(`message ${i}: tool message answers no preceding tool call`);
      }
      // Stricter than OpenAI, like several local servers: tool turns are refused in a request without tools.
      if (!body.tools && (m.role === "tool" || (m.role === "assistant" && m.tool_calls)))
        problem(`message ${i}: tool messages need tools`);
    });
  });

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;

const passagesSchema = z.object({
  passages: z.array(z.object({ n: z.number(), title: z.string(), page: z.number(), text: z.string() })),
});

interface Passage {
  n: number;
  text: string;
}

export interface ScriptedReply {
  content: string | null;
  toolCalls: { id: string; name: string; arguments: string }[];
}

const textOf = (content: z.infer<typeof textContent> | null | undefined): string =>
  typeof content === "string" ? content : (content ?? []).map((p) => p.text).join("");

/** The retrieve-first prompt: `<passage n=.. title=.. page=..>text</passage>` blocks, then "Question: ...". */
function quotedPassages(text: string): { passages: Passage[]; question: string } | undefined {
  const passages = [...text.matchAll(/<passage n="(\d+)"[^>]*>\n?([\s\S]*?)\n?<\/passage>/g)].map((m) => ({
    n: Number(m[1]),
    text: m[2] ?? "",
  }));
  const question = /\nQuestion: ([\s\S]*)$/.exec(text)?.[1]?.trim();
  return passages.length > 0 && question ? { passages, question } : undefined;
}

/**
 * A scripted model behind Chat Completions, like `scriptedConverse` in fake-bedrock.ts: with tools
 * offered and no tool result yet, it calls `search_documents` with the user's question; after tool
 * results it answers with the passage sentence sharing most terms with the question, cited [n]; with
 * passages quoted in the user's turn (retrieve-first) it answers the same way from those.
 */
export function scriptedCompletion(body: ChatCompletionRequest): ScriptedReply {
  const last = body.messages.at(-1);
  const userTexts = body.messages.flatMap((m) => (m.role === "user" ? [textOf(m.content)] : []));
  const question = userTexts.at(-1) ?? "";
  if (last?.role === "tool") {
    const passages: Passage[] = [];
    for (let i = body.messages.length - 1; body.messages[i]?.role === "tool"; i--) {
      const message = body.messages[i];
      if (message?.role !== "tool") break;
      try {
        passages.push(...(passagesSchema.safeParse(JSON.parse(textOf(message.content))).data?.passages ?? []));
      } catch {
        // not JSON: no passages
      }
    }
    return { content: bestSentence(question, passages), toolCalls: [] };
  }
  if (body.tools?.some((t) => t.function.name === "search_documents")) {
    return {
      content: null,
      toolCalls: [
        {
          id: `call_${randomBytes(8).toString("hex")}`,
          name: "search_documents",
          arguments: JSON.stringify({ query: question }),
        },
      ],
    };
  }
  const quoted = last?.role === "user" ? quotedPassages(textOf(last.content)) : undefined;
  if (quoted) return { content: bestSentence(quoted.question, quoted.passages), toolCalls: [] };
  return { content: "The documents do not cover that.", toolCalls: [] };
}

export interface FakeOpenAiOptions {
  /** The model the server serves (GET /v1/models); any model name is accepted in requests. */
  model?: string;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`; a wrong key is echoed in the 401, as some servers do. */
  apiKey?: string;
  /** Another model's behaviour: its reply to each valid request, instead of `scriptedCompletion`'s. */
  script?: (body: ChatCompletionRequest) => ScriptedReply;
}

export interface FakeOpenAi {
  /** Ends with /v1. */
  baseUrl: string;
  /** Every POST /v1/chat/completions body, parsed as JSON, in order (refused and unanswered ones included). */
  calls: unknown[];
  /** The next `times` chat completion requests answer `status` (with Retry-After seconds, and the error message, when given). */
  failNext(status: number, times: number, options?: { retryAfter?: number; message?: string }): void;
  /** Answers 503 to everything until `up()`. */
  down(): void;
  /** Back to normal: not down, not hanging. */
  up(): void;
  /** Accepts requests and never answers them until `up()` (a server that hangs). */
  hang(): void;
  /** Like Ollama with a model without tool support: 400 whenever `tools` is present. */
  noTools(): void;
  close(): Promise<void>;
}

const errorBody = (message: string, type: string, code: string | null = null) =>
  JSON.stringify({ error: { message, type, param: null, code } });

/** An OpenAI-compatible server on 127.0.0.1 with a scripted model; see `scriptedCompletion`. */
export async function startFakeOpenAi(options: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  const served = options.model ?? "tiny";
  const calls: unknown[] = [];
  let failures: { status: number; remaining: number; retryAfter?: number; message?: string } | undefined;
  let isDown = false;
  let hanging = false;
  let toolsRefused = false;

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://fake");
    const completion = req.method === "POST" && url.pathname === "/v1/chat/completions";
    let json: unknown;
    let unparsable = false;
    if (completion) {
      const raw = Buffer.concat(chunks).toString("utf8");
      try {
        json = JSON.parse(raw);
      } catch {
        json = raw;
        unparsable = true;
      }
      calls.push(json);
    }
    if (hanging) return;
    if (isDown) return send(res, 503, errorBody("The server is overloaded or not ready yet.", "server_error"));
    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      const given = (req.headers.authorization ?? "").replace(/^Bearer /, "");
      return send(
        res,
        401,
        errorBody(`Incorrect API key provided: ${given}.`, "invalid_request_error", "invalid_api_key"),
      );
    }
    if (req.method === "GET" && url.pathname === "/v1/models") {
      return send(
        res,
        200,
        JSON.stringify({
          object: "list",
          data: [{ id: served, object: "model", created: 1700000000, owned_by: "fake" }],
        }),
      );
    }
    if (!completion)
      return send(res, 404, errorBody(`Unknown request URL: ${req.method} ${url.pathname}.`, "invalid_request_error"));
    if (unparsable)
      return send(res, 400, errorBody("We could not parse the JSON body of your request.", "invalid_request_error"));
    if (failures && failures.remaining > 0) {
      failures.remaining--;
      const headers: Record<string, string> =
        failures.retryAfter === undefined ? {} : { "retry-after": String(failures.retryAfter) };
      const type =
        failures.status === 429
          ? "rate_limit_error"
          : failures.status >= 500
            ? "server_error"
            : "invalid_request_error";
      return send(
        res,
        failures.status,
        errorBody(failures.message ?? `Injected failure ${failures.status}.`, type),
        headers,
      );
    }
    const parsed = chatCompletionRequest.safeParse(json);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
      return send(res, 400, errorBody(`Invalid request: ${message}`, "invalid_request_error"));
    }
    const body = parsed.data;
    if (toolsRefused && body.tools) {
      return send(
        res,
        400,
        JSON.stringify({
          error: { message: `registry.ollama.ai/library/${served}:latest does not support tools`, type: "api_error" },
        }),
      );
    }
    const reply = (options.script ?? scriptedCompletion)(body);
    const id = `chatcmpl-${randomBytes(6).toString("hex")}`;
    const created = Math.floor(Date.now() / 1000);
    const finish = reply.toolCalls.length > 0 ? "tool_calls" : "stop";
    if (!body.stream) {
      return send(
        res,
        200,
        JSON.stringify({
          id,
          object: "chat.completion",
          created,
          model: body.model,
          choices: [
            {
              index: 0,
              message: {
                role: "assistant",
                content: reply.content,
                refusal: null,
                ...(reply.toolCalls.length > 0
                  ? {
                      tool_calls: reply.toolCalls.map((c) => ({
                        id: c.id,
                        type: "function",
                        function: { name: c.name, arguments: c.arguments },
                      })),
                    }
                  : {}),
              },
              logprobs: null,
              finish_reason: finish,
            },
          ],
          usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
        }),
      );
    }
    // Server-sent events exactly as OpenAI streams them: role first, text in small pieces, a tool call
    // as index/id/name then its arguments in pieces, an empty delta with finish_reason, then [DONE].
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const event = (delta: Record<string, unknown>, finishReason: string | null = null) =>
      res.write(
        `data: ${JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created,
          model: body.model,
          system_fingerprint: "fp_fake",
          choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        })}\n\n`,
      );
    event({ role: "assistant", content: reply.toolCalls.length > 0 ? null : "", refusal: null });
    for (const piece of (reply.content ?? "").split(/(?<= )/)) if (piece) event({ content: piece });
    reply.toolCalls.forEach((call, index) => {
      event({ tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] });
      const third = Math.ceil(call.arguments.length / 3);
      for (let at = 0; at < call.arguments.length; at += third)
        event({ tool_calls: [{ index, function: { arguments: call.arguments.slice(at, at + third) } }] });
    });
    event({}, finish);
    res.end("data: [DONE]\n\n");
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, errorBody(String(error), "server_error"));
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    calls,
    failNext(status, times, failOptions = {}) {
      failures = {
        status,
        remaining: times,
        ...(failOptions.retryAfter === undefined ? {} : { retryAfter: failOptions.retryAfter }),
        ...(failOptions.message === undefined ? {} : { message: failOptions.message }),
      };
    },
    down() {
      isDown = true;
    },
    up() {
      isDown = false;
      hanging = false;
    },
    hang() {
      hanging = true;
    },
    noTools() {
      toolsRefused = true;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
