import { z } from "zod";
import type { Logger } from "../ports/logger.js";
import type { SlackConversationInfo, SlackDirectory, SlackUserInfo } from "../ports/slack-directory.js";
import type { SlackWorkspaces } from "./workspaces.js";

const usersInfo = z.looseObject({
  ok: z.literal(true),
  user: z.looseObject({
    id: z.string(),
    team_id: z.string().optional(),
    enterprise_user: z.looseObject({ enterprise_id: z.string().optional() }).optional(),
    deleted: z.boolean().optional(),
    is_bot: z.boolean().optional(),
    is_admin: z.boolean().optional(),
    is_owner: z.boolean().optional(),
    is_primary_owner: z.boolean().optional(),
    is_restricted: z.boolean().optional(),
    is_ultra_restricted: z.boolean().optional(),
    is_stranger: z.boolean().optional(),
  }),
});

const conversationsInfo = z.looseObject({
  ok: z.literal(true),
  channel: z.looseObject({
    id: z.string(),
    is_im: z.boolean().optional(),
    is_mpim: z.boolean().optional(),
    is_private: z.boolean().optional(),
    is_group: z.boolean().optional(),
    is_ext_shared: z.boolean().optional(),
    is_pending_ext_shared: z.boolean().optional(),
    user: z.string().optional(),
  }),
});

const usersConversations = z.looseObject({
  ok: z.literal(true),
  channels: z.array(z.looseObject({ id: z.string() })).default([]),
  response_metadata: z.looseObject({ next_cursor: z.string().optional() }).optional(),
});

const conversationsMembers = z.looseObject({
  ok: z.literal(true),
  members: z.array(z.string()).default([]),
  response_metadata: z.looseObject({ next_cursor: z.string().optional() }).optional(),
});

/** Slack's own errors for "no such thing (that this bot can see)": an answer, not a failure. */
const ABSENT = new Set([
  "user_not_found",
  "channel_not_found",
  "not_in_channel",
  "method_not_supported_for_channel_type",
]);

/** A list (a conversation's members, a user's conversations) is read for at most this many pages of 200. */
const MAX_PAGES = 50;

interface Entry<T> {
  value: T;
  expires: number;
}

/**
 * SlackDirectory over the Web API with each installation's bot token: `users.info`,
 * `conversations.info`, `conversations.members` and `users.conversations`, each answer cached for `ttlMs` (at most five
 * minutes, so a removal from a channel takes effect within that) in a bounded map.
 */
export class SlackWebDirectory implements SlackDirectory {
  private readonly cache = new Map<string, Entry<unknown>>();

  constructor(
    private readonly workspaces: SlackWorkspaces,
    private readonly logger: Logger,
    private readonly ttlMs = 5 * 60_000,
    private readonly maxEntries = 20_000,
  ) {}

  user(teamId: string, userId: string): Promise<SlackUserInfo | undefined> {
    return this.cached(`user:${teamId}:${userId}`, async () => {
      const client = await this.client(teamId);
      const answer = await absentAsUndefined(() => client.users.info({ user: userId }));
      if (!answer) return undefined;
      const { user } = usersInfo.parse(answer);
      return {
        id: user.id,
        ...(user.team_id ? { teamId: user.team_id } : {}),
        ...(user.enterprise_user?.enterprise_id ? { enterpriseId: user.enterprise_user.enterprise_id } : {}),
        guest: Boolean(user.is_restricted || user.is_ultra_restricted),
        workspaceAdmin: Boolean(user.is_admin || user.is_owner || user.is_primary_owner),
        bot: Boolean(user.is_bot),
        deleted: Boolean(user.deleted),
        ...(user.is_stranger ? { stranger: true } : {}),
      };
    });
  }

  conversation(teamId: string, channelId: string): Promise<SlackConversationInfo | undefined> {
    return this.cached(`conversation:${teamId}:${channelId}`, async () => {
      const client = await this.client(teamId);
      const answer = await absentAsUndefined(() => client.conversations.info({ channel: channelId }));
      if (!answer) return undefined;
      const { channel } = conversationsInfo.parse(answer);
      const kind = channel.is_im
        ? "im"
        : channel.is_mpim
          ? "mpim"
          : channel.is_private || channel.is_group
            ? "private"
            : "public";
      return {
        id: channel.id,
        kind,
        externallyShared: Boolean(channel.is_ext_shared || channel.is_pending_ext_shared),
        ...(kind === "im" && channel.user ? { dmWith: channel.user } : {}),
      };
    });
  }

  members(teamId: string, channelId: string): Promise<readonly string[] | undefined> {
    return this.cached(`members:${teamId}:${channelId}`, async () => {
      const client = await this.client(teamId);
      const members = await this.pages("conversation has more members", teamId, async (cursor) => {
        const answer = await absentAsUndefined(() =>
          client.conversations.members({ channel: channelId, limit: 200, ...(cursor ? { cursor } : {}) }),
        );
        if (!answer) return undefined;
        const parsed = conversationsMembers.parse(answer);
        return { items: parsed.members, next: parsed.response_metadata?.next_cursor };
      });
      // A DM's two members are known from conversations.info where members is not offered for it.
      return members === "absent" ? this.dmMembers(teamId, channelId) : members;
    });
  }

  conversationsOf(teamId: string, userId: string): Promise<readonly string[] | undefined> {
    return this.cached(`conversations-of:${teamId}:${userId}`, async () => {
      const client = await this.client(teamId);
      const ids = await this.pages("user is in more conversations", teamId, async (cursor) => {
        const answer = await absentAsUndefined(() =>
          client.users.conversations({
            user: userId,
            types: "public_channel,private_channel,mpim,im",
            exclude_archived: true,
            limit: 200,
            ...(cursor ? { cursor } : {}),
          }),
        );
        if (!answer) return undefined;
        const parsed = usersConversations.parse(answer);
        return { items: parsed.channels.map((c) => c.id), next: parsed.response_metadata?.next_cursor };
      });
      return ids === "absent" ? undefined : ids;
    });
  }

  /**
   * Every page of a cursor-paginated list, up to MAX_PAGES: "absent" when Slack says there is no such
   * thing, undefined past the bound (an incomplete list would be wrong; unknown grants nothing).
   */
  private async pages(
    what: string,
    teamId: string,
    page: (cursor: string | undefined) => Promise<{ items: string[]; next?: string | undefined } | undefined>,
  ): Promise<string[] | "absent" | undefined> {
    const items: string[] = [];
    let cursor: string | undefined;
    for (let n = 0; n < MAX_PAGES; n++) {
      const answer = await page(cursor);
      if (!answer) return n === 0 ? "absent" : undefined;
      items.push(...answer.items);
      cursor = answer.next || undefined;
      if (!cursor) return items;
    }
    this.logger.warn(`${what} than we read; treating as unknown`, { slackTeam: teamId });
    return undefined;
  }

  private async dmMembers(teamId: string, channelId: string): Promise<readonly string[] | undefined> {
    const info = await this.conversation(teamId, channelId);
    return info?.dmWith ? [info.dmWith] : undefined;
  }

  private async client(teamId: string) {
    const auth = await this.workspaces.forTeam(teamId);
    if (!auth) throw new Error(`no bot token for workspace ${teamId}`);
    return this.workspaces.client(auth.botToken);
  }

  /** Answers (found or absent) are cached; failures are not, so the next question asks again. */
  private async cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.expires > now) return hit.value as T;
    const value = await load();
    this.cache.delete(key);
    this.cache.set(key, { value, expires: now + this.ttlMs });
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    return value;
  }
}

async function absentAsUndefined<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    const code = (error as { data?: { error?: string } }).data?.error;
    if (code && ABSENT.has(code)) return undefined;
    throw error;
  }
}
