import type { Surface } from "./audit.js";
import type { Role, TenantId } from "./tenant.js";

/**
 * Who may read a document inside its organisation. Stored with the document; the index holds the
 * same rule as access keys (see `accessKeys`) so that it can filter inside the query.
 */
export type Visibility =
  | { kind: "organisation" }
  /** Only the person who added it (`owner` is a principal id, see `Actor.principal`). */
  | { kind: "private"; owner: string }
  /** Exactly those who can read one of these Slack conversations (a file shared into several). */
  | { kind: "slack_conversation"; conversations: SlackConversationRef[] };

export interface SlackConversationRef {
  teamId: string;
  channelId: string;
  /** A public channel is readable by every full member of its workspace, not only its members. */
  public: boolean;
}

export const ORGANISATION: Visibility = { kind: "organisation" };

/**
 * An access key names one group of readers. A document carries the keys of everyone who may read it;
 * a reader holds the keys of the groups they belong to; a passage is readable when the two share one.
 *   org                   every member of the organisation (web members, full members of linked workspaces)
 *   owner:<principal>     one person
 *   conv:<team>:<channel> the members of one Slack conversation
 *   pub:<team>            the full members of one workspace (files shared in its public channels)
 */
export type AccessKey = string;

export const ORG_KEY: AccessKey = "org";
export const ownerKey = (principal: string): AccessKey => `owner:${principal}`;
export const conversationKey = (teamId: string, channelId: string): AccessKey => `conv:${teamId}:${channelId}`;
export const workspaceKey = (teamId: string): AccessKey => `pub:${teamId}`;

export function accessKeys(visibility: Visibility): AccessKey[] {
  switch (visibility.kind) {
    case "organisation":
      return [ORG_KEY];
    case "private":
      return [ownerKey(visibility.owner)];
    case "slack_conversation": {
      const keys = new Set<AccessKey>();
      for (const c of visibility.conversations) {
        keys.add(conversationKey(c.teamId, c.channelId));
        if (c.public) keys.add(workspaceKey(c.teamId));
      }
      return [...keys];
    }
  }
}

export const canRead = (readable: ReadonlySet<AccessKey>, visibility: Visibility): boolean =>
  accessKeys(visibility).some((key) => readable.has(key));

/**
 * Documents with the same bytes are one document only within one scope: the same file uploaded twice
 * for the organisation is one document, but someone's private copy, or a copy shared in a private
 * channel, is its own (merging them would hand one reader's title and visibility to another).
 */
export function dedupeScope(visibility: Visibility): string {
  switch (visibility.kind) {
    case "organisation":
      return "organisation";
    case "private":
      return `private:${visibility.owner}`;
    case "slack_conversation": {
      const first = visibility.conversations[0];
      return first ? `slack:${first.teamId}:${first.channelId}` : "slack:";
    }
  }
}

/** Adds a conversation to a Slack document's readers (a file shared into one more conversation). */
export function withConversation(visibility: Visibility, ref: SlackConversationRef): Visibility {
  if (visibility.kind !== "slack_conversation") return visibility;
  const others = visibility.conversations.filter((c) => c.teamId !== ref.teamId || c.channelId !== ref.channelId);
  return { kind: "slack_conversation", conversations: [...others, ref] };
}

/** A Slack user as the product knows them. */
export interface SlackPerson {
  teamId: string;
  userId: string;
  enterpriseId?: string;
}

/**
 * Who is acting, on which surface. Every use case takes one, so one rule holds on every surface.
 * `principal` is the stable id of the person in this organisation: the web user id, or
 * `slack:<team>:<user>` for someone who has only ever used Slack.
 */
export interface Actor {
  tenantId: TenantId;
  principal: string;
  /** Every id this person is known by here: `principal` first, then proven ties (web <-> Slack). */
  principals: readonly string[];
  /** The organisation role: admins govern (list, delete anything, read every exchange). */
  role: Role;
  surface: Surface;
  web?: { userId: string; email: string };
  slack?: SlackPerson;
  /** A web account's Slack identities, proven in Slack (LinkService.connectSlackUser). */
  slackTies?: readonly SlackPerson[];
}

export const slackPrincipal = (teamId: string, userId: string): string => `slack:${teamId}:${userId}`;

/** Who will read an answer: the asker alone, or everyone who can read a Slack conversation. */
export type Audience = { kind: "asker" } | { kind: "conversation"; teamId: string; channelId: string };

export const ASKER: Audience = { kind: "asker" };

export const isAdmin = (actor: Pick<Actor, "role">): boolean => actor.role === "admin";
