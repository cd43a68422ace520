import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Actor } from "../domain/access.js";
import { AppError, isAppError } from "../domain/errors.js";
import { type Identity, newTenantId, type Role, type Tenant, type TenantId } from "../domain/tenant.js";
import type { IdentityProvider } from "../ports/identity-provider.js";
import type { Logger } from "../ports/logger.js";
import type { Member, TenantDirectory } from "../ports/tenant-directory.js";
import { requireAdmin } from "./access.js";
import type { Throttle } from "./throttle.js";

export const INVITE_TTL_MS = 7 * 24 * 3600 * 1000;

export const hashInviteCode = (code: string): string => createHash("sha256").update(code.trim()).digest("hex");

export interface SignUpInput {
  email: string;
  password: string;
  organization?: string;
  inviteCode?: string;
}

export interface SignUpOutcome {
  user: { email: string; tenantId: TenantId; role: Role; userId: string; confirmed: boolean };
  tenant: Tenant;
}

const isEmailTaken = (error: unknown): boolean => isAppError(error) && error.code === "email_taken";

/**
 * Sign-up, log-in, invites and turning a token into an Identity. Invariant: a tenant id only ever
 * comes from a verified token or from the directory, and signing up without an invite always makes
 * a new tenant.
 */
export class AccountService {
  constructor(
    private readonly identity: IdentityProvider,
    private readonly directory: TenantDirectory,
    private readonly throttle: Throttle,
    private readonly logger: Logger,
  ) {}

  /**
   * Public sign-up. `clientAddress` is where the request came from (sign-ups are limited per address).
   * An email that already has an account gets the same answer as a new one (log-in does not say
   * which emails are registered either), but nothing is created: no tenant, no member, no account,
   * the existing account untouched. The person then has to log in with their own password.
   */
  async signUp(input: SignUpInput, clientAddress?: string): Promise<SignUpOutcome> {
    await this.throttle.signUp(clientAddress);
    return this.register(input, "answer-as-new");
  }

  /** Operators (the CLI's create-tenant): unthrottled, and a taken email is an `email_taken` error. */
  async createTenant(input: SignUpInput): Promise<SignUpOutcome> {
    return this.register(input, "refuse");
  }

  private async register(input: SignUpInput, taken: "answer-as-new" | "refuse"): Promise<SignUpOutcome> {
    const email = input.email.trim().toLowerCase();
    if (input.inviteCode) return this.joinWithInvite(email, input.password, input.inviteCode, taken);
    const name = input.organization?.trim();
    if (!name) throw new AppError("validation_failed", "Enter the name of your organisation, or an invite code.");
    const tenant: Tenant = { id: newTenantId(), name, createdAt: new Date().toISOString() };
    // The account first: a taken email then leaves no empty tenant behind.
    let userId: string;
    let confirmed: boolean;
    try {
      ({ userId, confirmed } = await this.identity.signUp(email, input.password, tenant.id));
    } catch (error) {
      // The fresh tenant id is never stored: it names no organisation.
      if (taken === "answer-as-new" && isEmailTaken(error)) return this.answerAsNew(email, tenant, "admin", false);
      throw error;
    }
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

  private async joinWithInvite(
    email: string,
    password: string,
    code: string,
    taken: "answer-as-new" | "refuse",
  ): Promise<SignUpOutcome> {
    const codeHash = hashInviteCode(code);
    const invite = await this.directory.claimInvite(codeHash, new Date());
    if (!invite)
      throw new AppError("invalid_invite", "This invite code is not valid, has expired or was already used.");
    const tenant = await this.directory.getTenant(invite.tenantId);
    // An organisation being deleted takes no one in.
    if (!tenant || tenant.deletingSince)
      throw new AppError("invalid_invite", "This invite code is not valid, has expired or was already used.");
    let userId: string;
    let confirmed: boolean;
    try {
      ({ userId, confirmed } = await this.identity.signUp(email, password, tenant.id));
    } catch (error) {
      await this.directory.releaseInvite(codeHash); // the invite was not used after all
      if (taken === "answer-as-new" && isEmailTaken(error)) return this.answerAsNew(email, tenant, invite.role, true);
      throw error;
    }
    const createdAt = new Date().toISOString();
    await this.directory.addMember({ tenantId: tenant.id, userId, email, role: invite.role, createdAt });
    this.logger.info("member joined", { tenantId: tenant.id, userId });
    return { user: { email, tenantId: tenant.id, role: invite.role, userId, confirmed }, tenant };
  }

  /**
   * The answer a new account would have got, for an email that already has one; nothing is stored.
   * `confirmed` is what a new account on this provider gets: false where sign-ups are confirmed by
   * an emailed code (Cognito), so the answer asks for a code here too (none is sent).
   */
  private answerAsNew(email: string, tenant: Tenant, role: Role, invited: boolean): SignUpOutcome {
    // Without the email; a new organisation's tenant id was never stored, so only an invite's is logged.
    this.logger.info(
      "sign-up for an email that already has an account; nothing created",
      invited ? { via: "invite", tenantId: tenant.id } : { via: "new organisation" },
    );
    const confirmed = this.identity.confirmSignUp === undefined;
    return { user: { email, tenantId: tenant.id, role, userId: randomUUID(), confirmed }, tenant };
  }

  /**
   * After too many failures for the account or the client address, every attempt is refused until
   * the window passes, the right password included.
   */
  async logIn(
    email: string,
    password: string,
    clientAddress?: string,
  ): Promise<{ idToken: string; expiresIn: number; tenantId: TenantId }> {
    const account = email.trim().toLowerCase();
    const attempt = await this.throttle.loginAttempt(account, clientAddress);
    let tokens: { idToken: string; expiresIn: number };
    try {
      tokens = await this.identity.logIn(account, password);
    } catch (error) {
      if (!isAppError(error) || error.code !== "invalid_credentials") await attempt.notFailed();
      throw error;
    }
    await attempt.notFailed();
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
    const [member, tenant] = await Promise.all([
      this.directory.getMember(verified.tenantId, verified.userId),
      this.directory.getTenant(verified.tenantId),
    ]);
    if (!tenant || tenant.deletingSince) throw new AppError("unauthorized", "This organisation has been deleted.");
    if (!member) throw new AppError("unauthorized", "Your account is no longer a member of this organisation.");
    return {
      userId: verified.userId,
      email: verified.email || member.email,
      tenantId: verified.tenantId,
      role: member.role,
    };
  }

  async createInvite(actor: Actor, role: Role = "member"): Promise<{ code: string; expiresAt: string }> {
    requireAdmin(actor);
    const code = randomBytes(18).toString("base64url");
    const expiresAt = new Date(Date.now() + INVITE_TTL_MS).toISOString();
    await this.directory.createInvite(hashInviteCode(code), {
      tenantId: actor.tenantId,
      role,
      createdBy: actor.principal,
      expiresAt,
    });
    return { code, expiresAt };
  }

  async describe(actor: Actor): Promise<{ email: string; tenantId: TenantId; tenantName: string; role: Role }> {
    const tenant = await this.directory.getTenant(actor.tenantId);
    return {
      email: actor.web?.email ?? "",
      tenantId: actor.tenantId,
      tenantName: tenant?.name ?? "",
      role: actor.role,
    };
  }

  async members(actor: Actor): Promise<Member[]> {
    requireAdmin(actor);
    return this.directory.listMembers(actor.tenantId);
  }

  async tenantExists(tenant: TenantId): Promise<boolean> {
    const found = await this.directory.getTenant(tenant);
    return found !== undefined && !found.deletingSince;
  }

  /** Every organisation with its member count (operators: `list-tenants`). */
  async tenants(): Promise<{ tenant: Tenant; members: number }[]> {
    const tenants = await this.directory.listTenants();
    return Promise.all(
      tenants.map(async (tenant) => ({ tenant, members: (await this.directory.listMembers(tenant.id)).length })),
    );
  }
}
