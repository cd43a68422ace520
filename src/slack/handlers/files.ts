import type { SlackConversationRef } from "../../domain/access.js";
import { type DocumentRecord, titleFromFileName } from "../../domain/documents.js";
import { AppError, isAppError } from "../../domain/errors.js";
import type { TenantId } from "../../domain/tenant.js";
import type { Job } from "../../ports/job-queue.js";
import { formatBytes } from "../../services/documents.js";
import { escapeText, renderNotice, type SlackMessage } from "../blocks.js";
import { type FileJob, fileJobSchema } from "../jobs.js";
import { downloadSlackFile } from "../outbound.js";
import { fileInfoSchema, type SlackFileInfo } from "../payloads.js";
import { openWorkspace, plural, type SlackRuntime, slackActor, type Workspace } from "../runtime.js";

const SUPPORTED_FILETYPES = new Set(["pdf", "text", "txt", "markdown", "md"]);
const SUPPORTED_NAME = /\.(pdf|txt|text|md|markdown)$/i;

/** The message that shared the file, from `files.info` shares (file_shared carries only ids). */
export function shareOf(file: SlackFileInfo, channelId: string | undefined): { channelId?: string; ts?: string } {
  const all = { ...(file.shares?.public ?? {}), ...(file.shares?.private ?? {}) };
  const channel = channelId ?? Object.keys(all)[0];
  if (!channel) return {};
  const share = all[channel]?.[0];
  return { channelId: channel, ...(share ? { ts: share.ts } : {}) };
}

/** Slack sets a file's title to its name unless someone renamed it: then the name's extension goes. */
function fileTitle(file: SlackFileInfo): string {
  const title = file.title?.trim();
  return title && title !== file.name ? title.slice(0, 200) : titleFromFileName(file.name);
}

/**
 * Files shared with the bot: `share` indexes a new file (type and size checked before downloading),
 * `change` re-indexes an edited one, `delete` removes a deleted one. Whoever shared gets a reply in the
 * thread of the sharing message: the outcome once indexing settles (see `handleIndexed`), or at once
 * the reason it could not be indexed.
 */
export async function handleFileJob(rt: SlackRuntime, job: Job): Promise<void> {
  const f = fileJobSchema.parse(job.payload);
  const ws = await openWorkspace(rt, f.teamId);
  if (!ws) return;
  if (f.kind === "share") return share(rt, ws, f, job);
  if (!ws.link) return; // nothing of an unlinked workspace was ever indexed
  const tenant = ws.link.tenantId;
  const doc = await rt.services.documents.findBySlackFile(tenant, f.teamId, f.fileId);
  if (!doc) return;
  if (f.kind === "delete") {
    // Deleted in Slack: nobody can read it there any more, so nobody reads it here.
    await rt.services.documents.removeWithSource(tenant, doc.id);
    return;
  }
  await change(rt, ws, tenant, doc, f.fileId, job);
}

async function share(rt: SlackRuntime, ws: Workspace, f: Extract<FileJob, { kind: "share" }>, job: Job): Promise<void> {
  const log = rt.logger.child({ slackTeam: f.teamId, fileId: f.fileId, jobId: job.id });
  const info = fileInfoSchema.safeParse(await ws.client.files.info({ file: f.fileId }));
  if (!info.success) {
    log.warn("files.info gave an unexpected answer", { issues: info.error.issues.slice(0, 3) });
    return;
  }
  const file = info.data.file;
  if (ws.auth.botUserId && file.user === ws.auth.botUserId) return; // our own upload
  const where = shareOf(file, f.channelId);
  const channel = where.channelId;
  const threadTs = f.messageTs ?? where.ts;
  const title = fileTitle(file);
  const reply = async (text: string) => {
    if (!channel) return;
    await ws.client.chat.postMessage({
      channel,
      text,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      unfurl_links: false,
    });
  };
  const ephemeral = async (message: SlackMessage) => {
    const to = f.userId ?? file.user;
    if (!channel || !to) return;
    await ws.client.chat.postEphemeral({
      channel,
      user: to,
      text: message.text,
      ...(message.blocks ? { blocks: message.blocks } : {}),
      ...(threadTs ? { thread_ts: threadTs } : {}),
    });
  };
  const sharer = f.userId ?? file.user;
  if (!sharer) return;
  // Guests and people from other organisations are not served: what they share is not indexed either.
  const served = await slackActor(
    rt,
    ws,
    { teamId: f.teamId, userId: sharer, ...(f.userTeamId ? { userTeamId: f.userTeamId } : {}) },
    "slack_command",
    ephemeral,
    { reason: `I can't index ${escapeText(title)} yet.` },
  );
  if (!served) return;
  const { actor } = served;
  const tenant = actor.tenantId;
  if (!channel) {
    log.warn("shared file without a conversation; not indexed", { tenantId: tenant });
    return;
  }
  const problem = checkFile(file, rt.limits.maxFileBytes);
  if (problem) {
    await reply(`I couldn't index ${escapeText(title)}: ${problem}`);
    return;
  }
  // Readable by exactly those who can read the conversation it was shared in; Slack's own share list says
  // whether that is a public channel (its workspace's full members may read it).
  const conversation: SlackConversationRef = {
    teamId: f.teamId,
    channelId: channel,
    public: Boolean(file.shares?.public?.[channel]),
  };
  const existing = await rt.services.documents.findBySlackFile(tenant, f.teamId, f.fileId);
  if (existing) {
    const known =
      existing.visibility.kind === "slack_conversation" &&
      existing.visibility.conversations.some((c) => c.teamId === f.teamId && c.channelId === channel);
    // Slack's own list of the file's shares must name the conversation before its members are let in.
    const sharedThere = Boolean(file.shares?.public?.[channel] ?? file.shares?.private?.[channel]);
    if (!known && sharedThere && existing.visibility.kind === "slack_conversation") {
      await rt.services.documents.addConversation(actor, existing.id, conversation);
      await reply(`${escapeText(existing.title)} can now be used in answers for this conversation too.`);
      return;
    }
    // Shared again while stranded (its job lost): it goes back on the queue.
    if (existing.status === "queued" || existing.status === "indexing")
      await rt.services.documents.resume(tenant, existing);
    await reply(alreadyIndexed(existing));
    return;
  }
  try {
    const data = await download(rt, ws, file);
    const { document, created } = await rt.services.documents.add(actor, {
      fileName: file.name,
      data,
      title,
      visibility: { kind: "slack_conversation", conversations: [conversation] },
      source: {
        kind: "slack",
        teamId: f.teamId,
        fileId: f.fileId,
        channelId: channel,
        ...(threadTs ? { messageTs: threadTs } : {}),
        ...(file.permalink ? { permalink: file.permalink } : {}),
      },
    });
    // A new document is indexed by its ingest job, whose outcome is posted in the thread once it settles
    // (the `indexed` event job); until then the sharer sees that it is under way.
    if (!created) await reply(alreadyIndexed(document));
    else {
      log.info("slack file queued for indexing", { tenantId: tenant, documentId: document.id });
      await ephemeral(renderNotice(indexingText(document.title))).catch((error: unknown) =>
        log.warn("could not post the indexing note", { error }),
      );
    }
  } catch (error) {
    if (isAppError(error) && error.retryable && job.attempt < job.maxAttempts) throw error;
    log.warn("slack file not indexed", { error, tenantId: tenant });
    await reply(`I couldn't index ${escapeText(title)}: ${reasonOf(error)}`);
  }
}

async function change(
  rt: SlackRuntime,
  ws: Workspace,
  tenant: TenantId,
  doc: DocumentRecord,
  fileId: string,
  job: Job,
): Promise<void> {
  const info = fileInfoSchema.safeParse(await ws.client.files.info({ file: fileId }));
  if (!info.success) return;
  const file = info.data.file;
  try {
    if (checkFile(file, rt.limits.maxFileBytes)) return; // it was fine before; keep the indexed version
    const data = await download(rt, ws, file);
    const updated = await rt.services.documents.replace(tenant, doc.id, file.name, data);
    if (updated && updated.sha256 !== doc.sha256)
      rt.logger.info("slack file changed, re-indexing", { tenantId: tenant, documentId: doc.id });
  } catch (error) {
    if (isAppError(error) && error.retryable && job.attempt < job.maxAttempts) throw error;
    rt.logger.warn("slack file change not applied", { error, tenantId: tenant, documentId: doc.id });
  }
}

/** Type and size from `files.info`, so an unsupported or huge file is never downloaded. */
function checkFile(file: SlackFileInfo, maxBytes: number): string | undefined {
  if (file.is_external || file.mode === "external") return "it is stored outside Slack, so I can't download it.";
  const typeOk = SUPPORTED_NAME.test(file.name) || SUPPORTED_FILETYPES.has((file.filetype ?? "").toLowerCase());
  if (!typeOk) {
    const kind = file.pretty_type ?? file.filetype ?? "this type";
    return `${escapeText(kind)} files are not supported. Share a PDF, .txt or .md file.`;
  }
  if (file.size !== undefined && file.size > maxBytes) return `it is larger than the ${formatBytes(maxBytes)} limit.`;
  if (!file.url_private_download && !file.url_private) return "Slack gave me no download link for it.";
  return undefined;
}

async function download(rt: SlackRuntime, ws: Workspace, file: SlackFileInfo): Promise<Buffer> {
  const url = file.url_private_download ?? file.url_private;
  if (!url) throw new AppError("dependency_unavailable", "Slack gave me no download link for it.");
  return downloadSlackFile(url, ws.auth.botToken, rt.settings, rt.limits.maxFileBytes, rt.fetch);
}

function reasonOf(error: unknown): string {
  if (isAppError(error) && (error.status < 500 || error.code === "dependency_unavailable")) {
    return lowerFirst(escapeText(error.message));
  }
  return "something went wrong on my side. Please share it again in a few minutes.";
}

const lowerFirst = (s: string) => (s && /^[A-Z][a-z]/.test(s) ? s[0]?.toLowerCase() + s.slice(1) : s);

function alreadyIndexed(doc: DocumentRecord): string {
  const title = escapeText(doc.title);
  if (doc.status === "ready")
    return `I already know this document as ${title}: ${plural(doc.pages, "page")}, ${plural(doc.chunks, "passage")}.`;
  if (doc.status === "failed")
    return `I couldn't index ${title} before: ${escapeText(doc.error?.message ?? "it failed")}`;
  return `${title} is already being indexed.`;
}

/** The sharer's note while a file is being indexed; the thread reply follows once it settles. */
export function indexingText(title: string): string {
  return `:hourglass_flowing_sand: Indexing ${escapeText(title)}… I'll reply in this thread when it is ready.`;
}

/** Reply in the sharing thread once an ingest job settles for a document that came from Slack. */
export function indexedText(doc: DocumentRecord): string {
  const title = escapeText(doc.title);
  return doc.status === "ready"
    ? `Indexed ${title}: ${plural(doc.pages, "page")}, ${plural(doc.chunks, "passage")}`
    : `I couldn't index ${title}: ${lowerFirst(escapeText(doc.error?.message ?? "indexing failed."))}`;
}
