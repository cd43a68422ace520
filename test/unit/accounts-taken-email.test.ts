import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDirectoryDatabase } from "../../src/adapters/local/directory-database.js";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import { LocalIdentityProvider } from "../../src/adapters/local/local-identity-provider.js";
import { MemoryRateLimiter } from "../../src/adapters/local/memory-rate-limiter.js";
import { SqliteTenantDirectory } from "../../src/adapters/local/sqlite-tenant-directory.js";
import { TokenCipher } from "../../src/adapters/shared/token-cipher.js";
import type { Actor } from "../../src/domain/access.js";
import { isAppError } from "../../src/domain/errors.js";
import type { IdentityProvider } from "../../src/ports/identity-provider.js";
import { AccountService } from "../../src/services/accounts.js";
import { Throttle } from "../../src/services/throttle.js";

const dir = mkdtempSync(join(tmpdir(), "enclave-accounts-"));
const db = openDirectoryDatabase(dir);
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const PASSWORD = "Correct-horse-9";
let n = 0;
const newEmail = () => `person${++n}-${Date.now()}@accounts.example`;

function setUp(wrap: (idp: IdentityProvider) => IdentityProvider = (idp) => idp) {
  const identity = new LocalIdentityProvider(db, {
    dataDir: dir,
    issuer: "http://localhost:3000",
    audience: "enclave-web",
    ttlSeconds: 600,
  });
  const directory = new SqliteTenantDirectory(db, new TokenCipher(Buffer.alloc(32, 7)));
  const throttle = new Throttle(new MemoryRateLimiter(), {
    loginMaxFailures: 10,
    loginWindowMs: 900_000,
    signUpsPerHourPerAddress: 100,
    questionsPerMinutePerTenant: 100,
    questionsPerMinutePerUser: 100,
  });
  const lines: string[] = [];
  const logger = new JsonLogger("info", {}, (line) => lines.push(line));
  const accounts = new AccountService(wrap(identity), directory, throttle, logger);
  return { accounts, directory, lines };
}

const adminOf = async (accounts: AccountService, email: string, password: string): Promise<Actor> => {
  const session = await accounts.logIn(email, password);
  const identity = await accounts.authenticate(session.idToken);
  return {
    tenantId: identity.tenantId,
    role: identity.role,
    principal: identity.userId,
    principals: [identity.userId],
    surface: "web",
    web: { userId: identity.userId, email: identity.email },
  };
};

describe("AccountService: sign-up with an email that already has an account", () => {
  it("answers like a new organisation's sign-up and creates nothing", async () => {
    const { accounts, directory, lines } = setUp();
    const email = newEmail();
    const first = await accounts.signUp({ email, password: PASSWORD, organization: "Northwind" }, "10.0.0.1");
    const tenantsBefore = await directory.listTenants();

    const again = await accounts.signUp({ email, password: "Another-pass-1", organization: "Other" }, "10.0.0.1");
    expect(again.user).toMatchObject({ email, role: "admin", confirmed: first.user.confirmed });
    expect(again.tenant.name).toBe("Other");
    expect(again.tenant.id).not.toBe(first.tenant.id);
    expect(await directory.getTenant(again.tenant.id)).toBeUndefined();
    expect(await directory.listTenants()).toEqual(tenantsBefore);
    expect(await directory.listMembers(first.tenant.id)).toHaveLength(1);
    // The account and its password are unchanged.
    expect((await accounts.logIn(email, PASSWORD)).tenantId).toBe(first.tenant.id);
    await expect(accounts.logIn(email, "Another-pass-1")).rejects.toMatchObject({ code: "invalid_credentials" });

    const logged = lines.map((line) => JSON.parse(line));
    expect(logged.filter((l) => l.msg === "sign-up for an email that already has an account; nothing created")).toEqual(
      [expect.objectContaining({ level: "info", via: "new organisation" })],
    );
    expect(lines.join("\n")).not.toContain(email);
  });

  it("answers like an invite sign-up and gives the invite back for a newcomer", async () => {
    const { accounts, directory } = setUp();
    const adminEmail = newEmail();
    const org = await accounts.signUp({ email: adminEmail, password: PASSWORD, organization: "Northwind" });
    const admin = await adminOf(accounts, adminEmail, PASSWORD);
    const elsewhere = newEmail();
    const other = await accounts.signUp({ email: elsewhere, password: PASSWORD, organization: "Globex" });
    const { code } = await accounts.createInvite(admin, "member");

    const taken = await accounts.signUp({ email: elsewhere, password: "Another-pass-1", inviteCode: code });
    expect(taken.user).toMatchObject({ email: elsewhere, tenantId: org.tenant.id, role: "member", confirmed: true });
    expect(taken.tenant).toMatchObject({ id: org.tenant.id, name: "Northwind" });
    expect((await directory.listMembers(org.tenant.id)).map((m) => m.email)).toEqual([adminEmail]);
    expect((await accounts.logIn(elsewhere, PASSWORD)).tenantId).toBe(other.tenant.id);

    const newcomer = newEmail();
    const joined = await accounts.signUp({ email: newcomer, password: PASSWORD, inviteCode: code });
    expect(joined.tenant.id).toBe(org.tenant.id);
    expect((await directory.listMembers(org.tenant.id)).map((m) => m.email).sort()).toEqual(
      [adminEmail, newcomer].sort(),
    );
  });

  it("asks for a confirmation code where new accounts are confirmed, as a new sign-up would", async () => {
    // A provider with a confirmation step: its new accounts answer confirmed: false.
    const { accounts } = setUp((idp) => {
      const withConfirmation: IdentityProvider = {
        signUp: async (email, password, tenant) => ({
          ...(await idp.signUp(email, password, tenant)),
          confirmed: false,
        }),
        confirmSignUp: async () => {},
        logIn: (email, password) => idp.logIn(email, password),
        verify: (token) => idp.verify(token),
        deleteUser: (email) => idp.deleteUser(email),
      };
      return withConfirmation;
    });
    const email = newEmail();
    const first = await accounts.signUp({ email, password: PASSWORD, organization: "Northwind" });
    const again = await accounts.signUp({ email, password: PASSWORD, organization: "Northwind" });
    expect(first.user.confirmed).toBe(false);
    expect(again.user.confirmed).toBe(false);
  });

  it("still tells an operator (create-tenant) that the email is taken", async () => {
    const { accounts, directory } = setUp();
    const email = newEmail();
    await accounts.createTenant({ email, password: PASSWORD, organization: "Northwind" });
    const before = await directory.listTenants();
    const error = await accounts.createTenant({ email, password: PASSWORD, organization: "Again" }).catch((e) => e);
    expect(isAppError(error) && error.code).toBe("email_taken");
    expect(await directory.listTenants()).toEqual(before);
  });
});
