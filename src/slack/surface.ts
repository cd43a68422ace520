import {
  App,
  ErrorCode,
  ExpressReceiver,
  type Receiver,
  type ReceiverEvent,
  SocketModeReceiver,
  type SocketModeReceiverOptions,
} from "@slack/bolt";
import { type RequestHandler, Router } from "express";
import type { Foreground } from "../ports/job-queue.js";
import type { Logger } from "../ports/logger.js";
import { BoltLoggerAdapter } from "./bolt-logger.js";
import { handleEventJob } from "./handlers/events.js";
import { handleFileJob } from "./handlers/files.js";
import { handleQuestion } from "./handlers/question.js";
import { DirectoryInstallationStore } from "./installation-store.js";
import { SlackIntake } from "./jobs.js";
import { registerActions } from "./listeners/actions.js";
import { registerCommands } from "./listeners/commands.js";
import { registerFiles } from "./listeners/files.js";
import { registerHome } from "./listeners/home.js";
import { registerLifecycle } from "./listeners/lifecycle.js";
import { registerMessages } from "./listeners/messages.js";
import { oauthRoutes } from "./oauth.js";
import type { FetchFn } from "./outbound.js";
import type { SlackRuntime, SlackServices } from "./runtime.js";
import type { SlackSettings } from "./settings.js";
import type { SlackWorkspaces } from "./workspaces.js";

const SOCKET_START_WAIT_MS = 15_000;

export interface SlackSurface {
  mode: SlackSettings["mode"];
  /**
   * Mount before any body parser: POST /slack/events (HTTP mode; Bolt checks the signature on the raw
   * body, and a timestamp more than 5 minutes off either way is refused) and, with OAuth, /slack/install
   * and /slack/oauth_redirect (both modes).
   */
  router: Router;
  /** Socket Mode connects here; HTTP mode has nothing to start. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface SlackOptions {
  /** Outbound HTTP for response_url posts and file downloads (tests may wrap it). */
  fetch?: FetchFn;
}

/** What the Slack surface is handed: the services it calls and Slack's clients. */
export interface SlackDeps {
  services: SlackServices;
  settings: SlackSettings;
  workspaces: SlackWorkspaces;
  logger: Logger;
  logLevel: string;
  limits: { maxFileBytes: number };
  /** Marks each delivery in flight until it is acknowledged, for a worker on the same event loop to wait. */
  foreground?: Foreground;
}

/**
 * The Slack side without Bolt: API clients per workspace and the job handlers that do the work. A
 * worker that only runs jobs (the SQS worker on AWS) needs just this.
 */
export function createSlackRuntime(deps: SlackDeps, options: SlackOptions = {}): SlackRuntime {
  return {
    services: deps.services,
    settings: deps.settings,
    workspaces: deps.workspaces,
    logger: deps.logger.child({ component: "slack" }),
    fetch: options.fetch ?? fetch,
    limits: deps.limits,
  };
}

/** Job handlers plus the two notifications that start outside Slack (a link made, a document indexed). */
export function registerSlackJobs(rt: SlackRuntime): void {
  const { jobs, links, documents } = rt.services;
  jobs.handle("answer", (job) => handleQuestion(rt, job));
  jobs.handle("slack_file", (job) => handleFileJob(rt, job));
  jobs.handle("slack_event", (job) => handleEventJob(rt, job));
  links.onLinked(async (e) => {
    await jobs.enqueue({
      type: "slack_event",
      tenantId: e.tenantId,
      payload: { kind: "linked", teamId: e.teamId, slackUserId: e.slackUserId, tenantName: e.tenantName },
      idempotencyKey: `slack:linked:${e.teamId}:${e.slackUserId}:${Date.now()}`,
    });
  });
  documents.onSettled(async (tenant, doc) => {
    if (doc.source.kind !== "slack") return;
    await jobs.enqueue({
      type: "slack_event",
      tenantId: tenant,
      payload: { kind: "indexed", tenantId: tenant, documentId: doc.id },
      idempotencyKey: `slack:indexed:${tenant}:${doc.id}:${doc.sha256}:${doc.status}:${doc.updatedAt}`,
    });
  });
}

/**
 * Socket Mode acknowledges an envelope only once the listeners are done, with whatever they acked:
 * Bolt acks events before its listeners run, so an envelope whose job could not be stored would be
 * lost. Unacked (a listener failed), Slack sends the envelope again.
 */
class DurableAckSocketModeReceiver extends SocketModeReceiver {
  constructor(
    options: SocketModeReceiverOptions,
    private readonly foreground?: Foreground,
  ) {
    super(options);
  }

  override init(app: App): void {
    super.init({
      processEvent: async (event: ReceiverEvent) => {
        const done = this.foreground?.begin();
        try {
          let acked = false;
          let response: unknown;
          await app.processEvent({
            ...event,
            ack: async (r?: unknown) => {
              acked = true;
              response = r;
            },
          });
          if (acked) await event.ack(response as Parameters<ReceiverEvent["ack"]>[0]);
        } finally {
          done?.();
        }
      },
    } as unknown as App);
  }
}

/** Each request in flight from its start until its response is sent or its connection is gone. */
const inFlight =
  (foreground: Foreground): RequestHandler =>
  (_req, res, next) => {
    const done = foreground.begin();
    res.once("finish", done);
    res.once("close", done);
    next();
  };

/** How far a request's `X-Slack-Request-Timestamp` may lie from now, either way (Slack's own rule). */
const MAX_CLOCK_SKEW_S = 5 * 60;

/**
 * Refuses a request stamped more than five minutes in the future, as Bolt answers a bad signature (401,
 * empty body): Bolt's own check only refuses stale timestamps, so a signed request stamped ahead could
 * be replayed until that time has come and gone. Reads the header only, never the body; a missing or
 * past timestamp is left to Bolt.
 */
const refuseFutureTimestamps =
  (logger: Logger): RequestHandler =>
  (req, res, next) => {
    const ts = Number(req.headers["x-slack-request-timestamp"]);
    if (Number.isFinite(ts) && ts > Math.floor(Date.now() / 1000) + MAX_CLOCK_SKEW_S) {
      logger.warn("slack request refused: its timestamp is more than 5 minutes in the future", { timestamp: ts });
      res.status(401).send();
      return;
    }
    next();
  };

/** The Bolt app over the runtime: HTTP (ExpressReceiver) or Socket Mode, chosen by configuration. */
export function createSlackSurface(deps: SlackDeps, options: SlackOptions = {}): SlackSurface {
  const rt = createSlackRuntime(deps, options);
  const { settings, logger } = rt;
  registerSlackJobs(rt);
  const boltLogger = new BoltLoggerAdapter(logger, deps.logLevel);
  const router = Router();
  let receiver: Receiver;
  if (settings.mode === "http") {
    const express = new ExpressReceiver({
      signingSecret: settings.signingSecret ?? "",
      logger: boltLogger,
      endpoints: "/slack/events",
      // Answer Slack only after the listeners ran: a delivery is acknowledged once its job is stored, and
      // one whose job could not be stored answers 500 so that Slack delivers it again. Listeners only
      // claim and enqueue, so this stays well within Slack's 3 seconds (and Lambda, which freezes once
      // the response is out, never drops a job).
      processBeforeResponse: true,
      bodyLimit: "1mb",
    });
    if (deps.foreground) router.use("/slack/events", inFlight(deps.foreground));
    router.post("/slack/events", refuseFutureTimestamps(logger));
    router.use(express.router);
    receiver = express;
  } else {
    receiver = new DurableAckSocketModeReceiver(
      {
        appToken: settings.appToken ?? "",
        logger: boltLogger,
        installerOptions: { clientOptions: { slackApiUrl: settings.apiUrl } },
      },
      deps.foreground,
    );
  }
  const app = new App({
    receiver,
    authorize: rt.workspaces.authorize,
    logger: boltLogger,
    logLevel: boltLogger.getLevel(),
    clientOptions: { ...rt.workspaces.clientOptions },
    ignoreSelf: true,
    convoStore: false,
  });
  app.error(async (error) => {
    // An unknown or unlinked workspace: nothing to retry, so Slack is answered as usual.
    if (error.code === ErrorCode.AuthorizationError) {
      logger.warn("slack request from a workspace that is not installed", { error });
      return;
    }
    // Anything else means the delivery was not taken in (its job not stored): fail it, so that Slack
    // (HTTP: a 500; Socket Mode: no ack) delivers it again. Its claims were given back.
    logger.error("slack listener failed; the delivery is left for Slack to retry", { error });
    throw error;
  });
  const intake = new SlackIntake(rt.services.installations, rt.services.jobs, logger);
  registerCommands(app, intake, logger);
  registerMessages(app, intake, logger);
  registerFiles(app, intake);
  registerActions(app, intake, logger);
  registerLifecycle(app, intake);
  registerHome(app, intake, logger);

  if (settings.oauth) {
    router.use(
      oauthRoutes({
        settings: { ...settings, oauth: settings.oauth },
        store: new DirectoryInstallationStore(rt.services.installations, logger),
        clientOptions: rt.workspaces.clientOptions,
        boltLogger,
        logger,
        onInstalled: async (installation) => {
          const teamId = installation.team?.id;
          const userId = installation.user?.id;
          if (!teamId || !userId) return;
          await rt.services.jobs.enqueue({
            type: "slack_event",
            payload: { kind: "installed", teamId, userId },
            idempotencyKey: `slack:installed:${teamId}:${userId}:${Date.now()}`,
          });
        },
      }),
    );
  }

  let started = false;
  return {
    mode: settings.mode,
    router,
    async start() {
      rt.workspaces.warmUp();
      if (settings.mode === "socket") {
        started = true;
        // Socket Mode keeps retrying recoverable failures (rate limits, Slack hiccups); the web app and
        // the API must not wait for it, so after a while it goes on connecting in the background.
        const connecting = app.start().then(() => "connected" as const);
        connecting.catch((error: unknown) => logger.error("Socket Mode could not connect", { error }));
        const waited = await Promise.race([
          connecting,
          new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), SOCKET_START_WAIT_MS).unref()),
        ]);
        if (waited === "pending") logger.warn("Socket Mode is still connecting; continuing to start");
      }
      logger.info("slack is on", {
        mode: settings.mode,
        install: settings.oauth ? "oauth" : "single workspace",
        ...(settings.apiUrl.includes("slack.com") ? {} : { apiUrl: settings.apiUrl }),
      });
    },
    async stop() {
      if (started) {
        started = false;
        await app.stop().catch((error: unknown) => logger.warn("slack stop failed", { error }));
      }
    },
  };
}
