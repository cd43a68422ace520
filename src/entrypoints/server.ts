import type { Server } from "node:http";
import { buildContainer, type Container } from "../composition/container.js";
import { httpDeps, slackDeps } from "../composition/surfaces.js";
import { ConfigError, loadConfig } from "../config/config.js";
import { createHttpApp } from "../http/app.js";
import { webRoutes } from "../http/web-routes.js";
import { createSlackSurface } from "../slack/surface.js";

/** The embedded (self-hosted) server: REST API, web pages, Slack and the in-process job worker. */
export async function startServer(env: Record<string, string | undefined> = process.env): Promise<{
  container: Container;
  server: Server;
  url: string;
  stop: () => Promise<void>;
}> {
  const config = loadConfig(env);
  const container = await buildContainer(config);
  const slackWiring = slackDeps(container);
  const slack = slackWiring ? createSlackSurface(slackWiring) : undefined;
  const app = createHttpApp(httpDeps(container), {
    // Slack's routes go before the JSON parser: Bolt verifies the signature over the raw body.
    ...(slack ? { beforeBodyParsing: (a) => a.use(slack.router) } : {}),
    afterApi: (a) => a.use(webRoutes({ logger: container.logger })),
  });
  container.runner.start();
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.PORT, config.HOST, () => resolve(s));
    s.once("error", reject);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  const url = `http://${config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST}:${port}`;
  container.logger.info("Enclave is listening", {
    url,
    publicUrl: config.PUBLIC_URL,
    dataDir: config.DATA_DIR,
  });
  if (slack) {
    // A Socket Mode connection that fails (bad app token, offline) must not take the web and API down.
    await slack
      .start()
      .catch((error: unknown) => container.logger.error("Slack could not start", { error, mode: slack.mode }));
  } else {
    container.logger.info(
      "Slack is off: set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET (OAuth), plus SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode)",
    );
  }
  const stop = async () => {
    await slack?.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await container.runner.stop();
    await container.close();
  };
  return { container, server, url, stop };
}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("server.ts");
if (isMain) {
  startServer().then(
    ({ stop, container }) => {
      let stopping = false;
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.on(signal, () => {
          if (stopping) return;
          stopping = true;
          container.logger.info("shutting down", { signal });
          stop().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        });
      }
    },
    (error: unknown) => {
      if (error instanceof ConfigError) {
        process.stderr.write(`${error.message}\n`);
      } else {
        process.stderr.write(
          `Enclave failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
        );
      }
      process.exit(1);
    },
  );
}
