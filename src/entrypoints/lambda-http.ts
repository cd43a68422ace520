import { configure as serverlessExpress } from "@vendia/serverless-express";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from "aws-lambda";
import { buildContainer, type Container, type ContainerOptions } from "../composition/container.js";
import { loadConfig } from "../config/config.js";
import { createHttpApp } from "../http/app.js";
import { webRoutes } from "../http/web-routes.js";
import { createSlackSurface } from "../slack/surface.js";
import { resolveSecretEnv, type SecretFetcher } from "./lambda-secrets.js";

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
      // The same surfaces as the embedded server (entrypoints/server.ts); Slack over HTTP only.
      const slack = createSlackSurface(container);
      if (slack && slack.mode !== "http")
        container.logger.error("Slack Socket Mode cannot run on Lambda; use the Events API (HTTP)");
      const app = createHttpApp(container, {
        // Only /slack/* goes through Bolt's router: passing it marks serverless-express's request (which
        // arrives already `complete`) as read, and the JSON parser of every other route would skip the body.
        ...(slack?.mode === "http"
          ? {
              beforeBodyParsing: (a) =>
                a.use((req, res, next) => (req.path.startsWith("/slack/") ? slack.router(req, res, next) : next())),
            }
          : {}),
        afterApi: (a) => a.use(webRoutes()),
      });
      const proxy = serverlessExpress({ app }) as unknown as (
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
    const { proxy } = await start();
    return proxy(event, context);
  }) as HttpHandler;
  handler.container = async () => (await start()).container;
  return handler;
}

export const handler = createHttpHandler();
