// The page Slack's link buttons open: /link?token=... A token either links a Slack workspace to an
// organisation (`/ask link`, for an organisation admin to confirm) or connects a Slack user to the web
// account of whoever opens it (`/ask connect`). The token is read once from the address, removed from
// it (history, screenshots, Referer) and then kept in memory only.
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

/**
 * @typedef {{ purpose?: "workspace" | "identity", team_id: string, team_name?: string, slack_user_id?: string,
 *   expires_at?: string, already_linked?: boolean }} Preview
 */

/** @type {Preview | null} */
let preview = null;
/** @type {"workspace" | "identity"} */
let purpose = "workspace";
/** @type {import("./api.js").Me | null} */
let me = null;

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

/** The workspace in words: its name and id, or the id alone. */
function teamLabel() {
  if (!preview) return "";
  return preview.team_name ? `${preview.team_name} (${preview.team_id})` : preview.team_id;
}

/** The page's words for what the token is for. */
function applyPurpose() {
  for (const el of document.querySelectorAll("[data-purpose]")) {
    /** @type {HTMLElement} */ (el).hidden = /** @type {HTMLElement} */ (el).dataset.purpose !== purpose;
  }
  if (purpose === "identity") {
    const title = "Connect your Slack account";
    byId("page-title").textContent = title;
    document.title = `${title} · Enclave`;
    goButton.textContent = "Connect Slack account";
    byId("link-you-label").textContent = "Enclave account";
    if (!me) byId("link-org").textContent = "Log in to see";
  }
}

/** Shows what the link is for (the preview does not use up the token). */
async function loadPreview() {
  preview = await api("/api/links/preview", { body: { token: linkToken } });
  if (!preview) return;
  purpose = preview.purpose === "identity" ? "identity" : "workspace";
  applyPurpose();
  fill(
    byId("link-team"),
    preview.team_name ? `${preview.team_name} ` : null,
    h(
      "span",
      { class: preview.team_name ? "team-id" : "" },
      preview.team_name ? `(${preview.team_id})` : preview.team_id,
    ),
  );
  byId("link-slack-user").textContent = preview.slack_user_id ?? "—";
  byId("link-requester").textContent = preview.slack_user_id ? `Slack user ${preview.slack_user_id}` : "—";
  byId("link-expiry").textContent = preview.expires_at ? formatDateTime(preview.expires_at) : "—";
  byId("link-summary").hidden = false;
  byId("link-already").hidden = purpose !== "workspace" || !preview.already_linked;
}

/** @param {import("./api.js").Me} who */
function showWho(who) {
  byId("link-org").textContent = who.tenant_name;
  byId("link-you").textContent = purpose === "identity" ? who.email : `${who.email} (${who.role})`;
  byId("link-you").hidden = false;
  byId("link-you-label").hidden = false;
  byId("link-org-again").textContent = who.tenant_name;
}

/** Both sides of the link in one sentence, right above the button that makes it. */
function askToConfirm() {
  if (!preview || !me) return;
  const strong = (/** @type {string} */ text) => h("strong", {}, text);
  if (purpose === "identity") {
    fill(
      byId("link-question"),
      "Connect Slack user ",
      strong(preview.slack_user_id ?? "?"),
      " in ",
      strong(teamLabel()),
      " to your Enclave account ",
      strong(me.email),
      " (organisation ",
      strong(me.tenant_name),
      ")?",
    );
  } else {
    fill(
      byId("link-question"),
      "Link the Slack workspace ",
      strong(teamLabel()),
      " to the Enclave organisation ",
      strong(me.tenant_name),
      "?",
    );
  }
}

/** Whether the logged-in account already has this Slack user. */
function alreadyConnected() {
  return Boolean(
    preview &&
      me?.slack_identities?.some((t) => t.team_id === preview?.team_id && t.user_id === preview?.slack_user_id),
  );
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
    me = await api("/api/me");
    if (!preview) await loadPreview();
    if (!me) return;
    showWho(me);
    askToConfirm();
    byId("link-connected").hidden = true;
    if (purpose === "identity" && alreadyConnected()) {
      say(statusEl, "");
      byId("link-connected").hidden = false;
      show("confirm");
      goButton.hidden = true;
      return;
    }
    if (purpose === "workspace" && me.role !== "admin") {
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

/** Completes a workspace link, for an admin of the organisation that is logged in. */
async function linkWorkspace() {
  await api("/api/links", { body: { token: linkToken } });
  const name = preview?.team_name ?? preview?.team_id ?? "The workspace";
  return `${name} is now linked to ${me?.tenant_name ?? byId("link-org-again").textContent}.`;
}

/** Ties the Slack user who was sent the token to the logged-in web account. */
async function connectIdentity() {
  const tie = await api("/api/identities", { body: { token: linkToken } });
  return `Slack user ${tie?.user_id ?? preview?.slack_user_id} in ${teamLabel()} is now connected to ${me?.email ?? "your account"}.`;
}

goButton.addEventListener("click", async () => {
  goButton.disabled = true;
  say(errorEl, "");
  say(statusEl, purpose === "identity" ? "Connecting…" : "Linking…");
  try {
    const text = purpose === "identity" ? await connectIdentity() : await linkWorkspace();
    say(statusEl, "");
    const done = byId("link-done-text");
    done.textContent = text;
    show("done");
    done.focus();
  } catch (e) {
    say(statusEl, "");
    say(errorEl, explain(e));
  } finally {
    goButton.disabled = false;
  }
});

byId("link-switch").addEventListener("click", () => {
  endSession();
  me = null;
  byId("link-org").textContent = purpose === "identity" ? "Log in to see" : "Log in to choose";
  byId("link-you").hidden = true;
  byId("link-you-label").hidden = true;
  byId("link-connected").hidden = true;
  say(errorEl, "");
  show("login");
  say(statusEl, "Log in with the account to use.");
  byId("email").focus();
});

if (!linkToken) {
  show("none");
  say(statusEl, "");
  say(
    errorEl,
    "This page needs the link from Slack. In Slack, type /ask link to link a workspace, or /ask connect to connect your Slack account, and open the link Enclave sends you.",
  );
} else {
  start();
}
