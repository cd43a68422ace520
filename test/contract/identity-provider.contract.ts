import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newTenantId } from "../../src/domain/tenant.js";
import type { IdentityProvider } from "../../src/ports/identity-provider.js";
import { appError, type Factory, type Fixture } from "./support.js";

export interface IdentityExtra {
  /** The confirmation code the provider sent to this address (providers that confirm sign-ups). */
  confirmationCode?: (email: string) => Promise<string>;
}

const PASSWORD = "Correct-horse-9";

export function describeIdentityProviderContract(name: string, factory: Factory<IdentityProvider, IdentityExtra>) {
  describe(`IdentityProvider contract: ${name}`, () => {
    let fx: Fixture<IdentityProvider> & IdentityExtra;
    let idp: IdentityProvider;
    beforeEach(async () => {
      fx = await factory();
      idp = fx.adapter;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    const email = () => `user-${randomUUID().slice(0, 8)}@contract.example`;

    /** Sign up and, where the provider asks for it, confirm with the code it sent. */
    async function signUpReady(address: string, tenant = newTenantId()) {
      const result = await idp.signUp(address, PASSWORD, tenant);
      if (!result.confirmed) {
        if (!idp.confirmSignUp || !fx.confirmationCode)
          throw new Error("provider needs confirmation but offers no way to confirm");
        await idp.confirmSignUp(address, await fx.confirmationCode(address));
      }
      return { ...result, tenant };
    }

    it("signs up, logs in and verifies the token to the tenant set by the server", async () => {
      const address = email();
      const { userId, tenant } = await signUpReady(address);
      expect(userId.length).toBeGreaterThan(0);
      const session = await idp.logIn(address, PASSWORD);
      expect(session.expiresIn).toBeGreaterThan(0);
      const verified = await idp.verify(session.idToken);
      expect(verified).toEqual({ userId, email: address, tenantId: tenant });
    });

    it("refuses a second account with the same email", async () => {
      const address = email();
      await signUpReady(address);
      expect((await appError(idp.signUp(address, "Another-pass-1", newTenantId()))).code).toBe("email_taken");
    });

    it("rejects a wrong password and an unknown account the same way", async () => {
      const address = email();
      await signUpReady(address);
      const wrong = await appError(idp.logIn(address, "Wrong-pass-1"));
      const unknown = await appError(idp.logIn(email(), PASSWORD));
      expect(wrong.code).toBe("invalid_credentials");
      expect(unknown.code).toBe("invalid_credentials");
      expect(unknown.message).toBe(wrong.message);
    });

    it("rejects garbage, tampered and foreign tokens as unauthorized", async () => {
      const address = email();
      await signUpReady(address);
      const { idToken } = await idp.logIn(address, PASSWORD);
      const [header, payload, signature] = idToken.split(".");
      const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString()) as Record<string, unknown>;
      const swapped = Buffer.from(JSON.stringify({ ...claims, "custom:tenant_id": newTenantId() })).toString(
        "base64url",
      );
      for (const token of [
        "",
        "garbage",
        "a.b.c",
        `${header}.${swapped}.${signature}`,
        `${header}.${payload}.`,
        `${idToken}x`,
      ]) {
        expect((await appError(idp.verify(token))).code, token.slice(0, 20)).toBe("unauthorized");
      }
    });

    it("confirms only with the right code, where the provider confirms sign-ups", async () => {
      if (!idp.confirmSignUp) return;
      const address = email();
      const result = await idp.signUp(address, PASSWORD, newTenantId());
      if (result.confirmed) return;
      await expect(idp.logIn(address, PASSWORD)).rejects.toThrow();
      await expect(idp.confirmSignUp(address, "000000x")).rejects.toThrow();
      await idp.confirmSignUp(address, (await fx.confirmationCode?.(address)) ?? "");
      expect((await idp.logIn(address, PASSWORD)).idToken).toEqual(expect.any(String));
    });

    it("deletes an account whose sign-up could not be completed", async () => {
      if (!idp.deleteUser) return;
      const address = email();
      await signUpReady(address);
      await idp.deleteUser(address);
      expect((await appError(idp.logIn(address, PASSWORD))).code).toBe("invalid_credentials");
      await signUpReady(address);
    });
  });
}
