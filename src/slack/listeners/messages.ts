import type { App } from "@slack/bolt";
import type { Logger } from "../../ports/logger.js";
import { eventKey, questionText, type SlackIntake } from "../jobs.js";
import { appMentionSchema, envelopeSchema, messageSchema, receivingTeam } from "../payloads.js";

const isDirectMessage = (channel: string, channelType?: string) =>
  channelType === "im" || (!channelType && channel.startsWith("D"));

/**
 * Questions from an @mention in a channel (answered in its thread) and from any message in a DM with
 * the bot. A mention arrives both as `app_mention` and, where the bot reads the channel, as `message`:
 * the message key claimed below makes it one answer. Messages from bots, our own included, are
 * dropped (loop prevention); so are edits, deletions and other subtypes. Files shared in a message
 * are handed to the file flow.
 */
export function registerMessages(app: App, intake: SlackIntake, logger: Logger): void {
  app.event("app_mention", async ({ body, event, context }) => {
    const envelope = envelopeSchema.safeParse(body);
    const mention = appMentionSchema.safeParse(event);
    if (!envelope.success || !mention.success) {
      logger.warn("unreadable app_mention", { issues: (mention.error ?? envelope.error)?.issues.slice(0, 3) });
      return;
    }
    const m = mention.data;
    const received = receivingTeam(envelope.data, context);
    if (!received) return;
    const { teamId, foreignTeamId } = received;
    if (foreignTeamId)
      logger.warn("event names another workspace than the one that received it", { slackTeam: teamId });
    if (!m.user || m.bot_id || m.user === context.botUserId) return;
    if (isDirectMessage(m.channel, m.channel_type)) return; // the `message` listener answers DMs
    const enterpriseId = context.enterpriseId ?? envelope.data.enterprise_id ?? undefined;
    const userTeamId = m.user_team ?? m.team;
    await intake.submit(
      [eventKey(teamId, envelope.data.event_id, "app_mention"), `message:${teamId}:${m.channel}:${m.ts}`],
      "answer",
      {
        kind: "question",
        surface: "slack_mention",
        teamId,
        ...(enterpriseId ? { enterpriseId } : {}),
        userId: m.user,
        ...(userTeamId ? { userTeamId } : {}),
        ...(foreignTeamId ? { foreignTeamId } : {}),
        channelId: m.channel,
        ...questionText(m.text),
        ts: m.ts,
        ...(m.thread_ts ? { threadTs: m.thread_ts } : {}),
      },
      `slack:${eventKey(teamId, envelope.data.event_id, "app_mention")}`,
    );
  });

  app.event("message", async ({ body, event, context }) => {
    const envelope = envelopeSchema.safeParse(body);
    const message = messageSchema.safeParse(event);
    if (!envelope.success || !message.success) return;
    const m = message.data;
    const received = receivingTeam(envelope.data, context);
    if (!received) return;
    const { teamId, foreignTeamId } = received;
    if (foreignTeamId)
      logger.warn("event names another workspace than the one that received it", { slackTeam: teamId });
    if (m.bot_id || m.subtype === "bot_message" || !m.user || m.user === context.botUserId) return;
    const enterpriseId = context.enterpriseId ?? envelope.data.enterprise_id ?? undefined;
    const userTeamId = m.user_team ?? m.team;
    if (m.subtype === "file_share") {
      if (foreignTeamId) return; // not ours to index
      for (const file of m.files ?? []) {
        await intake.submit(
          [
            `${eventKey(teamId, envelope.data.event_id, "message")}:${file.id}`,
            `file:${teamId}:${file.id}:${m.channel}`,
          ],
          "slack_file",
          {
            kind: "share",
            teamId,
            ...(enterpriseId ? { enterpriseId } : {}),
            fileId: file.id,
            channelId: m.channel,
            userId: m.user,
            ...(userTeamId ? { userTeamId } : {}),
            messageTs: m.ts,
          },
          `slack:file:${teamId}:${file.id}:${m.channel}`,
        );
      }
      return;
    }
    if (m.subtype !== undefined || !isDirectMessage(m.channel, m.channel_type)) return;
    await intake.submit(
      [eventKey(teamId, envelope.data.event_id, "message"), `message:${teamId}:${m.channel}:${m.ts}`],
      "answer",
      {
        kind: "question",
        surface: "slack_dm",
        teamId,
        ...(enterpriseId ? { enterpriseId } : {}),
        userId: m.user,
        ...(userTeamId ? { userTeamId } : {}),
        ...(foreignTeamId ? { foreignTeamId } : {}),
        channelId: m.channel,
        ...questionText(m.text ?? ""),
        ts: m.ts,
        ...(m.thread_ts ? { threadTs: m.thread_ts } : {}),
      },
      `slack:${eventKey(teamId, envelope.data.event_id, "message")}`,
    );
  });
}
