import { type Config, type SlackMode, slackMode } from "../config/config.js";

/**
 * The bot scopes the code uses, and nothing more (manifest.json lists the same; a test keeps them equal):
 * - app_mentions:read: `app_mention` events.
 * - channels:history, groups:history, mpim:history: `conversations.replies` for follow-ups in threads.
 * - im:history: `message.im` events (every DM is a question) and DM thread history.
 * - chat:write: answers, placeholders (`chat.update`), ephemeral notices, confirmations.
 * - commands: `/ask`.
 * - files:read: `file_shared`/`file_change`/`file_deleted`, `files.info` and downloading the file.
 * - users:read: `users.info` to tell full members from guests and from people of other organisations
 *   (Slack Connect), and workspace admins and owners (who may link and unlink the workspace).
 * - channels:read, groups:read, im:read, mpim:read: `conversations.info` and `conversations.members`,
 *   so a file shared in a conversation is quoted only to its members and a thread answer uses only
 *   what everyone in the conversation may read.
 */
export const BOT_SCOPES = [
  "app_mentions:read",
  // assistant.threads.setStatus: "Searching your documents…" under a question while it is answered.
  "assistant:write",
  "channels:history",
  "channels:read",
  "chat:write",
  "commands",
  "files:read",
  "groups:history",
  "groups:read",
  "im:history",
  "im:read",
  "mpim:history",
  "mpim:read",
  "users:read",
] as const;

export const BOT_EVENTS = [
  "app_mention",
  "message.im",
  "file_shared",
  "file_change",
  "file_deleted",
  "app_uninstalled",
  "tokens_revoked",
  "app_home_opened",
] as const;

export const SLASH_COMMAND = "/ask";

export interface SlackSettings {
  mode: Exclude<SlackMode, "off">;
  /** Web API base URL with a trailing slash, as WebClient wants it. */
  apiUrl: string;
  /** Where /slack/install sends the browser (Slack's authorize page, or the fake's in tests). */
  authorizationUrl: string;
  redirectUri: string;
  signingSecret?: string;
  appToken?: string;
  botToken?: string;
  oauth?: { clientId: string; clientSecret: string; stateSecret: string };
  publicUrl: string;
}

const DEFAULT_API_URL = "https://slack.com/api/";

export function slackSettings(config: Config): SlackSettings | undefined {
  const mode = slackMode(config);
  if (mode === "off") return undefined;
  const apiUrl = config.SLACK_API_URL ? `${config.SLACK_API_URL}/` : DEFAULT_API_URL;
  const oauth =
    config.SLACK_CLIENT_ID && config.SLACK_CLIENT_SECRET && config.SLACK_STATE_SECRET
      ? {
          clientId: config.SLACK_CLIENT_ID,
          clientSecret: config.SLACK_CLIENT_SECRET,
          stateSecret: config.SLACK_STATE_SECRET,
        }
      : undefined;
  return {
    mode,
    apiUrl,
    // Slack serves the Web API under /api and the authorize page under /oauth: the same host either way.
    authorizationUrl: new URL("../oauth/v2/authorize", apiUrl).toString(),
    redirectUri: `${config.PUBLIC_URL}/slack/oauth_redirect`,
    ...(config.SLACK_SIGNING_SECRET ? { signingSecret: config.SLACK_SIGNING_SECRET } : {}),
    ...(config.SLACK_APP_TOKEN ? { appToken: config.SLACK_APP_TOKEN } : {}),
    ...(config.SLACK_BOT_TOKEN ? { botToken: config.SLACK_BOT_TOKEN } : {}),
    ...(oauth ? { oauth } : {}),
    publicUrl: config.PUBLIC_URL,
  };
}
