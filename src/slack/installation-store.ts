import type { Installation, InstallationQuery, InstallationStore } from "@slack/oauth";
import type { Logger } from "../ports/logger.js";
import type { SlackInstallationRecord } from "../ports/tenant-directory.js";
import type { InstallationService } from "../services/installations.js";

/**
 * Bolt's installation store over the installation service: the bot token is encrypted at rest by the
 * directory (AES-256-GCM, bound to the team). User tokens are never requested, so none are kept.
 * Org-wide (Enterprise Grid) installations have no team and are refused: a link needs a workspace.
 */
export class DirectoryInstallationStore implements InstallationStore {
  constructor(
    private readonly installations: InstallationService,
    private readonly logger: Logger,
  ) {}

  async storeInstallation<AuthVersion extends "v1" | "v2">(
    installation: Installation<AuthVersion, boolean>,
  ): Promise<void> {
    const teamId = installation.team?.id;
    const bot = installation.bot;
    if (!teamId || installation.isEnterpriseInstall) {
      throw new Error("Org-wide installations are not supported: install Enclave into each workspace.");
    }
    if (!bot?.token) throw new Error("The installation has no bot token: the bot scopes were not granted.");
    const record: SlackInstallationRecord = {
      teamId,
      ...(installation.enterprise?.id ? { enterpriseId: installation.enterprise.id } : {}),
      ...(installation.team?.name ? { teamName: installation.team.name } : {}),
      botUserId: bot.userId,
      ...(bot.id ? { botId: bot.id } : {}),
      botToken: bot.token,
      ...(installation.user?.id ? { installedBy: installation.user.id } : {}),
      installedAt: new Date().toISOString(),
      raw: {
        appId: installation.appId ?? null,
        scopes: bot.scopes,
        enterpriseName: installation.enterprise?.name ?? null,
        authVersion: installation.authVersion ?? "v2",
      },
    };
    await this.installations.put(record);
    this.logger.info("slack app installed", {
      slackTeam: teamId,
      enterpriseId: record.enterpriseId,
      installedBy: record.installedBy,
    });
  }

  async fetchInstallation(query: InstallationQuery<boolean>): Promise<Installation<"v1" | "v2", boolean>> {
    const record = query.teamId ? await this.installations.get(query.teamId) : undefined;
    if (!record) throw new Error(`No installation for team ${query.teamId ?? "(none)"}`);
    return toInstallation(record);
  }

  async deleteInstallation(query: InstallationQuery<boolean>): Promise<void> {
    if (query.teamId) await this.installations.delete(query.teamId);
  }
}

export function toInstallation(record: SlackInstallationRecord): Installation<"v2", false> {
  const raw = (record.raw ?? {}) as { appId?: string | null; scopes?: string[] };
  return {
    team: { id: record.teamId, ...(record.teamName ? { name: record.teamName } : {}) },
    enterprise: record.enterpriseId ? { id: record.enterpriseId } : undefined,
    user: { id: record.installedBy ?? "", token: undefined, scopes: undefined },
    bot: { token: record.botToken, userId: record.botUserId, id: record.botId ?? "", scopes: raw.scopes ?? [] },
    ...(raw.appId ? { appId: raw.appId } : {}),
    tokenType: "bot",
    isEnterpriseInstall: false,
    authVersion: "v2",
  };
}
