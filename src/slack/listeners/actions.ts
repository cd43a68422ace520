import type { App } from "@slack/bolt";
import type { Logger } from "../../ports/logger.js";
import { ACTION } from "../blocks.js";
import type { SlackIntake } from "../jobs.js";
import { blockActionSchema } from "../payloads.js";

/** Button clicks: acknowledged at once; feedback and sharing run as jobs. */
export function registerActions(app: App, intake: SlackIntake, logger: Logger): void {
  // Anything interactive that is not ours (another app's leftovers, an old message) is acknowledged
  // at once instead of leaving Slack to time out and show the user an error.
  const ours = new Set<string>(Object.values(ACTION));
  app.action({ type: "block_actions" }, async ({ ack, body }) => {
    const actionId = blockActionSchema.safeParse(body).data?.actions[0]?.action_id;
    if (!actionId || !ours.has(actionId)) await ack();
  });
  app.shortcut(/.*/, async ({ ack }) => {
    await ack();
  });
  app.view(/.*/, async ({ ack }) => {
    await ack();
  });

  // A URL button also notifies the app; there is nothing to do but acknowledge.
  app.action(ACTION.link, async ({ ack }) => {
    await ack();
  });

  app.action(
    new RegExp(`^(${ACTION.feedbackUp}|${ACTION.feedbackDown}|${ACTION.share})$`),
    async ({ ack, body, context }) => {
      await ack();
      const parsed = blockActionSchema.safeParse(body);
      if (!parsed.success) {
        logger.warn("unreadable block_actions payload", { issues: parsed.error.issues.slice(0, 3) });
        return;
      }
      const b = parsed.data;
      const action = b.actions[0];
      const teamId = context.teamId ?? b.team?.id ?? b.user.team_id;
      const auditId = action?.value;
      if (!action || !teamId || !auditId) return;
      const claim = `action:${teamId}:${b.user.id}:${action.action_id}:${action.action_ts ?? b.trigger_id ?? auditId}`;
      if (action.action_id === ACTION.share) {
        if (!b.response_url) return;
        await intake.submit(
          [claim],
          "slack_event",
          {
            kind: "share",
            auditId,
            teamId,
            userId: b.user.id,
            ...(b.user.team_id ? { userTeamId: b.user.team_id } : {}),
            ...(b.channel?.id ? { channelId: b.channel.id } : {}),
            responseUrl: b.response_url,
          },
          `slack:${claim}`,
        );
        return;
      }
      await intake.submit(
        [claim],
        "slack_event",
        {
          kind: "feedback",
          value: action.action_id === ACTION.feedbackUp ? "up" : "down",
          auditId,
          teamId,
          userId: b.user.id,
          ...(b.user.team_id ? { userTeamId: b.user.team_id } : {}),
          ...(b.channel?.id ? { channelId: b.channel.id } : {}),
          ...(b.response_url ? { responseUrl: b.response_url } : {}),
        },
        `slack:${claim}`,
      );
    },
  );
}
