import type { AuditRecord } from "../../domain/audit.js";
import type { TenantId } from "../../domain/tenant.js";
import type { AuditLog, AuditQuery } from "../../ports/audit-log.js";
import type { TenantDatabases } from "./tenant-databases.js";

export class SqliteAuditLog implements AuditLog {
  constructor(private readonly dbs: TenantDatabases) {}

  async append(record: AuditRecord): Promise<void> {
    this.dbs
      .get(record.tenantId)
      .prepare(
        `INSERT INTO audit (id, tenant_id, created_at, user_id, surface, outcome, record)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.id,
        record.tenantId,
        record.createdAt,
        record.actor.userId,
        record.surface,
        record.outcome,
        JSON.stringify(record),
      );
  }

  async list(tenant: TenantId, query: AuditQuery): Promise<{ records: AuditRecord[]; nextCursor?: string }> {
    const params: Record<string, unknown> = { tenant, limit: query.limit + 1 };
    const where = ["tenant_id = @tenant"];
    const filters = [
      ["id < @cursor", "cursor", query.cursor],
      ["surface = @surface", "surface", query.surface],
      ["user_id = @userId", "userId", query.userId],
      ["created_at >= @from", "from", query.from],
      ["created_at <= @to", "to", query.to],
    ] as const;
    for (const [clause, name, value] of filters) {
      if (!value) continue;
      where.push(clause);
      params[name] = value;
    }
    // Ids are time-ordered (see newAuditId), so ordering and paging by id is newest-first and stable.
    const rows = this.dbs
      .get(tenant)
      .prepare(`SELECT record FROM audit WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT @limit`)
      .all(params) as { record: string }[];
    const records = rows.slice(0, query.limit).map((r) => JSON.parse(r.record) as AuditRecord);
    const last = records.at(-1);
    return rows.length > query.limit && last ? { records, nextCursor: last.id } : { records };
  }

  async get(tenant: TenantId, id: string): Promise<AuditRecord | undefined> {
    const row = this.dbs
      .get(tenant)
      .prepare("SELECT record FROM audit WHERE tenant_id = ? AND id = ?")
      .get(tenant, id) as { record: string } | undefined;
    return row ? (JSON.parse(row.record) as AuditRecord) : undefined;
  }

  async setFeedback(tenant: TenantId, id: string, feedback: NonNullable<AuditRecord["feedback"]>): Promise<boolean> {
    const db = this.dbs.get(tenant);
    return db.transaction(() => {
      const row = db.prepare("SELECT record FROM audit WHERE tenant_id = ? AND id = ?").get(tenant, id) as
        | { record: string }
        | undefined;
      if (!row) return false;
      const record = { ...(JSON.parse(row.record) as AuditRecord), feedback };
      db.prepare("UPDATE audit SET record = ? WHERE tenant_id = ? AND id = ?").run(JSON.stringify(record), tenant, id);
      return true;
    })();
  }
}
