import type { WebClient } from "@slack/web-api";
import type { Container } from "../composition/container.js";
import type { Logger } from "../ports/logger.js";
import type { WorkspaceLink } from "../ports/tenant-directory.js";
import { renderNotLinked, type SlackMessage } from "./blocks.js";
import type { FetchFn } from "./outbound.js";
import { usersInfoSchema } from "./payloads.js";
import type { SlackSettings } from "./settings.js";
import type { SlackWorkspaces, TeamAuth } from "./workspaces.js";

/** What the Slack job handlers share. No Bolt here: the same handlers run in any worker. */
export interface SlackRuntime {
  c: Container;
  settings: SlackSettings;
  workspaces: SlackWorkspaces;
  logger: Logger;
  fetch: FetchFn;
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
  const link = await rt.c.directory.getLink(teamId);
  return { auth, client: rt.workspaces.client(auth.botToken), link };
}

/** The audit actor for a Slack user: Slack ids are only unique within a workspace. */
export const slackActorId = (teamId: string, userId: string): string => `slack:${teamId}:${userId}`;

/** The ephemeral "not linked" notice with a one-time link for this user (Enterprise Grid id kept). */
export function notLinkedMessage(
  rt: SlackRuntime,
  ws: Workspace,
  userId: string,
  options: { reason?: string; enterpriseId?: string | undefined } = {},
): SlackMessage {
  const { reason } = options;
  const enterpriseId = options.enterpriseId ?? ws.auth.enterpriseId;
  const { url } = rt.c.links.createToken({
    teamId: ws.auth.teamId,
    ...(enterpriseId ? { enterpriseId } : {}),
    ...(ws.auth.teamName ? { teamName: ws.auth.teamName } : {}),
    slackUserId: userId,
  });
  return renderNotLinked(url, {
    ...(reason ? { reason } : {}),
    ...(ws.auth.teamName ? { teamName: ws.auth.teamName } : {}),
  });
}

/**
 * Who may change the workspace's link or forget documents from Slack: a Slack workspace admin or owner,
 * or an admin of the linked tenant (the Slack user's verified email is an admin's email there).
 */
export async function slackPrivileges(
  rt: SlackRuntime,
  ws: Workspace,
  userId: string,
): Promise<{ workspaceAdmin: boolean; tenantAdmin: boolean }> {
  let workspaceAdmin = false;
  let email: string | undefined;
  try {
    const info = usersInfoSchema.parse(await ws.client.users.info({ user: userId }));
    workspaceAdmin = Boolean(info.user.is_admin || info.user.is_owner || info.user.is_primary_owner);
    email = info.user.profile?.email?.trim().toLowerCase();
  } catch (error) {
    rt.logger.warn("users.info failed", { error, slackTeam: ws.auth.teamId });
  }
  let tenantAdmin = false;
  if (email && ws.link) {
    const members = await rt.c.directory.listMembers(ws.link.tenantId);
    tenantAdmin = members.some((m) => m.role === "admin" && m.email.toLowerCase() === email);
  }
  return { workspaceAdmin, tenantAdmin };
}

export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
