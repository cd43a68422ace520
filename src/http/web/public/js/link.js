// The page Slack's "Link workspace" button opens: /link?token=... The token is read once from the
// address, removed from it (history, screenshots, Referer) and then kept in memory only.
import { ApiError, api, endSession, getSession, logIn } from "./api.js";
import { byId, fill, formatDateTime, h, say } from "./dom.js";
import { messageOf } from "./shell.js";

const linkToken = new URLSearchParams(location.search).get("token") ?? "";
history.replaceState(null, "", location.pathname);

const statusEl = byId("link-status");
const errorEl = byId("link-error");
const loginForm = /** @type {HTMLFormElement} */ (byId("link-login"));
const confirmBox = byId("link-confirm");
const goButton = /** @type {HTMLButtonElement} */ (byId("link-go"));

/** @type {{ team_id: string, team_name?: string, slack_user_id?: string, expires_at?: string, already_linked?: boolean } | null} */
let preview = null;

/** @param {unknown} e */
function explain(e) {
  if (e instanceof ApiError && e.status === 404 && e.code !== "invalid_link_token")
    return "Slack is not set up on this server.";
  return messageOf(e);
}

/** @param {"login" | "confirm" | "done" | "none"} step */
function show(step) {
  loginForm.hidden = step !== "login";
  confirmBox.hidden = step !== "confirm";
  byId("link-done").hidden = step !== "done";
}

/** Shows which workspace is to be linked (the preview does not use up the token). */
async function loadPreview() {
  preview = await api("/api/links/preview", { body: { token: linkToken } });
  if (!preview) return;
  fill(
    byId("link-team"),
    preview.team_name ? `${preview.team_name} ` : null,
    h(
      "span",
      { class: preview.team_name ? "team-id" : "" },
      preview.team_name ? `(${preview.team_id})` : preview.team_id,
    ),
  );
  byId("link-requester").textContent = preview.slack_user_id ? `Slack user ${preview.slack_user_id}` : "—";
  byId("link-expiry").textContent = preview.expires_at ? formatDateTime(preview.expires_at) : "—";
  byId("link-summary").hidden = false;
  byId("link-already").hidden = !preview.already_linked;
}

async function step() {
  say(errorEl, "");
  const session = getSession();
  if (!session || session.expiresAt <= Date.now()) {
    endSession();
    say(statusEl, "Log in to continue.");
    show("login");
    return;
  }
  say(statusEl, "Checking the link…");
  try {
    const me = await api("/api/me");
    if (!preview) await loadPreview();
    byId("link-org").textContent = me.tenant_name;
    byId("link-you").textContent = `${me.email} (${me.role})`;
    byId("link-you").hidden = false;
    byId("link-you-label").hidden = false;
    byId("link-org-again").textContent = me.tenant_name;
    if (me.role !== "admin") {
      say(statusEl, "");
      say(
        errorEl,
        "Only an admin of your organisation can link a workspace. Log in as an admin, or ask one to open this link.",
      );
      show("confirm");
      goButton.hidden = true;
      return;
    }
    goButton.hidden = false;
    say(statusEl, "Check the details, then confirm.");
    show("confirm");
    goButton.focus();
  } catch (e) {
    say(statusEl, "");
    if (e instanceof ApiError && e.status === 401) {
      show("login");
      say(statusEl, "Your session has expired. Log in again.");
      return;
    }
    show("none");
    say(errorEl, explain(e));
  }
}

/** The preview may be open to anyone with the token; if it needs a login it comes after the login. */
async function start() {
  try {
    await loadPreview();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) {
      show("none");
      say(statusEl, "");
      say(errorEl, explain(e));
      return;
    }
  }
  await step();
}

loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  say(errorEl, "");
  const email = /** @type {HTMLInputElement} */ (byId("email"));
  const password = /** @type {HTMLInputElement} */ (byId("password"));
  try {
    await logIn(email.value.trim(), password.value);
    password.value = "";
    await step();
  } catch (e) {
    say(errorEl, e instanceof ApiError && e.status === 401 ? "Email or password is incorrect." : explain(e));
    password.focus();
  }
});

goButton.addEventListener("click", async () => {
  goButton.disabled = true;
  say(errorEl, "");
  say(statusEl, "Linking…");
  try {
    await api("/api/links", { body: { token: linkToken } });
    say(statusEl, "");
    const name = preview?.team_name ?? preview?.team_id ?? "The workspace";
    const done = byId("link-done-text");
    done.textContent = `${name} is now linked to ${byId("link-org-again").textContent}.`;
    show("done");
    done.focus();
  } catch (e) {
    say(statusEl, "");
    say(errorEl, explain(e));
    goButton.disabled = false;
  }
});

byId("link-switch").addEventListener("click", () => {
  endSession();
  byId("link-org").textContent = "Log in to choose";
  byId("link-you").hidden = true;
  byId("link-you-label").hidden = true;
  show("login");
  say(statusEl, "Log in with the account to use.");
  byId("email").focus();
});

if (!linkToken) {
  show("none");
  say(statusEl, "");
  say(errorEl, "This page needs the link from Slack. Mention Enclave in Slack and use its “Link workspace” button.");
} else {
  start();
}
