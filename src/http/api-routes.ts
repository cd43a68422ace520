import { once } from "node:events";
import { pipeline } from "node:stream/promises";
import { type RequestHandler, type Response, Router } from "express";
import multer from "multer";
import { z } from "zod";
import { AppError } from "../domain/errors.js";
import type { Logger } from "../ports/logger.js";
import type { SlackIdentityLink } from "../ports/tenant-directory.js";
import type { AskInput, AskResult } from "../services/answer-question.js";
import { auditJson, documentJson, downloadName, sourceJson, visibilityJson } from "../services/record-json.js";
import type { Services } from "../services/services.js";
import { actorOf, requireAuth } from "./auth.js";
import { uploadReadError } from "./errors.js";
import { EventStream, wantsEventStream } from "./sse.js";
import { parseBody } from "./validate.js";

/** The body of an answer: POST /api/ask's JSON, and its `done` event when streamed. */
export function answerJson(r: AskResult) {
  return {
    answer: r.answer,
    ...(r.note ? { note: r.note } : {}),
    sources: r.sources.map(sourceJson),
    outcome: r.outcome,
    audit_id: r.auditId,
  };
}

/** Earlier turns of a web conversation, oldest first, as Slack threads pass theirs (the service bounds them). */
const historyBody = z.array(z.object({ role: z.enum(["user", "assistant"]), text: z.string() }));
const askBody = z.object({
  question: z.string(),
  // The web app says it is the web app, so the audit log can tell it from other API clients. Only a
  // label: it changes nothing about who asked or which tenant answers.
  surface: z.enum(["api", "web"]).optional(),
  history: historyBody.optional(),
});
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

const identityJson = (t: SlackIdentityLink) => ({ team_id: t.teamId, user_id: t.slackUserId, linked_at: t.linkedAt });

const uploadVisibility = z.enum(["organisation", "private"]).optional();
const identityBody = z.object({ token: z.string().trim().min(1).max(2000) });
const deleteOrganisationBody = z.object({ confirm: z.string().max(500) });

export type ApiServices = Pick<
  Services,
  "access" | "accounts" | "documents" | "answers" | "audit" | "feedback" | "links" | "offboarding"
>;

export interface ApiLimits {
  maxFileBytes: number;
}

/**
 * `/api/*`: every route needs a valid Bearer ID token; the tenant comes only from that token. Each
 * route hands the acting member to a service, which decides what they may see and do.
 */
export function apiRoutes(services: ApiServices, limits: ApiLimits): Router {
  const { accounts, documents, answers, audit, feedback, links, offboarding } = services;
  const router = Router();
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: limits.maxFileBytes, files: 1, fields: 10, parts: 20 },
    defParamCharset: "utf8",
  });
  const fileField = upload.single("file");
  // A body that breaks off or is not multipart is the client's to fix (400 with a reason), never a 500.
  const readUpload: RequestHandler = (req, res, next) =>
    fileField(req, res, (err?: unknown) => (err == null ? next() : next(uploadReadError(err))));
  router.use(requireAuth(accounts, services.access));

  router.get("/me", async (_req, res) => {
    const me = await accounts.describe(actorOf(res));
    const slack = await links.slackIdentities(actorOf(res));
    res.json({
      email: me.email,
      tenant_id: me.tenantId,
      tenant_name: me.tenantName,
      role: me.role,
      slack_identities: slack.map(identityJson),
    });
  });

  router.post("/invites", async (req, res) => {
    const body = parseBody(inviteBody, req.body);
    const invite = await accounts.createInvite(actorOf(res), body?.role);
    res.status(201).json({ code: invite.code, expires_at: invite.expiresAt });
  });

  router.get("/members", async (_req, res) => {
    const members = await accounts.members(actorOf(res));
    res.json({
      members: members.map((m) => ({
        user_id: m.userId,
        email: m.email,
        role: m.role,
        created_at: m.createdAt,
      })),
    });
  });

  // A web account proves it is a Slack user with the one-time link the bot sent that user in Slack.
  router.get("/identities", async (_req, res) => {
    const ties = await links.slackIdentities(actorOf(res));
    res.json({ identities: ties.map(identityJson) });
  });

  router.post("/identities", async (req, res) => {
    const { token } = parseBody(identityBody, req.body);
    const tie = await links.connectSlackUser(actorOf(res), token);
    res.status(201).json(identityJson(tie));
  });

  router.delete("/identities/:team_id/:user_id", async (req, res) => {
    await links.disconnectSlackUser(actorOf(res), req.params.team_id ?? "", req.params.user_id ?? "");
    res.status(204).end();
  });

  router.post("/upload", readUpload, async (req, res) => {
    const me = actorOf(res);
    if (!req.file) throw new AppError("bad_request", 'Send the file as multipart form data in a field named "file".');
    const kind = uploadVisibility.safeParse((req.body as Record<string, unknown> | undefined)?.visibility || undefined);
    if (!kind.success)
      throw new AppError("validation_failed", 'visibility: use "organisation" (everyone) or "private" (only you).');
    const { document, created } = await documents.add(me, {
      fileName: req.file.originalname,
      data: req.file.buffer,
      source: { kind: "upload" },
      visibility: kind.data === "private" ? { kind: "private", owner: me.principal } : { kind: "organisation" },
    });
    res.status(202).json({
      document: {
        id: document.id,
        title: document.title,
        status: document.status,
        visibility: visibilityJson(document.visibility),
      },
      duplicate: !created,
    });
  });

  router.get("/documents", async (_req, res) => {
    const docs = await documents.listForGovernance(actorOf(res));
    res.json({ documents: docs.map((d) => documentJson(d.document, d.readable)) });
  });

  router.get("/documents/:id", async (req, res) => {
    const { document, readable } = await documents.describe(actorOf(res), req.params.id ?? "");
    res.json(documentJson(document, readable));
  });

  // The original file, for the web app to open at a cited page. Bearer auth like everything here, so
  // the page fetches it into a Blob URL; `inline` lets the browser's viewer show it.
  router.get("/documents/:id/file", async (req, res) => {
    const { document, data } = await documents.original(actorOf(res), req.params.id ?? "");
    const type =
      document.contentType === "application/pdf" ? "application/pdf" : `${document.contentType}; charset=utf-8`;
    res.setHeader("Content-Type", type);
    res.setHeader(
      "Content-Disposition",
      contentDisposition("inline", downloadName(document.title, document.contentType)),
    );
    res.setHeader("Cache-Control", "private, no-store");
    res.send(data);
  });

  router.delete("/documents/:id", async (req, res) => {
    await documents.remove(actorOf(res), req.params.id ?? "");
    res.status(204).end();
  });

  // JSON, or with `Accept: text/event-stream` the answer as it is written: `delta` events, then `done`
  // with the JSON body. Whatever refuses the question (validation, limits) is refused before the
  // stream starts, so it is an ordinary HTTP error either way.
  router.post("/ask", async (req, res) => {
    const body = parseBody(askBody, req.body);
    const actor = { ...actorOf(res), surface: body.surface ?? "api" };
    const question = answers.validateQuestion(body.question);
    await answers.admit(actor);
    const input: AskInput = {
      actor,
      audience: { kind: "asker" },
      question,
      ...(body.history?.length ? { history: body.history } : {}),
      admitted: true,
    };
    if (!wantsEventStream(req)) {
      res.json(answerJson(await answers.ask(input)));
      return;
    }
    const stream = new EventStream(res);
    try {
      const result = await answers.ask(input, {
        onSearching: () => stream.send("status", { status: "searching" }),
        onText: (text) => stream.send("delta", { text }),
      });
      stream.send("done", answerJson(result));
      stream.end();
    } catch (error) {
      if (!stream.started) throw error;
      stream.fail(error, res.locals.logger as Logger | undefined, req.path);
    }
  });

  router.post("/audit/:id/feedback", async (req, res) => {
    const { value } = parseBody(feedbackBody, req.body);
    await feedback.record(actorOf(res), req.params.id ?? "", value);
    res.status(204).end();
  });

  router.get("/audit", async (req, res) => {
    const q = parseBody(auditQuery, req.query);
    const page = await audit.list(actorOf(res), {
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
    // Refuses a member here, before any header is sent.
    const lines = audit.exportCsv(actorOf(res));
    const day = new Date().toISOString().slice(0, 10);
    res.setHeader("Content-Type", "text/csv; charset=utf-8");
    res.setHeader("Content-Disposition", contentDisposition("attachment", `enclave-audit-${day}.csv`));
    res.setHeader("Cache-Control", "private, no-store");
    await streamLines(res, lines);
  });

  router.get("/audit/:id", async (req, res) => {
    res.json(auditJson(await audit.get(actorOf(res), req.params.id ?? "")));
  });

  // Everything the organisation holds, as a .tar.gz (admins). Refused before any header is sent.
  router.get("/organisation/export", async (req, res) => {
    const { fileName, stream } = await offboarding.exportArchive(actorOf(res));
    res.setHeader("Content-Type", "application/gzip");
    res.setHeader("Content-Disposition", contentDisposition("attachment", fileName));
    res.setHeader("Cache-Control", "private, no-store");
    try {
      await pipeline(stream, res);
    } catch (error) {
      // Past the first byte a failure can only cut the download short, which the client notices.
      if (!res.destroyed) res.destroy(error instanceof Error ? error : new Error(String(error)));
      (res.locals.logger as Logger | undefined)?.error("tenant export failed", { error, path: req.path });
    }
  });

  // Deleting the organisation and everything it holds (admins, typing its name): 202, the erasure runs as a job.
  router.delete("/organisation", async (req, res) => {
    const { confirm } = parseBody(deleteOrganisationBody, req.body ?? {});
    const { tenantId, requestedAt } = await offboarding.requestDeletion(actorOf(res), confirm);
    res.status(202).json({ status: "deleting", tenant_id: tenantId, requested_at: requestedAt });
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
      // Only `false` is back-pressure: serverless-express's response collects the body in memory, its
      // write() returns undefined and it never emits "drain", so waiting for one would never answer.
      if (res.write(line) === false && !res.destroyed) {
        // "close" too: a client that goes away mid-download never drains.
        const settled = new AbortController();
        await Promise.race([
          once(res, "drain", { signal: settled.signal }),
          once(res, "close", { signal: settled.signal }),
        ]).finally(() => settled.abort());
      }
      // Nobody is reading any more: stop paging through the log.
      if (res.destroyed) return;
    }
    res.end();
  } catch (error) {
    res.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
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
