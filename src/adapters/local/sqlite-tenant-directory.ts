import type { Tenant, TenantId } from "../../domain/tenant.js";
import type {
  Invite,
  Member,
  SlackIdentityLink,
  SlackInstallationRecord,
  TenantDirectory,
  WorkspaceLink,
} from "../../ports/tenant-directory.js";
import type { TokenCipher } from "../shared/token-cipher.js";
import type { Db } from "./sqlite.js";

interface LinkRow {
  team_id: string;
  enterprise_id: string | null;
  tenant_id: string;
  linked_by: string;
  linked_at: string;
}

const toLink = (r: LinkRow): WorkspaceLink => ({
  teamId: r.team_id,
  ...(r.enterprise_id ? { enterpriseId: r.enterprise_id } : {}),
  tenantId: r.tenant_id as TenantId,
  linkedBy: r.linked_by,
  linkedAt: r.linked_at,
});

interface MemberRow {
  tenant_id: string;
  user_id: string;
  email: string;
  role: Member["role"];
  created_at: string;
}

const toMember = (r: MemberRow): Member => ({
  tenantId: r.tenant_id as TenantId,
  userId: r.user_id,
  email: r.email,
  role: r.role,
  createdAt: r.created_at,
});

interface IdentityRow {
  tenant_id: string;
  team_id: string;
  slack_user_id: string;
  user_id: string;
  linked_at: string;
}

const toIdentity = (r: IdentityRow): SlackIdentityLink => ({
  tenantId: r.tenant_id as TenantId,
  userId: r.user_id,
  teamId: r.team_id,
  slackUserId: r.slack_user_id,
  linkedAt: r.linked_at,
});

export class SqliteTenantDirectory implements TenantDirectory {
  constructor(
    private readonly db: Db,
    private readonly cipher: TokenCipher,
  ) {}

  async createTenant(tenant: Tenant): Promise<void> {
    this.db
      .prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)")
      .run(tenant.id, tenant.name, tenant.createdAt);
  }

  async getTenant(id: TenantId): Promise<Tenant | undefined> {
    const row = this.db.prepare("SELECT id, name, created_at FROM tenants WHERE id = ?").get(id) as
      | { id: string; name: string; created_at: string }
      | undefined;
    return row ? { id: row.id as TenantId, name: row.name, createdAt: row.created_at } : undefined;
  }

  async addMember(m: Member): Promise<void> {
    this.db
      .prepare("INSERT INTO members (tenant_id, user_id, email, role, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(m.tenantId, m.userId, m.email, m.role, m.createdAt);
  }

  async getMember(tenant: TenantId, userId: string): Promise<Member | undefined> {
    const row = this.db.prepare("SELECT * FROM members WHERE tenant_id = ? AND user_id = ?").get(tenant, userId) as
      | MemberRow
      | undefined;
    return row ? toMember(row) : undefined;
  }

  async listMembers(tenant: TenantId): Promise<Member[]> {
    return (
      this.db.prepare("SELECT * FROM members WHERE tenant_id = ? ORDER BY created_at").all(tenant) as MemberRow[]
    ).map(toMember);
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
      .get({ codeHash, now: now.toISOString() }) as
      | { tenant_id: string; role: Invite["role"]; created_by: string; expires_at: string }
      | undefined;
    return row
      ? {
          tenantId: row.tenant_id as TenantId,
          role: row.role,
          createdBy: row.created_by,
          expiresAt: row.expires_at,
        }
      : undefined;
  }

  async releaseInvite(codeHash: string): Promise<void> {
    this.db.prepare("UPDATE invites SET used_at = NULL WHERE code_hash = ?").run(codeHash);
  }

  async getLink(teamId: string): Promise<WorkspaceLink | undefined> {
    const row = this.db.prepare("SELECT * FROM links WHERE team_id = ?").get(teamId) as LinkRow | undefined;
    return row ? toLink(row) : undefined;
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
    return (this.db.prepare("SELECT * FROM links WHERE tenant_id = ? ORDER BY linked_at").all(tenant) as LinkRow[]).map(
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
      .get(tenant, teamId, slackUserId) as IdentityRow | undefined;
    return row ? toIdentity(row) : undefined;
  }

  async listSlackIdentities(tenant: TenantId, userId: string): Promise<SlackIdentityLink[]> {
    return (
      this.db
        .prepare(
          "SELECT * FROM slack_identities WHERE tenant_id = ? AND user_id = ? ORDER BY linked_at, team_id, slack_user_id",
        )
        .all(tenant, userId) as IdentityRow[]
    ).map(toIdentity);
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
    this.db.prepare("DELETE FROM events WHERE event_key = ?").run(eventKey);
  }

  /** First writer wins; expired claims are swept on the way. */
  private claim(table: "events" | "link_nonces", column: string, key: string, expiresAt: Date): boolean {
    const now = new Date().toISOString();
    return this.db.transaction(() => {
      this.db.prepare(`DELETE FROM ${table} WHERE expires_at < ?`).run(now);
      return (
        this.db
          .prepare(`INSERT INTO ${table} (${column}, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING`)
          .run(key, expiresAt.toISOString()).changes === 1
      );
    })();
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
    const row = this.db.prepare("SELECT * FROM installations WHERE team_id = ?").get(teamId) as
      | {
          team_id: string;
          enterprise_id: string | null;
          team_name: string | null;
          bot_user_id: string;
          bot_id: string | null;
          bot_token: string;
          installed_by: string | null;
          installed_at: string;
          raw: string | null;
        }
      | undefined;
    if (!row) return undefined;
    return {
      teamId: row.team_id,
      ...(row.enterprise_id ? { enterpriseId: row.enterprise_id } : {}),
      ...(row.team_name ? { teamName: row.team_name } : {}),
      botUserId: row.bot_user_id,
      ...(row.bot_id ? { botId: row.bot_id } : {}),
      botToken: this.cipher.decrypt(row.bot_token, `slack-bot-token:${row.team_id}`),
      ...(row.installed_by ? { installedBy: row.installed_by } : {}),
      installedAt: row.installed_at,
      ...(row.raw ? { raw: JSON.parse(row.raw) as unknown } : {}),
    };
  }

  async deleteInstallation(teamId: string): Promise<void> {
    this.db.prepare("DELETE FROM installations WHERE team_id = ?").run(teamId);
  }
}
