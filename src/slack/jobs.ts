import { z } from "zod";
import type { JobType } from "../ports/job-queue.js";
import type { Logger } from "../ports/logger.js";
import type { InstallationService } from "../services/installations.js";
import type { JobService } from "../services/jobs.js";

/**
 * The work a Slack request leaves behind. Listeners only acknowledge, claim the delivery and enqueue one
 * of these; a worker (in-process here, SQS on AWS) does the work. Payloads are plain JSON carrying
 * everything needed, so any worker can run them; they are validated again when a job runs.
 */
const id = z.string().min(1).max(128);

/**
 * The most of a question's text a job carries (a job is stored in SQLite or sent as one SQS message, at
 * most 256 KB). A longer message is only its start plus its true length, enough to say it is too long.
 */
export const MAX_QUESTION_JOB_CHARS = 40_000;

/** A question's text for a job: all of it, or its first MAX_QUESTION_JOB_CHARS characters and `chars`. */
export function questionText(text: string): { text: string; chars?: number } {
  if (text.length <= MAX_QUESTION_JOB_CHARS) return { text };
  let start = text.slice(0, MAX_QUESTION_JOB_CHARS);
  // Not half of a surrogate pair at the cut.
  if (/[\uD800-\uDBFF]$/.test(start)) start = start.slice(0, -1);
  return { text: start, chars: text.length };
}

export const questionJobSchema = z.object({
  kind: z.literal("question"),
  surface: z.enum(["slack_command", "slack_mention", "slack_dm"]),
  teamId: id,
  enterpriseId: id.optional(),
  userId: id,
  /** The author's workspace, when Slack says (Slack Connect). */
  userTeamId: id.optional(),
  /** The envelope named this other workspace, not the installation's (nor its Grid): refused. */
  foreignTeamId: id.optional(),
  channelId: id,
  text: z.string().max(MAX_QUESTION_JOB_CHARS),
  /** The question's true length when `text` is only its start (see questionText). */
  chars: z.number().int().positive().optional(),
  /** The message that asked (mentions and DMs). */
  ts: z.string().optional(),
  /** The thread it was asked in, when it was a reply. */
  threadTs: z.string().optional(),
  responseUrl: z.url().optional(),
});
export type QuestionJob = z.infer<typeof questionJobSchema>;

export const fileJobSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("share"),
    teamId: id,
    enterpriseId: id.optional(),
    fileId: id,
    channelId: id.optional(),
    userId: id.optional(),
    userTeamId: id.optional(),
    messageTs: z.string().optional(),
  }),
  z.object({ kind: z.literal("change"), teamId: id, fileId: id }),
  z.object({ kind: z.literal("delete"), teamId: id, fileId: id }),
]);
export type FileJob = z.infer<typeof fileJobSchema>;

export const COMMAND_ACTIONS = ["docs", "forget", "status", "link", "unlink", "connect"] as const;
export type CommandAction = (typeof COMMAND_ACTIONS)[number];

export const eventJobSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("command"),
    action: z.enum(COMMAND_ACTIONS),
    arg: z.string().max(2000),
    teamId: id,
    enterpriseId: id.optional(),
    userId: id,
    channelId: id,
    responseUrl: z.url(),
  }),
  z.object({
    kind: z.literal("feedback"),
    value: z.enum(["up", "down"]),
    auditId: id,
    teamId: id,
    userId: id,
    userTeamId: id.optional(),
    channelId: id.optional(),
    responseUrl: z.url().optional(),
  }),
  z.object({
    kind: z.literal("share"),
    auditId: id,
    teamId: id,
    userId: id,
    userTeamId: id.optional(),
    channelId: id.optional(),
    responseUrl: z.url(),
  }),
  z.object({
    kind: z.literal("uninstalled"),
    teamId: id,
    enterpriseId: id.optional(),
    reason: z.enum(["app_uninstalled", "tokens_revoked"]),
  }),
  z.object({ kind: z.literal("linked"), teamId: id, slackUserId: id, tenantName: z.string().max(200) }),
  z.object({ kind: z.literal("installed"), teamId: id, userId: id }),
  /** The user opened the app's Home tab: publish it for them. */
  z.object({ kind: z.literal("home"), teamId: id, enterpriseId: id.optional(), userId: id }),
  z.object({ kind: z.literal("indexed"), tenantId: id, documentId: id }),
]);
export type EventJob = z.infer<typeof eventJobSchema>;

/**
 * The claim for one delivered event. Slack's event ids are unique, so a retry or a Socket Mode
 * redelivery carries the same id; the team and the event type are part of the key so that two
 * different events can never silence each other, whatever their ids.
 */
export const eventKey = (teamId: string, eventId: string, type: string): string => `event:${teamId}:${type}:${eventId}`;

/** Slack retries for about an hour and Socket Mode redelivers at once; a day of claims covers both. */
const CLAIM_TTL_MS = 24 * 3600 * 1000;

/** The acknowledge side: claim each delivery key once, then enqueue. */
export class SlackIntake {
  constructor(
    private readonly installations: InstallationService,
    private readonly jobs: JobService,
    private readonly logger: Logger,
  ) {}

  /**
   * Claims every key (an event id, a trigger id, a message or file key); the first delivery that holds
   * them all enqueues, every later one (Slack retries, redeliveries, the `message` twin of an
   * `app_mention`) is dropped. Returns whether this delivery enqueued the job.
   */
  async submit(
    claims: readonly string[],
    type: JobType,
    payload: QuestionJob | FileJob | EventJob,
    idempotencyKey: string,
  ): Promise<boolean> {
    const expiresAt = new Date(Date.now() + CLAIM_TTL_MS);
    const claimed: string[] = [];
    try {
      for (const key of claims) {
        if (!(await this.installations.claim(key, expiresAt))) {
          this.logger.info("slack delivery already handled", { claim: key });
          return false;
        }
        claimed.push(key);
      }
      return await this.jobs.enqueue({ type, payload, idempotencyKey });
    } catch (error) {
      // Nothing was queued: give the claims back so Slack's retry of this delivery is handled, not dropped.
      await Promise.allSettled(claimed.map((key) => this.installations.release(key)));
      throw error;
    }
  }
}
