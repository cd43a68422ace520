import type { DocumentRecord } from "../../domain/documents.js";
import { isTenantId } from "../../domain/tenant.js";
import type { Job } from "../../ports/job-queue.js";
import { escapeText, renderAnswer, renderNotice, type SlackMessage } from "../blocks.js";
import { type EventJob, eventJobSchema } from "../jobs.js";
import { postToResponseUrl } from "../outbound.js";
import {
  notLinkedMessage,
  openWorkspace,
  plural,
  type SlackRuntime,
  slackActorId,
  slackPrivileges,
  type Workspace,
} from "../runtime.js";
import { indexedText } from "./files.js";

type Of<K extends EventJob["kind"]> = Extract<EventJob, { kind: K }>;

/** Everything else the Slack surface does in the background: commands, buttons, lifecycle, notices. */
export async function handleEventJob(rt: SlackRuntime, job: Job): Promise<void> {
  const e = eventJobSchema.parse(job.payload);
  switch (e.kind) {
    case "command":
      return command(rt, e);
    case "feedback":
      return feedback(rt, e);
    case "share":
      return shareAnswer(rt, e);
    case "uninstalled":
      return uninstalled(rt, e);
    case "linked":
      return linked(rt, e);
    case "installed":
      return installed(rt, e);
    case "indexed":
      return indexed(rt, e);
  }
}

async function command(rt: SlackRuntime, e: Of<"command">): Promise<void> {
  const ws = await openWorkspace(rt, e.teamId);
  if (!ws) return;
  const reply = (message: SlackMessage) =>
    postToResponseUrl(e.responseUrl, { ...message, response_type: "ephemeral", replace_original: true }, rt.fetch);
  const text = (t: string) => reply(renderNotice(t));

  if (!ws.link) {
    await reply(
      notLinkedMessage(rt, ws, e.userId, {
        enterpriseId: e.enterpriseId,
        ...(e.action === "link" ? { reason: "Here is your link." } : {}),
      }),
    );
    return;
  }
  const link = ws.link;
  const tenant = await rt.c.directory.getTenant(link.tenantId);
  const org = escapeText(tenant?.name || "your organisation");

  switch (e.action) {
    case "status": {
      const docs = await rt.c.documents.list(link.tenantId);
      const ready = docs.filter((d) => d.status === "ready").length;
      const failed = docs.filter((d) => d.status === "failed").length;
      const pending = docs.length - ready - failed;
      const parts = [`${plural(ready, "document")} ready to answer from`];
      if (pending) parts.push(`${pending} being indexed`);
      if (failed) parts.push(`${failed} could not be indexed`);
      await text(`This workspace is linked to *${org}* (since ${link.linkedAt.slice(0, 10)}). ${parts.join(", ")}.`);
      return;
    }
    case "docs": {
      const docs = await rt.c.documents.list(link.tenantId);
      if (docs.length === 0) {
        await text(
          `*${org}* has no documents yet. Share a PDF, .txt or .md file in a channel I'm in, or upload one on the web.`,
        );
        return;
      }
      const lines = docs.slice(0, 100).map(docLine);
      const more = docs.length > 100 ? `\n…and ${docs.length - 100} more (see the web app).` : "";
      await text(`*${org}* has ${plural(docs.length, "document")}:\n${lines.join("\n")}${more}`);
      return;
    }
    case "forget": {
      const wanted = e.arg.trim();
      if (!wanted) {
        await text("Tell me which document to forget: `/ask forget <title>` (see `/ask docs`).");
        return;
      }
      const docs = await rt.c.documents.list(link.tenantId);
      const matches = findDocuments(docs, wanted);
      if (matches.length === 0) {
        await text(`I have no document called “${escapeText(wanted)}”. See \`/ask docs\` for the list.`);
        return;
      }
      if (matches.length > 1) {
        await text(
          `Which one? ${matches
            .slice(0, 10)
            .map((d) => `“${escapeText(d.title)}”`)
            .join(", ")}. Use the full title.`,
        );
        return;
      }
      const doc = matches[0] as DocumentRecord;
      const own = doc.uploadedBy === slackActorId(e.teamId, e.userId);
      if (!own) {
        const who = await slackPrivileges(rt, ws, e.userId);
        if (!who.workspaceAdmin && !who.tenantAdmin) {
          await text(
            `Only the person who shared “${escapeText(doc.title)}”, a Slack workspace admin or an admin of ${org} can make me forget it.`,
          );
          return;
        }
      }
      await rt.c.documents.delete(link.tenantId, doc.id);
      rt.logger.info("document forgotten from slack", {
        tenantId: link.tenantId,
        documentId: doc.id,
        slackTeam: e.teamId,
      });
      await text(`Forgotten: “${escapeText(doc.title)}” is removed and won't be used in answers any more.`);
      return;
    }
    case "link": {
      const who = await slackPrivileges(rt, ws, e.userId);
      if (!who.workspaceAdmin && !who.tenantAdmin) {
        await text(
          `This workspace is already linked to *${org}*. Only a Slack workspace admin or an admin of ${org} can change that.`,
        );
        return;
      }
      await reply(
        notLinkedMessage(rt, ws, e.userId, {
          enterpriseId: e.enterpriseId,
          reason: `This workspace is linked to *${org}*. To link it again, an admin of ${org} must open this link (to move it to another organisation, unlink it first with \`/ask unlink\`).`,
        }),
      );
      return;
    }
    case "unlink": {
      const who = await slackPrivileges(rt, ws, e.userId);
      if (!who.workspaceAdmin && !who.tenantAdmin) {
        await text(`Only a Slack workspace admin or an admin of ${org} can unlink this workspace.`);
        return;
      }
      await rt.c.directory.deleteLink(e.teamId);
      rt.logger.info("workspace unlinked from slack", { tenantId: link.tenantId, slackTeam: e.teamId });
      await text(
        `Unlinked: this workspace is no longer linked to *${org}*. The organisation's documents stay with it; nobody here can search them until the workspace is linked again.`,
      );
      return;
    }
  }
}

function docLine(d: DocumentRecord): string {
  const link =
    d.source.kind === "slack" && d.source.permalink && !/[\s<>|]/.test(d.source.permalink)
      ? d.source.permalink
      : undefined;
  const title = link ? `<${link}|${escapeText(d.title)}>` : escapeText(d.title);
  const state =
    d.status === "ready"
      ? `${plural(d.pages, "page")}, ${plural(d.chunks, "passage")}`
      : d.status === "failed"
        ? `not indexed: ${escapeText(d.error?.message ?? "failed")}`
        : "being indexed";
  return `• ${title} (${state})`;
}

/** By id, then exact title, then a unique part of the title (case-insensitive). */
export function findDocuments(docs: readonly DocumentRecord[], wanted: string): DocumentRecord[] {
  const w = wanted
    .toLowerCase()
    .replace(/^["“”']|["“”']$/g, "")
    .trim();
  const byId = docs.filter((d) => d.id === wanted.trim());
  if (byId.length) return byId;
  const exact = docs.filter((d) => d.title.toLowerCase() === w);
  if (exact.length) return exact;
  return docs.filter((d) => d.title.toLowerCase().includes(w));
}

async function feedback(rt: SlackRuntime, e: Of<"feedback">): Promise<void> {
  const ws = await openWorkspace(rt, e.teamId);
  if (!ws) return;
  const notify = async (t: string) => {
    const message = renderNotice(t);
    if (e.responseUrl) {
      await postToResponseUrl(
        e.responseUrl,
        { ...message, response_type: "ephemeral", replace_original: false },
        rt.fetch,
      );
    } else if (e.channelId) {
      await ws.client.chat.postEphemeral({ channel: e.channelId, user: e.userId, text: message.text });
    }
  };
  // The tenant comes from the workspace link, never from the button: a forged audit id finds nothing.
  if (!ws.link) {
    await notify("This workspace is no longer linked to an organisation, so I can't record that.");
    return;
  }
  const ok = await rt.c.audit.setFeedback(ws.link.tenantId, e.auditId, {
    value: e.value,
    by: slackActorId(e.teamId, e.userId),
    at: new Date().toISOString(),
  });
  await notify(
    ok
      ? `Thanks for the feedback ${e.value === "up" ? ":+1:" : ":-1:"} It helps your admins see which answers work.`
      : "I couldn't find that answer any more.",
  );
}

async function shareAnswer(rt: SlackRuntime, e: Of<"share">): Promise<void> {
  const ws = await openWorkspace(rt, e.teamId);
  if (!ws) return;
  const record = ws.link ? await rt.c.audit.get(ws.link.tenantId, e.auditId) : undefined;
  if (!record) {
    await postToResponseUrl(
      e.responseUrl,
      { ...renderNotice("I couldn't find that answer any more."), response_type: "ephemeral", replace_original: false },
      rt.fetch,
    );
    return;
  }
  const messages = renderAnswer({
    answer: record.answer,
    sources: record.sources,
    outcome: record.outcome,
    auditId: record.id,
    question: record.question,
    askedBy: e.userId,
  });
  for (const message of messages) {
    await postToResponseUrl(
      e.responseUrl,
      { ...message, response_type: "in_channel", replace_original: false },
      rt.fetch,
    );
  }
  await postToResponseUrl(e.responseUrl, { text: "", delete_original: true }, rt.fetch).catch((error: unknown) =>
    rt.logger.info("could not remove the private answer after sharing", { error }),
  );
}

async function uninstalled(rt: SlackRuntime, e: Of<"uninstalled">): Promise<void> {
  const link = await rt.c.directory.getLink(e.teamId);
  await rt.c.directory.deleteInstallation(e.teamId);
  await rt.c.directory.deleteLink(e.teamId);
  // The tenant's documents and audit stay: they belong to the organisation, not to the workspace.
  rt.logger.info("slack app removed from workspace", {
    slackTeam: e.teamId,
    reason: e.reason,
    tenantId: link?.tenantId,
  });
}

async function linked(rt: SlackRuntime, e: Of<"linked">): Promise<void> {
  const ws = await openWorkspace(rt, e.teamId);
  if (!ws) return;
  const org = escapeText(e.tenantName || "your organisation");
  const message = renderNotice(
    `:white_check_mark: Done: this Slack workspace is now linked to *${org}*. Ask me with \`/ask <question>\`, mention me in a channel, or send me a message. Share a PDF, .txt or .md file in a channel I'm in to add it.`,
  );
  // A DM to the user id lands in the app's Messages tab with them; it needs no extra scope.
  await ws.client.chat.postMessage({
    channel: e.slackUserId,
    text: message.text,
    ...(message.blocks ? { blocks: message.blocks } : {}),
  });
}

/** Right after an OAuth install: a DM to the installer, with the link button when the workspace is not linked. */
async function installed(rt: SlackRuntime, e: Of<"installed">): Promise<void> {
  const ws = await openWorkspace(rt, e.teamId);
  if (!ws) return;
  const message = ws.link
    ? renderNotice(
        "Thanks for adding Enclave. This workspace is already linked to your organisation: ask me with `/ask <question>`.",
      )
    : notLinkedMessage(rt, ws, e.userId, { reason: "Thanks for adding Enclave! One more step:" });
  await ws.client.chat.postMessage({
    channel: e.userId,
    text: message.text,
    ...(message.blocks ? { blocks: message.blocks } : {}),
  });
}

async function indexed(rt: SlackRuntime, e: Of<"indexed">): Promise<void> {
  if (!isTenantId(e.tenantId)) return;
  const doc = await rt.c.catalog.get(e.tenantId, e.documentId);
  if (doc?.source.kind !== "slack" || !doc.source.channelId) return;
  const ws: Workspace | undefined = await openWorkspace(rt, doc.source.teamId);
  // Only while the workspace is still linked to the document's tenant.
  if (ws?.link?.tenantId !== e.tenantId || !ws) return;
  await ws.client.chat.postMessage({
    channel: doc.source.channelId,
    text: indexedText(doc),
    ...(doc.source.messageTs ? { thread_ts: doc.source.messageTs } : {}),
    unfurl_links: false,
  });
}
