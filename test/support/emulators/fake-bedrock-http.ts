import { createServer, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { EventStreamCodec } from "@smithy/core/event-streams";
import { fakeEmbedding, scriptedConverse, scriptedConverseStream, titanV2Request } from "../fake-bedrock.js";
import type { Emulator } from "./dynalite.js";

export interface FakeBedrockHttp extends Emulator {
  calls: { operation: Operation; modelId: string; at: number }[];
  /** The next `times` calls of `operation` fail with Bedrock's error (throttling 429, or 503 unavailable). */
  fail(operation: Operation, kind: keyof typeof ERRORS, times: number): void;
  /** The next `times` ConverseStream responses break off after their first event with this in-stream exception. */
  breakStream(exception: "throttlingException" | "modelStreamErrorException", times: number): void;
  clearFaults(): void;
}

type Operation = "invoke" | "converse" | "converse-stream";

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString("utf8"),
  (text) => new Uint8Array(Buffer.from(text, "utf8")),
);

/** One message of Bedrock's binary event stream (application/vnd.amazon.eventstream). */
function streamMessage(kind: "event" | "exception", type: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ":message-type": { type: "string", value: kind },
      [kind === "event" ? ":event-type" : ":exception-type"]: { type: "string", value: type },
      ":content-type": { type: "string", value: "application/json" },
    },
    body: new Uint8Array(Buffer.from(JSON.stringify(payload), "utf8")),
  });
}

const ERRORS = {
  throttling: {
    status: 429,
    type: "ThrottlingException",
    message: "Too many requests, please wait before trying again.",
  },
  unavailable: {
    status: 503,
    type: "ServiceUnavailableException",
    message: "Bedrock is unable to process your request.",
  },
  validation: { status: 400, type: "ValidationException", message: "Malformed input request." },
};

/**
 * Bedrock Runtime's REST-JSON API on loopback over HTTP/2 (POST /model/{id}/invoke and /model/{id}/converse), with
 * the Titan v2 fake and the scripted Converse model behind it. Used where the SDK's own retry strategy
 * must run against injected throttling and 5xx (aws-sdk-client-mock replaces `send`, retries included).
 */
export async function startFakeBedrockHttp(): Promise<FakeBedrockHttp> {
  const faults: { operation: string; kind: keyof typeof ERRORS; remaining: number }[] = [];
  const breaks: { exception: string; remaining: number }[] = [];
  const fake: FakeBedrockHttp = {
    endpoint: "",
    calls: [],
    fail(operation, kind, times) {
      faults.push({ operation, kind, remaining: times });
    },
    breakStream(exception, times) {
      breaks.push({ exception, remaining: times });
    },
    clearFaults() {
      faults.length = 0;
      breaks.length = 0;
    },
    stop: async () => {},
  };
  // HTTP/2 in clear text: the Bedrock Runtime client speaks HTTP/2 (for its streaming operations).
  const sessions = new Set<Http2Session>();
  const server = createServer((req: Http2ServerRequest, res: Http2ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const match = /^\/model\/([^/]+)\/(invoke|converse-stream|converse)$/.exec(
        new URL(req.url ?? "/", "http://x").pathname,
      );
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(payload));
      };
      if (!match) {
        send(404, { message: "unknown route" }, { "x-amzn-errortype": "ResourceNotFoundException" });
        return;
      }
      const modelId = decodeURIComponent(match[1] ?? "");
      const operation = match[2] as Operation;
      fake.calls.push({ operation, modelId, at: Date.now() });
      const fault = faults.find((f) => f.operation === operation && f.remaining > 0);
      if (fault) {
        fault.remaining--;
        const e = ERRORS[fault.kind];
        send(
          e.status,
          { message: e.message },
          { "x-amzn-errortype": `${e.type}:http://internal.amazon.com/coral/com.amazon.bedrock/` },
        );
        return;
      }
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
        if (operation === "invoke") {
          const input = titanV2Request.parse(body);
          send(200, {
            embedding: fakeEmbedding(input.inputText, input.dimensions),
            inputTextTokenCount: input.inputText.split(/\s+/).length,
          });
        } else if (operation === "converse") {
          send(200, scriptedConverse({ ...body, modelId } as never));
        } else {
          // Validated before the 200 goes out, so a bad request still gets Bedrock's 400.
          void streamConverse(scriptedConverseStream({ ...body, modelId } as never).stream, res);
        }
      } catch (error) {
        send(400, { message: (error as Error).message }, { "x-amzn-errortype": "ValidationException" });
      }
    });
  });
  async function streamConverse(
    stream: ReturnType<typeof scriptedConverseStream>["stream"],
    res: Http2ServerResponse,
  ): Promise<void> {
    res.writeHead(200, { "content-type": "application/vnd.amazon.eventstream" });
    const broken = breaks.find((b) => b.remaining > 0);
    if (broken) broken.remaining--;
    let sent = 0;
    for await (const event of stream) {
      const [type, payload] = Object.entries(event)[0] ?? [];
      if (!type) continue;
      if (broken && sent === 1) {
        res.write(streamMessage("exception", broken.exception, { message: "The stream broke off." }));
        break;
      }
      res.write(streamMessage("event", type, payload));
      sent++;
    }
    res.end();
  }

  server.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  fake.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.stop = () =>
    new Promise<void>((resolve) => {
      for (const session of sessions) session.destroy();
      server.close(() => resolve());
    });
  return fake;
}
