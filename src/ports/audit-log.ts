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
  /** Removes the exchanges recorded before `before` (retention); resolves to how many were removed. */
  deleteBefore(tenant: TenantId, before: Date): Promise<number>;
  /** Removes every exchange of the tenant (the tenant is being deleted). */
  deleteTenant(tenant: TenantId): Promise<void>;
}

export type { Feedback };
