import { realpathSync } from "node:fs";
import type { Server } from "node:http";
import { pathToFileURL } from "node:url";
import { buildContainer, type Container, type ContainerOptions } from "../composition/container.js";
import { httpDeps, slackDeps } from "../composition/surfaces.js";
import { type Config, ConfigError, loadConfig } from "../config/config.js";
import { settlesWithin } from "../domain/deadline.js";
import { createHttpApp } from "../http/app.js";
import { webRoutes } from "../http/web-routes.js";
import { createSlackSurface, type SlackSurface } from "../slack/surface.js";

// A signal repeated within this window is the same request to stop: Ctrl-C under `npm start` reaches
// node twice, from the terminal (the whole process group) and forwarded by npm.
const REPEATED_SIGNAL_MS = 1000;
// Past the shutdown timeout: for the runner to hand jobs back, then for everything before exiting anyway.
const REQUEUE_GRACE_MS = 2000;
const CLOSE_GRACE_MS = 5000;

/** The embedded (self-hosted) server: REST API, web pages, Slack and the in-process job worker. */
export async function startServer(
  env: Record<string, string | undefined> = process.env,
  options: ContainerOptions = {},
): Promise<{
  container: Container;
  config: Config;
  server: Server;
  url: string;
  stop: () => Promise<void>;
}> {
  const config = loadConfig(env);
  const container = await buildContainer(config, options);
  const slackWiring = slackDeps(container);
  const slack = slackWiring ? createSlackSurface(slackWiring) : undefined;
  const app = createHttpApp(httpDeps(container), {
    // Slack's routes go before the JSON parser: Bolt verifies the signature over the raw body.
    ...(slack ? { beforeBodyParsing: (a) => a.use(slack.router) } : {}),
    afterApi: (a) => a.use(webRoutes({ logger: container.logger })),
  });
  container.runner.start();
  container.recovery.start();
  // The embedded audit log keeps exchanges until removed (DynamoDB expires them by TTL on AWS).
  container.retention.start();
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
  let stopping: Promise<void> | undefined;
  // Idempotent: a second call (a second signal, a test's afterAll) waits for the first.
  const stop = () => {
    stopping ??= shutDown(server, slack, container, config.SHUTDOWN_TIMEOUT_MS);
    return stopping;
  };
  return { container, config, server, url, stop };
}

/**
 * Stops taking work (the HTTP listener, Slack), gives requests and jobs in flight up to `timeoutMs`
 * to finish, leaves the rest queued, closes the databases, then logs "stopped".
 */
async function shutDown(
  server: Server,
  slack: SlackSurface | undefined,
  container: Container,
  timeoutMs: number,
): Promise<void> {
  const { logger } = container;
  const deadline = Date.now() + timeoutMs;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // A keep-alive connection goes idle after each response; closing idle ones as they appear lets a
  // connection finish the request it carries without holding the server open for the next one.
  server.closeIdleConnections();
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  const slackStopped = (slack?.stop() ?? Promise.resolve()).catch((error: unknown) =>
    logger.warn("Slack did not stop cleanly", { error }),
  );
  const sweepStopped = Promise.all([container.recovery.stop(), container.retention.stop()]);
  // The runner stops claiming at once and returns jobs still running after the timeout to the queue.
  const jobsStopped = container.runner
    .stop(timeoutMs)
    .catch((error: unknown) => logger.warn("the job worker did not stop cleanly", { error }));
  const drained = await settlesWithin(Promise.all([closed, slackStopped]), deadline - Date.now());
  clearInterval(idle);
  if (!drained) {
    logger.warn("shutdown timeout reached: closing the connections still open", { timeoutMs });
    server.closeAllConnections();
  }
  // The runner bounds itself; the databases stay open until it has handed its unfinished jobs back.
  if (!(await settlesWithin(jobsStopped, deadline - Date.now() + REQUEUE_GRACE_MS))) {
    logger.warn("the job worker did not stop in time; its jobs run again once their leases expire", { timeoutMs });
  }
  await settlesWithin(sweepStopped, Math.max(0, deadline - Date.now()));
  await container.close();
  logger.info("stopped");
}

/**
 * Run as the program (`node dist/src/entrypoints/server.js`, `npm start`), not imported by a test. The
 * module's URL has symlinks resolved and characters such as spaces escaped; argv[1] has neither.
 */
function isProgram(script: string | undefined): boolean {
  if (script === undefined) return false;
  if (script.endsWith("server.ts")) return true;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

const isMain = isProgram(process.argv[1]);
if (isMain) {
  startServer().then(
    ({ stop, container, config }) => {
      const { logger } = container;
      let firstSignalAt: number | undefined;
      const onSignal = (signal: NodeJS.Signals) => {
        if (firstSignalAt !== undefined) {
          if (Date.now() - firstSignalAt < REPEATED_SIGNAL_MS) return;
          logger.warn("second signal while stopping: exiting now", { signal });
          process.exit(1);
        }
        firstSignalAt = Date.now();
        logger.info("shutting down", { signal, timeoutMs: config.SHUTDOWN_TIMEOUT_MS });
        setTimeout(() => {
          logger.error("shutdown did not finish in time: exiting now", { timeoutMs: config.SHUTDOWN_TIMEOUT_MS });
          process.exit(1);
        }, config.SHUTDOWN_TIMEOUT_MS + CLOSE_GRACE_MS).unref();
        stop().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error("shutdown failed", { error });
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
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
