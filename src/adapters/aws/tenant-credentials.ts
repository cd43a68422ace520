import { AssumeRoleCommand, type AssumeRoleCommandOutput, type STSClient } from "@aws-sdk/client-sts";
import { AppError } from "../../domain/errors.js";
import { isTenantId, type TenantId } from "../../domain/tenant.js";
import type { Logger } from "../../ports/logger.js";
import type { AwsCredentials, CredentialsProvider } from "./client-config.js";

/** The session tag the tenant role's policies read back (`${aws:PrincipalTag/tenant_id}`); infra/lib/tenant-access-role.ts. */
export const TENANT_TAG = "tenant_id";

export interface TenantCredentialsOptions {
  roleArn: string;
  /** Lifetime asked of STS (900 s to the role's maximum). */
  durationSeconds?: number;
  /** Renew this long before expiry; also the SDK's own refresh window, so both agree. */
  refreshBeforeMs?: number;
  /** Tenants whose credentials are kept (least recently used are dropped). */
  maxTenants?: number;
  now?: () => number;
}

interface Entry {
  credentials: AwsCredentials;
  expiresAt: number;
}

/**
 * Per-tenant credentials from STS AssumeRole with the session tag `tenant_id=<tenant>`. The role's
 * policies limit S3 to `tenants/<tenant>/*` and DynamoDB to partition keys led by the tenant id, so a
 * bug that computes another tenant's key fails with AccessDenied instead of reading that tenant's data.
 * Credentials are cached per tenant until shortly before they expire; concurrent callers share one
 * STS request.
 */
export class TenantCredentials {
  private readonly cache = new Map<TenantId, Entry>();
  private readonly pending = new Map<TenantId, Promise<AwsCredentials>>();
  private readonly durationSeconds: number;
  private readonly refreshBeforeMs: number;
  private readonly maxTenants: number;
  private readonly now: () => number;

  constructor(
    private readonly sts: STSClient,
    private readonly options: TenantCredentialsOptions,
    private readonly logger: Logger,
  ) {
    this.durationSeconds = options.durationSeconds ?? 3600;
    this.refreshBeforeMs = options.refreshBeforeMs ?? 5 * 60_000;
    this.maxTenants = options.maxTenants ?? 1000;
    this.now = options.now ?? Date.now;
  }

  async get(tenant: TenantId): Promise<AwsCredentials> {
    // The tag value is the only thing between a tenant id and another tenant's data: check its shape.
    if (!isTenantId(tenant))
      throw new AppError("internal", "Something went wrong on our side.", {
        detail: "invalid tenant id for credentials",
      });
    const cached = this.cache.get(tenant);
    if (cached && cached.expiresAt - this.refreshBeforeMs > this.now()) {
      this.cache.delete(tenant);
      this.cache.set(tenant, cached);
      return cached.credentials;
    }
    const inFlight = this.pending.get(tenant);
    if (inFlight) return inFlight;
    const request = this.assume(tenant).finally(() => this.pending.delete(tenant));
    this.pending.set(tenant, request);
    return request;
  }

  /** A provider for an SDK client's `credentials`; the SDK calls it again as expiry nears. */
  providerFor(tenant: TenantId): CredentialsProvider {
    return () => this.get(tenant);
  }

  private async assume(tenant: TenantId): Promise<AwsCredentials> {
    let response: AssumeRoleCommandOutput;
    try {
      response = await this.sts.send(
        new AssumeRoleCommand({
          RoleArn: this.options.roleArn,
          RoleSessionName: `enclave-${tenant}`,
          DurationSeconds: this.durationSeconds,
          Tags: [{ Key: TENANT_TAG, Value: tenant }],
        }),
      );
    } catch (cause) {
      this.logger.error("tenant credentials unavailable", { tenantId: tenant, error: cause });
      throw new AppError(
        "dependency_unavailable",
        "Storage is unavailable right now. Please try again in a few minutes.",
        {
          retryable: true,
          cause,
          detail: "sts:AssumeRole failed",
        },
      );
    }
    const c = response.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new AppError("internal", "Something went wrong on our side.", {
        detail: "AssumeRole returned no credentials",
      });
    }
    const credentials: AwsCredentials = {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: c.Expiration,
    };
    this.cache.set(tenant, { credentials, expiresAt: c.Expiration.getTime() });
    while (this.cache.size > this.maxTenants) {
      const oldest = this.cache.keys().next().value as TenantId;
      this.cache.delete(oldest);
    }
    return credentials;
  }
}

/**
 * One SDK client per tenant, built with that tenant's scoped credentials (bounded, least recently used
 * dropped). Without a tenant role (emulators, a single-account test setup) every tenant gets the base
 * client and the caller logs that tenant isolation rests on key prefixes alone.
 */
export class TenantClients<T> {
  private readonly clients = new Map<TenantId, T>();

  constructor(
    readonly base: T,
    private readonly build: (credentials: CredentialsProvider) => T,
    private readonly credentials: TenantCredentials | undefined,
    private readonly maxClients = 200,
    private readonly dispose: (client: T) => void = () => {},
  ) {}

  get scoped(): boolean {
    return this.credentials !== undefined;
  }

  forTenant(tenant: TenantId): T {
    if (!this.credentials) return this.base;
    const existing = this.clients.get(tenant);
    if (existing) {
      this.clients.delete(tenant);
      this.clients.set(tenant, existing);
      return existing;
    }
    const client = this.build(this.credentials.providerFor(tenant));
    this.clients.set(tenant, client);
    while (this.clients.size > this.maxClients) {
      const [oldest, old] = this.clients.entries().next().value as [TenantId, T];
      this.clients.delete(oldest);
      this.dispose(old);
    }
    return client;
  }

  close(): void {
    for (const client of this.clients.values()) this.dispose(client);
    this.clients.clear();
    this.dispose(this.base);
  }
}
