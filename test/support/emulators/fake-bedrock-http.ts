import { createServer, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { fakeEmbedding, scriptedConverse, titanV2Request } from "../fake-bedrock.js";
import type { Emulator } from "./dynalite.js";

export interface FakeBedrockHttp extends Emulator {
  calls: { operation: "invoke" | "converse"; modelId: string; at: number }[];
  /** The next `times` calls of `operation` fail with Bedrock's error (throttling 429, or 503 unavailable). */
  fail(operation: "invoke" | "converse", kind: keyof typeof ERRORS, times: number): void;
  clearFaults(): void;
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
  const fake: FakeBedrockHttp = {
    endpoint: "",
    calls: [],
    fail(operation, kind, times) {
      faults.push({ operation, kind, remaining: times });
    },
    clearFaults() {
      faults.length = 0;
    },
    stop: async () => {},
  };
  // HTTP/2 in clear text: the Bedrock Runtime client speaks HTTP/2 (for its streaming operations).
  const sessions = new Set<Http2Session>();
  const server = createServer((req: Http2ServerRequest, res: Http2ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const match = /^\/model\/([^/]+)\/(invoke|converse)$/.exec(new URL(req.url ?? "/", "http://x").pathname);
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(payload));
      };
      if (!match) {
        send(404, { message: "unknown route" }, { "x-amzn-errortype": "ResourceNotFoundException" });
        return;
      }
      const modelId = decodeURIComponent(match[1] ?? "");
      const operation = match[2] as "invoke" | "converse";
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
        } else {
          send(200, scriptedConverse({ ...body, modelId } as never));
        }
      } catch (error) {
        send(400, { message: (error as Error).message }, { "x-amzn-errortype": "ValidationException" });
      }
    });
  });
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
