import type { TenantId } from "../domain/tenant.js";

export interface VerifiedToken {
  userId: string;
  email: string;
  tenantId: TenantId;
}

export interface SignUpResult {
  userId: string;
  /** True when the account can log in at once; false when a confirmation code was sent. */
  confirmed: boolean;
}

export interface IdentityProvider {
  /** The tenant is set by the server; the user never supplies it. Throws `email_taken`. */
  signUp(email: string, password: string, tenantId: TenantId): Promise<SignUpResult>;
  confirmSignUp?(email: string, code: string): Promise<void>;
  /** Throws `invalid_credentials`. */
  logIn(email: string, password: string): Promise<{ idToken: string; expiresIn: number }>;
  /** Throws `unauthorized` for any token that is not a valid, unexpired ID token of this pool. */
  verify(idToken: string): Promise<VerifiedToken>;
  /** Removes an account (a sign-up that could not be completed, an organisation being deleted). Absent: no error. */
  deleteUser(email: string): Promise<void>;
}
