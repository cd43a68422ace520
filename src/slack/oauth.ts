import type { Logger as BoltLogger } from "@slack/bolt";
import type { InstallationStore } from "@slack/oauth";
import { type Installation, InstallProvider, type InstallURLOptions } from "@slack/oauth";
import type { WebClientOptions } from "@slack/web-api";
import { Router } from "express";
import type { Logger } from "../ports/logger.js";
import { BOT_SCOPES, type SlackSettings } from "./settings.js";

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

export interface OAuthOptions {
  settings: SlackSettings & { oauth: NonNullable<SlackSettings["oauth"]> };
  store: InstallationStore;
  clientOptions: WebClientOptions;
  boltLogger: BoltLogger;
  logger: Logger;
  /** After an installation is stored (the Slack surface welcomes the installer). */
  onInstalled: (installation: Installation) => Promise<void>;
}

/**
 * Multi-workspace installation: GET /slack/install sends the browser to Slack's authorize page (state in
 * a signed cookie), GET /slack/oauth_redirect exchanges the code with oauth.v2.access and stores the bot
 * token (encrypted) in the directory. With SLACK_API_URL set, both the authorize page and the Web API
 * calls go there.
 */
export function oauthRoutes(options: OAuthOptions): Router {
  const { settings, logger } = options;
  const installUrlOptions: InstallURLOptions = { scopes: [...BOT_SCOPES], redirectUri: settings.redirectUri };
  const { logger: _omit, logLevel: _level, ...clientOptions } = options.clientOptions;
  const installer = new InstallProvider({
    clientId: settings.oauth.clientId,
    clientSecret: settings.oauth.clientSecret,
    stateSecret: settings.oauth.stateSecret,
    installationStore: options.store,
    installUrlOptions,
    authorizationUrl: settings.authorizationUrl,
    directInstall: true,
    authVersion: "v2",
    logger: options.boltLogger,
    clientOptions,
  });
  const router = Router();

  router.get("/slack/install", async (req, res, next) => {
    try {
      await installer.handleInstallPath(req, res, undefined, installUrlOptions);
    } catch (error) {
      next(error);
    }
  });

  router.get("/slack/oauth_redirect", async (req, res) => {
    await installer.handleCallback(req, res, {
      success: (installation, _options, _req, response) => {
        const team = installation.team?.name ?? installation.team?.id ?? "your workspace";
        response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
        response.end(
          page(
            "Enclave is installed",
            `<p>Enclave was added to <strong>${escapeHtml(team)}</strong>.</p><p>Next, link the workspace to your organisation: I sent you a direct message in Slack with a link (or type <code>/ask link</code> in Slack).</p>`,
          ),
        );
        options
          .onInstalled(installation)
          .catch((error: unknown) => logger.warn("post-install welcome failed", { error }));
      },
      failure: (error, _options, _req, response) => {
        logger.warn("slack installation failed", { code: (error as { code?: string }).code, error });
        response.writeHead(400, { "Content-Type": "text/html; charset=utf-8" });
        response.end(
          page(
            "Installation failed",
            `<p>Enclave could not be installed: ${escapeHtml(error.message)}</p><p><a href="/slack/install">Try again</a>.</p>`,
          ),
        );
      },
    });
  });

  return router;
}
