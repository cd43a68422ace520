import type { Actor } from "../domain/access.js";
import type { Feedback } from "../domain/audit.js";
import { AppError } from "../domain/errors.js";
import type { AuditLog } from "../ports/audit-log.js";
import type { Logger } from "../ports/logger.js";

/** Thumbs up or down on an answer: only the person who asked may rate it, on any surface. */
export class FeedbackService {
  constructor(
    private readonly audit: AuditLog,
    private readonly logger: Logger,
  ) {}

  async record(actor: Actor, auditId: string, value: Feedback): Promise<void> {
    const record = await this.audit.get(actor.tenantId, auditId);
    if (!record) throw new AppError("not_found", "That exchange was not found.");
    // A channel answer shows its buttons to everyone in the channel: say why a click does nothing.
    if (!actor.principals.includes(record.actor.userId))
      throw new AppError("forbidden", "Only the person who asked can rate this answer.");
    await this.audit.setFeedback(actor.tenantId, auditId, { value, by: actor.principal, at: new Date().toISOString() });
    this.logger.info("feedback recorded", { tenantId: actor.tenantId, auditId, value });
  }
}
