import { once } from "node:events";
import { type Response, Router } from "express";
import multer from "multer";
import { z } from "zod";
import type { Container } from "../composition/container.js";
import type { AuditRecord } from "../domain/audit.js";
import type { DocumentRecord } from "../domain/documents.js";
import { AppError } from "../domain/errors.js";
import { requireAdmin } from "../services/accounts.js";
import { auditCsv } from "../services/audit-export.js";
import { identityOf, requireAuth } from "./auth.js";
import { parseBody } from "./validate.js";

export function documentJson(d: DocumentRecord) {
  return {
    id: d.id,
    title: d.title,
    status: d.status,
    pages: d.pages,
    chunks: d.chunks,
    ...(d.error ? { error: { code: d.error.code, message: d.error.message } } : {}),
    content_type: d.contentType,
    size_bytes: d.sizeBytes,
    source: d.source.kind,
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

const sourceJson = (s: AuditRecord["sources"][number]) => ({
  n: s.n,
  document_id: s.documentId,
  title: s.title,
  page: s.page,
  snippet: s.snippet,
  score: s.score,
  ...(s.link ? { link: s.link } : {}),
});

// The web app says it is the web app, so the audit log can tell it from other API clients. Only a
// label: it changes nothing about who asked or which tenant answers.
const askBody = z.object({ question: z.string(), surface: z.enum(["api", "web"]).optional() });
const feedbackBody = z.object({ value: z.enum(["up", "down"]) });
const inviteBody = z.object({ role: z.enum(["admin", "member"]).optional() }).optional();
const auditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
  surface: z.string().max(40).optional(),
  user_id: z.string().max(200).optional(),
  from: z.string().max(40).optional(),
  to: z.string().max(40).optional(),
});

/** `/api/*`: every route needs a valid Bearer ID token; the tenant comes only from that token. */
export function apiRoutes(c: Container): Router {
  const router = Router();
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: c.config.MAX_FILE_BYTES, files: 1, fields: 10, parts: 20 },
    defParamCharset: "utf8",
  });
  router.use(requireAuth(c.accounts));

  router.get("/me", async (_req, res) => {
    const me = await c.accounts.describe(identityOf(res));
    res.json({ email: me.email, tenant_id: me.tenantId, tenant_name: me.tenantName, role: me.role });
  });

  router.post("/invites", async (req, res) => {
    const body = parseBody(inviteBody, req.body);
    const invite = await c.accounts.createInvite(identityOf(res), body?.role);
    res.status(201).json({ code: invite.code, expires_at: invite.expiresAt });
  });

  router.get("/members", async (_req, res) => {
    const me = identityOf(res);
    requireAdmin(me);
    const members = await c.directory.listMembers(me.tenantId);
    res.json({
      members: members.map((m) => ({
        user_id: m.userId,
        email: m.email,
        role: m.role,
        created_at: m.createdAt,
      })),
    });
  });

  router.post("/upload", upload.single("file"), async (req, res) => {
    const me = identityOf(res);
    if (!req.file) throw new AppError("bad_request", 'Send the file as multipart form data in a field named "file".');
    const { document, created } = await c.documents.add(me.tenantId, {
      fileName: req.file.originalname,
      data: req.file.buffer,
      source: { kind: "upload" },
      uploadedBy: me.userId,
    });
    res.status(202).json({
      document: { id: document.id, title: document.title, status: document.status },
      duplicate: !created,
    });
  });

  router.get("/documents", async (_req, res) => {
    const docs = await c.documents.list(identityOf(res).tenantId);
    res.json({ documents: docs.map(documentJson) });
  });

  router.get("/documents/:id", async (req, res) => {
    res.json(documentJson(await c.documents.get(identityOf(res).tenantId, req.params.id ?? "")));
  });

  // The original file, for the web app to open at a cited page. Bearer auth like everything here, so
  // the page fetches it into a Blob URL; `inline` lets the browser's viewer show it.
  router.get("/documents/:id/file", async (req, res) => {
    const me = identityOf(res);
    const { document, data } = await c.documents.original(me.tenantId, req.params.id ?? "");
    const type =
      document.contentType === "application/pdf" ? "application/pdf" : `${document.contentType}; charset=utf-8`;
    res.setHeader("Content-Type", type);
    res.setHeader(
      "Content-Disposition",
      contentDisposition("inline", fileNameOf(document.title, document.contentType)),
    );
    res.setHeader("Cache-Control", "private, no-store");
    res.send(data);
  });

  router.delete("/documents/:id", async (req, res) => {
    await c.documents.delete(identityOf(res).tenantId, req.params.id ?? "");
    res.status(204).end();
  });

  router.post("/ask", async (req, res) => {
    const me = identityOf(res);
    const { question, surface } = parseBody(askBody, req.body);
    const result = await c.answers.ask({
      tenant: me.tenantId,
      actor: { userId: me.userId, email: me.email },
      surface: surface ?? "api",
      question,
    });
    res.json({
      answer: result.answer,
      sources: result.sources.map(sourceJson),
      outcome: result.outcome,
      audit_id: result.auditId,
    });
  });

  router.post("/audit/:id/feedback", async (req, res) => {
    const me = identityOf(res);
    const { value } = parseBody(feedbackBody, req.body);
    const ok = await c.audit.setFeedback(me.tenantId, req.params.id ?? "", {
      value,
      by: me.userId,
      at: new Date().toISOString(),
    });
    if (!ok) throw new AppError("not_found", "That exchange was not found.");
    res.status(204).end();
  });

  router.get("/audit", async (req, res) => {
    const me = identityOf(res);
    requireAdmin(me);
    const q = parseBody(auditQuery, req.query);
    const page = await c.audit.list(me.tenantId, {
      limit: q.limit,
      ...(q.cursor ? { cursor: q.cursor } : {}),
      ...(q.surface ? { surface: q.surface } : {}),
      ...(q.user_id ? { userId: q.user_id } : {}),
      ...(q.from ? { from: q.from } : {}),
      ...(q.to ? { to: q.to } : {}),
    });
    res.json({ records: page.records.map(auditJson), next_cursor: page.nextCursor ?? null });
  });

  // Before /audit/:id, which would otherwise take "export.csv" for an id.
  router.get("/audit/export.csv", async (_req, res) => {
    const me = identityOf(res);
    requireAdmin(me);
    const day = new Date().toISOString().slice(0, 10);
    res.setHeader("Content-Type", "text/csv; charset=utf-8");
    res.setHeader("Content-Disposition", contentDisposition("attachment", `enclave-audit-${day}.csv`));
    res.setHeader("Cache-Control", "private, no-store");
    await streamLines(res, auditCsv(c.audit, me.tenantId));
  });

  router.get("/audit/:id", async (req, res) => {
    const me = identityOf(res);
    requireAdmin(me);
    const record = await c.audit.get(me.tenantId, req.params.id ?? "");
    if (!record) throw new AppError("not_found", "That exchange was not found.");
    res.json(auditJson(record));
  });

  return router;
}

/**
 * Writes a generated body with back-pressure. A failure after the first byte can no longer become an
 * error response, so the connection is cut and the client sees an incomplete download, not a short file.
 */
async function streamLines(res: Response, lines: AsyncIterable<string>): Promise<void> {
  // A byte-order mark, so spreadsheet programs read the UTF-8 as UTF-8.
  res.write("\uFEFF");
  try {
    for await (const line of lines) {
      if (!res.write(line)) await once(res, "drain");
    }
    res.end();
  } catch (error) {
    res.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}

const EXTENSIONS: Record<string, string> = { "application/pdf": ".pdf", "text/markdown": ".md", "text/plain": ".txt" };

function fileNameOf(title: string, contentType: string): string {
  const ext = EXTENSIONS[contentType] ?? "";
  return title.toLowerCase().endsWith(ext) ? title : `${title}${ext}`;
}

/** RFC 6266: an ASCII fallback name plus the UTF-8 one; quotes, control and path characters removed. */
export function contentDisposition(kind: "inline" | "attachment", fileName: string): string {
  const unsafe = (ch: string) => {
    const code = ch.codePointAt(0) ?? 0;
    return code < 0x20 || code === 0x7f || ch === '"' || ch === "\\" || ch === "/";
  };
  const clean = [...fileName.slice(0, 200)].map((ch) => (unsafe(ch) ? "_" : ch)).join("") || "download";
  const ascii = clean.replace(/[^\u0020-\u007e]/g, "_");
  const encoded = encodeURIComponent(clean).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
