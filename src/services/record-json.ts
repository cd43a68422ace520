import type { Visibility } from "../domain/access.js";
import type { AuditRecord } from "../domain/audit.js";
import type { DocumentRecord } from "../domain/documents.js";

/**
 * The public JSON shapes of the product's records (snake_case, stable): the REST API answers with them
 * and a tenant export writes them, so an export reads like the API.
 */
export function visibilityJson(v: Visibility) {
  switch (v.kind) {
    case "organisation":
      return { kind: v.kind };
    case "private":
      return { kind: v.kind, owner: v.owner };
    case "slack_conversation": {
      const conversations = v.conversations.map((c) => ({
        team_id: c.teamId,
        channel_id: c.channelId,
        public: c.public,
      }));
      return {
        kind: v.kind,
        team_id: conversations[0]?.team_id ?? null,
        channel_id: conversations[0]?.channel_id ?? null,
        conversations,
      };
    }
  }
}

export function documentJson(d: DocumentRecord, readable = true) {
  return {
    id: d.id,
    title: d.title,
    status: d.status,
    pages: d.pages,
    chunks: d.chunks,
    ...(d.status === "indexing" && d.progress
      ? { progress: { pages_done: d.progress.pagesDone, pages_total: d.progress.pagesTotal } }
      : {}),
    ...(d.error ? { error: { code: d.error.code, message: d.error.message } } : {}),
    content_type: d.contentType,
    size_bytes: d.sizeBytes,
    source: d.source.kind,
    visibility: visibilityJson(d.visibility),
    uploaded_by: d.uploadedBy,
    can_read: readable,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
  };
}

export function auditJson(r: AuditRecord) {
  return {
    id: r.id,
    created_at: r.createdAt,
    user_id: r.actor.userId,
    user_email: r.actor.email ?? null,
    slack_user_id: r.actor.slackUserId ?? null,
    surface: r.surface,
    slack: r.slack
      ? {
          team_id: r.slack.teamId,
          channel_id: r.slack.channelId ?? null,
          thread_ts: r.slack.threadTs ?? null,
        }
      : null,
    question: r.question,
    answer: r.answer,
    sources: r.sources.map(sourceJson),
    outcome: r.outcome,
    latency_ms: r.latencyMs,
    model: r.model,
    feedback: r.feedback ? { value: r.feedback.value, by: r.feedback.by, at: r.feedback.at } : null,
  };
}

export const sourceJson = (s: AuditRecord["sources"][number]) => ({
  n: s.n,
  document_id: s.documentId,
  title: s.title,
  page: s.page,
  snippet: s.snippet,
  score: s.score,
  ...(s.link ? { link: s.link } : {}),
});

const EXTENSIONS: Record<string, string> = { "application/pdf": ".pdf", "text/markdown": ".md", "text/plain": ".txt" };

/** The name a document's original is saved under: its title with the extension of its type. */
export function downloadName(title: string, contentType: string): string {
  const ext = EXTENSIONS[contentType] ?? "";
  return title.toLowerCase().endsWith(ext) ? title : `${title}${ext}`;
}
