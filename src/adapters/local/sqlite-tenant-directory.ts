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
import { jsonText, parseStored, roleSchema, StoredRecords, tenantIdSchema } from "../shared/stored-records.js";
import type { TokenCipher } from "../shared/token-cipher.js";
import { type Db, statement, truncateWal } from "./sqlite.js";

/** Rows as read back: the query's own columns, each checked (SQLite stores whatever it is given). */
type Row = Record<string, unknown>;

const tenantRow = z.object({
  id: tenantIdSchema,
  name: z.string(),
  created_at: z.string(),
  deleting_since: z.string().nullable(),
});

const TENANT_COLUMNS = "id, name, created_at, deleting_since";

const toTenant = (r: Row): Tenant => {
  const t = parseStored(tenantRow, r, { store: "tenants", key: String(r.id) });
  return {
    id: t.id,
    name: t.name,
    createdAt: t.created_at,
    ...(t.deleting_since ? { deletingSince: t.deleting_since } : {}),
  };
};

const linkRow = z.object({
  team_id: z.string(),
  enterprise_id: z.string().nullable(),
  tenant_id: tenantIdSchema,
  linked_by: z.string(),
  linked_at: z.string(),
});

const toLink = (row: Row): WorkspaceLink => {
  const r = parseStored(linkRow, row, { store: "workspace links", key: String(row.team_id) });
  return {
    teamId: r.team_id,
    ...(r.enterprise_id ? { enterpriseId: r.enterprise_id } : {}),
    tenantId: r.tenant_id,
    linkedBy: r.linked_by,
    linkedAt: r.linked_at,
  };
};

const memberRow = z.object({
  tenant_id: tenantIdSchema,
  user_id: z.string(),
  email: z.string(),
  role: roleSchema,
  created_at: z.string(),
});

const toMember = (row: Row): Member => {
  const r = parseStored(memberRow, row, { store: "members", key: `${String(row.tenant_id)}/${String(row.user_id)}` });
  return { tenantId: r.tenant_id, userId: r.user_id, email: r.email, role: r.role, createdAt: r.created_at };
};

const inviteRow = z.object({
  tenant_id: tenantIdSchema,
  role: roleSchema,
  created_by: z.string(),
  expires_at: z.string(),
});

const toInvite = (row: Row, codeHash: string): Invite => {
  const r = parseStored(inviteRow, row, { store: "invites", key: codeHash });
  return { tenantId: r.tenant_id, role: r.role, createdBy: r.created_by, expiresAt: r.expires_at };
};

const identityRow = z.object({
  tenant_id: tenantIdSchema,
  team_id: z.string(),
  slack_user_id: z.string(),
  user_id: z.string(),
  linked_at: z.string(),
});

const toIdentity = (row: Row): SlackIdentityLink => {
  const key = `${String(row.tenant_id)}/${String(row.team_id)}/${String(row.slack_user_id)}`;
  const r = parseStored(identityRow, row, { store: "Slack identities", key });
  return {
    tenantId: r.tenant_id,
    userId: r.user_id,
    teamId: r.team_id,
    slackUserId: r.slack_user_id,
    linkedAt: r.linked_at,
  };
};

const installationRow = z.object({
  team_id: z.string(),
  enterprise_id: z.string().nullable(),
  team_name: z.string().nullable(),
  bot_user_id: z.string(),
  bot_id: z.string().nullable(),
  bot_token: z.string(),
  installed_by: z.string().nullable(),
  installed_at: z.string(),
  raw: jsonText(z.unknown()).nullable(),
});

export class SqliteTenantDirectory implements TenantDirectory {
  private readonly stored: StoredRecords;
  private readonly claimOnce: (claim: () => boolean) => boolean;

  constructor(
    private readonly db: Db,
    private readonly cipher: TokenCipher,
    logger?: Logger,
  ) {
    this.stored = new StoredRecords(logger);
    this.claimOnce = db.transaction((claim: () => boolean) => claim());
  }

  async createTenant(tenant: Tenant): Promise<void> {
    this.db
      .prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)")
      .run(tenant.id, tenant.name, tenant.createdAt);
  }

  async getTenant(id: TenantId): Promise<Tenant | undefined> {
    const row = this.db.prepare(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = ?`).get(id) as Row | undefined;
    return row ? this.stored.one(() => toTenant(row)) : undefined;
  }

  async listTenants(): Promise<Tenant[]> {
    return this.stored.each(
      this.db.prepare(`SELECT ${TENANT_COLUMNS} FROM tenants ORDER BY created_at, id`).all() as Row[],
      toTenant,
    );
  }

  async markDeleting(tenant: TenantId, at: Date): Promise<void> {
    this.db
      .prepare("UPDATE tenants SET deleting_since = coalesce(deleting_since, ?) WHERE id = ?")
      .run(at.toISOString(), tenant);
  }

  async tenantsBeingDeleted(): Promise<TenantId[]> {
    const rows = this.db.prepare("SELECT id FROM tenants WHERE deleting_since IS NOT NULL").all() as Row[];
    return rows.map((r) => r.id).filter((id): id is TenantId => isTenantId(id));
  }

  async deleteTenant(tenant: TenantId): Promise<void> {
    // One transaction: a tenant is either still whole in the directory or gone from it.
    this.db.transaction(() => {
      const teams = this.db.prepare("SELECT team_id FROM links WHERE tenant_id = ?").all(tenant) as Row[];
      const dropInstallation = this.db.prepare("DELETE FROM installations WHERE team_id = ?");
      for (const { team_id } of teams) dropInstallation.run(team_id);
      for (const table of ["links", "invites", "slack_identities", "members"]) {
        this.db.prepare(`DELETE FROM ${table} WHERE tenant_id = ?`).run(tenant);
      }
      this.db.prepare("DELETE FROM tenants WHERE id = ?").run(tenant);
    })();
    // The deleted rows' old pages stay in the write-ahead log until it is emptied (without waiting for a
    // reader elsewhere, which would hold the event loop).
    truncateWal(this.db);
  }

  async addMember(m: Member): Promise<void> {
    this.db
      .prepare("INSERT INTO members (tenant_id, user_id, email, role, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(m.tenantId, m.userId, m.email, m.role, m.createdAt);
  }

  async getMember(tenant: TenantId, userId: string): Promise<Member | undefined> {
    const row = this.db.prepare("SELECT * FROM members WHERE tenant_id = ? AND user_id = ?").get(tenant, userId) as
      | Row
      | undefined;
    return row ? this.stored.one(() => toMember(row)) : undefined;
  }

  async listMembers(tenant: TenantId): Promise<Member[]> {
    return this.stored.each(
      this.db.prepare("SELECT * FROM members WHERE tenant_id = ? ORDER BY created_at").all(tenant) as Row[],
      toMember,
    );
  }

  async createInvite(codeHash: string, invite: Invite): Promise<void> {
    this.db
      .prepare("INSERT INTO invites (code_hash, tenant_id, role, created_by, expires_at) VALUES (?, ?, ?, ?, ?)")
      .run(codeHash, invite.tenantId, invite.role, invite.createdBy, invite.expiresAt);
  }

  async claimInvite(codeHash: string, now: Date): Promise<Invite | undefined> {
    const row = this.db
      .prepare(
        `UPDATE invites SET used_at = @now WHERE code_hash = @codeHash AND used_at IS NULL AND expires_at > @now
         RETURNING tenant_id, role, created_by, expires_at`,
      )
      .get({ codeHash, now: now.toISOString() }) as Row | undefined;
    return row ? this.stored.one(() => toInvite(row, codeHash)) : undefined;
  }

  async releaseInvite(codeHash: string): Promise<void> {
    this.db.prepare("UPDATE invites SET used_at = NULL WHERE code_hash = ?").run(codeHash);
  }

  async getLink(teamId: string): Promise<WorkspaceLink | undefined> {
    const row = statement(this.db, "SELECT * FROM links WHERE team_id = ?").get(teamId) as Row | undefined;
    return row ? this.stored.one(() => toLink(row)) : undefined;
  }

  async putLink(link: WorkspaceLink): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO links (team_id, enterprise_id, tenant_id, linked_by, linked_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (team_id) DO UPDATE SET enterprise_id = excluded.enterprise_id, tenant_id = excluded.tenant_id,
           linked_by = excluded.linked_by, linked_at = excluded.linked_at`,
      )
      .run(link.teamId, link.enterpriseId ?? null, link.tenantId, link.linkedBy, link.linkedAt);
  }

  async deleteLink(teamId: string): Promise<void> {
    this.db.prepare("DELETE FROM links WHERE team_id = ?").run(teamId);
  }

  async listLinks(tenant: TenantId): Promise<WorkspaceLink[]> {
    return this.stored.each(
      this.db.prepare("SELECT * FROM links WHERE tenant_id = ? ORDER BY linked_at").all(tenant) as Row[],
      toLink,
    );
  }

  async putSlackIdentity(link: SlackIdentityLink): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO slack_identities (tenant_id, team_id, slack_user_id, user_id, linked_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id, team_id, slack_user_id) DO UPDATE SET user_id = excluded.user_id,
           linked_at = excluded.linked_at`,
      )
      .run(link.tenantId, link.teamId, link.slackUserId, link.userId, link.linkedAt);
  }

  async getSlackIdentity(
    tenant: TenantId,
    teamId: string,
    slackUserId: string,
  ): Promise<SlackIdentityLink | undefined> {
    const row = this.db
      .prepare("SELECT * FROM slack_identities WHERE tenant_id = ? AND team_id = ? AND slack_user_id = ?")
      .get(tenant, teamId, slackUserId) as Row | undefined;
    return row ? this.stored.one(() => toIdentity(row)) : undefined;
  }

  async listSlackIdentities(tenant: TenantId, userId: string): Promise<SlackIdentityLink[]> {
    return this.stored.each(
      this.db
        .prepare(
          "SELECT * FROM slack_identities WHERE tenant_id = ? AND user_id = ? ORDER BY linked_at, team_id, slack_user_id",
        )
        .all(tenant, userId) as Row[],
      toIdentity,
    );
  }

  async deleteSlackIdentity(tenant: TenantId, teamId: string, slackUserId: string): Promise<void> {
    this.db
      .prepare("DELETE FROM slack_identities WHERE tenant_id = ? AND team_id = ? AND slack_user_id = ?")
      .run(tenant, teamId, slackUserId);
  }

  async consumeNonce(nonce: string, expiresAt: Date): Promise<boolean> {
    return this.claim("link_nonces", "nonce", nonce, expiresAt);
  }

  async claimEvent(eventKey: string, expiresAt: Date): Promise<boolean> {
    return this.claim("events", "event_key", eventKey, expiresAt);
  }

  async releaseEvent(eventKey: string): Promise<void> {
    statement(this.db, "DELETE FROM events WHERE event_key = ?").run(eventKey);
  }

  /**
   * First writer wins; expired claims are swept on the way. Every Slack delivery claims twice before it
   * is acknowledged, so the statements are compiled once.
   */
  private claim(table: "events" | "link_nonces", column: string, key: string, expiresAt: Date): boolean {
    const sweep = statement(this.db, `DELETE FROM ${table} WHERE expires_at < ?`);
    const insert = statement(
      this.db,
      `INSERT INTO ${table} (${column}, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
    );
    return this.claimOnce(() => {
      sweep.run(new Date().toISOString());
      return insert.run(key, expiresAt.toISOString()).changes === 1;
    });
  }

  async putInstallation(i: SlackInstallationRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO installations (team_id, enterprise_id, team_name, bot_user_id, bot_id, bot_token, installed_by, installed_at, raw)
         VALUES (@teamId, @enterpriseId, @teamName, @botUserId, @botId, @botToken, @installedBy, @installedAt, @raw)
         ON CONFLICT (team_id) DO UPDATE SET enterprise_id = excluded.enterprise_id, team_name = excluded.team_name,
           bot_user_id = excluded.bot_user_id, bot_id = excluded.bot_id, bot_token = excluded.bot_token,
           installed_by = excluded.installed_by, installed_at = excluded.installed_at, raw = excluded.raw`,
      )
      .run({
        teamId: i.teamId,
        enterpriseId: i.enterpriseId ?? null,
        teamName: i.teamName ?? null,
        botUserId: i.botUserId,
        botId: i.botId ?? null,
        botToken: this.cipher.encrypt(i.botToken, `slack-bot-token:${i.teamId}`),
        installedBy: i.installedBy ?? null,
        installedAt: i.installedAt,
        raw: i.raw === undefined ? null : JSON.stringify(i.raw),
      });
  }

  async getInstallation(teamId: string): Promise<SlackInstallationRecord | undefined> {
    const found = statement(this.db, "SELECT * FROM installations WHERE team_id = ?").get(teamId) as Row | undefined;
    if (!found) return undefined;
    const row = this.stored.one(() =>
      parseStored(installationRow, found, { store: "Slack installations", key: String(found.team_id) }),
    );
    return {
      teamId: row.team_id,
      ...(row.enterprise_id ? { enterpriseId: row.enterprise_id } : {}),
      ...(row.team_name ? { teamName: row.team_name } : {}),
      botUserId: row.bot_user_id,
      ...(row.bot_id ? { botId: row.bot_id } : {}),
      botToken: this.cipher.decrypt(row.bot_token, `slack-bot-token:${row.team_id}`),
      ...(row.installed_by ? { installedBy: row.installed_by } : {}),
      installedAt: row.installed_at,
      ...(row.raw !== null && row.raw !== undefined ? { raw: row.raw } : {}),
    };
  }

  async deleteInstallation(teamId: string): Promise<void> {
    this.db.prepare("DELETE FROM installations WHERE team_id = ?").run(teamId);
  }
}
