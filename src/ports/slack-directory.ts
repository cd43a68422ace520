/**
 * What Slack says about its people and conversations, asked with the bot token of the installation
 * that `teamId` names. Answers may be cached for at most a few minutes. Methods throw when Slack cannot
 * be asked; callers fail closed (nobody is granted anything on a failed look-up).
 */
export interface SlackUserInfo {
  id: string;
  /** The user's own workspace: another organisation's for a Slack Connect user. */
  teamId?: string;
  enterpriseId?: string;
  /** Single- or multi-channel guest (`is_restricted`, `is_ultra_restricted`). */
  guest: boolean;
  /** Workspace admin or owner. */
  workspaceAdmin: boolean;
  bot: boolean;
  deleted: boolean;
  /** Someone of another organisation Slack shows only in part (`is_stranger`). */
  stranger?: boolean;
}

export interface SlackConversationInfo {
  id: string;
  kind: "public" | "private" | "im" | "mpim";
  /** Shared with another organisation (Slack Connect). */
  externallyShared: boolean;
  /** For a DM: the person the bot talks with there. */
  dmWith?: string;
}

export interface SlackDirectory {
  /** Undefined when Slack has no such user. */
  user(teamId: string, userId: string): Promise<SlackUserInfo | undefined>;
  /** Undefined when the bot cannot see the conversation. */
  conversation(teamId: string, channelId: string): Promise<SlackConversationInfo | undefined>;
  /** Current member ids; undefined when the bot cannot see the conversation. */
  members(teamId: string, channelId: string): Promise<readonly string[] | undefined>;
  /** The conversations (that the bot is in too) this user is a member of; undefined for an unknown user. */
  conversationsOf(teamId: string, userId: string): Promise<readonly string[] | undefined>;
}
