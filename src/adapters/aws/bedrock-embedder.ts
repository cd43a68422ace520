import { type BedrockRuntimeClient, InvokeModelCommand } from "@aws-sdk/client-bedrock-runtime";
import { z } from "zod";
import type { Embedder } from "../../ports/embedder.js";
import { unavailable } from "./aws-errors.js";

export interface BedrockEmbedderOptions {
  modelId: string;
  /** Titan Text Embeddings v2 accepts 256, 512 or 1024. */
  dimensions: 256 | 512 | 1024;
  normalize: boolean;
  /** Texts per `embed` call (callers batch to this). */
  maxBatchSize?: number;
  /** InvokeModel calls in flight at once within a batch. */
  concurrency?: number;
}

/** Titan v2 takes at most 50,000 characters (and 8,192 tokens) per input. */
const MAX_INPUT_CHARS = 50_000;

const responseSchema = z.object({
  embedding: z.array(z.number()),
  inputTextTokenCount: z.number().optional(),
});

/**
 * Amazon Titan Text Embeddings v2 through InvokeModel. The model embeds one text per request, so a batch
 * is a bounded number of concurrent requests; throttling and 5xx are retried by the SDK's retry strategy.
 */
export class BedrockEmbedder implements Embedder {
  readonly dimensions: number;
  readonly maxBatchSize: number;
  readonly modelId: string;
  private readonly concurrency: number;

  constructor(
    private readonly client: BedrockRuntimeClient,
    private readonly options: BedrockEmbedderOptions,
  ) {
    this.dimensions = options.dimensions;
    this.modelId = options.modelId;
    this.maxBatchSize = options.maxBatchSize ?? 32;
    this.concurrency = options.concurrency ?? 4;
  }

  async embed(texts: readonly string[], _purpose: "document" | "query"): Promise<number[][]> {
    const out = new Array<number[]>(texts.length);
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= texts.length) return;
        out[i] = await this.embedOne(texts[i] ?? "");
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, texts.length) }, worker));
    return out;
  }

  private async embedOne(text: string): Promise<number[]> {
    // Titan rejects an empty input; a blank passage embeds as a single space.
    const inputText = text.trim() ? text.slice(0, MAX_INPUT_CHARS) : " ";
    let body: Uint8Array;
    try {
      const response = await this.client.send(
        new InvokeModelCommand({
          modelId: this.options.modelId,
          contentType: "application/json",
          accept: "application/json",
          body: JSON.stringify({
            inputText,
            dimensions: this.options.dimensions,
            normalize: this.options.normalize,
            embeddingTypes: ["float"],
          }),
        }),
      );
      body = response.body;
    } catch (error) {
      throw unavailable("Search", error);
    }
    const parsed = responseSchema.parse(JSON.parse(new TextDecoder().decode(body)));
    if (parsed.embedding.length !== this.dimensions) {
      throw new Error(`embedding has ${parsed.embedding.length} dimensions, expected ${this.dimensions}`);
    }
    return parsed.embedding;
  }
}
