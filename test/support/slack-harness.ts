import Database from "better-sqlite3";
import { expect } from "vitest";
import type { ContainerOptions } from "../../src/composition/container.js";
import type { JobQueue } from "../../src/ports/job-queue.js";
import { withoutJoiners } from "../../src/slack/blocks.js";
import { type FakeMessage, FakeSlack, type FakeTeam } from "./fake-slack.js";
import { type ApiClient, startTestServer, type TestServer } from "./server.js";
import { commandForm, SlackSender, type Who } from "./slack.js";

export const SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef";
export const PUBLIC_URL = "https://enclave.test";

export interface SlackHarness {
  fake: FakeSlack;
  server: TestServer;
  slack: SlackSender;
  /**
   * The job queue fails as this shape's queue fails, until `queueUp()`: SQS answers 503 (AWS); the
   * directory database is locked (embedded, SQLITE_BUSY). Nothing else is touched.
   */
  queueDown(): void;
  queueUp(): void;
  /** One recovery sweep, as the shape runs it (embedded: in process; AWS: the scheduled worker invocation). */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

/** Makes a queue's enqueue fail as SQLite does when another process holds the write lock too long. */
export function breakableQueue(queue: JobQueue): { down(): void; up(): void } {
  const enqueue = queue.enqueue.bind(queue);
  let broken = false;
  queue.enqueue = (job, options) => {
    if (broken) return Promise.reject(new Database.SqliteError("database is locked", "SQLITE_BUSY"));
    return enqueue(job, options);
  };
  return {
    down: () => {
      broken = true;
    },
    up: () => {
      broken = false;
    },
  };
}

/**
 * The real server (HTTP mode) wired to a fresh fake Slack. With ENCLAVE_TEST_SHAPE=aws (set by the
 * `*.aws.test.ts` wrappers) the same suite runs on the AWS shape: Lambda handlers over the emulators.
 */
export async function startSlackHarness(
  setup: (fake: FakeSlack) => Record<string, string>,
  env: Record<string, string> = {},
  /** Embedded shape only: e.g. a `logger` whose lines the test reads. */
  options: ContainerOptions = {},
): Promise<SlackHarness> {
  if (process.env.ENCLAVE_TEST_SHAPE === "aws") {
    return (await import("./slack-aws-harness.js")).startAwsSlackHarness(setup, env);
  }
  const fake = await FakeSlack.start();
  const slackEnv = setup(fake);
  const server = await startTestServer(
    {
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: fake.apiUrl,
      PUBLIC_URL,
      ...slackEnv,
      ...env,
    },
    options,
  );
  const queue = breakableQueue(server.container.queue);
  return {
    fake,
    server,
    slack: new SlackSender(server.url, SIGNING_SECRET),
    queueDown: queue.down,
    queueUp: queue.up,
    sweep: () => server.container.recovery.run(),
    async stop() {
      await server.stop();
      await fake.stop();
    },
  };
}

export function whoIn(team: FakeTeam, userId: string): Who {
  return {
    teamId: team.id,
    userId,
    botUserId: team.botUserId,
    ...(team.enterpriseId ? { enterpriseId: team.enterpriseId } : {}),
  };
}

/** The one-time link URL in a Slack message (a button's url). */
export function linkUrlIn(message: { blocks?: unknown; text?: string } | undefined): string | undefined {
  let found: string | undefined;
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      const o = node as Record<string, unknown>;
      if (typeof o.url === "string" && o.url.includes("/link?token=")) found = o.url;
      for (const v of Object.values(o)) if (typeof v === "object") walk(v);
    }
  };
  walk(message?.blocks);
  return found;
}

export const tokenOf = (url: string): string => new URL(url).searchParams.get("token") ?? "";

/** `/ask link` from Slack, then the link page's REST call with the admin's token. */
export async function linkOverHttp(
  h: SlackHarness,
  who: Who,
  admin: ApiClient,
  channel = "C0LINKING",
): Promise<{ url: string }> {
  const responseUrl = h.fake.responseUrl();
  const ack = await h.slack.command(commandForm(who, { text: "link", channel, responseUrl }));
  expect(ack.status).toBe(200);
  const posted = await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 10_000, "link reply");
  const url = linkUrlIn(posted.body);
  if (!url) throw new Error(`no link button in ${JSON.stringify(posted.body)}`);
  const linked = await admin.call("POST", "/api/links", { token: tokenOf(url) });
  expect(linked.status, JSON.stringify(linked.json)).toBe(201);
  return { url };
}

/** The placeholder a mention or DM shows where Slack does not stream the answer. */
export const PLACEHOLDER = /Searching your documents/;

/** A streamed answer's text reads without the invisible word joiners that keep document text inert. */
export const visible = withoutJoiners;

/**
 * The bot's finished reply in a thread (`threadTs`; undefined: the top level of the conversation) whose
 * visible text matches `match`: a streamed message once stopped, or a posted one that is no longer the
 * placeholder. However it was made (streamed, or placeholder then chat.update), it is one message.
 */
export function replyIn(
  fake: FakeSlack,
  where: { channel: string; threadTs: string | undefined; teamId?: string },
  match: RegExp | string = /\S/,
): FakeMessage | undefined {
  return fake.botMessages(where.channel, where.threadTs, where.teamId).find((m) => {
    if (m.stream?.state === "streaming") return false;
    const text = visible(FakeSlack.textOf(m));
    if (PLACEHOLDER.test(m.text)) return false;
    return typeof match === "string" ? text.includes(match) : match.test(text);
  });
}

export function waitForReply(
  fake: FakeSlack,
  where: { channel: string; threadTs: string | undefined; teamId?: string },
  match?: RegExp | string,
  timeoutMs = 15_000,
): Promise<FakeMessage> {
  return fake.waitFor(() => replyIn(fake, where, match), timeoutMs, `reply ${match ?? ""} in ${where.channel}`);
}

export async function settle(h: SlackHarness): Promise<void> {
  await h.server.container.runner.drain(30_000);
}
