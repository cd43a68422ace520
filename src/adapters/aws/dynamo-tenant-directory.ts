import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateScan,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { isTenantId, type Tenant, type TenantId } from "../../domain/tenant.js";
import type { Logger } from "../../ports/logger.js";
import type {
  Invite,
  Member,
  SlackIdentityLink,
  SlackInstallationRecord,
  TenantDirectory,
  WorkspaceLink,
} from "../../ports/tenant-directory.js";
import {
  jsonText,
  parseStored,
  roleSchema,
  type StoredAt,
  StoredRecords,
  tenantIdSchema,
} from "../shared/stored-records.js";
import { guarded } from "./aws-errors.js";
import { conditional, epochSeconds, isConditionFailure, queryAll, tenantPk } from "./dynamo.js";
import { deleteKeys, deletePartition, type ItemKey } from "./dynamo-batch.js";
import type { TokenSealer } from "./token-sealer.js";

const WHAT = "The account directory";
const DAY_MS = 86_400_000;

const role = roleSchema;
const tenantItem = z.object({
  pk: tenantIdSchema,
  name: z.string(),
  createdAt: z.string(),
  deletingSince: z.string().optional(),
});
const memberItem = z.object({ sk: z.string(), email: z.string(), role, createdAt: z.string() });
const inviteItem = z.object({ tenantId: tenantIdSchema, role, createdBy: z.string(), expiresAt: z.string() });
const linkItem = z.object({
  teamId: z.string(),
  enterpriseId: z.string().optional(),
  tenantId: tenantIdSchema,
  linkedBy: z.string(),
  linkedAt: z.string(),
});
const identityItem = z.object({
  tenantId: tenantIdSchema,
  userId: z.string(),
  teamId: z.string(),
  slackUserId: z.string(),
  linkedAt: z.string(),
});
const installationItem = z.object({
  teamId: z.string(),
  enterpriseId: z.string().optional(),
  teamName: z.string().optional(),
  botUserId: z.string(),
  botId: z.string().optional(),
  botToken: z.string(),
  installedBy: z.string().optional(),
  installedAt: z.string(),
  raw: jsonText(z.unknown()).optional(),
});

const keyOf = (item: Record<string, unknown>): ItemKey => ({ pk: String(item.pk), sk: String(item.sk) });

/** Every item has its key (DynamoDB refuses one without), so the key names a damaged item. */
const at = (store: string, item: Record<string, unknown>): StoredAt => ({
  store,
  key: `${String(item.pk)}/${String(item.sk)}`,
});

const toLink = (item: Record<string, unknown>): WorkspaceLink => {
  const i = parseStored(linkItem, item, at("workspace links", item));
  return {
    teamId: i.teamId,
    ...(i.enterpriseId ? { enterpriseId: i.enterpriseId } : {}),
    tenantId: i.tenantId,
    linkedBy: i.linkedBy,
    linkedAt: i.linkedAt,
  };
};

const toTenant = (item: Record<string, unknown>): Tenant => {
  const t = parseStored(tenantItem, item, at("tenants", item));
  return {
    id: t.pk,
    name: t.name,
    createdAt: t.createdAt,
    ...(t.deletingSince ? { deletingSince: t.deletingSince } : {}),
  };
};

const toIdentity = (item: Record<string, unknown>): SlackIdentityLink =>
  parseStored(identityItem, item, at("Slack identities", item));

const toMember = (tenant: TenantId, item: Record<string, unknown>): Member => {
  const m = parseStored(memberItem, item, at("members", item));
  return { tenantId: tenant, userId: m.sk, email: m.email, role: m.role, createdAt: m.createdAt };
};

const tokenContext = (teamId: string) => `slack-bot-token:${teamId}`;
/** The partition of deletion marks: one item per tenant being deleted, so finding them is a Query. */
const DELETING_PK = "deleting";
const inviteKey = (codeHash: string): ItemKey => ({ pk: `invite#${codeHash}`, sk: "invite" });
const identitySk = (teamId: string, slackUserId: string) => `${teamId}#${slackUserId}`;
const identityListPk = (tenant: TenantId, userId: string) => tenantPk(tenant, `slackid-of#${userId}`);
const byLinkedAt = (x: SlackIdentityLink, y: SlackIdentityLink) =>
  x.linkedAt.localeCompare(y.linkedAt) ||
  x.teamId.localeCompare(y.teamId) ||
  x.slackUserId.localeCompare(y.slackUserId);

/**
 * The operator-level directory in one DynamoDB table (base credentials: these calls resolve a tenant
 * from something else, so they cannot run as one tenant). Items:
 *   `<tenant>`             / `tenant`        the tenant
 *   `<tenant>#member`      / `<user id>`     memberships
 *   `<tenant>#link`        / `<team id>`     which workspaces a tenant has linked (listing aid)
 *   `<tenant>#slackid`     / `<team>#<slack user>`  a Slack user's tie to a web account (source of truth)
 *   `<tenant>#slackid-of#<user id>` / `<team>#<slack user>`  the ties of one web account (listing aid)
 *   `<tenant>#invite`      / `<code hash>`   which invites a tenant has made (listing aid, same TTL)
 *   `link#<team id>`       / `link`          the workspace link itself (source of truth)
 *   `invite#<code hash>`   / `invite`        single-use invites
 *   `deleting`             / `<tenant id>`   tenants being deleted (`since`), while the erasure runs
 *   `install#<team id>`    / `install`       Slack installations, bot token sealed (KMS or ENCRYPTION_KEY)
 *   `nonce#<nonce>`, `event#<key>` / `claim`  single-use claims, TTL `expires_at`
 * Tenant-owned items keep the tenant id first in the key; TTL (`expires_at`, epoch seconds) only
 * cleans up, since DynamoDB deletes expired items lazily: every read checks expiry itself.
 */
export class DynamoTenantDirectory implements TenantDirectory {
  private readonly stored: StoredRecords;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly sealer: TokenSealer,
    logger?: Logger,
  ) {
    this.stored = new StoredRecords(logger);
  }

  private async getItem(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk, sk }, ConsistentRead: true }));
    return result.Item as Record<string, unknown> | undefined;
  }

  async createTenant(tenant: Tenant): Promise<void> {
    await guarded(WHAT, () =>
      this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: tenantPk(tenant.id), sk: "tenant", name: tenant.name, createdAt: tenant.createdAt },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      ),
    );
  }

  async getTenant(id: TenantId): Promise<Tenant | undefined> {
    if (!isTenantId(id)) return undefined;
    return guarded(WHAT, async () => {
      const item = await this.getItem(tenantPk(id), "tenant");
      return item ? this.stored.one(() => toTenant(item)) : undefined;
    });
  }

  /** A Scan (tenant items are the only ones with sort key `tenant`): an operator command, not a request path. */
  async listTenants(): Promise<Tenant[]> {
    return guarded(WHAT, async () => {
      const items: Record<string, unknown>[] = [];
      const pages = paginateScan(
        { client: this.db },
        {
          TableName: this.table,
          FilterExpression: "#sk = :tenant",
          ExpressionAttributeNames: { "#sk": "sk" },
          ExpressionAttributeValues: { ":tenant": "tenant" },
          ConsistentRead: true,
        },
      );
      for await (const page of pages) items.push(...((page.Items ?? []) as Record<string, unknown>[]));
      return this.stored
        .each(items, toTenant)
        .sort((x, y) => x.createdAt.localeCompare(y.createdAt) || x.id.localeCompare(y.id));
    });
  }

  /**
   * The deletion mark is written first, then the tenant's `deletingSince`, both keeping the first time: a
   * tenant that says it is being deleted is always found by tenantsBeingDeleted. Unknown tenants are left
   * unmarked.
   */
  async markDeleting(tenant: TenantId, at: Date): Promise<void> {
    await guarded(WHAT, async () => {
      if (!(await this.getItem(tenantPk(tenant), "tenant"))) return;
      const mark = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: DELETING_PK, sk: tenant },
          UpdateExpression: "SET since = if_not_exists(since, :at)",
          ExpressionAttributeValues: { ":at": at.toISOString() },
          ReturnValues: "ALL_NEW",
        }),
      );
      const since = typeof mark.Attributes?.since === "string" ? mark.Attributes.since : at.toISOString();
      await conditional(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: tenantPk(tenant), sk: "tenant" },
            UpdateExpression: "SET deletingSince = if_not_exists(deletingSince, :since)",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeValues: { ":since": since },
          }),
        ),
      );
    });
  }

  async tenantsBeingDeleted(): Promise<TenantId[]> {
    return guarded(WHAT, async () => {
      const marks = await queryAll(this.db, {
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": DELETING_PK },
        ConsistentRead: true,
      });
      return marks.map((m) => m.sk).filter(isTenantId);
    });
  }

  /**
   * Everything of the tenant, each kind found by a Query of a tenant partition, sources of truth before the
   * listing markers that find them (so a run cut short is finished by the next), the tenant item and last its
   * deletion mark. Items are removed whatever their shape: a damaged item is still the tenant's. The rate
   * limiter's items in this table hold no tenant id (DynamoRateLimiter hashes its keys) and expire by TTL.
   */
  async deleteTenant(tenant: TenantId): Promise<void> {
    await guarded(WHAT, async () => {
      const partition = (kind: string) =>
        queryAll(this.db, {
          TableName: this.table,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": tenantPk(tenant, kind) },
          ConsistentRead: true,
        });
      // An item another tenant now owns stays: a link moved since its marker was written (or, however
      // unlikely, an invite under the same code hash).
      const ownedHere = (item: Record<string, unknown>) => !(isTenantId(item.tenantId) && item.tenantId !== tenant);

      const inviteMarks = await partition("invite");
      const invites = await this.batchGet(inviteMarks.map((m) => inviteKey(String(m.sk))));
      await deleteKeys(this.db, this.table, invites.filter(ownedHere).map(keyOf));
      await deleteKeys(this.db, this.table, inviteMarks.map(keyOf));

      // Installations before links: the link is what shows a workspace was this tenant's.
      const linkMarks = await partition("link");
      const links = await this.batchGet(linkMarks.map((m) => ({ pk: `link#${String(m.sk)}`, sk: "link" })));
      const teams = links.filter(ownedHere).map((l) => String(l.pk).slice("link#".length));
      await deleteKeys(
        this.db,
        this.table,
        teams.map((team) => ({ pk: `install#${team}`, sk: "install" })),
      );
      await deleteKeys(
        this.db,
        this.table,
        teams.map((team) => ({ pk: `link#${team}`, sk: "link" })),
      );
      await deleteKeys(this.db, this.table, linkMarks.map(keyOf));

      // Each web account's listing of its ties, for every account that holds a tie or is a member (a marker
      // an interrupted re-tie left behind belongs to one of them), then the ties, then the members.
      const ties = await partition("slackid");
      const members = await partition("member");
      const accounts = new Set([
        ...ties.flatMap((t) => (typeof t.userId === "string" ? [t.userId] : [])),
        ...members.map((m) => String(m.sk)),
      ]);
      for (const userId of accounts) await deletePartition(this.db, this.table, identityListPk(tenant, userId));
      await deleteKeys(this.db, this.table, ties.map(keyOf));
      await deleteKeys(this.db, this.table, members.map(keyOf));

      await this.db.send(new DeleteCommand({ TableName: this.table, Key: { pk: tenantPk(tenant), sk: "tenant" } }));
      await this.db.send(new DeleteCommand({ TableName: this.table, Key: { pk: DELETING_PK, sk: tenant } }));
    });
  }

  async addMember(m: Member): Promise<void> {
    await guarded(WHAT, () =>
      this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: tenantPk(m.tenantId, "member"),
            sk: m.userId,
            email: m.email,
            role: m.role,
            createdAt: m.createdAt,
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      ),
    );
  }

  async getMember(tenant: TenantId, userId: string): Promise<Member | undefined> {
    return guarded(WHAT, async () => {
      const item = await this.getItem(tenantPk(tenant, "member"), userId);
      return item ? this.stored.one(() => toMember(tenant, item)) : undefined;
    });
  }

  async listMembers(tenant: TenantId): Promise<Member[]> {
    return guarded(WHAT, async () => {
      const items = await queryAll(this.db, {
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": tenantPk(tenant, "member") },
        ConsistentRead: true,
      });
      return this.stored
        .each(items, (item) => toMember(tenant, item))
        .sort((x, y) => (x.createdAt < y.createdAt ? -1 : x.createdAt > y.createdAt ? 1 : 0));
    });
  }

  async createInvite(codeHash: string, invite: Invite): Promise<void> {
    const expires_at = epochSeconds(Date.parse(invite.expiresAt) + DAY_MS);
    await guarded(WHAT, async () => {
      // The tenant's listing marker first (deleteTenant finds its invites by it), so no invite is without one.
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: tenantPk(invite.tenantId, "invite"), sk: codeHash, expires_at },
        }),
      );
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...inviteKey(codeHash), ...invite, expires_at },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    });
  }

  async claimInvite(codeHash: string, now: Date): Promise<Invite | undefined> {
    return guarded(WHAT, async () => {
      try {
        const result = await this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: `invite#${codeHash}`, sk: "invite" },
            UpdateExpression: "SET usedAt = :now",
            ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(usedAt) AND expiresAt > :now",
            ExpressionAttributeValues: { ":now": now.toISOString() },
            ReturnValues: "ALL_NEW",
          }),
        );
        const item = (result.Attributes ?? {}) as Record<string, unknown>;
        const i = this.stored.one(() => parseStored(inviteItem, item, at("invites", item)));
        return { tenantId: i.tenantId, role: i.role, createdBy: i.createdBy, expiresAt: i.expiresAt };
      } catch (error) {
        if (isConditionFailure(error)) return undefined;
        throw error;
      }
    });
  }

  async releaseInvite(codeHash: string): Promise<void> {
    await guarded(WHAT, () =>
      conditional(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: `invite#${codeHash}`, sk: "invite" },
            UpdateExpression: "REMOVE usedAt",
            ConditionExpression: "attribute_exists(pk)",
          }),
        ),
      ),
    );
  }

  async getLink(teamId: string): Promise<WorkspaceLink | undefined> {
    return guarded(WHAT, async () => {
      const item = await this.getItem(`link#${teamId}`, "link");
      return item ? this.stored.one(() => toLink(item)) : undefined;
    });
  }

  async putLink(link: WorkspaceLink): Promise<void> {
    await guarded(WHAT, async () => {
      const previous = await this.getLink(link.teamId);
      // Listing marker first, then the link, then the old tenant's marker: a marker may briefly name a
      // link that moved, and listLinks checks every marker against the link itself.
      await this.db.send(
        new PutCommand({ TableName: this.table, Item: { pk: tenantPk(link.tenantId, "link"), sk: link.teamId } }),
      );
      await this.db.send(
        new PutCommand({ TableName: this.table, Item: { pk: `link#${link.teamId}`, sk: "link", ...link } }),
      );
      if (previous && previous.tenantId !== link.tenantId) {
        await this.db.send(
          new DeleteCommand({
            TableName: this.table,
            Key: { pk: tenantPk(previous.tenantId, "link"), sk: link.teamId },
          }),
        );
      }
    });
  }

  async deleteLink(teamId: string): Promise<void> {
    await guarded(WHAT, async () => {
      const previous = await this.getLink(teamId);
      await this.db.send(new DeleteCommand({ TableName: this.table, Key: { pk: `link#${teamId}`, sk: "link" } }));
      if (previous)
        await this.db.send(
          new DeleteCommand({ TableName: this.table, Key: { pk: tenantPk(previous.tenantId, "link"), sk: teamId } }),
        );
    });
  }

  async listLinks(tenant: TenantId): Promise<WorkspaceLink[]> {
    return guarded(WHAT, async () => {
      const markers = await queryAll(this.db, {
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": tenantPk(tenant, "link") },
        ConsistentRead: true,
      });
      const keys = markers.map((m) => ({ pk: `link#${String(m.sk)}`, sk: "link" }));
      const links = this.stored.each(await this.batchGet(keys), toLink);
      return links
        .filter((l) => l.tenantId === tenant)
        .sort((x, y) => (x.linkedAt < y.linkedAt ? -1 : x.linkedAt > y.linkedAt ? 1 : 0));
    });
  }

  async putSlackIdentity(link: SlackIdentityLink): Promise<void> {
    await guarded(WHAT, async () => {
      const sk = identitySk(link.teamId, link.slackUserId);
      const previous = await this.getSlackIdentity(link.tenantId, link.teamId, link.slackUserId);
      // Same order as putLink: listing marker, tie, then the previous account's marker. A marker may briefly
      // name a tie that moved; listSlackIdentities checks every marker against the tie itself.
      await this.db.send(
        new PutCommand({ TableName: this.table, Item: { pk: identityListPk(link.tenantId, link.userId), sk } }),
      );
      await this.db.send(
        new PutCommand({ TableName: this.table, Item: { pk: tenantPk(link.tenantId, "slackid"), sk, ...link } }),
      );
      if (previous && previous.userId !== link.userId)
        await this.db.send(
          new DeleteCommand({ TableName: this.table, Key: { pk: identityListPk(link.tenantId, previous.userId), sk } }),
        );
    });
  }

  async getSlackIdentity(
    tenant: TenantId,
    teamId: string,
    slackUserId: string,
  ): Promise<SlackIdentityLink | undefined> {
    return guarded(WHAT, async () => {
      const item = await this.getItem(tenantPk(tenant, "slackid"), identitySk(teamId, slackUserId));
      return item ? this.stored.one(() => toIdentity(item)) : undefined;
    });
  }

  async listSlackIdentities(tenant: TenantId, userId: string): Promise<SlackIdentityLink[]> {
    return guarded(WHAT, async () => {
      const markers = await queryAll(this.db, {
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": identityListPk(tenant, userId) },
        ConsistentRead: true,
      });
      const keys = markers.map((m) => ({ pk: tenantPk(tenant, "slackid"), sk: String(m.sk) }));
      const ties = this.stored.each(await this.batchGet(keys), toIdentity);
      return ties.filter((t) => t.tenantId === tenant && t.userId === userId).sort(byLinkedAt);
    });
  }

  async deleteSlackIdentity(tenant: TenantId, teamId: string, slackUserId: string): Promise<void> {
    await guarded(WHAT, async () => {
      const sk = identitySk(teamId, slackUserId);
      const result = await this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: tenantPk(tenant, "slackid"), sk },
          ReturnValues: "ALL_OLD",
        }),
      );
      // Only the account id is needed to drop its listing marker, so a tie damaged elsewhere still goes.
      const userId: unknown = result.Attributes?.userId;
      if (typeof userId === "string")
        await this.db.send(
          new DeleteCommand({ TableName: this.table, Key: { pk: identityListPk(tenant, userId), sk } }),
        );
    });
  }

  /** Every item of `keys` that exists, in pages of 100, retrying what DynamoDB left unprocessed. */
  private async batchGet(keys: readonly Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let request: Record<string, { Keys: Record<string, unknown>[]; ConsistentRead?: boolean }> | undefined = {
        [this.table]: { Keys: keys.slice(i, i + 100), ConsistentRead: true },
      };
      while (request && Object.keys(request).length > 0) {
        const result = await this.db.send(new BatchGetCommand({ RequestItems: request }));
        items.push(...((result.Responses?.[this.table] ?? []) as Record<string, unknown>[]));
        request = result.UnprocessedKeys as typeof request;
      }
    }
    return items;
  }

  async consumeNonce(nonce: string, expiresAt: Date): Promise<boolean> {
    return this.claim(`nonce#${nonce}`, expiresAt);
  }

  async claimEvent(eventKey: string, expiresAt: Date): Promise<boolean> {
    return this.claim(`event#${eventKey}`, expiresAt);
  }

  async releaseEvent(eventKey: string): Promise<void> {
    await guarded(WHAT, () =>
      this.db.send(new DeleteCommand({ TableName: this.table, Key: { pk: `event#${eventKey}`, sk: "claim" } })),
    );
  }

  /** First writer wins: a conditional put that also succeeds over an expired claim. */
  private async claim(pk: string, expiresAt: Date): Promise<boolean> {
    return guarded(WHAT, () =>
      conditional(() =>
        this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: { pk, sk: "claim", expiresAtMs: expiresAt.getTime(), expires_at: epochSeconds(expiresAt) },
            ConditionExpression: "attribute_not_exists(pk) OR expiresAtMs < :now",
            ExpressionAttributeValues: { ":now": Date.now() },
          }),
        ),
      ),
    );
  }

  async putInstallation(i: SlackInstallationRecord): Promise<void> {
    const botToken = await this.sealer.seal(i.botToken, tokenContext(i.teamId));
    await guarded(WHAT, () =>
      this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: `install#${i.teamId}`,
            sk: "install",
            teamId: i.teamId,
            ...(i.enterpriseId ? { enterpriseId: i.enterpriseId } : {}),
            ...(i.teamName ? { teamName: i.teamName } : {}),
            botUserId: i.botUserId,
            ...(i.botId ? { botId: i.botId } : {}),
            botToken,
            ...(i.installedBy ? { installedBy: i.installedBy } : {}),
            installedAt: i.installedAt,
            ...(i.raw === undefined ? {} : { raw: JSON.stringify(i.raw) }),
          },
        }),
      ),
    );
  }

  async getInstallation(teamId: string): Promise<SlackInstallationRecord | undefined> {
    return guarded(WHAT, async () => {
      const item = await this.getItem(`install#${teamId}`, "install");
      if (!item) return undefined;
      const i = this.stored.one(() => parseStored(installationItem, item, at("Slack installations", item)));
      return {
        teamId: i.teamId,
        ...(i.enterpriseId ? { enterpriseId: i.enterpriseId } : {}),
        ...(i.teamName ? { teamName: i.teamName } : {}),
        botUserId: i.botUserId,
        ...(i.botId ? { botId: i.botId } : {}),
        botToken: await this.sealer.open(i.botToken, tokenContext(i.teamId)),
        ...(i.installedBy ? { installedBy: i.installedBy } : {}),
        installedAt: i.installedAt,
        ...(i.raw !== undefined ? { raw: i.raw } : {}),
      };
    });
  }

  async deleteInstallation(teamId: string): Promise<void> {
    await guarded(WHAT, () =>
      this.db.send(new DeleteCommand({ TableName: this.table, Key: { pk: `install#${teamId}`, sk: "install" } })),
    );
  }
}
