import type { App } from "@slack/bolt";
import { eventKey, type SlackIntake } from "../jobs.js";
import { envelopeSchema, fileChangedSchema, fileSharedSchema, receivingTeam } from "../payloads.js";

/**
 * `file_shared` carries only ids: the job calls files.info. The same file shared in a DM also arrives
 * as a `message` with subtype file_share; the file key claimed here makes it one job either way.
 */
export function registerFiles(app: App, intake: SlackIntake): void {
  app.event("file_shared", async ({ body, event, context }) => {
    const envelope = envelopeSchema.safeParse(body);
    const shared = fileSharedSchema.safeParse(event);
    if (!envelope.success || !shared.success) return;
    const f = shared.data;
    const received = receivingTeam(envelope.data, context);
    // Files of an event addressed to another workspace are not ours to index.
    const teamId = received?.foreignTeamId ? undefined : received?.teamId;
    if (!teamId || (f.user_id && f.user_id === context.botUserId)) return;
    const enterpriseId = context.enterpriseId ?? envelope.data.enterprise_id ?? undefined;
    await intake.submit(
      [eventKey(teamId, envelope.data.event_id, "file_shared"), `file:${teamId}:${f.file_id}:${f.channel_id ?? "-"}`],
      "slack_file",
      {
        kind: "share",
        teamId,
        ...(enterpriseId ? { enterpriseId } : {}),
        fileId: f.file_id,
        ...(f.channel_id ? { channelId: f.channel_id } : {}),
        ...(f.user_id ? { userId: f.user_id } : {}),
      },
      `slack:file:${teamId}:${f.file_id}:${f.channel_id ?? "-"}`,
    );
  });

  for (const type of ["file_change", "file_deleted"] as const) {
    app.event(type, async ({ body, event, context }) => {
      const envelope = envelopeSchema.safeParse(body);
      const changed = fileChangedSchema.safeParse(event);
      if (!envelope.success || !changed.success) return;
      const received = receivingTeam(envelope.data, context);
      const teamId = received?.foreignTeamId ? undefined : received?.teamId;
      if (!teamId) return;
      await intake.submit(
        [eventKey(teamId, envelope.data.event_id, type)],
        "slack_file",
        { kind: type === "file_change" ? "change" : "delete", teamId, fileId: changed.data.file_id },
        `slack:${eventKey(teamId, envelope.data.event_id, type)}`,
      );
    });
  }
}
