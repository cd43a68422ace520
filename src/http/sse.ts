import type { Request, Response } from "express";
import type { Logger } from "../ports/logger.js";
import { toAppError } from "./errors.js";

/** Whether the client asked for Server-Sent Events: `text/event-stream` named in Accept, not with q=0. */
export function wantsEventStream(req: Request): boolean {
  return (req.get("accept") ?? "").split(",").some((range) => {
    const [type = "", ...params] = range.split(";").map((part) => part.trim().toLowerCase());
    if (type !== "text/event-stream") return false;
    const q = params.find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * One Server-Sent Events response. Nothing is sent until the first event, so a failure before it can
 * still become an ordinary HTTP error; from then on a failure can only be an `error` event. Once the
 * client has gone away, events are dropped (whatever produces them runs to its end).
 *
 * Each event is one `event:` line and one `data:` line of JSON: JSON text never holds a raw line
 * break, so it needs no splitting into several data lines. Behind serverless-express (AWS Lambda)
 * the writes are collected and sent at once, which is still a valid event stream.
 */
export class EventStream {
  private begun = false;
  private gone = false;

  constructor(private readonly res: Response) {
    // "close" also follows a normal end; before the end it means the client went away.
    res.on("close", () => {
      if (!res.writableFinished) this.gone = true;
    });
  }

  /** Whether the response has begun: its status and headers are out. */
  get started(): boolean {
    return this.begun;
  }

  /** Whether events still reach anyone. */
  get open(): boolean {
    return !this.gone && !this.res.writableEnded && !this.res.destroyed;
  }

  send(event: string, data: unknown): void {
    if (!this.open) return;
    if (!this.begun) {
      this.begun = true;
      this.res.status(200);
      this.res.setHeader("Content-Type", "text/event-stream; charset=utf-8");
      // no-transform: a proxy must not compress (and so hold back) the stream.
      this.res.setHeader("Cache-Control", "no-cache, no-transform");
      // nginx (and proxies that copy it) would otherwise buffer the whole response.
      this.res.setHeader("X-Accel-Buffering", "no");
      this.res.flushHeaders();
    }
    this.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /**
   * Ends the stream with an `error` event shaped like the HTTP error body, `{"error": {"code",
   * "message"}}`; the detail goes to the log only, as with the error handler.
   */
  fail(err: unknown, log: Logger | undefined, path: string): void {
    const error = toAppError(err);
    if (error.status >= 500) log?.error("event stream failed", { error: err, path });
    else log?.info("event stream ended with an error", { code: error.code, status: error.status, path });
    this.send("error", { error: { code: error.code, message: error.message } });
    this.end();
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}
