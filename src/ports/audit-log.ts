import type { AuditRecord, Feedback } from "../domain/audit.js";
import type { TenantId } from "../domain/tenant.js";

export interface AuditQuery {
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  surface?: string;
  userId?: string;
  from?: string;
  to?: string;
}

export interface AuditLog {
  append(record: AuditRecord): Promise<void>;
  /** Newest first. */
  list(tenant: TenantId, query: AuditQuery): Promise<{ records: AuditRecord[]; nextCursor?: string }>;
  get(tenant: TenantId, id: string): Promise<AuditRecord | undefined>;
  setFeedback(tenant: TenantId, id: string, feedback: NonNullable<AuditRecord["feedback"]>): Promise<boolean>;
}

export type { Feedback };
