import {
  type AccessKey,
  type Actor,
  type Audience,
  accessKeys,
  conversationKey,
  ORG_KEY,
  ownerKey,
  type SlackPerson,
  slackPrincipal,
  type Visibility,
  workspaceKey,
} from "../domain/access.js";
import type { Surface } from "../domain/audit.js";
import type { DocumentRecord } from "../domain/documents.js";
import { AppError } from "../domain/errors.js";
import type { Identity, TenantId } from "../domain/tenant.js";
import type { DocumentCatalog } from "../ports/document-catalog.js";
import type { Logger } from "../ports/logger.js";
import type { SlackDirectory, SlackUserInfo } from "../ports/slack-directory.js";
import type { TenantDirectory, WorkspaceLink } from "../ports/tenant-directory.js";

/** Why a Slack user is not served. Each has a message the surfaces show as it is. */
export type SlackRefusal = "not_linked" | "guest" | "external" | "unknown_user" | "unverified";

export const REFUSAL_MESSAGES: Record<SlackRefusal, string> = {
  not_linked: "This Slack workspace isn't linked to an organisation yet.",
  guest:
    "Sorry, I only answer full members of this workspace. Guests can't use Enclave: ask a member of your organisation.",
  external:
    "Sorry, I only answer members of the organisation that installed me. People from other organisations (Slack Connect) can't use Enclave here.",
  unknown_user: "Sorry, I couldn't find your Slack account, so I can't answer.",
  unverified: "I couldn't check your Slack account with Slack just now. Please try again in a minute.",
};

export type SlackActorResult =
  | { ok: true; actor: Actor; link: WorkspaceLink; user: SlackUserInfo }
  | { ok: false; refusal: SlackRefusal; link?: WorkspaceLink; user?: SlackUserInfo };

export interface SlackRequester extends SlackPerson {
  /** The author's own workspace when the payload says (Slack Connect); only a hint, Slack's users.info decides. */
  userTeamId?: string;
}

/** At most this many Slack look-ups at once while working out someone's conversations. */
const LOOKUP_CONCURRENCY = 8;

/**
 * Who may read what inside an organisation. A reader's access is a set of access keys (see
 * domain/access.ts); the chunk index filters on it inside the query and every listing filters on it,
 * so what a reader may not read does not exist for them. Slack answers the membership questions;
 * every failed look-up grants nothing.
 */
export class AccessService {
  constructor(
    private readonly directory: TenantDirectory,
    private readonly catalog: DocumentCatalog,
    private readonly slack: SlackDirectory | undefined,
    private readonly logger: Logger,
  ) {}

  /** A web account, with every Slack identity its owner has proved (see LinkService.connectSlackUser). */
  async webActor(identity: Identity, surface: Surface): Promise<Actor> {
    const ties = (await this.directory.listSlackIdentities(identity.tenantId, identity.userId)).map((t) => ({
      teamId: t.teamId,
      userId: t.slackUserId,
    }));
    return {
      tenantId: identity.tenantId,
      principal: identity.userId,
      principals: [identity.userId, ...ties.map((t) => slackPrincipal(t.teamId, t.userId))],
      role: identity.role,
      surface,
      web: { userId: identity.userId, email: identity.email },
      slackTies: ties,
    };
  }

  /** The operator's command line: acts for the organisation as an admin. */
  operatorActor(tenantId: TenantId): Actor {
    return { tenantId, principal: "cli", principals: ["cli"], role: "admin", surface: "cli" };
  }

  /**
   * A Slack user of the installation `teamId`, served only when the workspace is linked and Slack
   * says they are a full member of it (or of another workspace of the same Grid linked to the same
   * organisation). Their organisation role is that of the web account they proved they own, if any.
   */
  async slackActor(who: SlackRequester, surface: Surface): Promise<SlackActorResult> {
    const link = await this.directory.getLink(who.teamId);
    if (!link) return { ok: false, refusal: "not_linked" };
    const [checked, tenant] = await Promise.all([this.slackMember(who, link), this.directory.getTenant(link.tenantId)]);
    // An organisation being deleted is unlinked from the moment its admin asked.
    if (!tenant || tenant.deletingSince) return { ok: false, refusal: "not_linked" };
    if (!checked.ok) return { ...checked, link };
    const tie = await this.directory.getSlackIdentity(link.tenantId, who.teamId, who.userId);
    const member = tie ? await this.directory.getMember(link.tenantId, tie.userId) : undefined;
    const principal = slackPrincipal(who.teamId, who.userId);
    const actor: Actor = {
      tenantId: link.tenantId,
      principal,
      principals: member ? [principal, member.userId] : [principal],
      role: member?.role ?? "member",
      surface,
      slack: {
        teamId: who.teamId,
        userId: who.userId,
        ...(who.enterpriseId ? { enterpriseId: who.enterpriseId } : {}),
      },
      ...(member ? { web: { userId: member.userId, email: member.email } } : {}),
    };
    return { ok: true, actor, link, user: checked.user };
  }

  /** Whether Slack says this person is a full member of the linked workspace; never guessed. */
  async slackMember(
    who: SlackRequester,
    link: WorkspaceLink,
  ): Promise<{ ok: true; user: SlackUserInfo } | { ok: false; refusal: SlackRefusal; user?: SlackUserInfo }> {
    if (!this.slack) return { ok: false, refusal: "unverified" };
    let user: SlackUserInfo | undefined;
    try {
      user = await this.slack.user(who.teamId, who.userId);
    } catch (error) {
      this.logger.warn("could not look up a Slack user; refusing", { error, slackTeam: who.teamId });
      return { ok: false, refusal: "unverified" };
    }
    if (!user || user.deleted || user.bot) return { ok: false, refusal: "unknown_user" };
    if (user.guest) return { ok: false, refusal: "guest", user };
    if (user.stranger) return { ok: false, refusal: "external", user };
    const homes = new Set([user.teamId, who.userTeamId].filter((t): t is string => Boolean(t) && t !== who.teamId));
    for (const home of homes) {
      // Another workspace of the same Grid that is linked to the same organisation is still us.
      const other = await this.directory.getLink(home);
      if (other?.tenantId !== link.tenantId) return { ok: false, refusal: "external", user };
    }
    return { ok: true, user };
  }

  /** The access keys whoever reads an answer for `audience` holds in common. */
  async readable(actor: Actor, audience: Audience): Promise<AccessKey[]> {
    if (audience.kind === "conversation") return this.conversationReadable(actor, audience.teamId, audience.channelId);
    return this.askerReadable(actor);
  }

  async canRead(actor: Actor, visibility: Visibility, audience: Audience = { kind: "asker" }): Promise<boolean> {
    const readable = new Set(await this.readable(actor, audience));
    return accessKeys(visibility).some((key) => readable.has(key));
  }

  /** The subset of `documents` the actor may read themselves. */
  async readableDocuments(actor: Actor, documents: readonly DocumentRecord[]): Promise<DocumentRecord[]> {
    const readable = new Set(await this.askerReadable(actor, documents));
    return documents.filter((d) => accessKeys(d.visibility).some((key) => readable.has(key)));
  }

  /**
   * The asker's own access: the organisation's documents, their own private ones, and for each
   * Slack identity they are known by (a Slack user, or a web account's proven ties): the public
   * channels of that workspace and the conversations with documents they are a member of now.
   */
  private async askerReadable(actor: Actor, known?: readonly DocumentRecord[]): Promise<AccessKey[]> {
    const keys = new Set<AccessKey>([ORG_KEY, ...actor.principals.map(ownerKey)]);
    const people = await this.slackIdentitiesOf(actor);
    if (people.length === 0) return [...keys];
    const documents = known ?? (await this.catalog.list(actor.tenantId));
    const conversations = new Map<string, { teamId: string; channelId: string }>();
    for (const d of documents) {
      if (d.visibility.kind !== "slack_conversation") continue;
      for (const c of d.visibility.conversations) {
        if (!c.public) conversations.set(conversationKey(c.teamId, c.channelId), c);
      }
    }
    for (const person of people) keys.add(workspaceKey(person.teamId));
    const checks = [...conversations.values()].flatMap((c) =>
      people.filter((p) => p.teamId === c.teamId).map((p) => ({ c, p })),
    );
    await forEachLimited(checks, LOOKUP_CONCURRENCY, async ({ c, p }) => {
      if (await this.isMember(c.teamId, c.channelId, p.userId)) keys.add(conversationKey(c.teamId, c.channelId));
    });
    return [...keys];
  }

  /** Slack identities that may stand for this actor now: their own, or a web account's ties that still hold. */
  private async slackIdentitiesOf(actor: Actor): Promise<SlackPerson[]> {
    if (actor.slack) return [actor.slack];
    const people: SlackPerson[] = [];
    for (const tie of actor.slackTies ?? []) {
      const link = await this.directory.getLink(tie.teamId);
      // A tie counts only while its workspace is linked to this organisation and the person is still a full member.
      if (link?.tenantId !== actor.tenantId) continue;
      const member = await this.slackMember(tie, link);
      if (member.ok) people.push(tie);
    }
    return people;
  }

  /**
   * A thread in a conversation is read by all its members: it gets that conversation's own files, and
   * the organisation's documents and the workspace's public-channel files only when every member is a
   * full member of this workspace (no guest, nobody from another organisation, not shared by Slack Connect).
   */
  private async conversationReadable(actor: Actor, teamId: string, channelId: string): Promise<AccessKey[]> {
    const own = conversationKey(teamId, channelId);
    const link = await this.directory.getLink(teamId);
    if (!this.slack || link?.tenantId !== actor.tenantId) return [own];
    try {
      const info = await this.slack.conversation(teamId, channelId);
      if (!info || info.externallyShared) return [own];
      const members = await this.slack.members(teamId, channelId);
      if (!members) return [own];
      let everyoneFull = true;
      await forEachLimited(members, LOOKUP_CONCURRENCY, async (userId) => {
        if (!everyoneFull) return;
        const user = await this.slack?.user(teamId, userId);
        if (user?.bot) return;
        if (
          !user ||
          user.deleted ||
          user.guest ||
          user.stranger ||
          (user.teamId !== undefined && user.teamId !== teamId)
        )
          everyoneFull = false;
      });
      return everyoneFull ? [own, ORG_KEY, workspaceKey(teamId)] : [own];
    } catch (error) {
      this.logger.warn("could not read a conversation's members; answering from its own files only", {
        error,
        slackTeam: teamId,
      });
      return [own];
    }
  }

  /** Asked of the conversation's member list, or else of the user's conversations; unknown is "no". */
  private async isMember(teamId: string, channelId: string, userId: string): Promise<boolean> {
    const slack = this.slack;
    if (!slack) return false;
    try {
      const members = await slack.members(teamId, channelId);
      if (members) return members.includes(userId);
    } catch (error) {
      this.logger.warn("could not read a conversation's members; asking for the user's conversations", {
        error,
        slackTeam: teamId,
      });
    }
    try {
      return (await slack.conversationsOf(teamId, userId))?.includes(channelId) ?? false;
    } catch (error) {
      this.logger.warn("could not read who is in a conversation; treating as not a member", {
        error,
        slackTeam: teamId,
      });
      return false;
    }
  }
}

export function requireAdmin(actor: Pick<Actor, "role">): void {
  if (actor.role !== "admin") throw new AppError("forbidden", "Only an admin of your organisation can do this.");
}

/** Whether the actor added this document (under any of the ids they are known by). */
export const addedBy = (actor: Actor, document: DocumentRecord): boolean =>
  actor.principals.includes(document.uploadedBy);

async function forEachLimited<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await run(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
