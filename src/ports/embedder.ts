export interface Embedder {
  readonly dimensions: number;
  readonly maxBatchSize: number;
  readonly modelId: string;
  /** One vector per input, same order. Callers batch to `maxBatchSize`. */
  embed(texts: readonly string[], purpose: "document" | "query"): Promise<number[][]>;
}
