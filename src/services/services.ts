import type { AccessService } from "./access.js";
import type { AccountService } from "./accounts.js";
import type { AnswerService } from "./answer-question.js";
import type { AuditService } from "./audit.js";
import type { DocumentService } from "./documents.js";
import type { InstallationService } from "./installations.js";
import type { JobService } from "./jobs.js";
import type { LinkService } from "./link-workspace.js";
import type { OffboardingService } from "./offboarding.js";
import type { FeedbackService } from "./record-feedback.js";

/**
 * The product's use cases. Surfaces (HTTP, Slack, the CLI) are handed the ones they call and reach
 * nothing else: no port, no container.
 */
export interface Services {
  access: AccessService;
  accounts: AccountService;
  documents: DocumentService;
  answers: AnswerService;
  audit: AuditService;
  feedback: FeedbackService;
  links: LinkService;
  installations: InstallationService;
  jobs: JobService;
  offboarding: OffboardingService;
}
