import type { Role, Tenant, TenantId } from "../domain/tenant.js";

export interface Member {
  tenantId: TenantId;
  userId: string;
  email: string;
  role: Role;
  createdAt: string;
}

export interface Invite {
  tenantId: TenantId;
  role: Role;
  createdBy: string;
  expiresAt: string;
}

export interface WorkspaceLink {
  teamId: string;
  enterpriseId?: string;
  tenantId: TenantId;
  linkedBy: string;
  linkedAt: string;
}

/**
 * A web account's proven Slack identity: its owner opened a one-time link the bot sent them in Slack
 * while logged in. One Slack user is tied to at most one web account.
 */
export interface SlackIdentityLink {
  tenantId: TenantId;
  /** The web account (identity provider user id). */
  userId: string;
  teamId: string;
  slackUserId: string;
  linkedAt: string;
}

/** A Slack installation. The bot token is held encrypted by the store; callers see plain text. */
export interface SlackInstallationRecord {
  teamId: string;
  enterpriseId?: string;
  teamName?: string;
  botUserId: string;
  botId?: string;
  botToken: string;
  installedBy?: string;
  installedAt: string;
  /** The whole installation as Bolt gave it, minus secrets (kept for Bolt's authorize). */
  raw?: unknown;
}

/**
 * Operator-level directory: tenants, members, invites, workspace links, Slack installations and
 * processed-event claims. These are the only calls that resolve a tenant from something else.
 */
export interface TenantDirectory {
  createTenant(tenant: Tenant): Promise<void>;
  getTenant(id: TenantId): Promise<Tenant | undefined>;
  /** Every tenant, oldest first (operators: `list-tenants`). */
  listTenants(): Promise<Tenant[]>;
  /**
   * Records that the tenant is being deleted (`Tenant.deletingSince`), so that an erasure cut short is
   * found again by `tenantsBeingDeleted` and finished. Marking twice keeps the first time.
   */
  markDeleting(tenant: TenantId, at: Date): Promise<void>;
  tenantsBeingDeleted(): Promise<TenantId[]>;
  /**
   * Removes everything the directory holds of the tenant: its invites, workspace links and the Slack
   * installations of those workspaces, Slack identity ties, members, and last the tenant itself (with
   * its deletion mark). Safe to repeat after a failure part-way.
   */
  deleteTenant(tenant: TenantId): Promise<void>;

  addMember(member: Member): Promise<void>;
  getMember(tenant: TenantId, userId: string): Promise<Member | undefined>;
  listMembers(tenant: TenantId): Promise<Member[]>;

  /** Stores the invite under the SHA-256 of its code. */
  createInvite(codeHash: string, invite: Invite): Promise<void>;
  /** Atomically marks an unexpired, unused invite as used and returns it; undefined otherwise. */
  claimInvite(codeHash: string, now: Date): Promise<Invite | undefined>;
  releaseInvite(codeHash: string): Promise<void>;

  getLink(teamId: string): Promise<WorkspaceLink | undefined>;
  putLink(link: WorkspaceLink): Promise<void>;
  deleteLink(teamId: string): Promise<void>;
  listLinks(tenant: TenantId): Promise<WorkspaceLink[]>;

  /** Ties a Slack user to a web account, replacing any earlier tie of that Slack user. */
  putSlackIdentity(link: SlackIdentityLink): Promise<void>;
  getSlackIdentity(tenant: TenantId, teamId: string, slackUserId: string): Promise<SlackIdentityLink | undefined>;
  /** The Slack identities tied to one web account of the tenant. */
  listSlackIdentities(tenant: TenantId, userId: string): Promise<SlackIdentityLink[]>;
  deleteSlackIdentity(tenant: TenantId, teamId: string, slackUserId: string): Promise<void>;

  /** Single-use link tokens: true the first time a nonce is consumed, false after. */
  consumeNonce(nonce: string, expiresAt: Date): Promise<boolean>;

  putInstallation(installation: SlackInstallationRecord): Promise<void>;
  getInstallation(teamId: string): Promise<SlackInstallationRecord | undefined>;
  deleteInstallation(teamId: string): Promise<void>;

  /** Claims an event id (Slack retry de-duplication): true for the first claim, false afterwards. */
  claimEvent(eventKey: string, expiresAt: Date): Promise<boolean>;
  /** Gives a claim back when the work it guarded could not be queued, so Slack's retry is not dropped. */
  releaseEvent(eventKey: string): Promise<void>;
}
