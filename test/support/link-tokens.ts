import type { Container } from "../../src/composition/container.js";
import type { SlackDirectory } from "../../src/ports/slack-directory.js";
import { type LinkRequest, LinkService } from "../../src/services/link-workspace.js";

/** Slack as it answers for a workspace admin: the only kind of user who is handed a link token. */
const everyoneAdmin: SlackDirectory = {
  user: async (_team, id) => ({ id, guest: false, workspaceAdmin: true, bot: false, deleted: false }),
  conversation: async () => undefined,
  members: async () => undefined,
  conversationsOf: async () => undefined,
};

/**
 * A workspace link token signed with the server's own secret, as the bot hands a Slack workspace
 * admin, for tests that start from the link page rather than from Slack.
 */
export async function workspaceLinkToken(
  c: Container,
  request: LinkRequest,
  options: { now?: () => number; publicUrl?: string } = {},
): Promise<{ token: string; url: string }> {
  const service = new LinkService(c.directory, everyoneAdmin, c.linkSecret, c.logger, {
    publicUrl: options.publicUrl ?? c.config.PUBLIC_URL,
    ...(options.now ? { now: options.now } : {}),
  });
  return service.requestWorkspaceLink(request);
}
