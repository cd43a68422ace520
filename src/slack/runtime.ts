import type { WebClient } from "@slack/web-api";
import type { Surface } from "../domain/audit.js";
import { isAppError } from "../domain/errors.js";
import type { Logger } from "../ports/logger.js";
import type { WorkspaceLink } from "../ports/tenant-directory.js";
import { REFUSAL_MESSAGES, type SlackActorResult, type SlackRequester } from "../services/access.js";
import type { Services } from "../services/services.js";
import { escapeText, renderNotice, renderNotLinked, type SlackMessage } from "./blocks.js";
import type { FetchFn } from "./outbound.js";
import type { SlackSettings } from "./settings.js";
import type { SlackWorkspaces, TeamAuth } from "./workspaces.js";

/** The services the Slack surface calls. */
export type SlackServices = Pick<
  Services,
  "access" | "answers" | "audit" | "documents" | "feedback" | "links" | "installations" | "jobs"
>;

/** What the Slack job handlers share. No Bolt here: the same handlers run in any worker. */
export interface SlackRuntime {
  services: SlackServices;
  settings: SlackSettings;
  workspaces: SlackWorkspaces;
  logger: Logger;
  fetch: FetchFn;
  limits: { maxFileBytes: number };
}

export interface Workspace {
  auth: TeamAuth;
  client: WebClient;
  /** The tenant this workspace is linked to; the only source of a tenant on the Slack side. */
  link: WorkspaceLink | undefined;
}

export async function openWorkspace(rt: SlackRuntime, teamId: string): Promise<Workspace | undefined> {
  const auth = await rt.workspaces.forTeam(teamId);
  if (!auth) {
    rt.logger.warn("no bot token for workspace; dropping", { slackTeam: teamId });
    return undefined;
  }
  const link = await rt.services.links.workspace(teamId);
  return { auth, client: rt.workspaces.client(auth.botToken), link };
}

/**
 * For a workspace that is not linked: a Slack workspace admin or owner (or the installer) gets the
 * one-time link; anyone else is told who can link it. Never a link for someone who may not use it.
 */
export async function linkOffer(
  rt: SlackRuntime,
  ws: Workspace,
  userId: string,
  options: { reason?: string; enterpriseId?: string | undefined } = {},
): Promise<SlackMessage> {
  const { reason } = options;
  const enterpriseId = options.enterpriseId ?? ws.auth.enterpriseId;
  try {
    const { url } = await rt.services.links.requestWorkspaceLink({
      teamId: ws.auth.teamId,
      ...(enterpriseId ? { enterpriseId } : {}),
      ...(ws.auth.teamName ? { teamName: ws.auth.teamName } : {}),
      slackUserId: userId,
    });
    return renderNotLinked(url, {
      ...(reason ? { reason } : {}),
      ...(ws.auth.teamName ? { teamName: ws.auth.teamName } : {}),
    });
  } catch (error) {
    if (!isAppError(error) || (error.status >= 500 && error.code !== "dependency_unavailable")) throw error;
    const intro = reason ? `${reason} ` : "";
    const state = ws.link ? "" : `${REFUSAL_MESSAGES.not_linked} `;
    return renderNotice(`${intro}${state}${escapeText(error.message)}`);
  }
}

/**
 * The Slack user as an actor of the linked organisation, or the reason they are not served (told to
 * them through `notify`): not linked (with a link for those who may link), a guest, someone from
 * another organisation. Every Slack surface goes through here.
 */
export async function slackActor(
  rt: SlackRuntime,
  ws: Workspace,
  who: SlackRequester,
  surface: Surface,
  notify: (message: SlackMessage) => Promise<void>,
  offer: { reason?: string } = {},
): Promise<Extract<SlackActorResult, { ok: true }> | undefined> {
  const result = await rt.services.access.slackActor(who, surface);
  if (result.ok) return result;
  rt.logger.info("slack user not served", { slackTeam: who.teamId, refusal: result.refusal, surface });
  if (result.refusal === "not_linked") {
    await notify(await linkOffer(rt, ws, who.userId, { ...offer, enterpriseId: who.enterpriseId }));
  } else {
    await notify(renderNotice(REFUSAL_MESSAGES[result.refusal]));
  }
  return undefined;
}

export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
