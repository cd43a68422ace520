import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Indexing a large document leaves tens of megabytes of dead objects behind (the file's text, its
 * passages, their term statistics), many of them promoted to V8's old space while the job awaited.
 * V8 collects them at its next full collection, which it times to the allocation rate, not to the
 * server's memory: after a burst of uploads the embedded server held 50-150 MiB of garbage for as
 * long as it then stayed busy with questions. After a heavy job, once the heap has grown by at least
 * `thresholdBytes` since the last collection, the tidier runs a full collection itself (about 20 ms
 * on a 100 MiB heap), so the server's memory follows what it keeps, not what it has read.
 */
export const HEAP_TIDY_THRESHOLD_BYTES = 64 * 2 ** 20;

export interface HeapTidierOptions {
  thresholdBytes?: number;
  /** A full collection; by default V8's own `gc`, undefined where it cannot be had. */
  collect?: (() => void) | undefined;
  /** Bytes of the heap in use, dead objects included until they are collected. */
  usedBytes?: () => number;
}

export class HeapTidier {
  private readonly thresholdBytes: number;
  private readonly collect: (() => void) | undefined;
  private readonly usedBytes: () => number;
  /** What the heap held right after the last collection this tidier ran. */
  private kept = 0;

  constructor(options: HeapTidierOptions = {}) {
    this.thresholdBytes = options.thresholdBytes ?? HEAP_TIDY_THRESHOLD_BYTES;
    this.collect = "collect" in options ? options.collect : v8Collector();
    this.usedBytes = options.usedBytes ?? (() => getHeapStatistics().used_heap_size);
  }

  /** After heavy work: collects when the heap has grown by the threshold since the last collection. */
  afterHeavyWork(): void {
    if (!this.collect || this.usedBytes() - this.kept < this.thresholdBytes) return;
    this.collect();
    this.kept = this.usedBytes();
  }
}

/**
 * V8's `gc()`, which Node exposes only with `--expose-gc`: the flag set now applies to contexts
 * created from now on, so a new context hands the function over. Undefined when V8 refuses.
 */
export function v8Collector(): (() => void) | undefined {
  try {
    setFlagsFromString("--expose-gc");
    const collect: unknown = runInNewContext("gc");
    return typeof collect === "function" ? (collect as () => void) : undefined;
  } catch {
    return undefined;
  }
}
