import { randomUUID } from "node:crypto";
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, SQSEvent } from "aws-lambda";
import { clientConfig } from "../../src/adapters/aws/client-config.js";
import { toSqsRecord } from "../../src/adapters/aws/sqs-job-queue.js";
import { loadConfig } from "../../src/config/config.js";
import { createHttpHandler } from "../../src/entrypoints/lambda-http.js";
import { createWorkerHandler } from "../../src/entrypoints/lambda-worker.js";

type HttpHandler = ReturnType<typeof createHttpHandler>;
type WorkerHandler = ReturnType<typeof createWorkerHandler>;

export const lambdaContext = (): Context =>
  ({
    awsRequestId: randomUUID(),
    functionName: "enclave-test",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:enclave-test",
    memoryLimitInMB: "1024",
    logGroupName: "/aws/lambda/enclave-test",
    logStreamName: "test",
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }) as Context;

/**
 * A fetch that turns each request into an API Gateway HTTP API (payload 2.0) event for the handler.
 * `sourceIp` is the caller's address as API Gateway saw it (`requestContext.http.sourceIp`); like API
 * Gateway, it is appended to any X-Forwarded-For the client sent itself.
 */
export function lambdaFetch(handler: HttpHandler, domain = "api.enclave.test", sourceIp = "127.0.0.1"): typeof fetch {
  return (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const headers: Record<string, string> = {};
    const cookies: string[] = [];
    request.headers.forEach((value, key) => {
      if (key === "cookie") cookies.push(...value.split(/;\s*/));
      else headers[key] = headers[key] ? `${headers[key]},${value}` : value;
    });
    headers.host = domain;
    headers["x-forwarded-proto"] = "https";
    headers["x-forwarded-for"] = headers["x-forwarded-for"] ? `${headers["x-forwarded-for"]}, ${sourceIp}` : sourceIp;
    const bytes = Buffer.from(await request.arrayBuffer());
    delete headers["transfer-encoding"];
    if (bytes.length) headers["content-length"] = String(bytes.length);
    const now = new Date();
    const event: APIGatewayProxyEventV2 = {
      version: "2.0",
      routeKey: "$default",
      rawPath: url.pathname,
      rawQueryString: url.search.replace(/^\?/, ""),
      ...(cookies.length ? { cookies } : {}),
      headers,
      ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
      requestContext: {
        accountId: "000000000000",
        apiId: "enclave",
        domainName: domain,
        domainPrefix: domain.split(".")[0] ?? "api",
        http: {
          method: request.method,
          path: url.pathname,
          protocol: "HTTP/1.1",
          sourceIp,
          userAgent: headers["user-agent"] ?? "test",
        },
        requestId: randomUUID(),
        routeKey: "$default",
        stage: "$default",
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
      },
      ...(bytes.length ? { body: bytes.toString("base64") } : {}),
      isBase64Encoded: bytes.length > 0,
    };
    const result = (await handler(event, lambdaContext())) as APIGatewayProxyStructuredResultV2;
    const responseHeaders = new Headers();
    for (const [k, v] of Object.entries(result.headers ?? {})) responseHeaders.set(k, String(v));
    for (const cookie of result.cookies ?? []) responseHeaders.append("set-cookie", cookie);
    const status = result.statusCode ?? 200;
    const body =
      result.body === undefined || [204, 304].includes(status)
        ? null
        : Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8");
    return new Response(body, { status, headers: responseHeaders });
  }) as typeof fetch;
}

export interface LambdaApp {
  baseUrl: string;
  fetch: typeof fetch;
  http: HttpHandler;
  worker: WorkerHandler;
  /** Batches delivered to the worker, with their failures (as the event source mapping saw them). */
  deliveries: { records: number; failures: number }[];
  stop(): Promise<void>;
}

/**
 * Both functions of the AWS shape in this process: requests go to the HTTP handler as API Gateway
 * events, and a loop plays the SQS event source mapping for the worker: it receives up to 10 messages,
 * invokes the handler with an SQS event and deletes the records not reported in batchItemFailures.
 */
export async function startLambdaApp(env: Record<string, string>): Promise<LambdaApp> {
  const http = createHttpHandler({ env });
  const worker = createWorkerHandler({ env });
  await Promise.all([http.container(), worker.container()]);
  const config = loadConfig(env);
  const queueUrl = config.SQS_QUEUE_URL ?? "";
  const sqs = new SQSClient(clientConfig(config, "sqs"));
  const deliveries: LambdaApp["deliveries"] = [];
  let running = true;
  const abort = new AbortController();
  const pump = (async () => {
    while (running) {
      try {
        const received = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
          }),
          { abortSignal: abort.signal },
        );
        const messages = received.Messages ?? [];
        if (messages.length === 0) continue;
        const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, queueUrl)) };
        const result = await worker(event, lambdaContext());
        const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
        deliveries.push({ records: event.Records.length, failures: failed.size });
        for (const record of event.Records) {
          if (!failed.has(record.messageId))
            await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle }));
        }
      } catch {
        if (!running) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  })();
  return {
    baseUrl: "https://api.enclave.test",
    fetch: lambdaFetch(http),
    http,
    worker,
    deliveries,
    stop: async () => {
      running = false;
      abort.abort();
      await pump;
      sqs.destroy();
      await (await http.container()).close();
      await (await worker.container()).close();
    },
  };
}
