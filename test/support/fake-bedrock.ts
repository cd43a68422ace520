import { randomBytes } from "node:crypto";
import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandInput,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  InvokeModelCommand,
} from "@aws-sdk/client-bedrock-runtime";
import { mockClient } from "aws-sdk-client-mock";
import { z } from "zod";
import { queryTerms } from "../../src/domain/terms.js";
import { bestSentence } from "./scripted-answer.js";

/**
 * A deterministic stand-in for Titan Text Embeddings v2: hashed bag of stemmed terms, L2-normalised, so
 * texts sharing meaningful words are close and cosine similarity behaves like a (crude) embedding.
 */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  const v = new Array<number>(dimensions).fill(0);
  for (const term of queryTerms(text)) {
    let h = 2166136261;
    for (let i = 0; i < term.length; i++) h = Math.imul(h ^ term.charCodeAt(i), 16777619) >>> 0;
    v[h % dimensions] = (v[h % dimensions] ?? 0) + (h & 0x80000000 ? -1 : 1);
  }
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  if (norm === 0) {
    v[0] = 1e-3;
    return v;
  }
  return v.map((x) => x / norm);
}

/** The documented Titan Text Embeddings v2 InvokeModel request body. */
export const titanV2Request = z
  .object({
    inputText: z.string().min(1).max(50_000),
    dimensions: z.union([z.literal(256), z.literal(512), z.literal(1024)]),
    normalize: z.boolean(),
    embeddingTypes: z.array(z.enum(["float", "binary"])).optional(),
  })
  .strict();

const jsonObject = z.record(z.string(), z.unknown());
const textBlock = z.object({ text: z.string().min(1) }).strict();
const toolUseBlock = z
  .object({ toolUse: z.object({ toolUseId: z.string().min(1), name: z.string().min(1), input: jsonObject }).strict() })
  .strict();
const toolResultBlock = z
  .object({
    toolResult: z
      .object({
        toolUseId: z.string().min(1),
        content: z.array(z.union([z.object({ json: jsonObject }).strict(), textBlock])).min(1),
        status: z.enum(["success", "error"]).optional(),
      })
      .strict(),
  })
  .strict();

/** The documented Converse request shape, plus the rules Bedrock enforces on a conversation. */
export const converseRequest = z
  .object({
    modelId: z.string().min(1),
    system: z.array(textBlock).optional(),
    messages: z
      .array(
        z
          .object({
            role: z.enum(["user", "assistant"]),
            content: z.array(z.union([textBlock, toolUseBlock, toolResultBlock])).min(1),
          })
          .strict(),
      )
      .min(1),
    toolConfig: z
      .object({
        tools: z
          .array(
            z
              .object({
                toolSpec: z
                  .object({
                    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
                    description: z.string().min(1),
                    inputSchema: z.object({ json: jsonObject }).strict(),
                  })
                  .strict(),
              })
              .strict(),
          )
          .min(1),
        toolChoice: z.unknown().optional(),
      })
      .strict()
      .optional(),
    inferenceConfig: z
      .object({
        maxTokens: z.number().int().positive().optional(),
        temperature: z.number().min(0).max(1).optional(),
        topP: z.number().optional(),
        stopSequences: z.array(z.string()).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    const problem = (message: string) => ctx.addIssue({ code: "custom", message });
    if (input.messages[0]?.role !== "user") problem("the first message must be from the user");
    input.messages.forEach((m, i) => {
      if (i > 0 && input.messages[i - 1]?.role === m.role) problem(`messages ${i - 1} and ${i} have the same role`);
      for (const block of m.content) {
        if ("toolUse" in block && m.role !== "assistant") problem("toolUse outside an assistant message");
        if ("toolResult" in block) {
          if (m.role !== "user") problem("toolResult outside a user message");
          const previous = input.messages[i - 1];
          const ids = (previous?.content ?? []).flatMap((b) => ("toolUse" in b ? [b.toolUse.toolUseId] : []));
          if (!ids.includes(block.toolResult.toolUseId))
            problem("toolResult does not answer a toolUse of the previous message");
        }
        if (("toolUse" in block || "toolResult" in block) && !input.toolConfig)
          problem("toolUse/toolResult blocks need toolConfig");
      }
    });
  });

const passagesSchema = z.object({
  passages: z.array(z.object({ n: z.number(), title: z.string(), page: z.number(), text: z.string() })),
});

/**
 * A scripted model behind Converse: asks `search_documents` with the user's question, then answers
 * with the passage sentence sharing most terms with the question, cited [n]; says the documents do not
 * cover it when no passage came back.
 */
export function scriptedConverse(input: ConverseCommandInput) {
  const request = converseRequest.parse(input);
  const last = request.messages.at(-1);
  const results = (last?.content ?? []).flatMap((b) => ("toolResult" in b ? [b.toolResult] : []));
  const answer = (text: string) => ({
    output: { message: { role: "assistant" as const, content: [{ text }] } },
    stopReason: "end_turn" as const,
    usage: { inputTokens: 100, outputTokens: 20, totalTokens: 120 },
    metrics: { latencyMs: 5 },
  });
  const question = request.messages
    .flatMap((m) => (m.role === "user" ? m.content.flatMap((b) => ("text" in b ? [b.text] : [])) : []))
    .at(-1);
  if (results.length > 0) {
    const passages = results.flatMap((r) =>
      r.content.flatMap((c) => ("json" in c ? (passagesSchema.safeParse(c.json).data?.passages ?? []) : [])),
    );
    return answer(bestSentence(question ?? "", passages));
  }
  if (request.toolConfig?.tools.some((t) => t.toolSpec.name === "search_documents")) {
    return {
      output: {
        message: {
          role: "assistant" as const,
          content: [
            { text: "Let me search the documents." },
            {
              toolUse: {
                toolUseId: `tooluse_${randomBytes(8).toString("hex")}`,
                name: "search_documents",
                input: { query: question ?? "" },
              },
            },
          ],
        },
      },
      stopReason: "tool_use" as const,
      usage: { inputTokens: 80, outputTokens: 15, totalTokens: 95 },
      metrics: { latencyMs: 5 },
    };
  }
  return answer("The documents do not cover that.");
}

/**
 * The scripted model behind ConverseStream: the same reply as `scriptedConverse`, as Bedrock streams it
 * (messageStart, per block contentBlockStart/Delta/Stop with text in word-sized pieces and a tool call's
 * input as JSON text in two pieces, messageStop, metadata).
 */
export function scriptedConverseStream(input: ConverseCommandInput): { stream: AsyncIterable<ConverseStreamOutput> } {
  const reply = scriptedConverse(input);
  const events: ConverseStreamOutput[] = [{ messageStart: { role: "assistant" } }];
  reply.output.message.content.forEach((block, contentBlockIndex) => {
    if ("toolUse" in block && block.toolUse) {
      const { toolUseId, name, input: toolInput } = block.toolUse;
      const json = JSON.stringify(toolInput);
      const half = Math.floor(json.length / 2);
      events.push({ contentBlockStart: { contentBlockIndex, start: { toolUse: { toolUseId, name } } } });
      for (const piece of [json.slice(0, half), json.slice(half)])
        events.push({ contentBlockDelta: { contentBlockIndex, delta: { toolUse: { input: piece } } } });
    } else if ("text" in block) {
      for (const piece of block.text.split(/(?<= )/))
        events.push({ contentBlockDelta: { contentBlockIndex, delta: { text: piece } } });
    }
    events.push({ contentBlockStop: { contentBlockIndex } });
  });
  events.push({ messageStop: { stopReason: reply.stopReason } });
  events.push({ metadata: { usage: reply.usage, metrics: reply.metrics } });
  return {
    stream: (async function* () {
      for (const event of events) yield event;
    })(),
  };
}

export interface BedrockMockOptions {
  dimensions: number;
}

/**
 * Replaces every BedrockRuntimeClient's `send` (aws-sdk-client-mock): Titan v2 InvokeModel returns
 * fake embeddings and Converse runs the scripted model; both check request bodies against the documented
 * shapes and fail loudly on anything else. The mock replaces `send`, so the SDK's retry middleware does
 * not run under it: retries are tested against emulators/fake-bedrock-http.ts instead.
 */
export function installBedrockMock(options: BedrockMockOptions) {
  const mock = mockClient(BedrockRuntimeClient);
  const calls = { invoke: [] as z.infer<typeof titanV2Request>[], converse: [] as ConverseCommandInput[] };
  mock
    .on(InvokeModelCommand)
    .callsFake((input: { body?: unknown; modelId?: string; contentType?: string; accept?: string }) => {
      if (input.contentType !== "application/json" || input.accept !== "application/json")
        throw new Error("Titan needs JSON content type and accept");
      const body = titanV2Request.parse(
        JSON.parse(typeof input.body === "string" ? input.body : new TextDecoder().decode(input.body as Uint8Array)),
      );
      if (body.dimensions !== options.dimensions) throw new Error(`asked for ${body.dimensions} dimensions`);
      calls.invoke.push(body);
      const response = {
        embedding: fakeEmbedding(body.inputText, body.dimensions),
        inputTextTokenCount: body.inputText.split(/\s+/).length,
      };
      return { body: new TextEncoder().encode(JSON.stringify(response)), contentType: "application/json" };
    });
  mock.on(ConverseCommand).callsFake((input: ConverseCommandInput) => {
    calls.converse.push(input);
    return scriptedConverse(input);
  });
  mock.on(ConverseStreamCommand).callsFake((input: ConverseCommandInput) => {
    calls.converse.push(input);
    return scriptedConverseStream(input);
  });
  return { mock, calls, restore: () => mock.restore() };
}
