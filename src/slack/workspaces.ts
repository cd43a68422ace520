import type { Authorize, AuthorizeResult } from "@slack/bolt";
import { type WebAPICallResult, WebClient, type WebClientOptions } from "@slack/web-api";
import type { Logger } from "../ports/logger.js";
import type { InstallationService } from "../services/installations.js";
import type { SlackSettings } from "./settings.js";

/** What the bot needs to act in one workspace. */
export interface TeamAuth {
  teamId: string;
  enterpriseId?: string;
  teamName?: string;
  botToken: string;
  botUserId?: string;
  botId?: string;
}

interface AuthTest extends WebAPICallResult {
  user_id?: string;
  bot_id?: string;
  team_id?: string;
  team?: string;
}

/**
 * Bot tokens per workspace: an OAuth installation from the directory first, else the single-workspace
 * SLACK_BOT_TOKEN (whose bot user is learnt once with auth.test). One WebClient per token, all pointed
 * at SLACK_API_URL when it is set, and all honouring 429 Retry-After (the client pauses and retries).
 */
export class SlackWorkspaces {
  private readonly clients = new Map<string, WebClient>();
  private single: Promise<AuthTest> | undefined;

  constructor(
    private readonly installations: InstallationService,
    private readonly settings: SlackSettings,
    readonly clientOptions: WebClientOptions,
    private readonly logger: Logger,
  ) {}

  async forTeam(teamId: string | undefined): Promise<TeamAuth | undefined> {
    if (teamId) {
      const installation = await this.installations.get(teamId);
      if (installation) {
        return {
          teamId,
          ...(installation.enterpriseId ? { enterpriseId: installation.enterpriseId } : {}),
          ...(installation.teamName ? { teamName: installation.teamName } : {}),
          botToken: installation.botToken,
          botUserId: installation.botUserId,
          ...(installation.botId ? { botId: installation.botId } : {}),
        };
      }
    }
    const token = this.settings.botToken;
    if (!token) return undefined;
    const info = await this.singleWorkspace();
    const team = teamId ?? info.team_id;
    if (!team) return undefined;
    return {
      teamId: team,
      ...(info.team ? { teamName: info.team } : {}),
      botToken: token,
      ...(info.user_id ? { botUserId: info.user_id } : {}),
      ...(info.bot_id ? { botId: info.bot_id } : {}),
    };
  }

  client(token: string): WebClient {
    let client = this.clients.get(token);
    if (!client) {
      client = new WebClient(token, this.clientOptions);
      this.clients.set(token, client);
    }
    return client;
  }

  /** Bolt's authorize hook: resolves the bot token for the team of each incoming request. */
  readonly authorize: Authorize<boolean> = async (source) => {
    const auth = await this.forTeam(source.teamId);
    if (!auth)
      throw new Error(`Enclave is not installed in workspace ${source.teamId ?? source.enterpriseId ?? "(unknown)"}`);
    const result: AuthorizeResult = {
      botToken: auth.botToken,
      teamId: auth.teamId,
      ...(auth.botUserId ? { botUserId: auth.botUserId } : {}),
      ...(auth.botId ? { botId: auth.botId } : {}),
      ...(source.enterpriseId ? { enterpriseId: source.enterpriseId } : {}),
    };
    return result;
  };

  /** Warms the single-workspace auth.test so the first event is not slowed by it. */
  warmUp(): void {
    if (this.settings.botToken) this.singleWorkspace().catch(() => {});
  }

  private singleWorkspace(): Promise<AuthTest> {
    const token = this.settings.botToken;
    if (!token) return Promise.reject(new Error("no SLACK_BOT_TOKEN"));
    if (!this.single) {
      this.single = (this.client(token).auth.test() as Promise<AuthTest>).catch((error: unknown) => {
        this.single = undefined; // try again on the next event
        this.logger.error("auth.test failed for SLACK_BOT_TOKEN", { error });
        throw error;
      });
    }
    return this.single;
  }
}
