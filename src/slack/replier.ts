import type { WebClient } from "@slack/web-api";
import { type AnswerView, renderAnswer, renderNotice, type SlackMessage } from "./blocks.js";
import { type FetchFn, postToResponseUrl } from "./outbound.js";

/**
 * Where an answer goes and how progress shows, per surface:
 * - a slash command answers privately through its `response_url` (the acknowledgement already said
 *   "Searching…" and the answer replaces it);
 * - a mention or DM streams the answer into its thread as it is written (StreamingReplier), or, where
 *   Slack does not stream, gets a placeholder message that the answer (or the error) replaces in place.
 */
export interface Replier {
  /** Shows that the bot is working. */
  start(): Promise<void>;
  /** The documents are being searched. */
  searching(): void;
  /** The next piece of the answer text, as it is written; surfaces that do not stream ignore it. */
  write(text: string): void;
  /** The answer, in place of the progress (and of what was streamed). */
  answer(view: AnswerView): Promise<void>;
  /** The final messages; the first replaces the progress indicator (or what was streamed). */
  finish(messages: readonly SlackMessage[]): Promise<void>;
  /** Something only the asking user should see (not linked, slow down). */
  notice(message: SlackMessage): Promise<void>;
  /** Something is visible in the conversation: a failure from here on must not be retried. */
  readonly started: boolean;
}

export class ResponseUrlReplier implements Replier {
  started = true; // the command's acknowledgement is the progress indicator

  constructor(
    private readonly responseUrl: string,
    private readonly fetchFn: FetchFn,
  ) {}

  async start(): Promise<void> {}

  searching(): void {}

  write(): void {}

  answer(view: AnswerView): Promise<void> {
    return this.finish(renderAnswer(view));
  }

  async finish(messages: readonly SlackMessage[]): Promise<void> {
    let first = true;
    for (const message of messages) {
      await postToResponseUrl(
        this.responseUrl,
        { ...message, response_type: "ephemeral", replace_original: first },
        this.fetchFn,
      );
      first = false;
    }
  }

  async notice(message: SlackMessage): Promise<void> {
    await postToResponseUrl(
      this.responseUrl,
      { ...message, response_type: "ephemeral", replace_original: true },
      this.fetchFn,
    );
  }
}

export class ConversationReplier implements Replier {
  private placeholderTs: string | undefined;

  constructor(
    private readonly client: WebClient,
    private readonly channel: string,
    /** Thread to answer in; undefined answers at the top level (a DM that was not in a thread). */
    private readonly threadTs: string | undefined,
    private readonly userId: string,
  ) {}

  get started(): boolean {
    return this.placeholderTs !== undefined;
  }

  searching(): void {}

  write(): void {}

  answer(view: AnswerView): Promise<void> {
    return this.finish(renderAnswer(view));
  }

  async start(): Promise<void> {
    const placeholder = renderNotice(":hourglass_flowing_sand: Searching your documents…");
    const res = await this.client.chat.postMessage({
      channel: this.channel,
      text: placeholder.text,
      ...(placeholder.blocks ? { blocks: placeholder.blocks } : {}),
      ...(this.threadTs ? { thread_ts: this.threadTs } : {}),
    });
    this.placeholderTs = typeof res.ts === "string" ? res.ts : undefined;
  }

  async finish(messages: readonly SlackMessage[]): Promise<void> {
    let rest = [...messages];
    const first = rest.shift();
    if (!first) return;
    if (this.placeholderTs) {
      await this.client.chat.update({
        channel: this.channel,
        ts: this.placeholderTs,
        text: first.text,
        blocks: first.blocks ?? [],
      });
    } else {
      rest = [first, ...rest];
    }
    for (const message of rest) {
      await this.client.chat.postMessage({
        channel: this.channel,
        text: message.text,
        ...(message.blocks ? { blocks: message.blocks } : {}),
        ...(this.threadTs ? { thread_ts: this.threadTs } : {}),
        unfurl_links: false,
        unfurl_media: false,
      });
    }
  }

  async notice(message: SlackMessage): Promise<void> {
    await this.client.chat.postEphemeral({
      channel: this.channel,
      user: this.userId,
      text: message.text,
      ...(message.blocks ? { blocks: message.blocks } : {}),
      ...(this.threadTs ? { thread_ts: this.threadTs } : {}),
    });
  }
}
