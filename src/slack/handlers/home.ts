import type { SlackMessage } from "../blocks.js";
import { HOME_QUESTIONS, type HomeState, renderHome } from "../home-view.js";
import type { EventJob } from "../jobs.js";
import { openWorkspace, type SlackRuntime, slackActor } from "../runtime.js";

type HomeJob = Extract<EventJob, { kind: "home" }>;

/**
 * The user opened the app's Home tab: publish it for them. Who they are is decided as everywhere else
 * on the Slack side (slackActor): a workspace that is not linked shows the link offer (a button only for
 * those who may link), a guest or someone of another organisation sees only the reason; a member sees
 * the organisation, how to use the bot, and their own recent questions.
 */
export async function publishHome(rt: SlackRuntime, e: HomeJob): Promise<void> {
  const ws = await openWorkspace(rt, e.teamId);
  if (!ws) return;
  const webUrl = rt.settings.publicUrl;
  let refusal: SlackMessage | undefined;
  const served = await slackActor(
    rt,
    ws,
    { teamId: e.teamId, userId: e.userId, ...(e.enterpriseId ? { enterpriseId: e.enterpriseId } : {}) },
    "slack_command",
    async (message) => {
      refusal = message;
    },
  );
  let state: HomeState;
  if (served) {
    const [organisation, questions] = await Promise.all([
      rt.services.links.organisationName(served.link.tenantId),
      rt.services.audit.recentQuestions(served.actor, HOME_QUESTIONS),
    ]);
    state = {
      kind: "linked",
      organisation: organisation || "your organisation",
      ...(ws.auth.teamName ? { teamName: ws.auth.teamName } : {}),
      questions,
      webUrl,
    };
  } else if (!refusal) {
    return;
  } else if (!ws.link) {
    state = { kind: "not_linked", offer: refusal, webUrl };
  } else {
    state = { kind: "refused", notice: refusal };
  }
  await ws.client.views.publish({ user_id: e.userId, view: renderHome(state) });
}
