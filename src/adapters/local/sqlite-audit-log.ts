import { z } from "zod";
import type { AuditRecord } from "../../domain/audit.js";
import type { TenantId } from "../../domain/tenant.js";
import type { AuditLog, AuditQuery } from "../../ports/audit-log.js";
import type { Logger } from "../../ports/logger.js";
import { auditRecordSchema, damaged, jsonText, parseStored, StoredRecords } from "../shared/stored-records.js";
import { truncateWal } from "./sqlite.js";
import type { TenantDatabases } from "./tenant-databases.js";

const STORE = "audit log";
const rowSchema = z.object({ id: z.string(), record: jsonText(auditRecordSchema) });

interface Row {
  id: string;
  record: string;
}

/** The stored record, checked, and filed under the tenant whose database holds it. */
function toRecord(tenant: TenantId, row: Row): AuditRecord {
  const at = { store: STORE, key: `${tenant}/${String(row.id)}` };
  const { id, record } = parseStored(rowSchema, row, at);
  if (record.tenantId !== tenant) throw damaged(at, "record.tenantId: not the tenant it is filed under");
  if (record.id !== id) throw damaged(at, "record.id: not the id it is filed under");
  return record;
}

export class SqliteAuditLog implements AuditLog {
  private readonly stored: StoredRecords;

  constructor(
    private readonly dbs: TenantDatabases,
    logger?: Logger,
  ) {
    this.stored = new StoredRecords(logger);
  }

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
      .prepare(`SELECT id, record FROM audit WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT @limit`)
      .all(params) as Row[];
    const page = rows.slice(0, query.limit);
    const records = this.stored.each(page, (row) => toRecord(tenant, row));
    // The cursor is the last row read, damaged or not, so a damaged row never ends or repeats a page.
    const last = page.at(-1);
    return rows.length > query.limit && last ? { records, nextCursor: last.id } : { records };
  }

  async get(tenant: TenantId, id: string): Promise<AuditRecord | undefined> {
    const row = this.dbs
      .get(tenant)
      .prepare("SELECT id, record FROM audit WHERE tenant_id = ? AND id = ?")
      .get(tenant, id) as Row | undefined;
    return row ? this.stored.one(() => toRecord(tenant, row)) : undefined;
  }

  async setFeedback(tenant: TenantId, id: string, feedback: NonNullable<AuditRecord["feedback"]>): Promise<boolean> {
    const db = this.dbs.get(tenant);
    return db.transaction(() => {
      const row = db.prepare("SELECT id, record FROM audit WHERE tenant_id = ? AND id = ?").get(tenant, id) as
        | Row
        | undefined;
      if (!row) return false;
      const record = { ...this.stored.one(() => toRecord(tenant, row)), feedback };
      db.prepare("UPDATE audit SET record = ? WHERE tenant_id = ? AND id = ?").run(JSON.stringify(record), tenant, id);
      return true;
    })();
  }

  async deleteBefore(tenant: TenantId, before: Date): Promise<number> {
    // A tenant that never wrote anything has no file; looking would create one.
    if (!this.dbs.has(tenant)) return 0;
    const db = this.dbs.get(tenant);
    // created_at is always toISOString()'s fixed-width UTC form, so text order is time order.
    const { changes } = db
      .prepare("DELETE FROM audit WHERE tenant_id = ? AND created_at < ?")
      .run(tenant, before.toISOString());
    // secure_delete has zeroed the rows; the write-ahead log still holds the pages as they were.
    if (changes > 0) truncateWal(db);
    return changes;
  }

  async deleteTenant(tenant: TenantId): Promise<void> {
    if (!this.dbs.has(tenant)) return;
    const db = this.dbs.get(tenant);
    if (db.prepare("DELETE FROM audit WHERE tenant_id = ?").run(tenant).changes > 0) truncateWal(db);
  }
}
