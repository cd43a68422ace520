import type { App } from "@slack/bolt";
import { eventKey, type SlackIntake } from "../jobs.js";
import { envelopeSchema, tokensRevokedSchema } from "../payloads.js";

/**
 * The app was removed from a workspace, or its bot token revoked: the installation and the workspace
 * link go; the tenant's documents stay. Bolt skips authorization for these two events (the token is
 * already gone), so the team comes from the envelope.
 */
export function registerLifecycle(app: App, intake: SlackIntake): void {
  app.event("app_uninstalled", async ({ body, context }) => {
    const envelope = envelopeSchema.safeParse(body);
    const teamId = context.teamId ?? (envelope.success ? envelope.data.team_id : undefined);
    if (!envelope.success || !teamId) return;
    const enterpriseId = envelope.data.enterprise_id ?? undefined;
    await intake.submit(
      [eventKey(teamId, envelope.data.event_id, "app_uninstalled")],
      "slack_event",
      { kind: "uninstalled", teamId, ...(enterpriseId ? { enterpriseId } : {}), reason: "app_uninstalled" },
      `slack:${eventKey(teamId, envelope.data.event_id, "app_uninstalled")}`,
    );
  });

  app.event("tokens_revoked", async ({ body, event, context }) => {
    const envelope = envelopeSchema.safeParse(body);
    const revoked = tokensRevokedSchema.safeParse(event);
    const teamId = context.teamId ?? (envelope.success ? envelope.data.team_id : undefined);
    if (!envelope.success || !revoked.success || !teamId) return;
    // Only the bot token matters: the app never holds user tokens.
    if (!revoked.data.tokens.bot?.length) return;
    await intake.submit(
      [eventKey(teamId, envelope.data.event_id, "tokens_revoked")],
      "slack_event",
      { kind: "uninstalled", teamId, reason: "tokens_revoked" },
      `slack:${eventKey(teamId, envelope.data.event_id, "tokens_revoked")}`,
    );
  });
}
