import { createHash, randomBytes } from "node:crypto";
import { AppError } from "../domain/errors.js";
import { type Identity, newTenantId, type Role, type Tenant, type TenantId } from "../domain/tenant.js";
import type { IdentityProvider } from "../ports/identity-provider.js";
import type { Logger } from "../ports/logger.js";
import type { TenantDirectory } from "../ports/tenant-directory.js";

export const INVITE_TTL_MS = 7 * 24 * 3600 * 1000;

export const hashInviteCode = (code: string): string => createHash("sha256").update(code.trim()).digest("hex");

export interface SignUpInput {
  email: string;
  password: string;
  organization?: string;
  inviteCode?: string;
}

/**
 * Sign-up, log-in, invites and turning a token into an Identity. Invariant: a tenant id only ever
 * comes from a verified token or from the directory, and signing up without an invite always makes
 * a new tenant.
 */
export class AccountService {
  constructor(
    private readonly identity: IdentityProvider,
    private readonly directory: TenantDirectory,
    private readonly logger: Logger,
  ) {}

  async signUp(input: SignUpInput): Promise<{
    user: { email: string; tenantId: TenantId; role: Role; userId: string; confirmed: boolean };
    tenant: Tenant;
  }> {
    const email = input.email.trim().toLowerCase();
    if (input.inviteCode) return this.joinWithInvite(email, input.password, input.inviteCode);
    const name = input.organization?.trim();
    if (!name) throw new AppError("validation_failed", "Enter the name of your organisation, or an invite code.");
    const tenant: Tenant = { id: newTenantId(), name, createdAt: new Date().toISOString() };
    // The account first: a taken email then leaves no empty tenant behind.
    const { userId, confirmed } = await this.identity.signUp(email, input.password, tenant.id);
    await this.directory.createTenant(tenant);
    await this.directory.addMember({
      tenantId: tenant.id,
      userId,
      email,
      role: "admin",
      createdAt: tenant.createdAt,
    });
    this.logger.info("tenant created", { tenantId: tenant.id, userId });
    return { user: { email, tenantId: tenant.id, role: "admin", userId, confirmed }, tenant };
  }

  private async joinWithInvite(email: string, password: string, code: string) {
    const codeHash = hashInviteCode(code);
    const invite = await this.directory.claimInvite(codeHash, new Date());
    if (!invite)
      throw new AppError("invalid_invite", "This invite code is not valid, has expired or was already used.");
    const tenant = await this.directory.getTenant(invite.tenantId);
    if (!tenant)
      throw new AppError("invalid_invite", "This invite code is not valid, has expired or was already used.");
    let userId: string;
    let confirmed: boolean;
    try {
      ({ userId, confirmed } = await this.identity.signUp(email, password, tenant.id));
    } catch (error) {
      await this.directory.releaseInvite(codeHash); // the invite was not used after all
      throw error;
    }
    const createdAt = new Date().toISOString();
    await this.directory.addMember({ tenantId: tenant.id, userId, email, role: invite.role, createdAt });
    this.logger.info("member joined", { tenantId: tenant.id, userId });
    return { user: { email, tenantId: tenant.id, role: invite.role, userId, confirmed }, tenant };
  }

  async logIn(email: string, password: string): Promise<{ idToken: string; expiresIn: number; tenantId: TenantId }> {
    const tokens = await this.identity.logIn(email.trim().toLowerCase(), password);
    const verified = await this.identity.verify(tokens.idToken);
    return { ...tokens, tenantId: verified.tenantId };
  }

  async confirm(email: string, code: string): Promise<void> {
    if (!this.identity.confirmSignUp) return; // the embedded pool needs no confirmation
    await this.identity.confirmSignUp(email.trim().toLowerCase(), code);
  }

  /** Verifies a bearer token and resolves the member's current role. */
  async authenticate(idToken: string): Promise<Identity> {
    const verified = await this.identity.verify(idToken);
    const member = await this.directory.getMember(verified.tenantId, verified.userId);
    if (!member) throw new AppError("unauthorized", "Your account is no longer a member of this organisation.");
    return {
      userId: verified.userId,
      email: verified.email || member.email,
      tenantId: verified.tenantId,
      role: member.role,
    };
  }

  async createInvite(actor: Identity, role: Role = "member"): Promise<{ code: string; expiresAt: string }> {
    requireAdmin(actor);
    const code = randomBytes(18).toString("base64url");
    const expiresAt = new Date(Date.now() + INVITE_TTL_MS).toISOString();
    await this.directory.createInvite(hashInviteCode(code), {
      tenantId: actor.tenantId,
      role,
      createdBy: actor.userId,
      expiresAt,
    });
    return { code, expiresAt };
  }

  async describe(actor: Identity): Promise<{ email: string; tenantId: TenantId; tenantName: string; role: Role }> {
    const tenant = await this.directory.getTenant(actor.tenantId);
    return { email: actor.email, tenantId: actor.tenantId, tenantName: tenant?.name ?? "", role: actor.role };
  }
}

export function requireAdmin(actor: Identity): void {
  if (actor.role !== "admin") throw new AppError("forbidden", "Only an admin of your organisation can do this.");
}
