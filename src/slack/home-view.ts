import type { KnownBlock } from "@slack/web-api";
import type { Outcome, Surface } from "../domain/audit.js";
import type { OwnQuestion } from "../services/audit.js";
import { escapeText, HELP_TEXT, SECTION_LIMIT, type SlackMessage, splitText } from "./blocks.js";

/** Slack's limit for a Home tab view (a message allows 50). */
export const HOME_BLOCKS_LIMIT = 100;
/** How many of the user's own questions the Home tab lists. */
export const HOME_QUESTIONS = 5;
const QUESTION_CHARS = 300;

export type HomeState =
  /** Linked, and the user may use the bot: the organisation, how to use it, their own questions. */
  | { kind: "linked"; organisation: string; teamName?: string; questions: readonly OwnQuestion[]; webUrl: string }
  /** Not linked: the link offer the rest of the Slack surface makes (a button for those who may link). */
  | { kind: "not_linked"; offer: SlackMessage; webUrl: string }
  /** A guest, someone of another organisation, an unknown account: the reason, nothing of the organisation. */
  | { kind: "refused"; notice: SlackMessage };

/** The Home tab as Slack's `views.publish` takes it. */
export interface HomeView {
  type: "home";
  blocks: KnownBlock[];
}

// `verbatim`: Slack does not turn bare names and URLs in what people typed into links or mentions.
const section = (text: string): KnownBlock => ({ type: "section", text: { type: "mrkdwn", text, verbatim: true } });
const context = (text: string): KnownBlock => ({
  type: "context",
  elements: [{ type: "mrkdwn", text: text.slice(0, SECTION_LIMIT), verbatim: true }],
});
const header = (text: string): KnownBlock => ({ type: "header", text: { type: "plain_text", text, emoji: true } });
const divider: KnownBlock = { type: "divider" };

const OUTCOME: Record<Outcome, string> = {
  answered: "answered",
  no_context: "nothing relevant found",
  model_unavailable: "the model was unavailable",
  error: "something went wrong",
};

const SURFACE: Record<Surface, string> = {
  slack_command: "with /ask",
  slack_mention: "in a channel",
  slack_dm: "in a DM",
  web: "on the web",
  api: "through the API",
  cli: "from the command line",
};

export function renderHome(state: HomeState): HomeView {
  const blocks: KnownBlock[] = [header("Enclave")];
  switch (state.kind) {
    case "linked": {
      const where = state.teamName ? `*${escapeText(state.teamName)}*` : "This Slack workspace";
      blocks.push(section(`:white_check_mark: ${where} is linked to *${escapeText(state.organisation)}*.`));
      blocks.push(divider, ...howTo(state.webUrl), divider, ...recent(state.questions));
      break;
    }
    case "not_linked": {
      blocks.push(...(state.offer.blocks ?? [section(state.offer.text)]));
      if (state.offer.blocks?.some((b) => b.type === "actions"))
        blocks.push(context("Opened this tab a while ago? Open it again for a fresh link."));
      blocks.push(divider, section("*Once it is linked*"), ...howTo(state.webUrl));
      break;
    }
    case "refused":
      blocks.push(...(state.notice.blocks ?? [section(state.notice.text)]));
      break;
  }
  return { type: "home", blocks: blocks.slice(0, HOME_BLOCKS_LIMIT) };
}

/** The same words as `/ask help`, plus the web app for uploads. */
function howTo(webUrl: string): KnownBlock[] {
  const blocks = splitText(HELP_TEXT).map(section);
  if (/^https?:\/\/[^\s<>|]+$/i.test(webUrl))
    blocks.push(context(`You can also upload documents on the web: <${webUrl}|Enclave on the web>`));
  return blocks;
}

/** The user's own questions: the question, when, and how it went. Never the answer, never anyone else's. */
function recent(questions: readonly OwnQuestion[]): KnownBlock[] {
  const blocks = [section("*Your recent questions*")];
  if (questions.length === 0) {
    blocks.push(context("You haven't asked me anything in this workspace yet. Only you see your questions here."));
    return blocks;
  }
  for (const q of questions) {
    const text = q.question.replace(/\s+/g, " ").trim();
    const shown = text.length > QUESTION_CHARS ? `${text.slice(0, QUESTION_CHARS - 1)}…` : text;
    blocks.push(section(`“${escapeText(shown)}”`));
    const rated = q.feedback ? ` · you rated it ${q.feedback === "up" ? ":+1:" : ":-1:"}` : "";
    blocks.push(context(`${when(q.createdAt)} · ${SURFACE[q.surface]} · ${OUTCOME[q.outcome]}${rated}`));
  }
  blocks.push(context("Only you see your questions here."));
  return blocks;
}

/** Slack shows the date in the reader's own time zone; the fallback is UTC. */
function when(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return "";
  const fallback = `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} at {time}|${fallback}>`;
}
