import type { KnownBlock } from "@slack/web-api";
import type { Outcome, Source } from "../domain/audit.js";

/** Slack's limits: a section's text, blocks in one message, a button's label. */
export const SECTION_LIMIT = 3000;
export const BLOCKS_LIMIT = 50;
const FALLBACK_LIMIT = 3000;

export const ACTION = {
  feedbackUp: "enclave_feedback_up",
  feedbackDown: "enclave_feedback_down",
  share: "enclave_share",
  link: "enclave_link",
} as const;

export interface SlackMessage {
  /** Plain fallback for notifications, screen readers and clients without Block Kit. */
  text: string;
  blocks?: KnownBlock[];
}

/**
 * Text from documents or users is untrusted: `<!channel>`, `<@U…>` or `<https://evil|click>` must show
 * as text, never ping anyone or become a link. Slack mrkdwn needs only &, < and > escaped.
 */
export function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const WORD_JOINER = "\u2060";

/**
 * Untrusted text for a streamed message's `markdown_text`. Slack documents markdown_text as standard
 * markdown and says nothing of how it treats `<!channel>`, `<@U…>`, `<url|label>` or entities, so this
 * does not rely on either reading: an invisible word joiner after every `<` and `&` means no `<…>`
 * sequence (mention, link, autolink) and no entity can form, and one between `]` and `(`, `[` or `:`
 * keeps `[label](url)`, `![…](…)` and reference links from forming. Bare links are broken the same way
 * (after `@`, in `://` and in `www.`), so neither a URL nor an address a document quotes becomes a link.
 * The text reads the same. `previous` is the text already streamed, for a sequence split across pieces.
 */
export function neutralizeMarkdown(text: string, previous = ""): string {
  const safe = text
    .replace(/[<&@]/g, `$&${WORD_JOINER}`)
    .replace(/\](?=[([:])/g, `]${WORD_JOINER}`)
    .replace(/:(?=\/\/)/g, `:${WORD_JOINER}`)
    .replace(/\b(www)(?=\.)/gi, `$1${WORD_JOINER}`);
  const split = SPLIT_SEQUENCES.some(([end, start]) => end.test(previous) && start.test(text));
  return split ? `${WORD_JOINER}${safe}` : safe;
}

/** Where a piece ends and the next begins inside a sequence neutralizeMarkdown breaks. */
const SPLIT_SEQUENCES: readonly [RegExp, RegExp][] = [
  [/\]$/, /^[([:]/],
  [/:$/, /^\/\//],
  [/\bwww$/i, /^\./],
];

/** Text as a reader sees it: without the word joiners `neutralizeMarkdown` put in. */
export const withoutJoiners = (text: string): string => text.replaceAll(WORD_JOINER, "");

/** Splits text into pieces of at most `limit` characters, preferring paragraph, line, then word ends. */
export function splitText(text: string, limit = SECTION_LIMIT): string[] {
  const pieces: string[] = [];
  let rest = text.trim();
  while (rest.length > limit) {
    const window = rest.slice(0, limit);
    let cut = Math.max(window.lastIndexOf("\n\n"), -1);
    if (cut < limit / 2) cut = Math.max(cut, window.lastIndexOf("\n"));
    if (cut < limit / 2) cut = Math.max(cut, window.lastIndexOf(" "));
    if (cut < limit / 2) cut = limit;
    // Never cut an escape such as &amp; in half.
    const amp = window.lastIndexOf("&", cut);
    if (amp > cut - 6 && !window.slice(amp, cut).includes(";")) cut = amp;
    pieces.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest) pieces.push(rest);
  return pieces;
}

const section = (text: string): KnownBlock => ({ type: "section", text: { type: "mrkdwn", text } });
const context = (text: string, verbatim = false): KnownBlock => ({
  type: "context",
  elements: [{ type: "mrkdwn", text: text.slice(0, SECTION_LIMIT), ...(verbatim ? { verbatim: true } : {}) }],
});
/**
 * Answer text as plain text: whatever a document or a model put in it (`*bold*`, `<!channel>`,
 * `<https://…|click>`, a bare URL) shows as the characters it is, never as formatting, a mention or a
 * link the bot seems to vouch for.
 */
const plainSection = (text: string): KnownBlock => ({
  type: "section",
  text: { type: "plain_text", text, emoji: false },
});
/** Only web links are linked; anything with mrkdwn's delimiters in it is not a link we made. */
function safeLink(url: string | undefined): string | undefined {
  if (!url || url.length > 2000 || /[\s<>|]/.test(url)) return undefined;
  return /^https?:\/\//i.test(url) ? url : undefined;
}

/**
 * A source as rich text: its number, its title (a link to the Slack file when there is one), its page,
 * then the passage's words as a quotation. Rich text's `text` elements are literal, so a title or a
 * passage cannot format, mention or link anything, and the quote marks the words as the document's.
 */
export function sourceBlock(s: Source): KnownBlock {
  const link = safeLink(s.link);
  const title = s.title.slice(0, 500);
  const snippet = s.snippet?.replace(/\s+/g, " ").trim().slice(0, SECTION_LIMIT);
  return {
    type: "rich_text",
    elements: [
      {
        type: "rich_text_section",
        elements: [
          { type: "text", text: `[${s.n}]`, style: { bold: true } },
          { type: "text", text: " " },
          link ? { type: "link", url: link, text: title } : { type: "text", text: title, style: { bold: true } },
          { type: "text", text: `, page ${s.page}` },
        ],
      },
      ...(snippet ? [{ type: "rich_text_quote" as const, elements: [{ type: "text" as const, text: snippet }] }] : []),
    ],
  };
}

export interface AnswerView {
  answer: string;
  sources: readonly Source[];
  outcome: Outcome;
  auditId: string;
  question?: string;
  /** Shown above the answer: who asked (a shared answer) or "You asked" (an ephemeral one). */
  askedBy?: string;
  /** The "Share to channel" button, for answers only the asker sees. */
  shareable?: boolean;
  /** A remark about how the answer was made, shown as a context line under it. */
  note?: string;
}

/**
 * An answer as Block Kit: the answer text, the note (if any) as a context line, numbered sources (title,
 * page, link to the Slack file it came from), then 👍/👎 (and "Share to channel" for a private answer).
 * Long answers are split into sections of at most 3,000 characters and into several messages of at most
 * 50 blocks; the buttons go on the last.
 */
export function renderAnswer(view: AnswerView): SlackMessage[] {
  const blocks: KnownBlock[] = [];
  if (view.question) {
    const who = view.askedBy ? `<@${view.askedBy}> asked` : "You asked";
    blocks.push(context(`${who}: _${escapeText(view.question.slice(0, 500))}_`, true));
  }
  for (const piece of splitText(view.answer)) blocks.push(plainSection(piece));
  return paginate(view, [...blocks, ...answerFooter(view)]);
}

/**
 * What follows the answer text, for an answer whose text was streamed: the note, the sources and the
 * buttons, as blocks for `chat.stopStream` (at most 50) and, if more, follow-up messages.
 */
export function renderAnswerFooter(view: AnswerView): SlackMessage[] {
  return paginate(view, answerFooter(view));
}

function answerFooter(view: AnswerView): KnownBlock[] {
  const blocks: KnownBlock[] = [];
  if (view.note) blocks.push(context(escapeText(view.note)));
  if (view.sources.length > 0) {
    blocks.push({ type: "divider" });
    blocks.push(context(view.sources.length === 1 ? "*Source*" : "*Sources*"));
    for (const s of view.sources) blocks.push(sourceBlock(s));
  }
  return blocks;
}

/** Blocks into messages of at most 50 blocks, the feedback buttons on the last. */
function paginate(view: AnswerView, blocks: readonly KnownBlock[]): SlackMessage[] {
  const buttons: KnownBlock = {
    type: "actions",
    block_id: "enclave_answer_actions",
    elements: [
      {
        type: "button",
        action_id: ACTION.feedbackUp,
        text: { type: "plain_text", text: "👍", emoji: true },
        value: view.auditId,
      },
      {
        type: "button",
        action_id: ACTION.feedbackDown,
        text: { type: "plain_text", text: "👎", emoji: true },
        value: view.auditId,
      },
      ...(view.shareable
        ? [
            {
              type: "button" as const,
              action_id: ACTION.share,
              text: { type: "plain_text" as const, text: "Share to channel", emoji: true },
              value: view.auditId,
            },
          ]
        : []),
    ],
  };
  const fallback = answerFallback(view);
  const messages: SlackMessage[] = [];
  for (let i = 0; i < blocks.length; i += BLOCKS_LIMIT - 1) {
    messages.push({ text: fallback, blocks: blocks.slice(i, i + BLOCKS_LIMIT - 1) });
  }
  const last = messages.at(-1);
  if (last?.blocks) last.blocks.push(buttons);
  else messages.push({ text: fallback, blocks: [buttons] });
  return messages.map((m, i) => (i === 0 ? m : { ...m, text: `${fallback.slice(0, 60)}… (continued)` }));
}

function answerFallback(view: AnswerView): string {
  const refs = view.sources.map((s) => `[${s.n}] ${s.title}, page ${s.page}`).join("; ");
  const text = refs ? `${view.answer}\n\nSources: ${refs}` : view.answer;
  return escapeText(text.length > FALLBACK_LIMIT ? `${text.slice(0, FALLBACK_LIMIT - 1)}…` : text);
}

/** A short notice (errors, confirmations), as text plus one section. */
export function renderNotice(text: string): SlackMessage {
  return { text, blocks: splitText(text).slice(0, BLOCKS_LIMIT).map(section) };
}

export function renderNotLinked(url: string, options: { reason?: string; teamName?: string } = {}): SlackMessage {
  const where = options.teamName ? `*${escapeText(options.teamName)}*` : "This Slack workspace";
  const intro = options.reason ? `${options.reason}\n\n` : "";
  const text = `${intro}${where} is not linked to an Enclave organisation yet, so I can't search any documents here. An admin of your organisation can link it with the button below.`;
  return {
    text: `${options.reason ? `${options.reason} ` : ""}This workspace is not linked to an Enclave organisation yet. Link it here: ${url}`,
    blocks: [
      section(text),
      {
        type: "actions",
        block_id: "enclave_link_actions",
        elements: [
          {
            type: "button",
            action_id: ACTION.link,
            text: { type: "plain_text", text: "Link this workspace" },
            url,
            style: "primary",
          },
        ],
      },
      context(
        "The link is for you only, works once and expires in 15 minutes. It opens Enclave, where you log in (or sign up) as an admin.",
      ),
    ],
  };
}

/** The one-time link that ties a web account to this Slack user. */
export function renderConnect(url: string): SlackMessage {
  return {
    text: `Connect your Enclave web account to this Slack account: ${url}`,
    blocks: [
      section(
        "Open this link while logged in to Enclave on the web to connect your web account to this Slack account. The web app then answers you from the Slack conversations you are in, as I do here.",
      ),
      {
        type: "actions",
        block_id: "enclave_connect_actions",
        elements: [
          {
            type: "button",
            action_id: ACTION.link,
            text: { type: "plain_text", text: "Connect my web account" },
            url,
            style: "primary",
          },
        ],
      },
      context("The link is for you only, works once and expires in 15 minutes."),
    ],
  };
}

export const HELP_TEXT = [
  "*Enclave answers questions from your organisation's documents, with sources.*",
  "• `/ask <question>`: a private answer (you can share it to the channel)",
  "• `@Enclave <question>` in a channel: an answer in the thread, for everyone; follow-ups in the thread keep the context",
  "• A direct message to me is a question too",
  "• Share a PDF, .txt or .md file in a channel I'm in (or send it to me) and I index it",
  "• `/ask docs`: the documents I know · `/ask forget <document>`: remove one",
  "• `/ask status`: which organisation this workspace is linked to · `/ask link` / `/ask unlink` (workspace admins)",
  "• `/ask connect`: connect your Enclave web account to this Slack account",
  "• I answer from what everyone who reads the answer may read: files of a private channel stay in it",
].join("\n");
