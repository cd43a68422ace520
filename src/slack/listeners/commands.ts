import type { App } from "@slack/bolt";
import type { Logger } from "../../ports/logger.js";
import { escapeText, HELP_TEXT } from "../blocks.js";
import { COMMAND_ACTIONS, type CommandAction, questionText, type SlackIntake } from "../jobs.js";
import { commandSchema } from "../payloads.js";

export type ParsedCommand =
  | { action: "help" }
  | { action: "question"; question: string }
  | { action: CommandAction; arg: string };

const ALIASES: Record<string, CommandAction | "help"> = { documents: "docs", help: "help", "?": "help" };

/** `/ask <question>`, or one of the sub-commands when the text is exactly that word (`forget` takes a name). */
export function parseCommandText(text: string): ParsedCommand {
  const trimmed = text.trim();
  if (!trimmed) return { action: "help" };
  const [first = "", ...rest] = trimmed.split(/\s+/);
  const word = first.toLowerCase();
  const action =
    ALIASES[word] ?? ((COMMAND_ACTIONS as readonly string[]).includes(word) ? (word as CommandAction) : undefined);
  if (action === "forget") return { action, arg: rest.join(" ") };
  if (action && rest.length === 0) return action === "help" ? { action } : { action, arg: "" };
  return { action: "question", question: trimmed };
}

/**
 * The listener only acknowledges and enqueues: Slack wants an answer within 3 seconds. Slack sends an
 * app only its own commands, so any command is taken as `/ask` (a workspace may have renamed it).
 */
export function registerCommands(app: App, intake: SlackIntake, logger: Logger): void {
  app.command(/^\/\S+$/, async ({ ack, body, context }) => {
    const parsed = commandSchema.safeParse(body);
    if (!parsed.success) {
      await ack({ response_type: "ephemeral", text: "Sorry, I couldn't read that command." });
      return;
    }
    const cmd = parsed.data;
    const teamId = context.teamId ?? cmd.team_id;
    const enterpriseId = cmd.enterprise_id || undefined;
    const request = parseCommandText(cmd.text);
    if (request.action === "help") {
      await ack({ response_type: "ephemeral", text: HELP_TEXT });
      return;
    }
    const claims = [`command:${cmd.trigger_id}`];
    try {
      if (request.action === "question") {
        await intake.submit(
          claims,
          "answer",
          {
            kind: "question",
            surface: "slack_command",
            teamId,
            ...(enterpriseId ? { enterpriseId } : {}),
            userId: cmd.user_id,
            channelId: cmd.channel_id,
            ...questionText(request.question),
            responseUrl: cmd.response_url,
          },
          `slack:command:${cmd.trigger_id}`,
        );
        await ack({
          response_type: "ephemeral",
          text: `:mag: Searching your documents for “${escapeText(request.question.slice(0, 300))}”…`,
        });
      } else {
        await intake.submit(
          claims,
          "slack_event",
          {
            kind: "command",
            action: request.action,
            // A document name, at most what the job takes (the command's text itself may be long).
            arg: request.arg.slice(0, 2000),
            teamId,
            ...(enterpriseId ? { enterpriseId } : {}),
            userId: cmd.user_id,
            channelId: cmd.channel_id,
            responseUrl: cmd.response_url,
          },
          `slack:command:${cmd.trigger_id}`,
        );
        await ack();
      }
    } catch (error) {
      logger.error("could not queue a slash command", { error, slackTeam: teamId });
      await ack({
        response_type: "ephemeral",
        text: "Sorry, I couldn't take that request right now. Please try again in a minute.",
      });
    }
  });
}
