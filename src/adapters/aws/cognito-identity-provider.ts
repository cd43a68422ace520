import { createHmac } from "node:crypto";
import {
  AdminDeleteUserCommand,
  type CognitoIdentityProviderClient,
  ConfirmSignUpCommand,
  InitiateAuthCommand,
  type InitiateAuthCommandOutput,
  SignUpCommand,
} from "@aws-sdk/client-cognito-identity-provider";
import { CognitoJwtVerifier, JwtRsaVerifier } from "aws-jwt-verify";
import { SimpleJwksCache } from "aws-jwt-verify/jwk";
import type { JwtPayload } from "aws-jwt-verify/jwt-model";
import { AppError } from "../../domain/errors.js";
import { asTenantId, isTenantId, type TenantId } from "../../domain/tenant.js";
import type { IdentityProvider, SignUpResult, VerifiedToken } from "../../ports/identity-provider.js";
import type { Logger } from "../../ports/logger.js";
import { errorName, unavailable } from "./aws-errors.js";

export const TENANT_ATTRIBUTE = "custom:tenant_id";

export interface CognitoIdentityOptions {
  region: string;
  userPoolId: string;
  /** The app client users log in through (USER_PASSWORD_AUTH); ID tokens carry it as audience. It cannot write the tenant. */
  clientId: string;
  /** Server-only app client with a secret, whose write attributes include the tenant: used for sign-up and confirmation. */
  signUpClientId: string;
  signUpClientSecret: string;
  /**
   * An emulator's endpoint (cognito-local): it issues tokens as `<endpoint>/<pool id>` and serves the JWKS
   * under that issuer over plain HTTP. Unset on AWS, where CognitoJwtVerifier derives issuer and JWKS.
   */
  endpoint?: string;
}

const INVALID_CREDENTIALS = "Email or password is incorrect.";

/**
 * Amazon Cognito user pool. The tenant id is `custom:tenant_id`, an immutable attribute: it can only be
 * written when the account is created, and only the server can write it. Sign-up therefore goes through a
 * server-only app client that holds a secret (SECRET_HASH) and may write the attribute; the public app
 * client users log in with has no write access to it. Cognito sends the confirmation code; ID tokens are
 * checked with aws-jwt-verify (issuer, audience = the login client, `token_use: "id"`, and a well-formed
 * tenant id).
 */
export class CognitoIdentityProvider implements IdentityProvider {
  private readonly verifier: { verify(token: string): Promise<JwtPayload> };

  constructor(
    private readonly client: CognitoIdentityProviderClient,
    private readonly options: CognitoIdentityOptions,
    private readonly logger: Logger,
  ) {
    const customJwtCheck = ({ payload }: { payload: JwtPayload }) => {
      if (payload.token_use !== "id") throw new Error("not an ID token");
      if (!isTenantId(payload[TENANT_ATTRIBUTE])) throw new Error("token has no tenant");
    };
    // JWKS fetched with the platform fetch (the library's default fetcher speaks HTTPS only; an emulator serves HTTP).
    const jwksCache = new SimpleJwksCache({
      fetcher: {
        fetch: async (uri: string) => {
          const response = await fetch(uri, { signal: AbortSignal.timeout(5000) });
          if (!response.ok) throw new Error(`JWKS fetch failed: ${response.status}`);
          return response.arrayBuffer();
        },
      },
    });
    if (options.endpoint) {
      const issuer = `${options.endpoint}/${options.userPoolId}`;
      this.verifier = JwtRsaVerifier.create(
        { issuer, audience: options.clientId, jwksUri: `${issuer}/.well-known/jwks.json`, customJwtCheck },
        { jwksCache },
      );
    } else {
      this.verifier = CognitoJwtVerifier.create(
        { userPoolId: options.userPoolId, clientId: options.clientId, tokenUse: "id", customJwtCheck },
        { jwksCache },
      );
    }
  }

  private secretHash(username: string): string {
    return createHmac("sha256", this.options.signUpClientSecret)
      .update(username + this.options.signUpClientId)
      .digest("base64");
  }

  async signUp(email: string, password: string, tenantId: TenantId): Promise<SignUpResult> {
    if (!isTenantId(tenantId))
      throw new AppError("internal", "Something went wrong on our side.", { detail: "sign-up without a tenant id" });
    try {
      const result = await this.client.send(
        new SignUpCommand({
          ClientId: this.options.signUpClientId,
          SecretHash: this.secretHash(email),
          Username: email,
          Password: password,
          UserAttributes: [
            { Name: "email", Value: email },
            { Name: TENANT_ATTRIBUTE, Value: tenantId },
          ],
        }),
      );
      if (!result.UserSub) throw new Error("SignUp returned no user id");
      return { userId: result.UserSub, confirmed: result.UserConfirmed === true };
    } catch (error) {
      const name = errorName(error);
      if (name === "UsernameExistsException" || name === "AliasExistsException") {
        throw new AppError("email_taken", "An account with this email already exists. Log in instead.", {
          cause: error,
        });
      }
      if (name === "InvalidPasswordException") {
        throw new AppError("validation_failed", "Invalid password: choose a longer or more varied one.", {
          cause: error,
        });
      }
      if (name === "InvalidParameterException")
        throw new AppError("validation_failed", "Invalid email or password.", { cause: error });
      throw unavailable("Sign-up", error);
    }
  }

  async confirmSignUp(email: string, code: string): Promise<void> {
    try {
      await this.client.send(
        new ConfirmSignUpCommand({
          ClientId: this.options.signUpClientId,
          SecretHash: this.secretHash(email),
          Username: email,
          ConfirmationCode: code,
        }),
      );
    } catch (error) {
      const name = errorName(error);
      if (
        [
          "CodeMismatchException",
          "ExpiredCodeException",
          "UserNotFoundException",
          "NotAuthorizedException",
          "InvalidParameterException",
        ].includes(name)
      ) {
        throw new AppError("validation_failed", "That confirmation code is not right or has expired.", {
          cause: error,
        });
      }
      throw unavailable("Sign-up", error);
    }
  }

  async logIn(email: string, password: string): Promise<{ idToken: string; expiresIn: number }> {
    let result: InitiateAuthCommandOutput;
    try {
      result = await this.client.send(
        new InitiateAuthCommand({
          AuthFlow: "USER_PASSWORD_AUTH",
          ClientId: this.options.clientId,
          AuthParameters: { USERNAME: email, PASSWORD: password },
        }),
      );
    } catch (error) {
      const name = errorName(error);
      // Cognito answers NotAuthorizedException for both (PreventUserExistenceErrors); cognito-local
      // says UserNotFoundException or InvalidPasswordException instead. All read the same to the user.
      if (
        [
          "NotAuthorizedException",
          "UserNotFoundException",
          "InvalidPasswordException",
          "PasswordResetRequiredException",
        ].includes(name)
      ) {
        throw new AppError("invalid_credentials", INVALID_CREDENTIALS, { cause: error });
      }
      if (name === "UserNotConfirmedException") {
        throw new AppError("unauthorized", "Confirm your email address first: enter the code we sent you.", {
          cause: error,
        });
      }
      throw unavailable("Log-in", error);
    }
    const idToken = result.AuthenticationResult?.IdToken;
    if (!idToken) {
      this.logger.warn("cognito log-in needs a challenge", { challenge: result.ChallengeName });
      throw new AppError(
        "unauthorized",
        "Your account needs attention before you can log in. Contact your administrator.",
      );
    }
    return { idToken, expiresIn: result.AuthenticationResult?.ExpiresIn ?? 3600 };
  }

  async verify(idToken: string): Promise<VerifiedToken> {
    try {
      const payload = await this.verifier.verify(idToken);
      return {
        userId: String(payload.sub),
        email: String(payload.email ?? ""),
        tenantId: asTenantId(String(payload[TENANT_ATTRIBUTE])),
      };
    } catch (cause) {
      throw new AppError("unauthorized", "Your session is not valid or has expired. Log in again.", { cause });
    }
  }

  async deleteUser(email: string): Promise<void> {
    try {
      await this.client.send(new AdminDeleteUserCommand({ UserPoolId: this.options.userPoolId, Username: email }));
    } catch (error) {
      if (errorName(error) === "UserNotFoundException") return;
      throw unavailable("The account service", error);
    }
  }
}
