import type { ChatStreamer, WebClient } from "@slack/web-api";
import type { Logger } from "../ports/logger.js";
import { type AnswerView, neutralizeMarkdown, renderAnswer, renderAnswerFooter, type SlackMessage } from "./blocks.js";
import { ConversationReplier, type Replier } from "./replier.js";

/** The assistant status shown under the question while the documents are searched. */
export const SEARCHING_STATUS = "Searching your documents…";

/**
 * Characters collected before each chat.startStream / chat.appendStream: Slack rate-limits these calls,
 * so not one per model delta, yet soon enough to read as it is written (the Web API client's default).
 */
const STREAM_BUFFER_CHARS = 256;

/** Slack takes at most 12,000 characters of markdown_text a call; pieces are cut well below that. */
const APPEND_LIMIT = 4000;

/** Appended to a stream that an error cut short, before the error notice replaces it. */
const STREAM_WARNING = "\n\n⚠️ _I couldn't finish this answer._";

export interface StreamTarget {
  channel: string;
  /** The thread the answer streams into: the question's thread, or the question's own message. */
  threadTs: string;
  /**
   * Where the placeholder, the notices and a non-streamed answer go, as before streaming: undefined is
   * the top level of the conversation (a DM that was not in a thread).
   */
  replyThreadTs: string | undefined;
  /** The asker, who receives the stream. */
  userId: string;
  /** The asker's own workspace (for a Slack Connect user, not the installation's). */
  userTeamId: string;
}

/**
 * A mention or DM answered as it is written: the assistant status "Searching your documents…" while
 * retrieving, then the answer text streamed into the thread with chat.startStream/appendStream
 * (through the Web API client's ChatStreamer, which buffers), and chat.stopStream with the note, the
 * numbered sources and the feedback buttons. The finished message is always the answer: if the answer
 * differs from what was streamed (the model failed half-way, a stream call failed), the message is
 * replaced with chat.update.
 *
 * Where Slack refuses to stream (chat.startStream fails: `not_allowed`,
 * `method_not_supported_for_channel_type`, `missing_scope`…) the answer comes as before: a placeholder
 * "Searching your documents…" that the whole answer replaces. Slack calls run one at a time, in order.
 */
export class StreamingReplier implements Replier {
  private readonly fallback: ConversationReplier;
  private streamer: ChatStreamer | undefined;
  /** idle: nothing streamed yet; fallback: Slack refused to stream; broken: a stream call failed after it started. */
  private mode: "idle" | "streaming" | "fallback" | "broken" = "idle";
  private stopped = false;
  /** The streamed message holds the finished answer (only what follows it may still be missing). */
  private answered = false;
  /** The answer text written so far, as the answer service wrote it. */
  private written = "";
  private statusShown = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: WebClient,
    private readonly target: StreamTarget,
    private readonly logger: Logger,
  ) {
    this.fallback = new ConversationReplier(client, target.channel, target.replyThreadTs, target.userId);
  }

  get started(): boolean {
    return this.streamer?.ts !== undefined || this.fallback.started;
  }

  /** Nothing is posted before there is something to say: the assistant status shows the progress. */
  async start(): Promise<void> {}

  searching(): void {
    if (this.statusShown || this.written) return;
    this.statusShown = true;
    this.enqueue(async () => {
      try {
        await this.client.assistant.threads.setStatus({
          channel_id: this.target.channel,
          thread_ts: this.target.threadTs,
          status: SEARCHING_STATUS,
        });
      } catch (error) {
        // Slack shows a status only in some conversations; elsewhere the streamed text is the progress.
        this.logger.debug("assistant status not shown", { error });
      }
    });
  }

  write(text: string): void {
    if (!text) return;
    const piece = neutralizeMarkdown(text, this.written);
    this.written += text;
    this.enqueue(() => this.stream(piece));
  }

  async answer(view: AnswerView): Promise<void> {
    if (!this.written) this.write(view.answer);
    await this.queue;
    const streamer = this.streamer;
    if (this.mode === "streaming" && streamer && streamer.ts === undefined) {
      // All of it is still in the client's buffer: start the stream now (a `chunks` argument flushes), so
      // that a refusal falls back before anything shows.
      try {
        await streamer.append({ chunks: [] });
      } catch (error) {
        this.streamFailed(error);
      }
    }
    if (this.mode === "fallback" || !streamer?.ts) {
      await this.fallback.finish(renderAnswer(view));
      return;
    }
    if (this.mode === "streaming" && this.written === view.answer) {
      const [footer, ...more] = renderAnswerFooter(view);
      let finished = false;
      try {
        await streamer.stop({ blocks: footer?.blocks ?? [] });
        finished = true;
        this.answered = true;
      } catch (error) {
        this.logger.warn("could not finish the streamed answer; replacing it", { error });
      }
      this.stopped = true;
      if (finished) {
        await this.postInThread(more);
        return;
      }
    } else {
      await this.stop();
    }
    await this.replace(streamer.ts, renderAnswer(view), () => {
      this.answered = true;
    });
  }

  /** Messages in place of the answer (an error notice): the stream ends with a warning, then is replaced. */
  async finish(messages: readonly SlackMessage[]): Promise<void> {
    await this.queue;
    const ts = this.streamer?.ts;
    if (ts === undefined || this.mode === "fallback") {
      await this.fallback.finish(messages);
      return;
    }
    if (this.answered) {
      // The answer stands; what failed came after it.
      await this.postInThread(messages);
      return;
    }
    await this.stop(STREAM_WARNING);
    await this.replace(ts, messages);
  }

  notice(message: SlackMessage): Promise<void> {
    return this.fallback.notice(message);
  }

  private async stream(piece: string): Promise<void> {
    if (this.mode === "fallback" || this.mode === "broken") return;
    if (!this.streamer) {
      this.streamer = this.client.chatStream({
        channel: this.target.channel,
        thread_ts: this.target.threadTs,
        recipient_user_id: this.target.userId,
        recipient_team_id: this.target.userTeamId,
        buffer_size: STREAM_BUFFER_CHARS,
      });
      this.mode = "streaming";
    }
    try {
      for (const part of cut(piece, APPEND_LIMIT)) await this.streamer.append({ markdown_text: part });
    } catch (error) {
      // Streaming was refused while the answer is still being written: show progress the old way.
      if (this.streamFailed(error)) await this.fallback.start();
    }
  }

  /**
   * A failed chat.startStream means Slack does not stream here: fall back to placeholder and update
   * (returns true). A failure after the stream started leaves it as it is; the finished answer replaces it.
   */
  private streamFailed(error: unknown): boolean {
    if (this.streamer?.ts === undefined) {
      this.logger.info("slack did not stream the answer; answering with a placeholder and an update", { error });
      this.mode = "fallback";
      return true;
    }
    this.logger.warn("streaming the answer failed; the finished answer will replace it", { error });
    this.mode = "broken";
    return false;
  }

  /** Ends a started stream (its buffered rest, and `markdown` if given); a failure only means it stays as it is. */
  private async stop(markdown?: string): Promise<void> {
    if (this.stopped || !this.streamer) return;
    this.stopped = true;
    try {
      await this.streamer.stop(markdown ? { markdown_text: markdown } : {});
    } catch (error) {
      this.logger.warn("could not stop the answer's stream", { error });
    }
  }

  private async replace(ts: string, messages: readonly SlackMessage[], replaced?: () => void): Promise<void> {
    const [first, ...more] = messages;
    if (!first) return;
    await this.client.chat.update({
      channel: this.target.channel,
      ts,
      text: first.text,
      blocks: first.blocks ?? [],
    });
    replaced?.();
    await this.postInThread(more);
  }

  /** What did not fit in the streamed message (more than 50 blocks), below it in the same thread. */
  private async postInThread(messages: readonly SlackMessage[]): Promise<void> {
    for (const message of messages) {
      await this.client.chat.postMessage({
        channel: this.target.channel,
        thread_ts: this.target.threadTs,
        text: message.text,
        ...(message.blocks ? { blocks: message.blocks } : {}),
        unfurl_links: false,
        unfurl_media: false,
      });
    }
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((error: unknown) => {
      // Only the placeholder can fail here; the answer is then posted as a new message at the end.
      this.logger.warn("could not show the answer's progress", { error });
    });
  }
}

/** Pieces of at most `limit` UTF-16 units, never splitting a surrogate pair. */
function cut(text: string, limit: number): string[] {
  if (text.length <= limit) return [text];
  const parts: string[] = [];
  let part = "";
  for (const ch of text) {
    if (part.length + ch.length > limit) {
      parts.push(part);
      part = "";
    }
    part += ch;
  }
  if (part) parts.push(part);
  return parts;
}
