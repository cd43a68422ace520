import { focusCitedSources, renderAnswerText, renderSources } from "./answer.js";
import { api, download, getSession } from "./api.js";
import { byId, fill, h, openDialog, say, timeEl } from "./dom.js";
import { messageOf, showPageError, startAppPage } from "./shell.js";

/**
 * @typedef {{ id: string, created_at: string, user_id: string, user_email: string | null, slack_user_id: string | null,
 *   surface: string, slack: { team_id: string, channel_id: string | null, thread_ts: string | null } | null,
 *   question: string, answer: string, sources: import("./answer.js").Source[], outcome: string, latency_ms: number,
 *   model: string, feedback: { value: "up" | "down", by: string, at: string } | null }} AuditRecord
 */

const PAGE_SIZE = 50;
const SURFACES = {
  web: "Web",
  api: "API",
  cli: "Command line",
  slack_command: "Slack /ask",
  slack_mention: "Slack mention",
  slack_dm: "Slack DM",
};
const OUTCOMES = {
  answered: "Answered",
  no_context: "Not found",
  model_unavailable: "Model unavailable",
  error: "Error",
};

const form = /** @type {HTMLFormElement} */ (byId("audit-filters"));
const rowsEl = byId("audit-rows");
const status = byId("audit-status");
const more = /** @type {HTMLButtonElement} */ (byId("more"));
const userSelect = /** @type {HTMLSelectElement} */ (byId("f-user"));
const dialog = /** @type {HTMLDialogElement} */ (byId("exchange-dialog"));
/** @type {string | null} */
let cursor = null;
/** @type {Map<string, string>} user id -> label */
const users = new Map();

/** Set once /api/me answers: a member's page lists only their own exchanges. */
let isAdmin = false;

/**
 * Admins get the organisation's whole log (with the user filter and the export); a member gets their
 * own exchanges, under their own heading, and is told that admins see everything. The server enforces
 * this: the page only stops offering what the API would refuse.
 * @param {string | undefined} role
 */
function applyView(role) {
  const admin = role === "admin";
  const title = admin ? "Audit log" : "Your questions";
  byId("page-title").textContent = title;
  document.title = `${title} · Enclave`;
  form.setAttribute("aria-label", admin ? "Filter the audit log" : "Filter your questions");
  byId("member-intro").hidden = admin;
  byId("member-note").hidden = admin;
  // A disabled control is left out of the form data, so a member never sends a user filter.
  userSelect.disabled = !admin;
}

/** @param {AuditRecord} r */
const who = (r) => r.user_email ?? (r.slack_user_id ? `Slack user ${r.slack_user_id}` : r.user_id);
/** @param {string} s */
const surfaceLabel = (s) => SURFACES[/** @type {keyof typeof SURFACES} */ (s)] ?? s;
/** @param {string} o */
const outcomeLabel = (o) => OUTCOMES[/** @type {keyof typeof OUTCOMES} */ (o)] ?? o;
/** @param {AuditRecord["feedback"]} f */
const feedbackLabel = (f) => (f ? (f.value === "up" ? "Helpful" : "Not helpful") : "—");

/** @param {number} ms */
const duration = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** A local calendar day as the ISO instant it starts (or ends) at. @param {string} day @param {boolean} end */
function dayBound(day, end) {
  const d = new Date(`${day}T00:00:00`);
  if (end) d.setDate(d.getDate() + 1);
  return new Date(d.getTime() - (end ? 1 : 0)).toISOString();
}

function query() {
  const data = new FormData(form);
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  const surface = String(data.get("surface") ?? "");
  const user = String(data.get("user_id") ?? "");
  const from = String(data.get("from") ?? "");
  const to = String(data.get("to") ?? "");
  if (surface) params.set("surface", surface);
  if (user) params.set("user_id", user);
  if (from) params.set("from", dayBound(from, false));
  if (to) params.set("to", dayBound(to, true));
  return params;
}

/** Keeps the filters in the address bar (never the token) so a filtered view can be bookmarked. */
function rememberFilters() {
  const data = new FormData(form);
  const params = new URLSearchParams();
  for (const [k, v] of data) if (v) params.set(k, String(v));
  const search = params.toString();
  history.replaceState(null, "", search ? `?${search}` : location.pathname);
}

function restoreFilters() {
  const params = new URLSearchParams(location.search);
  for (const name of ["surface", "user_id", "from", "to"]) {
    if (name === "user_id" && !isAdmin) continue;
    const el = /** @type {HTMLInputElement | HTMLSelectElement | null} */ (form.elements.namedItem(name));
    const value = params.get(name);
    if (!el || !value) continue;
    if (el instanceof HTMLSelectElement && ![...el.options].some((o) => o.value === value)) {
      el.append(h("option", { value }, value));
    }
    el.value = value;
  }
}

/** @param {string} id @param {string} label */
function addUser(id, label) {
  if (users.has(id)) return;
  users.set(id, label);
  const existing = [...userSelect.options].find((o) => o.value === id);
  if (existing) existing.textContent = label;
  else userSelect.append(h("option", { value: id }, label));
}

/** @param {AuditRecord} r */
function row(r) {
  addUser(r.user_id, who(r));
  const view = h(
    "button",
    {
      type: "button",
      class: "btn small ghost",
      "aria-label": `View exchange: ${r.question.slice(0, 80)}`,
      onclick: () => show(r.id),
    },
    "View",
  );
  return h(
    "tr",
    {},
    h("td", { "data-label": "When" }, timeEl(r.created_at)),
    h("td", { "data-label": "Who", class: "cell-who" }, who(r)),
    h("td", { "data-label": "Where" }, surfaceLabel(r.surface)),
    h("td", { "data-label": "Question", class: "cell-question" }, r.question),
    h("td", { "data-label": "Outcome" }, h("span", { class: `badge outcome-${r.outcome}` }, outcomeLabel(r.outcome))),
    h("td", { "data-label": "Feedback" }, feedbackLabel(r.feedback)),
    h("td", { class: "actions-cell" }, view),
  );
}

/** @param {boolean} reset */
async function load(reset) {
  const params = query();
  if (!reset && cursor) params.set("cursor", cursor);
  more.disabled = true;
  say(status, "Loading…");
  try {
    const page = await api(`/api/audit?${params}`);
    if (reset) rowsEl.replaceChildren();
    const rows = page.records.map(row);
    rowsEl.append(...rows);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    const total = rowsEl.children.length;
    byId("audit-empty").hidden = total > 0;
    say(
      status,
      total
        ? `Showing ${total} ${total === 1 ? "exchange" : "exchanges"}${cursor ? "; older ones available" : ""}.`
        : "",
    );
    if (!reset) /** @type {HTMLElement | undefined} */ (rows[0]?.querySelector("button"))?.focus();
  } catch (e) {
    say(status, "");
    showPageError(e);
  } finally {
    more.disabled = false;
  }
}

/** @param {string} label @param {string | Node} value */
const meta = (label, value) => [h("dt", {}, label), h("dd", {}, value)];

/** @param {string} id */
async function show(id) {
  const body = byId("exchange-body");
  body.replaceChildren(h("p", {}, "Loading…"));
  const opened = openDialog(dialog);
  try {
    /** @type {AuditRecord} */
    const r = await api(`/api/audit/${encodeURIComponent(id)}`);
    const report = h("p", { class: "form-error", role: "alert" });
    const prefix = `x-${r.id.replace(/[^a-zA-Z0-9-]/g, "")}`;
    fill(
      body,
      h(
        "dl",
        { class: "meta" },
        ...meta("When", timeEl(r.created_at)),
        ...meta("Who", who(r)),
        ...meta("Where", surfaceLabel(r.surface)),
        ...(r.slack
          ? meta("Slack", `workspace ${r.slack.team_id}${r.slack.channel_id ? `, channel ${r.slack.channel_id}` : ""}`)
          : []),
        ...meta("Outcome", outcomeLabel(r.outcome)),
        ...meta("Answered by", `${r.model} in ${duration(r.latency_ms)}`),
        ...meta(
          "Feedback",
          r.feedback
            ? h(
                "span",
                {},
                `${feedbackLabel(r.feedback)} (${users.get(r.feedback.by) ?? r.feedback.by}, `,
                timeEl(r.feedback.at),
                ")",
              )
            : "None",
        ),
      ),
      h("h3", {}, "Question"),
      h("p", { class: "question-text" }, r.question),
      h("h3", {}, "Answer"),
      renderAnswerText(r.answer, r.sources, prefix),
      r.sources.length ? h("h3", {}, "Sources") : null,
      r.sources.length ? renderSources(r.sources, prefix, (m) => say(report, m)) : null,
      report,
    );
  } catch (e) {
    body.replaceChildren(h("p", { class: "form-error" }, messageOf(e)));
  }
  await opened;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  rememberFilters();
  load(true);
});
form.addEventListener("reset", () => {
  setTimeout(() => {
    rememberFilters();
    load(true);
  });
});
more.addEventListener("click", () => load(false));
byId("export").addEventListener("click", async () => {
  const button = /** @type {HTMLButtonElement} */ (byId("export"));
  button.disabled = true;
  say(status, "Preparing the export…");
  try {
    await download("/api/audit/export.csv", `enclave-audit-${new Date().toISOString().slice(0, 10)}.csv`);
    say(status, "Export downloaded.");
  } catch (e) {
    say(status, messageOf(e));
  } finally {
    button.disabled = false;
  }
});
focusCitedSources(byId("exchange-body"));

// The role remembered from the last visit avoids a flash of the other heading; /api/me settles it.
const remembered = getSession()?.role;
if (remembered) applyView(remembered);
const me = await startAppPage();
if (me) {
  isAdmin = me.role === "admin";
  applyView(me.role);
  if (isAdmin) {
    try {
      const { members } = await api("/api/members");
      for (const m of members) addUser(m.user_id, m.email);
    } catch {
      // the user list still fills from the records
    }
  }
  restoreFilters();
  await load(true);
}
