import type { Logger } from "../ports/logger.js";
import type { SlackInstallationRecord, TenantDirectory } from "../ports/tenant-directory.js";

/**
 * Slack installations (bot tokens, held encrypted by the directory) and the claims that make each
 * Slack delivery count once. The Slack surface reaches the directory only through here.
 */
export class InstallationService {
  constructor(
    private readonly directory: TenantDirectory,
    private readonly logger: Logger,
  ) {}

  get(teamId: string): Promise<SlackInstallationRecord | undefined> {
    return this.directory.getInstallation(teamId);
  }

  put(installation: SlackInstallationRecord): Promise<void> {
    return this.directory.putInstallation(installation);
  }

  delete(teamId: string): Promise<void> {
    return this.directory.deleteInstallation(teamId);
  }

  /** The app left a workspace: its token and its link go; the organisation's documents and audit stay. */
  async removeWorkspace(teamId: string, reason: string): Promise<void> {
    const link = await this.directory.getLink(teamId);
    await this.directory.deleteInstallation(teamId);
    await this.directory.deleteLink(teamId);
    this.logger.info("slack app removed from workspace", { slackTeam: teamId, reason, tenantId: link?.tenantId });
  }

  /** True for the first claim of a delivery key, false for every later one. */
  claim(key: string, expiresAt: Date): Promise<boolean> {
    return this.directory.claimEvent(key, expiresAt);
  }

  release(key: string): Promise<void> {
    return this.directory.releaseEvent(key);
  }
}
