import { z } from "zod";

/**
 * The fields we read from Slack's payloads, checked after Bolt verified the signature. Objects stay
 * loose: Slack adds fields all the time, and an unknown field must never break the bot.
 */
const id = z.string().min(1).max(64);
const ts = z.string().regex(/^\d{1,12}(\.\d{1,8})?$/);

export const envelopeSchema = z.looseObject({
  event_id: z.string().min(1).max(128),
  team_id: id.optional(),
  enterprise_id: id.nullish(),
  event: z.looseObject({ type: z.string() }),
  /** The installations this delivery is for; Bolt authorises with the first. */
  authorizations: z.array(z.looseObject({ team_id: id.nullish(), enterprise_id: id.nullish() })).nullish(),
});
export type Envelope = z.infer<typeof envelopeSchema>;

/**
 * The installation that received the event (Bolt's context, from `authorizations`) is the only
 * source of the tenant. An envelope that names another workspace, not of the same Grid, is not ours
 * to answer: `foreignTeamId` names it, and the event is refused (a question with the reason).
 */
export function receivingTeam(
  envelope: Envelope,
  context: { teamId?: string | undefined; enterpriseId?: string | undefined },
): { teamId: string; foreignTeamId?: string } | undefined {
  const installation = context.teamId ?? envelope.authorizations?.[0]?.team_id ?? envelope.team_id;
  if (!installation) return undefined;
  if (envelope.team_id && envelope.team_id !== installation) {
    const grid = context.enterpriseId ?? envelope.authorizations?.[0]?.enterprise_id ?? undefined;
    if (!grid || envelope.enterprise_id !== grid) return { teamId: installation, foreignTeamId: envelope.team_id };
  }
  return { teamId: installation };
}

export const appMentionSchema = z.looseObject({
  type: z.literal("app_mention"),
  user: id.optional(),
  bot_id: id.optional(),
  // Any length (the receiver caps bodies at 1 MB): a question too long to answer is told so, not dropped.
  text: z.string().default(""),
  ts,
  thread_ts: ts.optional(),
  channel: id,
  channel_type: z.string().optional(),
  /** The author's own workspace: differs from the install's in Slack Connect channels. */
  team: id.optional(),
  user_team: id.optional(),
});

export const messageSchema = z.looseObject({
  type: z.literal("message"),
  subtype: z.string().optional(),
  user: id.optional(),
  bot_id: id.nullish(),
  // Any length (the receiver caps bodies at 1 MB): a question too long to answer is told so, not dropped.
  text: z.string().optional(),
  ts,
  thread_ts: ts.optional(),
  channel: id,
  channel_type: z.string().optional(),
  /** The author's own workspace: differs from the install's in Slack Connect channels. */
  team: id.optional(),
  user_team: id.optional(),
  files: z.array(z.looseObject({ id })).optional(),
});

/** `app_home_opened`: the user opened one of the app's tabs (`home`, `messages`, `about`). */
export const appHomeOpenedSchema = z.looseObject({
  type: z.literal("app_home_opened"),
  user: id,
  tab: z.string().max(64).optional(),
  channel: id.optional(),
});

export const fileSharedSchema = z.looseObject({
  type: z.literal("file_shared"),
  file_id: id,
  user_id: id.optional(),
  channel_id: id.optional(),
  event_ts: ts.optional(),
});

export const fileChangedSchema = z.looseObject({
  type: z.enum(["file_change", "file_deleted"]),
  file_id: id,
});

export const tokensRevokedSchema = z.looseObject({
  type: z.literal("tokens_revoked"),
  tokens: z.looseObject({ oauth: z.array(z.string()).optional(), bot: z.array(z.string()).optional() }),
});

export const commandSchema = z.looseObject({
  command: z.string().min(1).max(64),
  // Any length (the receiver caps bodies at 1 MB): a question too long to answer is told so, not dropped.
  text: z.string().default(""),
  team_id: id,
  enterprise_id: z.string().max(64).nullish(),
  user_id: id,
  channel_id: id,
  response_url: z.url(),
  trigger_id: z.string().min(1).max(256),
  team_domain: z.string().max(200).optional(),
});

export const blockActionSchema = z.looseObject({
  type: z.literal("block_actions"),
  trigger_id: z.string().max(256).optional(),
  user: z.looseObject({ id, team_id: id.optional() }),
  team: z.looseObject({ id, enterprise_id: id.nullish() }).nullish(),
  enterprise: z.looseObject({ id }).nullish(),
  channel: z.looseObject({ id }).nullish(),
  container: z.looseObject({ message_ts: z.string().optional(), thread_ts: z.string().optional() }).optional(),
  response_url: z.url().optional(),
  actions: z
    .array(
      z.looseObject({
        action_id: z.string(),
        value: z.string().max(2000).optional(),
        action_ts: z.string().optional(),
      }),
    )
    .min(1),
});

/** `files.info`: what we need of a file. */
export const fileInfoSchema = z.looseObject({
  ok: z.literal(true),
  file: z.looseObject({
    id,
    name: z.string().max(1000).default("file"),
    title: z.string().max(1000).optional(),
    mimetype: z.string().optional(),
    filetype: z.string().optional(),
    pretty_type: z.string().optional(),
    size: z.number().int().nonnegative().optional(),
    user: id.optional(),
    mode: z.string().optional(),
    is_external: z.boolean().optional(),
    url_private_download: z.url().optional(),
    url_private: z.url().optional(),
    permalink: z.url().optional(),
    shares: z
      .looseObject({
        public: z.record(z.string(), z.array(z.looseObject({ ts, thread_ts: ts.optional() }))).optional(),
        private: z.record(z.string(), z.array(z.looseObject({ ts, thread_ts: ts.optional() }))).optional(),
      })
      .optional(),
  }),
});
export type SlackFileInfo = z.infer<typeof fileInfoSchema>["file"];

export const usersInfoSchema = z.looseObject({
  ok: z.literal(true),
  user: z.looseObject({
    id,
    is_admin: z.boolean().optional(),
    is_owner: z.boolean().optional(),
    is_primary_owner: z.boolean().optional(),
    is_bot: z.boolean().optional(),
    profile: z.looseObject({ email: z.string().optional() }).optional(),
  }),
});

export const repliesSchema = z.looseObject({
  ok: z.literal(true),
  messages: z
    .array(
      z.looseObject({
        ts,
        user: z.string().optional(),
        bot_id: z.string().nullish(),
        text: z.string().optional(),
        subtype: z.string().optional(),
      }),
    )
    .default([]),
});
