// What every logged-in page shares: the session check (at start-up and whenever the browser shows the
// page again from its back/forward cache), the header (organisation, email, log out, admin-only links)
// and the "session expired" banner.
import { api, endSession, expireSession, getSession, loginUrl, onSessionExpired, updateSession } from "./api.js";
import { byId, h } from "./dom.js";

/** @typedef {import("./api.js").Me} Me */

const MAX_TIMER_MS = 2_147_483_647;

/** @type {Set<() => void>} */
const sessionEndListeners = new Set();
/** @type {Set<() => void>} */
const resumeListeners = new Set();
/** Set once the page has wiped what it showed: shown again with a live session, it must load afresh. */
let cleared = false;

/**
 * Registers what a page forgets when its session ends (logging out, or the session found gone when
 * the page is shown again): the data it keeps in memory, its timers and requests.
 * @param {() => void} listener
 */
export function onSessionEnd(listener) {
  sessionEndListeners.add(listener);
}

/**
 * Registers what a page does when the browser shows it again from its back/forward cache and the
 * session is still good: its data may be stale and its polling was stopped when it was left.
 * @param {() => void} listener
 */
export function onPageResume(listener) {
  resumeListeners.add(listener);
}

/**
 * Removes everything the page shows of the organisation (the main content, the header's account) and
 * tells the page to forget its data. The browser may keep this very page in its back/forward cache,
 * so what it keeps must hold nothing.
 */
function clearPage() {
  cleared = true;
  for (const listener of sessionEndListeners) listener();
  byId("main").replaceChildren();
  byId("session-banner").replaceChildren();
  byId("account-org").textContent = "";
  byId("account-email").textContent = "";
  byId("account").hidden = true;
}

/** @param {boolean} expired */
function loginRedirect(expired) {
  const url = loginUrl();
  return expired ? `${url}${url.includes("?") ? "&" : "?"}expired=1` : url;
}

/** @param {boolean} expired */
function leaveForLogin(expired) {
  endSession();
  clearPage();
  location.replace(loginRedirect(expired));
}

/**
 * The browser showed this page again from its back/forward cache: timers were frozen and the page
 * shows what it showed when it was left, maybe before a logout. Chromium keeps even `no-store` pages
 * there when no cookie changed, and this app uses no cookies, so the check has to be made here.
 */
async function recheckSession() {
  const session = getSession();
  if (!session || session.expiresAt <= Date.now()) {
    leaveForLogin(Boolean(session));
    return;
  }
  if (cleared) {
    // Logged out here, then in again (in this tab): the kept page is empty, so load it anew.
    location.reload();
    return;
  }
  /** @type {Me} */
  let me;
  try {
    me = await api("/api/me");
  } catch (error) {
    if (/** @type {{ status?: number }} */ (error)?.status === 401) {
      leaveForLogin(true);
      return;
    }
    // Otherwise (offline, a server error) the session may well be good: the page goes on, and its
    // next call says what is wrong.
    for (const listener of resumeListeners) listener();
    return;
  }
  updateSession({ email: me.email, role: me.role, tenantName: me.tenant_name });
  applyRole(me.role);
  showAccount({ email: me.email, tenantName: me.tenant_name });
  for (const listener of resumeListeners) listener();
}

function showExpiredBanner() {
  const banner = byId("session-banner");
  banner.replaceChildren(
    h("span", {}, "Your session has expired. "),
    h("a", { href: loginUrl(), class: "banner-link" }, "Log in again"),
    h("span", {}, " to continue where you were."),
  );
  byId("account").hidden = true;
}

/** @param {string | undefined} role */
function applyRole(role) {
  for (const el of document.querySelectorAll("[data-admin-only]")) {
    /** @type {HTMLElement} */ (el).hidden = role !== "admin";
  }
  // Everyone has the audit page; a member's shows only their own exchanges, and says so in the nav.
  const audit = document.querySelector('a[data-nav="audit"]');
  if (audit) audit.textContent = role === "admin" ? "Audit log" : "Your questions";
}

/**
 * @param {{ email?: string, tenantName?: string }} who
 */
function showAccount(who) {
  if (!who.email) return;
  byId("account-org").textContent = who.tenantName ?? "";
  byId("account-email").textContent = who.email;
  byId("account").hidden = false;
}

/**
 * Starts a page that needs a login. Without a session it sends the user to the login page (which
 * brings them back); with one it fills the header and resolves with who they are. For admin-only
 * pages it resolves with null (and says why) when the user is a member.
 * @param {{ adminOnly?: boolean, title?: string }} [options]
 * @returns {Promise<Me | null>}
 */
export async function startAppPage(options = {}) {
  const session = getSession();
  if (!session || session.expiresAt <= Date.now()) {
    const hadSession = Boolean(session);
    endSession();
    location.replace(loginRedirect(hadSession));
    return new Promise(() => {});
  }
  onSessionExpired(showExpiredBanner);
  setTimeout(expireSession, Math.min(Math.max(session.expiresAt - Date.now(), 0), MAX_TIMER_MS));
  if (session.role) applyRole(session.role);
  showAccount(session);
  byId("logout").addEventListener("click", () => {
    endSession();
    clearPage();
    location.assign("/login");
  });
  // The first show of the page is the check just made; every later one (from the back/forward cache)
  // checks again before the page goes on.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) recheckSession();
  });

  /** @type {Me} */
  let me;
  try {
    me = await api("/api/me");
  } catch (error) {
    showPageError(error);
    return null;
  }
  updateSession({ email: me.email, role: me.role, tenantName: me.tenant_name });
  applyRole(me.role);
  showAccount({ email: me.email, tenantName: me.tenant_name });
  if (options.adminOnly && me.role !== "admin") {
    byId("main").replaceChildren(
      h("h1", {}, options.title ?? "Admins only"),
      h(
        "p",
        { class: "notice" },
        `Only admins of ${me.tenant_name || "your organisation"} can open this page. Ask an admin if you need access.`,
      ),
      h("p", {}, h("a", { href: "/" }, "Back to asking questions")),
    );
    return null;
  }
  return me;
}

/**
 * Shows an error that stops the page from loading (the banner already covers an expired session).
 * @param {unknown} error
 */
export function showPageError(error) {
  if (/** @type {{ status?: number }} */ (error)?.status === 401) return;
  const main = byId("main");
  main.prepend(h("p", { class: "form-error", role: "alert" }, messageOf(error)));
}

/**
 * A message for the user from anything thrown.
 * @param {unknown} error
 */
export function messageOf(error) {
  if (error instanceof Error && error.message) return error.message;
  return "Something went wrong. Please try again.";
}
