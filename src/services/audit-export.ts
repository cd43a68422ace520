import type { AuditRecord } from "../domain/audit.js";
import type { TenantId } from "../domain/tenant.js";
import type { AuditLog } from "../ports/audit-log.js";

const COLUMNS = [
  "id",
  "created_at",
  "surface",
  "user_id",
  "user_email",
  "slack_team",
  "slack_channel",
  "question",
  "answer",
  "sources",
  "outcome",
  "latency_ms",
  "model",
  "feedback",
] as const;

function cell(value: string | number): string {
  let s = String(value);
  // A cell starting with = + - @ is a formula in spreadsheet programs: neutralise it.
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function row(r: AuditRecord): string {
  return [
    r.id,
    r.createdAt,
    r.surface,
    r.actor.userId,
    r.actor.email ?? "",
    r.slack?.teamId ?? "",
    r.slack?.channelId ?? "",
    r.question,
    r.answer,
    r.sources.map((s) => `[${s.n}] ${s.title} p.${s.page}`).join("; "),
    r.outcome,
    r.latencyMs,
    r.model,
    r.feedback?.value ?? "",
  ]
    .map(cell)
    .join(",");
}

/** The tenant's whole audit log as CSV, newest first, read page by page. */
export async function* auditCsv(audit: AuditLog, tenant: TenantId): AsyncGenerator<string> {
  yield `${COLUMNS.join(",")}\r\n`;
  let cursor: string | undefined;
  do {
    const page = await audit.list(tenant, { limit: 500, ...(cursor ? { cursor } : {}) });
    for (const record of page.records) yield `${row(record)}\r\n`;
    cursor = page.nextCursor;
  } while (cursor);
}
