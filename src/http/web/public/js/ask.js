import { focusCitedSources, renderAnswerText, renderSources } from "./answer.js";
import { api, apiStream, userDataKey } from "./api.js";
import { byId, fill, h, icon, say } from "./dom.js";
import { messageOf, onSessionEnd, startAppPage } from "./shell.js";

const form = /** @type {HTMLFormElement} */ (byId("ask-form"));
const question = /** @type {HTMLTextAreaElement} */ (byId("question"));
const submit = /** @type {HTMLButtonElement} */ (byId("ask-submit"));
const restart = /** @type {HTMLButtonElement} */ (byId("new-conversation"));
const conversation = byId("conversation");
const empty = byId("ask-empty");
const status = byId("ask-status");
let count = 0;
let busy = false;
/** The question being answered, to stop when the conversation is cleared. @type {AbortController | null} */
let inFlight = null;

/**
 * @typedef {{ answer: string, note?: string, sources: import("./answer.js").Source[], outcome: string,
 *   audit_id: string }} Answer
 * @typedef {{ question: string, answer: Answer, feedback?: "up" | "down" }} Exchange
 */

/** The conversation so far, oldest first; kept in this tab for the logged-in user across reloads. @type {Exchange[]} */
let exchanges = [];

/** Exchanges kept across reloads (older ones stay on screen until the page is left). */
const KEPT_EXCHANGES = 50;
/** Earlier turns sent with a question; the server keeps as many, each cut to as many characters. */
const HISTORY_TURNS = 12;
const HISTORY_TURN_CHARS = 2000;

const OUTCOME_NOTES = {
  no_context: "Nothing in your documents answers this.",
  model_unavailable: "The answering service is unavailable right now.",
};

const reducedMotion = () => matchMedia("(prefers-reduced-motion: reduce)").matches;
const scrollBehavior = () => (reducedMotion() ? "auto" : "smooth");

/** @param {unknown} value @returns {value is Exchange} */
function isExchange(value) {
  const e = /** @type {Partial<Exchange> | null} */ (value);
  return (
    typeof e?.question === "string" &&
    typeof e.answer?.answer === "string" &&
    typeof e.answer.outcome === "string" &&
    typeof e.answer.audit_id === "string" &&
    Array.isArray(e.answer.sources)
  );
}

/** @returns {Exchange[]} */
function loadConversation() {
  const key = userDataKey("conversation");
  if (!key) return [];
  try {
    const stored = JSON.parse(sessionStorage.getItem(key) ?? "[]");
    return Array.isArray(stored) ? stored.filter(isExchange) : [];
  } catch {
    return [];
  }
}

function saveConversation() {
  const key = userDataKey("conversation");
  if (!key) return;
  try {
    if (exchanges.length) sessionStorage.setItem(key, JSON.stringify(exchanges.slice(-KEPT_EXCHANGES)));
    else sessionStorage.removeItem(key);
  } catch {
    // storage full or unavailable: the conversation still works, it just won't survive a reload
  }
}

/** The earlier turns to send with the next question, oldest first. */
function history() {
  return exchanges
    .flatMap((e) => [
      { role: "user", text: e.question.slice(0, HISTORY_TURN_CHARS) },
      { role: "assistant", text: e.answer.answer.slice(0, HISTORY_TURN_CHARS) },
    ])
    .slice(-HISTORY_TURNS);
}

function showConversationState() {
  const hasExchanges = conversation.querySelector(".exchange") !== null;
  empty.hidden = hasExchanges;
  restart.hidden = !hasExchanges;
}

/**
 * @param {Exchange} record
 * @returns {HTMLElement}
 */
function feedback(record) {
  const note = h("span", { class: "feedback-note", role: "status" });
  /** @type {HTMLButtonElement[]} */
  const buttons = [];
  /** @param {"up" | "down"} value */
  const send = async (value) => {
    try {
      await api(`/api/audit/${encodeURIComponent(record.answer.audit_id)}/feedback`, { body: { value } });
      for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.value === value));
      say(note, "Thanks for the feedback.");
      record.feedback = value;
      if (exchanges.includes(record)) saveConversation();
    } catch (e) {
      say(note, messageOf(e));
    }
  };
  for (const [value, label] of /** @type {const} */ ([
    ["up", "Helpful"],
    ["down", "Not helpful"],
  ])) {
    const b = /** @type {HTMLButtonElement} */ (
      h(
        "button",
        {
          type: "button",
          class: "btn small ghost",
          "aria-pressed": String(record.feedback === value),
          "data-value": value,
          onclick: () => send(value),
        },
        icon(value),
        label,
      )
    );
    buttons.push(b);
  }
  return h("div", { class: "feedback", role: "group", "aria-label": "Was this answer helpful?" }, ...buttons, note);
}

/**
 * @param {HTMLElement} slot
 * @param {Exchange} record
 * @param {string} prefix
 */
function showAnswer(slot, record, prefix) {
  const result = record.answer;
  const outcome = OUTCOME_NOTES[/** @type {keyof typeof OUTCOME_NOTES} */ (result.outcome)];
  const report = h("p", { class: "form-error", role: "alert" });
  fill(
    slot,
    h("h2", { class: "visually-hidden" }, "Answer"),
    outcome ? h("p", { class: `outcome outcome-${result.outcome}` }, outcome) : null,
    renderAnswerText(result.answer, result.sources, prefix),
    // How the answer was made (no language model configured): beside the answer, not part of it.
    result.note ? h("p", { class: "answer-note" }, result.note) : null,
    result.sources.length
      ? h(
          "div",
          { class: "answer-sources" },
          h("h3", {}, "Sources"),
          renderSources(result.sources, prefix, (m) => say(report, m)),
        )
      : null,
    report,
    feedback(record),
  );
  slot.removeAttribute("aria-busy");
}

/**
 * Adds a question and the place its answer goes to the conversation.
 * @param {string} text
 */
function addExchange(text) {
  count++;
  const slot = h("div", { class: "answer" });
  const exchange = h(
    "article",
    { class: "exchange", "aria-label": `Question ${count}` },
    h("div", { class: "question" }, h("span", { class: "visually-hidden" }, "You asked: "), text),
    slot,
  );
  conversation.append(exchange);
  showConversationState();
  return { exchange, slot, prefix: `a${count}` };
}

/** @param {string} text */
async function ask(text) {
  const { exchange, slot, prefix } = addExchange(text);
  slot.setAttribute("aria-busy", "true");
  slot.append(h("p", { class: "thinking" }, "Searching your documents…"));
  exchange.scrollIntoView({ block: "end", behavior: scrollBehavior() });
  say(status, "Searching your documents…");
  const controller = new AbortController();
  inFlight = controller;
  // The answer as it is written, as text (it quotes untrusted documents); replaced by the final
  // rendering, with its linked citations and sources, when it is complete.
  const live = h("p");
  let shown = "";
  try {
    /** @type {Answer} */
    const result = await apiStream("/api/ask", {
      body: { question: text, surface: "web", history: history() },
      signal: controller.signal,
      onEvent: (event, data) => {
        if (event !== "delta" || typeof data?.text !== "string") return;
        if (!shown) fill(slot, h("div", { class: "answer-text answer-streaming" }, live));
        shown += data.text;
        live.textContent = shown;
      },
    });
    /** @type {Exchange} */
    const record = { question: text, answer: result };
    showAnswer(slot, record, prefix);
    exchanges.push(record);
    saveConversation();
    say(status, result.sources.length ? `Answered with ${result.sources.length} sources.` : "Answered.");
  } catch (e) {
    // Cleared while it was being answered: the exchange is gone already.
    if (controller.signal.aborted) return;
    slot.removeAttribute("aria-busy");
    slot.replaceChildren(h("p", { class: "form-error" }, messageOf(e)));
    say(status, messageOf(e));
    if (!question.value) question.value = text;
  } finally {
    if (inFlight === controller) inFlight = null;
  }
  exchange.scrollIntoView({ block: "nearest", behavior: scrollBehavior() });
}

/** Forgets the conversation: on screen, in this tab's storage, and the answer still coming. */
function clearConversation() {
  inFlight?.abort();
  inFlight = null;
  exchanges = [];
  saveConversation();
  for (const el of conversation.querySelectorAll(".exchange")) el.remove();
  count = 0;
  showConversationState();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = question.value.trim();
  if (!text || busy) return;
  busy = true;
  submit.disabled = true;
  question.value = "";
  try {
    await ask(text);
  } finally {
    busy = false;
    submit.disabled = false;
    question.focus();
  }
});

question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

restart.addEventListener("click", () => {
  clearConversation();
  say(status, "Started a new conversation.");
  question.focus();
});

// Logging out (or the session found gone) wipes the page; the stored conversation goes with the session.
onSessionEnd(() => {
  inFlight?.abort();
  exchanges = [];
});

focusCitedSources(conversation);

const me = await startAppPage();
if (me) {
  exchanges = loadConversation();
  for (const record of exchanges) {
    const { slot, prefix } = addExchange(record.question);
    showAnswer(slot, record, prefix);
  }
  conversation.querySelector(".exchange:last-of-type")?.scrollIntoView({ block: "end" });
  question.focus();
  try {
    const { documents } = await api("/api/documents");
    byId("ask-no-docs").hidden = documents.length > 0;
  } catch {
    // the hint is optional
  }
}
