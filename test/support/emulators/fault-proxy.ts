import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ProxiedRequest {
  method: string;
  path: string;
  /** `X-Amz-Target` (JSON protocols: DynamoDB, SQS, Cognito). */
  target?: string;
  /** Access key id from the SigV4 Authorization header: which credentials signed the request. */
  accessKeyId?: string;
}

export interface Fault {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export interface FaultProxy {
  url: string;
  requests: ProxiedRequest[];
  /**
   * Plays an access policy: called with each request and its body; a returned fault is sent instead
   * of forwarding (e.g. AccessDenied when a tenant's credentials touch another tenant's key).
   */
  guard: ((request: ProxiedRequest, body: Buffer) => Fault | undefined) | undefined;
  /** Answers the next `times` requests for which `when` holds with `fault` instead of forwarding them. */
  inject(fault: Fault, times: number, when?: (r: ProxiedRequest, body: Buffer) => boolean): void;
  /** How many injected faults were served. */
  injected(): number;
  clear(): void;
  stop(): Promise<void>;
}

/** Faults as the services send them. */
export const FAULTS = {
  dynamoThrottling: {
    status: 400,
    headers: { "content-type": "application/x-amz-json-1.0" },
    body: JSON.stringify({
      __type: "com.amazonaws.dynamodb.v20120810#ThrottlingException",
      message: "Rate of requests exceeds the allowed throughput.",
    }),
  },
  dynamo500: {
    status: 500,
    headers: { "content-type": "application/x-amz-json-1.0" },
    body: JSON.stringify({
      __type: "com.amazonaws.dynamodb.v20120810#InternalServerError",
      message: "Internal server error",
    }),
  },
  s3SlowDown: {
    status: 503,
    headers: { "content-type": "application/xml" },
    body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
  },
  s3Internal: {
    status: 500,
    headers: { "content-type": "application/xml" },
    body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>',
  },
  sqsUnavailable: {
    status: 503,
    headers: { "content-type": "application/x-amz-json-1.0" },
    body: JSON.stringify({ __type: "com.amazonaws.sqs#ServiceUnavailable", message: "Service Unavailable" }),
  },
} satisfies Record<string, Fault>;

/**
 * An HTTP proxy in front of an emulator that records who signed each request and can answer with
 * injected faults (throttling, 5xx) instead of forwarding: the SDK's retries are exercised for real.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const rules: { fault: Fault; remaining: number; when?: (r: ProxiedRequest, body: Buffer) => boolean }[] = [];
  const requests: ProxiedRequest[] = [];
  let served = 0;
  const proxy: FaultProxy = {
    url: "",
    requests,
    guard: undefined,
    inject(fault, times, when) {
      rules.push({ fault, remaining: times, ...(when ? { when } : {}) });
    },
    injected: () => served,
    clear() {
      rules.length = 0;
      requests.length = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const auth = String(req.headers.authorization ?? "");
    const record: ProxiedRequest = {
      method: req.method ?? "",
      path: req.url ?? "/",
      ...(req.headers["x-amz-target"] ? { target: String(req.headers["x-amz-target"]) } : {}),
      ...(/Credential=([^/]+)\//.exec(auth)?.[1] ? { accessKeyId: /Credential=([^/]+)\//.exec(auth)?.[1] } : {}),
    };
    requests.push(record);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const rule = rules.find((r) => r.remaining > 0 && (!r.when || r.when(record, body)));
      const fault = rule?.fault ?? proxy.guard?.(record, body);
      if (fault) {
        if (rule) {
          rule.remaining--;
          served++;
        }
        res.writeHead(fault.status, fault.headers ?? {});
        res.end(fault.body);
        return;
      }
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        },
      );
      forward.on("error", () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
