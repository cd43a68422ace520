import type { App } from "@slack/bolt";
import type { Logger } from "../../ports/logger.js";
import { eventKey, type SlackIntake } from "../jobs.js";
import { appHomeOpenedSchema, envelopeSchema, receivingTeam } from "../payloads.js";

/**
 * `app_home_opened` with `tab: "home"`: like every other event it is acknowledged once its job is
 * stored, and the job publishes the view (who the user is takes Slack look-ups, and on Lambda the
 * response goes out only after the listener). The Messages and About tabs need nothing.
 */
export function registerHome(app: App, intake: SlackIntake, logger: Logger): void {
  app.event("app_home_opened", async ({ body, event, context }) => {
    const envelope = envelopeSchema.safeParse(body);
    const opened = appHomeOpenedSchema.safeParse(event);
    if (!envelope.success || !opened.success) {
      logger.warn("unreadable app_home_opened", { issues: (opened.error ?? envelope.error)?.issues.slice(0, 3) });
      return;
    }
    if (opened.data.tab !== "home") return;
    const received = receivingTeam(envelope.data, context);
    // A Home tab is the installation's own: an envelope naming another workspace gets nothing published.
    if (!received || received.foreignTeamId) return;
    const { teamId } = received;
    const enterpriseId = context.enterpriseId ?? envelope.data.enterprise_id ?? undefined;
    const key = eventKey(teamId, envelope.data.event_id, "app_home_opened");
    await intake.submit(
      [key],
      "slack_event",
      { kind: "home", teamId, ...(enterpriseId ? { enterpriseId } : {}), userId: opened.data.user },
      `slack:${key}`,
    );
  });
}
