import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Actor } from "../domain/access.js";
import { AppError } from "../domain/errors.js";
import type { TenantId } from "../domain/tenant.js";
import type { Logger } from "../ports/logger.js";
import type { SlackDirectory } from "../ports/slack-directory.js";
import type { SlackIdentityLink, TenantDirectory, WorkspaceLink } from "../ports/tenant-directory.js";
import { REFUSAL_MESSAGES, requireAdmin } from "./access.js";

export const LINK_TOKEN_TTL_MS = 15 * 60 * 1000;

/**
 * What a link token asserts, until `exp`: this Slack user of this workspace asked to link it to an
 * organisation (`workspace`), or to prove to their web account of `tenant_id` that they are this
 * Slack user (`identity`). Tokens without a purpose are workspace links.
 */
export interface LinkTokenClaims {
  purpose?: "workspace" | "identity";
  tenant_id?: string;
  team_id: string;
  enterprise_id?: string;
  team_name?: string;
  slack_user_id: string;
  nonce: string;
  /** Unix seconds. */
  exp: number;
}

const claimsSchema = z.object({
  purpose: z.enum(["workspace", "identity"]).optional(),
  tenant_id: z.string().min(1).max(64).optional(),
  team_id: z.string().min(1).max(64),
  enterprise_id: z.string().min(1).max(64).optional(),
  team_name: z.string().max(200).optional(),
  slack_user_id: z.string().min(1).max(64),
  nonce: z.string().min(16).max(64),
  exp: z.number().int().positive(),
});

export interface LinkRequest {
  teamId: string;
  enterpriseId?: string;
  teamName?: string;
  slackUserId: string;
}

/** A Slack user's standing in their workspace, as Slack says it. */
export interface SlackStanding {
  workspaceAdmin: boolean;
  installer: boolean;
}

export interface LinkedEvent {
  teamId: string;
  enterpriseId?: string;
  tenantId: TenantId;
  tenantName: string;
  slackUserId: string;
  linkedBy: string;
}

/** Told after a workspace was linked (the Slack surface confirms it to the Slack user). */
export type LinkListener = (event: LinkedEvent) => Promise<void>;

export interface LinkServiceOptions {
  publicUrl: string;
  ttlMs?: number;
  now?: () => number;
}

const TOKEN_VERSION = "v1";
const INVALID = "This link is not valid. Ask the Enclave bot in Slack for a new one (/ask link).";
const EXPIRED =
  "This link has expired: links work for 15 minutes. Ask the Enclave bot in Slack for a new one (/ask link).";
const USED =
  "This link was already used: each link works once. Ask the Enclave bot in Slack for a new one (/ask link).";
const NOT_WORKSPACE_ADMIN =
  "Only a Slack workspace admin or owner (or whoever installed Enclave) can link this workspace to an organisation. Ask one of them to type `/ask link`.";
const WRONG_PURPOSE = "This link is for something else. Ask the Enclave bot in Slack for a new one.";

/**
 * Linking a Slack workspace to a tenant. The bot hands a Slack user a one-time link token: an
 * HMAC-SHA256 signed claim bound to (team, user) that expires after 15 minutes. An admin of a tenant
 * who opens it while logged in completes the link, which consumes the token's nonce. A workspace
 * already linked to another tenant can only be moved by an admin of that tenant (it must unlink first),
 * so nobody can pull a workspace, and the questions asked in it, into their own tenant.
 */
export class LinkService {
  private readonly listeners: LinkListener[] = [];
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly directory: TenantDirectory,
    private readonly slack: SlackDirectory | undefined,
    private readonly secret: Buffer,
    private readonly logger: Logger,
    private readonly options: LinkServiceOptions,
  ) {
    if (secret.length < 16) throw new Error("link token secret is too short");
    this.ttlMs = options.ttlMs ?? LINK_TOKEN_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  onLinked(listener: LinkListener): void {
    this.listeners.push(listener);
  }

  /**
   * Slack says whether this person is an admin or owner of the workspace, and the installation
   * whether they installed the app. Guests and people from other organisations are never either.
   */
  async standing(request: LinkRequest): Promise<SlackStanding> {
    if (!this.slack) return { workspaceAdmin: false, installer: false };
    let user: Awaited<ReturnType<SlackDirectory["user"]>>;
    try {
      user = await this.slack.user(request.teamId, request.slackUserId);
    } catch (cause) {
      throw new AppError("dependency_unavailable", REFUSAL_MESSAGES.unverified, { cause, retryable: true });
    }
    if (!user || user.deleted || user.bot) throw new AppError("forbidden", REFUSAL_MESSAGES.unknown_user);
    if (user.guest) throw new AppError("forbidden", REFUSAL_MESSAGES.guest);
    if (user.stranger || (user.teamId && user.teamId !== request.teamId))
      throw new AppError("forbidden", REFUSAL_MESSAGES.external);
    const installation = await this.directory.getInstallation(request.teamId);
    return { workspaceAdmin: user.workspaceAdmin, installer: installation?.installedBy === request.slackUserId };
  }

  /**
   * A one-time workspace link for a Slack workspace admin or owner, or the app's installer; anyone
   * else is told to ask one of them. Throws `forbidden` with that reason.
   */
  async requestWorkspaceLink(request: LinkRequest): Promise<{ token: string; url: string; expiresAt: Date }> {
    const standing = await this.standing(request);
    if (!standing.workspaceAdmin && !standing.installer) throw new AppError("forbidden", NOT_WORKSPACE_ADMIN);
    return this.createToken(request);
  }

  /**
   * A one-time link the bot sends a Slack user (a full member of a linked workspace, see
   * AccessService.slackActor) so that their web account can prove it is them.
   */
  requestIdentityLink(actor: Actor, teamName?: string): { token: string; url: string; expiresAt: Date } {
    if (!actor.slack) throw new AppError("bad_request", "Only a Slack user can connect their Slack account.");
    return this.createToken(
      {
        teamId: actor.slack.teamId,
        ...(actor.slack.enterpriseId ? { enterpriseId: actor.slack.enterpriseId } : {}),
        ...(teamName ? { teamName } : {}),
        slackUserId: actor.slack.userId,
      },
      { purpose: "identity", tenantId: actor.tenantId },
    );
  }

  /** Ties the web account to the Slack user who was sent the token. Same organisation only. */
  async connectSlackUser(actor: Actor, token: string): Promise<SlackIdentityLink> {
    const claims = this.verifyToken(token);
    if (claims.purpose !== "identity" || !actor.web)
      throw new AppError("invalid_link_token", WRONG_PURPOSE, { detail: "not an identity token" });
    const link = await this.directory.getLink(claims.team_id);
    if (claims.tenant_id !== actor.tenantId || link?.tenantId !== actor.tenantId) {
      throw new AppError(
        "forbidden",
        "This Slack account belongs to a workspace of another organisation. Log in with your account there.",
      );
    }
    const fresh = await this.directory.consumeNonce(`identity:${claims.nonce}`, new Date(claims.exp * 1000 + 60_000));
    if (!fresh) throw new AppError("invalid_link_token", USED, { detail: "replayed identity token" });
    const tie: SlackIdentityLink = {
      tenantId: actor.tenantId,
      userId: actor.web.userId,
      teamId: claims.team_id,
      slackUserId: claims.slack_user_id,
      linkedAt: new Date(this.now()).toISOString(),
    };
    await this.directory.putSlackIdentity(tie);
    this.logger.info("slack identity connected", { tenantId: actor.tenantId, slackTeam: claims.team_id });
    return tie;
  }

  async slackIdentities(actor: Actor): Promise<SlackIdentityLink[]> {
    if (!actor.web) return [];
    return this.directory.listSlackIdentities(actor.tenantId, actor.web.userId);
  }

  /** Removes one of the actor's own ties. */
  async disconnectSlackUser(actor: Actor, teamId: string, slackUserId: string): Promise<void> {
    const tie = await this.directory.getSlackIdentity(actor.tenantId, teamId, slackUserId);
    if (!tie || tie.userId !== actor.web?.userId)
      throw new AppError("not_found", "No connected Slack account like that.");
    await this.directory.deleteSlackIdentity(actor.tenantId, teamId, slackUserId);
  }

  /** The link of a workspace: the only source of a tenant on the Slack side. */
  async workspace(teamId: string): Promise<WorkspaceLink | undefined> {
    return this.directory.getLink(teamId);
  }

  async organisationName(tenant: TenantId): Promise<string> {
    return (await this.directory.getTenant(tenant))?.name ?? "";
  }

  /**
   * From Slack: a workspace admin or owner, the installer, or an admin of the organisation it is
   * linked to (proven, see connectSlackUser) unlinks the workspace.
   */
  async unlinkFromSlack(request: LinkRequest, organisationAdmin: boolean): Promise<WorkspaceLink> {
    const link = await this.directory.getLink(request.teamId);
    if (!link) throw new AppError("not_found", "This workspace isn't linked to an organisation.");
    if (!organisationAdmin) {
      const standing = await this.standing(request);
      if (!standing.workspaceAdmin && !standing.installer)
        throw new AppError(
          "forbidden",
          "Only a Slack workspace admin or owner, or an admin of the organisation, can unlink this workspace.",
        );
    }
    await this.directory.deleteLink(request.teamId);
    this.logger.info("workspace unlinked from slack", { tenantId: link.tenantId, slackTeam: request.teamId });
    return link;
  }

  private createToken(
    request: LinkRequest,
    options: { purpose?: "identity"; tenantId?: TenantId } = {},
  ): { token: string; url: string; expiresAt: Date } {
    const expiresAt = new Date(this.now() + this.ttlMs);
    const claims: LinkTokenClaims = {
      ...(options.purpose ? { purpose: options.purpose } : {}),
      ...(options.tenantId ? { tenant_id: options.tenantId } : {}),
      team_id: request.teamId,
      ...(request.enterpriseId ? { enterprise_id: request.enterpriseId } : {}),
      ...(request.teamName ? { team_name: request.teamName.slice(0, 200) } : {}),
      slack_user_id: request.slackUserId,
      nonce: randomBytes(18).toString("base64url"),
      exp: Math.floor(expiresAt.getTime() / 1000),
    };
    const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
    const token = `${TOKEN_VERSION}.${payload}.${this.sign(payload)}`;
    return { token, url: `${this.options.publicUrl}/link?token=${encodeURIComponent(token)}`, expiresAt };
  }

  /** Checks signature and expiry; does not consume the token. Throws `invalid_link_token` (400). */
  verifyToken(token: string): LinkTokenClaims {
    const [version, payload, signature, extra] = token.trim().split(".");
    if (version !== TOKEN_VERSION || !payload || !signature || extra !== undefined || token.length > 2000) {
      throw new AppError("invalid_link_token", INVALID, { detail: "malformed link token" });
    }
    const expected = Buffer.from(this.sign(payload), "base64url");
    const given = Buffer.from(signature, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AppError("invalid_link_token", INVALID, { detail: "bad link token signature" });
    }
    let claims: LinkTokenClaims;
    try {
      claims = claimsSchema.parse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
    } catch (cause) {
      throw new AppError("invalid_link_token", INVALID, { cause, detail: "unreadable link token claims" });
    }
    if (claims.exp * 1000 <= this.now())
      throw new AppError("invalid_link_token", EXPIRED, { detail: "expired link token" });
    return claims;
  }

  /** What the link page shows before the user logs in. */
  async preview(token: string): Promise<{ claims: LinkTokenClaims; alreadyLinked: boolean }> {
    const claims = this.verifyToken(token);
    const existing = await this.directory.getLink(claims.team_id);
    return { claims, alreadyLinked: existing !== undefined };
  }

  async link(actor: Actor, token: string): Promise<WorkspaceLink> {
    const claims = this.verifyToken(token);
    if (claims.purpose === "identity")
      throw new AppError("invalid_link_token", WRONG_PURPOSE, { detail: "identity token used to link" });
    requireAdmin(actor);
    const existing = await this.directory.getLink(claims.team_id);
    if (existing && existing.tenantId !== actor.tenantId) {
      // Checked before the nonce is consumed: the rightful admin can still use the same link.
      throw new AppError(
        "forbidden",
        "This Slack workspace is linked to another organisation. An admin of that organisation must unlink it first.",
      );
    }
    const fresh = await this.directory.consumeNonce(`link:${claims.nonce}`, new Date(claims.exp * 1000 + 60_000));
    if (!fresh) throw new AppError("invalid_link_token", USED, { detail: "replayed link token" });
    const link: WorkspaceLink = {
      teamId: claims.team_id,
      ...(claims.enterprise_id ? { enterpriseId: claims.enterprise_id } : {}),
      tenantId: actor.tenantId,
      linkedBy: actor.principal,
      linkedAt: new Date(this.now()).toISOString(),
    };
    await this.directory.putLink(link);
    this.logger.info("workspace linked", {
      tenantId: actor.tenantId,
      slackTeam: claims.team_id,
      userId: actor.principal,
    });
    const tenant = await this.directory.getTenant(actor.tenantId);
    const event: LinkedEvent = {
      teamId: link.teamId,
      ...(link.enterpriseId ? { enterpriseId: link.enterpriseId } : {}),
      tenantId: actor.tenantId,
      tenantName: tenant?.name ?? "",
      slackUserId: claims.slack_user_id,
      linkedBy: actor.principal,
    };
    for (const listener of this.listeners) {
      // The link is made; a failed confirmation must not turn it into an error for the admin.
      await listener(event).catch((error: unknown) =>
        this.logger.warn("link confirmation failed", { error, slackTeam: link.teamId }),
      );
    }
    return link;
  }

  async list(actor: Actor): Promise<WorkspaceLink[]> {
    return this.directory.listLinks(actor.tenantId);
  }

  /** A tenant admin removes one of the tenant's workspace links. Another tenant's link is "not found". */
  async unlink(actor: Actor, teamId: string): Promise<void> {
    requireAdmin(actor);
    const link = await this.directory.getLink(teamId);
    if (!link || link.tenantId !== actor.tenantId)
      throw new AppError("not_found", "No linked Slack workspace with that id.");
    await this.directory.deleteLink(teamId);
    this.logger.info("workspace unlinked", { tenantId: actor.tenantId, slackTeam: teamId, userId: actor.principal });
  }

  private sign(payload: string): string {
    return createHmac("sha256", this.secret)
      .update(`enclave-link-token.${TOKEN_VERSION}.${payload}`)
      .digest("base64url");
  }
}
