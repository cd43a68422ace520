import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { createHttpHandler } from "../../src/entrypoints/lambda-http.js";
import { lambdaFetch } from "./lambda.js";

export interface ApiGateway {
  url: string;
  stop(): Promise<void>;
}

/**
 * A loopback HTTP server standing in for API Gateway (HTTP API, payload 2.0): each request becomes an
 * event for the Lambda handler and its result becomes the response, so suites written against a URL
 * (Slack's signed requests, the REST client) run unchanged against the AWS shape.
 */
export async function startApiGateway(handler: ReturnType<typeof createHttpHandler>): Promise<ApiGateway> {
  let base = "";
  const invoke = lambdaFetch(handler);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      try {
        const headers = new Headers();
        for (const [k, v] of Object.entries(req.headers)) {
          // Hop-by-hop headers end here, as at API Gateway; the event carries the whole body.
          if (
            v === undefined ||
            ["host", "connection", "keep-alive", "transfer-encoding", "content-length"].includes(k)
          )
            continue;
          for (const value of Array.isArray(v) ? v : [v]) headers.append(k, value);
        }
        const body = Buffer.concat(chunks);
        const response = await invoke(`${base}${req.url ?? "/"}`, {
          method: req.method ?? "GET",
          headers,
          ...(body.length && req.method !== "GET" && req.method !== "HEAD" ? { body } : {}),
        });
        const out: Record<string, string | string[]> = {};
        response.headers.forEach((value, key) => {
          if (key !== "set-cookie") out[key] = value;
        });
        const cookies = response.headers.getSetCookie();
        if (cookies.length) out["set-cookie"] = cookies;
        res.writeHead(response.status, out);
        res.end(Buffer.from(await response.arrayBuffer()));
      } catch (error) {
        res.writeHead(502, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: `gateway: ${(error as Error).message}` }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
