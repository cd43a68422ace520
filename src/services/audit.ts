import type { Actor } from "../domain/access.js";
import type { AuditRecord, Feedback, Outcome, Surface } from "../domain/audit.js";
import { AppError } from "../domain/errors.js";
import type { AuditLog, AuditQuery } from "../ports/audit-log.js";
import { requireAdmin } from "./access.js";
import { auditCsv } from "./audit-export.js";

/** One of the actor's own questions, as they may see it again: the question, never the answer or sources. */
export interface OwnQuestion {
  id: string;
  createdAt: string;
  surface: Surface;
  question: string;
  outcome: Outcome;
  feedback?: Feedback;
}

/**
 * Listing someone's own recent questions reads the organisation's log newest first, this many records
 * a page and at most this many pages: the port lists by tenant and time, and a filter by user is no
 * cheaper on DynamoDB (it filters after reading), so the scan is bounded here. Someone whose last
 * question is older than the newest 1,000 exchanges of their organisation sees none.
 */
const OWN_PAGE_SIZE = 100;
const OWN_MAX_PAGES = 10;
const OWN_MAX_LIMIT = 50;

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

  /**
   * The actor's own latest questions, newest first, whatever their role: only those asked as the person
   * they act as now (a Slack user: their questions in that workspace), never anyone else's.
   */
  async recentQuestions(actor: Actor, limit: number): Promise<OwnQuestion[]> {
    const wanted = Math.max(0, Math.min(Math.floor(limit), OWN_MAX_LIMIT));
    const own: OwnQuestion[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < OWN_MAX_PAGES && own.length < wanted; page++) {
      const { records, nextCursor } = await this.audit.list(actor.tenantId, {
        limit: OWN_PAGE_SIZE,
        ...(cursor ? { cursor } : {}),
      });
      for (const r of records) {
        if (own.length >= wanted) break;
        if (r.tenantId !== actor.tenantId || r.actor.userId !== actor.principal) continue;
        own.push({
          id: r.id,
          createdAt: r.createdAt,
          surface: r.surface,
          question: r.question,
          outcome: r.outcome,
          ...(r.feedback ? { feedback: r.feedback.value } : {}),
        });
      }
      if (!nextCursor) break;
      cursor = nextCursor;
    }
    return own;
  }

  /** The whole log as CSV lines: admins only (it is everyone's questions). */
  exportCsv(actor: Actor): AsyncGenerator<string> {
    requireAdmin(actor);
    return auditCsv(this.audit, actor.tenantId);
  }
}
