import { focusCitedSources, renderAnswerText, renderSources } from "./answer.js";
import { api } from "./api.js";
import { byId, fill, h, icon, say } from "./dom.js";
import { messageOf, startAppPage } from "./shell.js";

const form = /** @type {HTMLFormElement} */ (byId("ask-form"));
const question = /** @type {HTMLTextAreaElement} */ (byId("question"));
const submit = /** @type {HTMLButtonElement} */ (byId("ask-submit"));
const conversation = byId("conversation");
const status = byId("ask-status");
let count = 0;
let busy = false;

const OUTCOME_NOTES = {
  no_context: "Nothing in your documents answers this.",
  model_unavailable: "The answering service is unavailable right now.",
};

/**
 * @param {string} auditId
 * @returns {HTMLElement}
 */
function feedback(auditId) {
  const note = h("span", { class: "feedback-note", role: "status" });
  /** @type {HTMLButtonElement[]} */
  const buttons = [];
  /** @param {"up" | "down"} value */
  const send = async (value) => {
    try {
      await api(`/api/audit/${encodeURIComponent(auditId)}/feedback`, { body: { value } });
      for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.value === value));
      say(note, "Thanks for the feedback.");
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
          "aria-pressed": "false",
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
 * @param {{ answer: string, sources: import("./answer.js").Source[], outcome: string, audit_id: string }} result
 * @param {string} prefix
 */
function showAnswer(slot, result, prefix) {
  const note = OUTCOME_NOTES[/** @type {keyof typeof OUTCOME_NOTES} */ (result.outcome)];
  const report = h("p", { class: "form-error", role: "alert" });
  fill(
    slot,
    h("h2", { class: "visually-hidden" }, "Answer"),
    note ? h("p", { class: `outcome outcome-${result.outcome}` }, note) : null,
    renderAnswerText(result.answer, result.sources, prefix),
    result.sources.length
      ? h(
          "div",
          { class: "answer-sources" },
          h("h3", {}, "Sources"),
          renderSources(result.sources, prefix, (m) => say(report, m)),
        )
      : null,
    report,
    feedback(result.audit_id),
  );
  slot.removeAttribute("aria-busy");
}

/** @param {string} text */
async function ask(text) {
  count++;
  const prefix = `a${count}`;
  byId("ask-empty").hidden = true;
  const slot = h(
    "div",
    { class: "answer", "aria-busy": "true" },
    h("p", { class: "thinking" }, "Searching your documents…"),
  );
  const exchange = h(
    "article",
    { class: "exchange", "aria-label": `Question ${count}` },
    h("div", { class: "question" }, h("span", { class: "visually-hidden" }, "You asked: "), text),
    slot,
  );
  conversation.append(exchange);
  exchange.scrollIntoView({ block: "end", behavior: "smooth" });
  say(status, "Searching your documents…");
  try {
    const result = await api("/api/ask", { body: { question: text, surface: "web" } });
    showAnswer(slot, result, prefix);
    say(status, result.sources.length ? `Answered with ${result.sources.length} sources.` : "Answered.");
  } catch (e) {
    slot.removeAttribute("aria-busy");
    slot.replaceChildren(h("p", { class: "form-error" }, messageOf(e)));
    say(status, messageOf(e));
    if (!question.value) question.value = text;
  }
  exchange.scrollIntoView({ block: "nearest", behavior: "smooth" });
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

focusCitedSources(conversation);

const me = await startAppPage();
if (me) {
  question.focus();
  try {
    const { documents } = await api("/api/documents");
    byId("ask-no-docs").hidden = documents.length > 0;
  } catch {
    // the hint is optional
  }
}
