import { Worker } from "node:worker_threads";

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
  maxmem: number;
}

// Plain JavaScript, so the thread needs no TypeScript loader. scryptSync keeps it to one hash at a time.
const THREAD_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { scryptSync } = require("node:crypto");
parentPort.on("message", ({ id, password, salt, keylen, params }) => {
  try {
    parentPort.postMessage({ id, key: scryptSync(password, salt, keylen, params) });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) });
  }
});
`;

/** A thread without work for this long ends; the next hash starts a new one. */
const IDLE_MS = 30_000;

interface Pending {
  resolve: (key: Buffer) => void;
  reject: (error: Error) => void;
}

/**
 * scrypt on one dedicated thread. Each hash takes one 16 MiB block (N = 16384, r = 8), just under
 * glibc's mmap threshold once that has adapted, so the block stays in the malloc arena of the thread
 * that computed it: with `crypto.scrypt` every one of libuv's four pool threads kept 16 MiB for good
 * after the first sign-ups (64 MiB of the server's resident memory). Here it is at most one arena.
 */
export class ScryptThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  hash(password: string, salt: Buffer, keylen: number, params: ScryptParams): Promise<Buffer> {
    const worker = this.thread();
    const id = this.nextId++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    worker.ref();
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, password, salt, keylen, params });
    });
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(THREAD_SOURCE, { eval: true });
    worker.on("message", (m: { id: number; key?: Uint8Array; error?: string }) => {
      const pending = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.key) pending?.resolve(Buffer.from(m.key.buffer, m.key.byteOffset, m.key.byteLength));
      else pending?.reject(new Error(m.error ?? "scrypt failed"));
      if (this.pending.size === 0) this.rest(worker);
    });
    const gone = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    worker.on("error", gone);
    worker.on("exit", (code) => gone(new Error(`the scrypt thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  /** Nothing waits: the thread holds no process open, and ends after IDLE_MS. */
  private rest(worker: Worker): void {
    worker.unref();
    this.idleTimer = setTimeout(() => {
      if (this.worker !== worker || this.pending.size > 0) return;
      this.worker = undefined;
      void worker.terminate();
    }, IDLE_MS);
    this.idleTimer.unref();
  }
}
