import type { TenantId } from "./tenant.js";

export type Surface = "api" | "web" | "cli" | "slack_command" | "slack_mention" | "slack_dm";
export type Outcome = "answered" | "no_context" | "model_unavailable" | "error";
export type Feedback = "up" | "down";

export interface Source {
  n: number;
  documentId: string;
  title: string;
  page: number;
  snippet: string;
  score: number;
  /** Where the user can open the original (a Slack file permalink), when known. */
  link?: string;
}

export interface AuditRecord {
  id: string;
  tenantId: TenantId;
  createdAt: string;
  actor: { userId: string; email?: string; slackUserId?: string };
  surface: Surface;
  slack?: { teamId: string; channelId?: string; threadTs?: string; enterpriseId?: string };
  question: string;
  answer: string;
  sources: Source[];
  outcome: Outcome;
  latencyMs: number;
  model: string;
  feedback?: { value: Feedback; by: string; at: string };
}

/** Newest first, stable across equal timestamps: ids are time-ordered. */
export function newAuditId(now: Date, random: string): string {
  return `${now.getTime().toString(36).padStart(9, "0")}-${random}`;
}
