import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { AppError } from "../domain/errors.js";
import type { Identity, TenantId } from "../domain/tenant.js";
import type { Logger } from "../ports/logger.js";
import type { TenantDirectory, WorkspaceLink } from "../ports/tenant-directory.js";
import { requireAdmin } from "./accounts.js";

export const LINK_TOKEN_TTL_MS = 15 * 60 * 1000;

/** What a link token asserts: this Slack user of this workspace asked to link it, until `exp`. */
export interface LinkTokenClaims {
  team_id: string;
  enterprise_id?: string;
  team_name?: string;
  slack_user_id: string;
  nonce: string;
  /** Unix seconds. */
  exp: number;
}

const claimsSchema = z.object({
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

  createToken(request: LinkRequest): { token: string; url: string; expiresAt: Date } {
    const expiresAt = new Date(this.now() + this.ttlMs);
    const claims: LinkTokenClaims = {
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

  async link(actor: Identity, token: string): Promise<WorkspaceLink> {
    const claims = this.verifyToken(token);
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
      linkedBy: actor.userId,
      linkedAt: new Date(this.now()).toISOString(),
    };
    await this.directory.putLink(link);
    this.logger.info("workspace linked", { tenantId: actor.tenantId, slackTeam: claims.team_id, userId: actor.userId });
    const tenant = await this.directory.getTenant(actor.tenantId);
    const event: LinkedEvent = {
      teamId: link.teamId,
      ...(link.enterpriseId ? { enterpriseId: link.enterpriseId } : {}),
      tenantId: actor.tenantId,
      tenantName: tenant?.name ?? "",
      slackUserId: claims.slack_user_id,
      linkedBy: actor.userId,
    };
    for (const listener of this.listeners) {
      // The link is made; a failed confirmation must not turn it into an error for the admin.
      await listener(event).catch((error: unknown) =>
        this.logger.warn("link confirmation failed", { error, slackTeam: link.teamId }),
      );
    }
    return link;
  }

  async list(actor: Identity): Promise<WorkspaceLink[]> {
    return this.directory.listLinks(actor.tenantId);
  }

  /** A tenant admin removes one of the tenant's workspace links. Another tenant's link is "not found". */
  async unlink(actor: Identity, teamId: string): Promise<void> {
    requireAdmin(actor);
    const link = await this.directory.getLink(teamId);
    if (!link || link.tenantId !== actor.tenantId)
      throw new AppError("not_found", "No linked Slack workspace with that id.");
    await this.directory.deleteLink(teamId);
    this.logger.info("workspace unlinked", { tenantId: actor.tenantId, slackTeam: teamId, userId: actor.userId });
  }

  private sign(payload: string): string {
    return createHmac("sha256", this.secret)
      .update(`enclave-link-token.${TOKEN_VERSION}.${payload}`)
      .digest("base64url");
  }
}
