import { ASKER, type Audience } from "../../domain/access.js";
import { isAppError } from "../../domain/errors.js";
import type { Job } from "../../ports/job-queue.js";
import { REFUSAL_MESSAGES } from "../../services/access.js";
import { escapeText, HELP_TEXT, renderNotice, withoutJoiners } from "../blocks.js";
import { type QuestionJob, questionJobSchema } from "../jobs.js";
import { repliesSchema } from "../payloads.js";
import { ConversationReplier, type Replier, ResponseUrlReplier } from "../replier.js";
import { openWorkspace, type SlackRuntime, slackActor, type Workspace } from "../runtime.js";
import { StreamingReplier } from "../streaming-replier.js";

export function cleanQuestion(text: string, botUserId?: string): string {
  const withoutBot = botUserId ? text.replace(new RegExp(`<@${botUserId}(?:\\|[^>]*)?>`, "g"), " ") : text;
  // Other mentions stay as readable ids; links and channel references keep their label. A streamed
  // answer read back from the thread loses the invisible joiners that kept it inert.
  return withoutJoiners(withoutBot)
    .replace(/<(?:https?:[^|>]+)\|([^>]+)>/g, "$1")
    .replace(/<#[A-Z0-9]+\|([^>]+)>/g, "#$1")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Answers a question asked with /ask, an @mention or a DM: resolves the workspace's tenant (or offers
 * the link), applies the rate limits, shows progress, asks the answer service (audited there) with the
 * thread's earlier messages as history, and streams the answer into the thread (a mention or DM) or
 * replaces the progress with it (/ask), or with the reason it could not answer. Never silent.
 */
export async function handleQuestion(rt: SlackRuntime, job: Job): Promise<void> {
  const q = questionJobSchema.parse(job.payload);
  const log = rt.logger.child({ slackTeam: q.teamId, surface: q.surface, jobId: job.id });
  const ws = await openWorkspace(rt, q.teamId);
  if (!ws) return;
  // Where the answer goes without streaming: a mention's thread; a DM's own thread, or its top level.
  const replyThread = q.surface === "slack_mention" ? (q.threadTs ?? q.ts) : q.threadTs;
  // A stream needs a thread: a DM that was not in one is answered in the thread of its message.
  const streamThread = q.threadTs ?? q.ts;
  const replier: Replier =
    q.surface === "slack_command" && q.responseUrl
      ? new ResponseUrlReplier(q.responseUrl, rt.fetch)
      : q.surface !== "slack_command" && streamThread
        ? new StreamingReplier(
            ws.client,
            {
              channel: q.channelId,
              threadTs: streamThread,
              replyThreadTs: replyThread,
              userId: q.userId,
              userTeamId: q.userTeamId ?? q.teamId,
            },
            log,
          )
        : new ConversationReplier(ws.client, q.channelId, replyThread, q.userId);
  const answerThread = replier instanceof StreamingReplier ? streamThread : replyThread;

  if (q.foreignTeamId) {
    // Never answered from this installation's organisation, whoever the author is.
    await replier.notice(renderNotice(REFUSAL_MESSAGES.external));
    return;
  }
  const served = await slackActor(
    rt,
    ws,
    {
      teamId: q.teamId,
      userId: q.userId,
      ...(q.enterpriseId ? { enterpriseId: q.enterpriseId } : {}),
      ...(q.userTeamId ? { userTeamId: q.userTeamId } : {}),
    },
    q.surface,
    (message) => replier.notice(message),
  );
  if (!served) return;
  const { actor } = served;
  const tenant = actor.tenantId;
  const question = cleanQuestion(q.text, ws.auth.botUserId);
  if (!question) {
    await replier.notice(renderNotice(HELP_TEXT));
    return;
  }
  // Too long is told as the REST API tells it, with the true length (a job carries only the start of a
  // huge message), before anything is counted, shown or asked.
  try {
    rt.services.answers.validateQuestion(question, q.chars);
  } catch (error) {
    if (!isAppError(error) || error.code !== "question_too_long") throw error;
    log.info("slack question too long", { tenantId: tenant, chars: q.chars ?? question.length });
    await replier.notice(renderNotice(`:warning: ${escapeText(error.message)}`));
    return;
  }
  // A channel thread is read by everyone in the channel; /ask and DMs are read by the asker alone.
  const audience: Audience =
    q.surface === "slack_mention" ? { kind: "conversation", teamId: q.teamId, channelId: q.channelId } : ASKER;

  try {
    await rt.services.answers.admit(actor);
  } catch (error) {
    if (!isAppError(error) || error.code !== "rate_limited") throw error;
    log.info("slack question rate limited", { tenantId: tenant });
    await replier.notice(renderNotice(`:raised_hand: ${escapeText(error.message)}`));
    return;
  }

  // Before anything is posted a failure may be retried safely; once something shows (a placeholder, a
  // started stream) it must not be, or the user would see two answers.
  await replier.start();
  try {
    const history = await threadHistory(rt, ws, q);
    const result = await rt.services.answers.ask(
      {
        actor,
        audience,
        question,
        history,
        admitted: true,
        slack: {
          teamId: q.teamId,
          channelId: q.channelId,
          ...(answerThread ? { threadTs: answerThread } : {}),
          ...(q.enterpriseId ? { enterpriseId: q.enterpriseId } : {}),
        },
      },
      { onSearching: () => replier.searching(), onText: (text) => replier.write(text) },
    );
    log.info("slack question answered", { tenantId: tenant, outcome: result.outcome, auditId: result.auditId });
    await replier.answer({
      answer: result.answer,
      sources: result.sources,
      outcome: result.outcome,
      auditId: result.auditId,
      ...(result.note ? { note: result.note } : {}),
      ...(q.surface === "slack_command" ? { question, shareable: true } : {}),
    });
  } catch (error) {
    const reason =
      isAppError(error) && error.status < 500
        ? error.message
        : isAppError(error) && error.code === "model_unavailable"
          ? error.message
          : "Something went wrong on my side while answering. Please try again in a minute.";
    log.error("slack question failed", { error, tenantId: tenant });
    try {
      await replier.finish([renderNotice(`:warning: ${escapeText(reason)}`)]);
    } catch (e) {
      log.error("could not report the failure", { error: e });
      // Nothing reached the conversation: the job runs again rather than leave the asker without a word.
      if (!replier.started) throw error;
    }
  }
}

/** Earlier messages of the thread, oldest first: the bot's as the assistant's turns (the answer service keeps the latest). */
async function threadHistory(
  rt: SlackRuntime,
  ws: Workspace,
  q: QuestionJob,
): Promise<{ role: "user" | "assistant"; text: string }[]> {
  if (!q.threadTs || q.threadTs === q.ts) return [];
  try {
    const res = repliesSchema.parse(
      await ws.client.conversations.replies({ channel: q.channelId, ts: q.threadTs, limit: 50 }),
    );
    return res.messages
      .filter((m) => !q.ts || Number(m.ts) < Number(q.ts))
      .filter((m) => m.subtype === undefined || m.subtype === "bot_message" || m.subtype === "thread_broadcast")
      .map((m) => {
        const mine =
          (ws.auth.botUserId && m.user === ws.auth.botUserId) || (ws.auth.botId && m.bot_id === ws.auth.botId);
        if (!mine && m.bot_id) return undefined; // other bots are not part of the conversation
        const text = cleanQuestion(m.text ?? "", ws.auth.botUserId);
        return text && !text.startsWith(":hourglass")
          ? { role: mine ? ("assistant" as const) : ("user" as const), text }
          : undefined;
      })
      .filter((t): t is { role: "user" | "assistant"; text: string } => t !== undefined);
  } catch (error) {
    // Without history the question is still answered; a missing *:history scope should not silence the bot.
    rt.logger.warn("could not read the thread", { error, slackTeam: q.teamId });
    return [];
  }
}
