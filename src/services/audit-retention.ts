import type { AuditLog } from "../ports/audit-log.js";
import type { Logger } from "../ports/logger.js";
import type { TenantDirectory } from "../ports/tenant-directory.js";

const DAY_MS = 24 * 60 * 60_000;

export interface AuditRetentionOptions {
  /** Exchanges older than this many days are removed; 0 keeps them forever. */
  days: number;
  /** Time between sweeps (a day). */
  intervalMs?: number;
  now?: () => Date;
}

/**
 * AUDIT_RETENTION_DAYS for stores that do not expire records themselves (the embedded SQLite audit log;
 * DynamoDB's TTL does it on AWS): a sweep removes, tenant by tenant, the exchanges recorded before the
 * cutoff. The embedded server runs one at start and then daily.
 */
export class AuditRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private readonly intervalMs: number;
  private readonly now: () => Date;

  constructor(
    private readonly directory: TenantDirectory,
    private readonly audit: AuditLog,
    private readonly options: AuditRetentionOptions,
    private readonly logger: Logger,
  ) {
    this.intervalMs = options.intervalMs ?? DAY_MS;
    this.now = options.now ?? (() => new Date());
  }

  get enabled(): boolean {
    return this.options.days > 0;
  }

  /** One sweep; concurrent calls share it. Resolves to how many exchanges were removed. */
  run(): Promise<number> {
    if (!this.enabled) return Promise.resolve(0);
    this.running ??= this.sweep().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async sweep(): Promise<number> {
    const before = new Date(this.now().getTime() - this.options.days * DAY_MS);
    let removed = 0;
    let failed = 0;
    for (const tenant of await this.directory.listTenants()) {
      // Its erasure removes everything; opening its database now could bring the file back.
      if (tenant.deletingSince) continue;
      try {
        removed += await this.audit.deleteBefore(tenant.id, before);
      } catch (error) {
        // One tenant's damaged or busy file must not keep the others' old exchanges: the next sweep tries again.
        failed++;
        this.logger.warn("audit retention failed for a tenant", { error, tenantId: tenant.id });
      }
    }
    this.logger.info("audit retention sweep", {
      removed,
      before: before.toISOString(),
      retentionDays: this.options.days,
      ...(failed > 0 ? { failedTenants: failed } : {}),
    });
    return removed;
  }

  /** Sweeps now and then every interval; nothing when retention is off (0 days). */
  start(): void {
    if (this.timer || !this.enabled) return;
    const tick = () => {
      this.run().catch((error: unknown) => this.logger.warn("audit retention sweep failed", { error }));
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
