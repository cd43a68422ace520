import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  randomUUID,
  sign,
  timingSafeEqual,
} from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JwtRsaVerifier } from "aws-jwt-verify";
import { type Jwks, type JwkWithKid, SimpleJwksCache } from "aws-jwt-verify/jwk";
import { z } from "zod";
import { AppError } from "../../domain/errors.js";
import { asTenantId, isTenantId, type TenantId } from "../../domain/tenant.js";
import type { IdentityProvider, SignUpResult, VerifiedToken } from "../../ports/identity-provider.js";
import type { Logger } from "../../ports/logger.js";
import { parseStored, StoredRecords, tenantIdSchema } from "../shared/stored-records.js";
import { makePrivateDirSync, PRIVATE_FILE_MODE } from "./private-files.js";
import { ScryptThread } from "./scrypt-thread.js";
import type { Db } from "./sqlite.js";

const userRow = z.object({
  user_id: z.string(),
  email: z.string(),
  password_hash: z.string(),
  tenant_id: tenantIdSchema,
});

const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const scrypt = new ScryptThread();

export interface LocalIdentityOptions {
  dataDir: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

/**
 * The embedded user pool: scrypt password hashes in SQLite and RS256 ID tokens shaped like Cognito's
 * (`token_use: "id"`, `custom:tenant_id`). Tokens are checked with aws-jwt-verify, the same library
 * that checks Cognito's, so both shapes accept and reject exactly the same things.
 */
export class LocalIdentityProvider implements IdentityProvider {
  private readonly privateKey: KeyObject;
  readonly jwks: Jwks;
  private readonly kid: string;
  private readonly verifier;
  // A fixed hash to compare against when the email is unknown, so timing doesn't reveal accounts.
  private readonly dummyHash: Promise<string>;
  private readonly stored: StoredRecords;

  constructor(
    private readonly db: Db,
    private readonly options: LocalIdentityOptions,
    logger?: Logger,
  ) {
    this.stored = new StoredRecords(logger);
    const { privateKey, kid } = loadOrCreateKey(options.dataDir);
    this.privateKey = privateKey;
    this.kid = kid;
    const jwk = createPublicKey(privateKey).export({ format: "jwk" }) as {
      n: string;
      e: string;
      kty: string;
    };
    this.jwks = { keys: [{ kty: "RSA", n: jwk.n, e: jwk.e, kid, alg: "RS256", use: "sig" } as JwkWithKid] };
    // Our own keys are known: the "fetcher" hands over our JWKS, so a token with a foreign kid
    // fails at once instead of making us fetch our own JWKS over HTTP.
    const jwksBytes = new TextEncoder().encode(JSON.stringify(this.jwks));
    const jwksCache = new SimpleJwksCache({
      fetcher: { fetch: async () => jwksBytes.buffer.slice(0) as ArrayBuffer },
    });
    this.verifier = JwtRsaVerifier.create(
      {
        issuer: options.issuer,
        audience: options.audience,
        jwksUri: `${options.issuer}/.well-known/jwks.json`,
        customJwtCheck: ({ payload }) => {
          if (payload.token_use !== "id") throw new Error("not an ID token");
          if (!isTenantId(payload["custom:tenant_id"])) throw new Error("token has no tenant");
        },
      },
      { jwksCache },
    );
    this.verifier.cacheJwks(this.jwks);
    this.dummyHash = hashPassword(randomUUID());
  }

  async signUp(email: string, password: string, tenantId: TenantId): Promise<SignUpResult> {
    const userId = randomUUID();
    const hash = await hashPassword(password);
    const inserted = this.db
      .prepare(
        `INSERT INTO local_users (user_id, email, password_hash, tenant_id, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (email) DO NOTHING`,
      )
      .run(userId, email, hash, tenantId, new Date().toISOString());
    if (inserted.changes === 0)
      throw new AppError("email_taken", "An account with this email already exists. Log in instead.");
    return { userId, confirmed: true };
  }

  async logIn(email: string, password: string): Promise<{ idToken: string; expiresIn: number }> {
    const found = this.db
      .prepare("SELECT user_id, email, password_hash, tenant_id FROM local_users WHERE email = ?")
      .get(email) as Record<string, unknown> | undefined;
    const ok = await verifyPassword(
      password,
      typeof found?.password_hash === "string" ? found.password_hash : await this.dummyHash,
    );
    if (!found || !ok) throw new AppError("invalid_credentials", "Email or password is incorrect.");
    // Checked only once the password matched, so a damaged account tells no one else that it exists.
    const row = this.stored.one(() =>
      parseStored(userRow, found, { store: "local accounts", key: String(found.user_id) }),
    );
    const now = Math.floor(Date.now() / 1000);
    const payload = {
      iss: this.options.issuer,
      aud: this.options.audience,
      sub: row.user_id,
      email: row.email,
      token_use: "id",
      "custom:tenant_id": row.tenant_id,
      auth_time: now,
      iat: now,
      exp: now + this.options.ttlSeconds,
      jti: randomUUID(),
    };
    return { idToken: this.signJwt(payload), expiresIn: this.options.ttlSeconds };
  }

  async verify(idToken: string): Promise<VerifiedToken> {
    try {
      const payload = await this.verifier.verify(idToken);
      return {
        userId: String(payload.sub),
        email: String(payload.email ?? ""),
        tenantId: asTenantId(String(payload["custom:tenant_id"])),
      };
    } catch (cause) {
      throw new AppError("unauthorized", "Your session is not valid or has expired. Log in again.", {
        cause,
      });
    }
  }

  async deleteUser(email: string): Promise<void> {
    this.db.prepare("DELETE FROM local_users WHERE email = ?").run(email);
  }

  private signJwt(payload: object): string {
    const header = { alg: "RS256", typ: "JWT", kid: this.kid };
    const encode = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const input = `${encode(header)}.${encode(payload)}`;
    return `${input}.${sign("RSA-SHA256", Buffer.from(input), this.privateKey).toString("base64url")}`;
  }
}

function loadOrCreateKey(dataDir: string): { privateKey: KeyObject; kid: string } {
  const dir = join(dataDir, "keys");
  const file = join(dir, "id-token-signing-key.pem");
  if (!existsSync(file)) {
    makePrivateDirSync(dir);
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    // `wx` fails if another process created the key meanwhile; then we read theirs.
    try {
      writeFileSync(file, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: PRIVATE_FILE_MODE, flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  const privateKey = createPrivateKey(readFileSync(file));
  const der = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const kid = Buffer.from(der).subarray(-24).toString("base64url").slice(0, 16);
  return { privateKey, kid };
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt.hash(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !key) return false;
  const expected = Buffer.from(key, "base64");
  const actual = await scrypt.hash(password, Buffer.from(salt, "base64"), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return timingSafeEqual(actual, expected);
}
