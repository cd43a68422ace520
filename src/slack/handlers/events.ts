import type { DocumentRecord } from "../../domain/documents.js";
import { isAppError } from "../../domain/errors.js";
import { isTenantId } from "../../domain/tenant.js";
import type { Job } from "../../ports/job-queue.js";
import { escapeText, renderAnswer, renderConnect, renderNotice, type SlackMessage } from "../blocks.js";
import { type EventJob, eventJobSchema } from "../jobs.js";
import { postToResponseUrl } from "../outbound.js";
import { linkOffer, openWorkspace, plural, type SlackRuntime, slackActor, type Workspace } from "../runtime.js";
import { indexedText } from "./files.js";
import { publishHome } from "./home.js";

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
    case "home":
      return publishHome(rt, e);
  }
}

async function command(rt: SlackRuntime, e: Of<"command">): Promise<void> {
  const ws = await openWorkspace(rt, e.teamId);
  if (!ws) return;
  const { links, documents } = rt.services;
  const reply = (message: SlackMessage) =>
    postToResponseUrl(e.responseUrl, { ...message, response_type: "ephemeral", replace_original: true }, rt.fetch);
  const text = (t: string) => reply(renderNotice(t));
  const request = {
    teamId: e.teamId,
    ...(e.enterpriseId ? { enterpriseId: e.enterpriseId } : {}),
    ...(ws.auth.teamName ? { teamName: ws.auth.teamName } : {}),
    slackUserId: e.userId,
  };

  if (!ws.link) {
    await reply(
      await linkOffer(rt, ws, e.userId, {
        enterpriseId: e.enterpriseId,
        ...(e.action === "link" ? { reason: "Here is your link." } : {}),
      }),
    );
    return;
  }
  const served = await slackActor(
    rt,
    ws,
    { teamId: e.teamId, userId: e.userId, ...(e.enterpriseId ? { enterpriseId: e.enterpriseId } : {}) },
    "slack_command",
    reply,
  );
  if (!served) return;
  const { actor, link } = served;
  const org = escapeText((await links.organisationName(link.tenantId)) || "your organisation");

  try {
    switch (e.action) {
      case "status": {
        const docs = await documents.list(actor);
        const ready = docs.filter((d) => d.status === "ready").length;
        const failed = docs.filter((d) => d.status === "failed").length;
        const pending = docs.length - ready - failed;
        const parts = [`${plural(ready, "document")} you can ask about`];
        if (pending) parts.push(`${pending} being indexed`);
        if (failed) parts.push(`${failed} could not be indexed`);
        await text(`This workspace is linked to *${org}* (since ${link.linkedAt.slice(0, 10)}). ${parts.join(", ")}.`);
        return;
      }
      case "docs": {
        const docs = await documents.list(actor);
        if (docs.length === 0) {
          await text(
            `You can't read any document of *${org}* yet. Share a PDF, .txt or .md file in a channel I'm in, or upload one on the web.`,
          );
          return;
        }
        const lines = docs.slice(0, 100).map(docLine);
        const more = docs.length > 100 ? `\n…and ${docs.length - 100} more (see the web app).` : "";
        await text(`You can ask about ${plural(docs.length, "document")} of *${org}*:\n${lines.join("\n")}${more}`);
        return;
      }
      case "forget": {
        const wanted = e.arg.trim();
        if (!wanted) {
          await text("Tell me which document to forget: `/ask forget <title>` (see `/ask docs`).");
          return;
        }
        // Admins may forget anything of the organisation; members look among what they can read.
        const candidates =
          actor.role === "admin"
            ? (await documents.listForGovernance(actor)).map((d) => d.document)
            : await documents.list(actor);
        const matches = findDocuments(candidates, wanted);
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
        const doc = await documents.remove(actor, (matches[0] as DocumentRecord).id);
        await text(`Forgotten: “${escapeText(doc.title)}” is removed and won't be used in answers any more.`);
        return;
      }
      case "link": {
        await reply(
          await linkOffer(rt, ws, e.userId, {
            enterpriseId: e.enterpriseId,
            reason: `This workspace is linked to *${org}*. To link it again, an admin of ${org} must open this link (to move it to another organisation, unlink it first with \`/ask unlink\`).`,
          }),
        );
        return;
      }
      case "unlink": {
        await links.unlinkFromSlack(request, actor.role === "admin");
        await text(
          `Unlinked: this workspace is no longer linked to *${org}*. The organisation's documents stay with it; nobody here can search them until the workspace is linked again.`,
        );
        return;
      }
      case "connect": {
        const { url } = links.requestIdentityLink(actor, ws.auth.teamName);
        await reply(renderConnect(url));
        return;
      }
    }
  } catch (error) {
    // Refusals (not yours to forget, not a workspace admin) are told as they are; the rest is retried.
    if (!isAppError(error) || error.status >= 500) throw error;
    await text(escapeText(error.message));
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
  const notify = async (message: SlackMessage) => {
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
  const served = await slackActor(rt, ws, who(e), "slack_command", notify, {
    reason: "I can't record that.",
  });
  if (!served) return;
  try {
    await rt.services.feedback.record(served.actor, e.auditId, e.value);
    await notify(
      renderNotice(
        `Thanks for the feedback ${e.value === "up" ? ":+1:" : ":-1:"} It helps your admins see which answers work.`,
      ),
    );
  } catch (error) {
    if (!isAppError(error) || error.status >= 500) throw error;
    await notify(renderNotice(error.code === "not_found" ? "I couldn't find that answer any more." : error.message));
  }
}

const who = (e: { teamId: string; userId: string; userTeamId?: string | undefined }) => ({
  teamId: e.teamId,
  userId: e.userId,
  ...(e.userTeamId ? { userTeamId: e.userTeamId } : {}),
});

/** "Share to channel": only the asker's own answer, and only when the channel's readers may read every source. */
async function shareAnswer(rt: SlackRuntime, e: Of<"share">): Promise<void> {
  const ws = await openWorkspace(rt, e.teamId);
  if (!ws) return;
  const notify = (message: SlackMessage) =>
    postToResponseUrl(e.responseUrl, { ...message, response_type: "ephemeral", replace_original: false }, rt.fetch);
  const served = await slackActor(rt, ws, who(e), "slack_command", notify);
  if (!served) return;
  if (!e.channelId) {
    await notify(renderNotice("I can't tell which conversation to share this in."));
    return;
  }
  let record: Awaited<ReturnType<SlackRuntime["services"]["answers"]["shareable"]>>;
  try {
    record = await rt.services.answers.shareable(served.actor, e.auditId, {
      kind: "conversation",
      teamId: e.teamId,
      channelId: e.channelId,
    });
  } catch (error) {
    if (!isAppError(error) || error.status >= 500) throw error;
    await notify(renderNotice(escapeText(error.message)));
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
  await rt.services.installations.removeWorkspace(e.teamId, e.reason);
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
    : await linkOffer(rt, ws, e.userId, { reason: "Thanks for adding Enclave! One more step:" });
  await ws.client.chat.postMessage({
    channel: e.userId,
    text: message.text,
    ...(message.blocks ? { blocks: message.blocks } : {}),
  });
}

async function indexed(rt: SlackRuntime, e: Of<"indexed">): Promise<void> {
  if (!isTenantId(e.tenantId)) return;
  const doc = await rt.services.documents.record(e.tenantId, e.documentId);
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
