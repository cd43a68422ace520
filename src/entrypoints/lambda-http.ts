import { configure as serverlessExpress } from "@vendia/serverless-express";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from "aws-lambda";
import { buildContainer, type Container, type ContainerOptions } from "../composition/container.js";
import { httpDeps, slackDeps } from "../composition/surfaces.js";
import { loadConfig } from "../config/config.js";
import { createHttpApp } from "../http/app.js";
import { webRoutes } from "../http/web-routes.js";
import { createSlackSurface } from "../slack/surface.js";
import { resolveSecretEnv, type SecretFetcher } from "./lambda-secrets.js";

/** Responses this app writes as UTF-8 text itself: the API's JSON, the web app's pages and assets, CSV export. */
const TEXT_TYPES = new Set([
  "application/json",
  "text/html",
  "text/css",
  "text/javascript",
  "application/javascript",
  "image/svg+xml",
  "text/csv",
  "text/event-stream",
]);

/**
 * Which responses go to API Gateway base64-encoded. serverless-express turns any other body into a
 * UTF-8 string, which corrupts bytes that are not UTF-8: a PDF, or an uploaded original served back by
 * GET /api/documents/:id/file (a .txt may be UTF-16). So everything is base64 (always byte-exact) except
 * the text types above, uncompressed.
 */
function isBinary({ headers }: { headers: Record<string, unknown> }): boolean {
  if (headers["content-encoding"]) return true;
  const type = String(headers["content-type"] ?? "").split(";")[0] ?? "";
  return !TEXT_TYPES.has(type.trim().toLowerCase());
}

export interface LambdaHttpOptions {
  /** Settings; the process environment on Lambda. */
  env?: Record<string, string | undefined>;
  fetchSecret?: SecretFetcher;
  container?: ContainerOptions;
}

type HttpHandler = ((event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>) & {
  /** The container of this execution environment (built on the first invocation). */
  container(): Promise<Container>;
};

/**
 * API Gateway (HTTP API, payload v2) -> the same Express app the embedded server runs: REST API, web
 * pages, Slack HTTP events and OAuth. The container is built once per execution environment, on the
 * first request (a failed start is retried by the next one). Jobs are only enqueued here; the worker
 * function runs them.
 */
export function createHttpHandler(options: LambdaHttpOptions = {}): HttpHandler {
  let ready:
    | Promise<{
        container: Container;
        proxy: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;
      }>
    | undefined;
  const start = () => {
    ready ??= (async () => {
      const env = await resolveSecretEnv(options.env ?? process.env, options.fetchSecret);
      const container = await buildContainer(loadConfig(env), options.container);
      // The same surfaces as the embedded server (entrypoints/server.ts); Slack over HTTP only. Slack is
      // answered only after the listeners claimed and enqueued, as on every shape: Lambda freezes once
      // the response is out.
      const slackWiring = slackDeps(container);
      const slack = slackWiring ? createSlackSurface(slackWiring) : undefined;
      if (slack && slack.mode !== "http")
        container.logger.error("Slack Socket Mode cannot run on Lambda; use the Events API (HTTP)");
      const app = createHttpApp(httpDeps(container), {
        // Only /slack/* goes through Bolt's router: passing it marks serverless-express's request (which
        // arrives already `complete`) as read, and the JSON parser of every other route would skip the body.
        ...(slack?.mode === "http"
          ? {
              beforeBodyParsing: (a) =>
                a.use((req, res, next) => (req.path.startsWith("/slack/") ? slack.router(req, res, next) : next())),
            }
          : {}),
        afterApi: (a) => a.use(webRoutes({ logger: container.logger })),
      });
      const proxy = serverlessExpress({ app, binarySettings: { isBinary } }) as unknown as (
        event: APIGatewayProxyEventV2,
        context: Context,
      ) => Promise<APIGatewayProxyResultV2>;
      return { container, proxy };
    })().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
  const handler = (async (event: APIGatewayProxyEventV2, context: Context) => {
    const { proxy, container } = await start();
    try {
      return await proxy(event, context);
    } finally {
      // Once per invocation, failed or not: the environment may be frozen (or end) right after it.
      container.metrics?.flush?.();
    }
  }) as HttpHandler;
  handler.container = async () => (await start()).container;
  return handler;
}

export const handler = createHttpHandler();
