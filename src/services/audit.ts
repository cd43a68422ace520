import type { Actor } from "../domain/access.js";
import type { AuditRecord } from "../domain/audit.js";
import { AppError } from "../domain/errors.js";
import type { AuditLog, AuditQuery } from "../ports/audit-log.js";
import { requireAdmin } from "./access.js";
import { auditCsv } from "./audit-export.js";

/** Reading the audit log: admins read every exchange of the organisation, members only their own. */
export class AuditService {
  constructor(private readonly audit: AuditLog) {}

  async list(actor: Actor, query: AuditQuery): Promise<{ records: AuditRecord[]; nextCursor?: string }> {
    if (actor.role === "admin") return this.audit.list(actor.tenantId, query);
    // A member asking for someone else's exchanges gets none, not an error that confirms they exist.
    if (query.userId && query.userId !== actor.principal) return { records: [] };
    return this.audit.list(actor.tenantId, { ...query, userId: actor.principal });
  }

  async get(actor: Actor, id: string): Promise<AuditRecord> {
    const record = await this.audit.get(actor.tenantId, id);
    if (!record || (actor.role !== "admin" && !actor.principals.includes(record.actor.userId)))
      throw new AppError("not_found", "That exchange was not found.");
    return record;
  }

  /** The whole log as CSV lines: admins only (it is everyone's questions). */
  exportCsv(actor: Actor): AsyncGenerator<string> {
    requireAdmin(actor);
    return auditCsv(this.audit, actor.tenantId);
  }
}
