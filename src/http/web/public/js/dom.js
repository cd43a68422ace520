// DOM helpers. Every piece of data reaches the page as a text node or an attribute value set through
// the DOM: document titles, questions and answers are untrusted, so nothing here parses HTML.

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {Record<string, string | number | boolean | EventListener | null | undefined>} Attrs
 */

/**
 * Creates an element. Attributes named `on<event>` become listeners; `true` sets a boolean attribute,
 * `false`, `null` and `undefined` leave it out.
 * @param {string} tag
 * @param {Attrs} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

const ICONS = {
  up: "M7 10v12M15 5.9 14 10h5.8a2 2 0 0 1 1.9 2.6l-2.3 8A2 2 0 0 1 17.5 22H4a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h2.8a2 2 0 0 0 1.8-1.1L12 2a3.1 3.1 0 0 1 3 3.9Z",
  down: "M17 14V2M9 18.1 10 14H4.2a2 2 0 0 1-1.9-2.6l2.3-8A2 2 0 0 1 6.5 2H20a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2h-2.8a2 2 0 0 0-1.8 1.1L12 22a3.1 3.1 0 0 1-3-3.9Z",
};

/**
 * A decorative stroke icon (hidden from assistive technology: the control carries the words).
 * @param {keyof typeof ICONS} name
 */
export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  for (const [k, v] of Object.entries({
    viewBox: "0 0 24 24",
    class: "icon",
    "aria-hidden": "true",
    focusable: "false",
    fill: "none",
    stroke: "currentColor",
    "stroke-width": "2",
    "stroke-linecap": "round",
    "stroke-linejoin": "round",
  })) {
    svg.setAttribute(k, v);
  }
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

/**
 * Replaces an element's children, skipping empty ones like `h` does.
 * @param {Element} el
 * @param {...(Child | Child[])} children
 */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * @param {Element} el
 * @param {(Child | Child[])[]} children
 */
function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * The element with this id; fails loudly when a page and its module disagree.
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return /** @type {T} */ (el);
}

/**
 * Replaces an element's text (an empty string clears it, which hides `:empty` message boxes).
 * @param {Element} el
 * @param {string} text
 */
export function say(el, text) {
  el.textContent = text;
}

/**
 * Adds a message to a live region without wiping the one before, so two quick announcements (an
 * upload summary, then "X is ready") are both read. Keeps the last few.
 * @param {Element} region
 * @param {string} text
 */
export function announce(region, text) {
  region.append(h("p", {}, text));
  while (region.childElementCount > 4) region.firstElementChild?.remove();
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

/** @param {string} iso */
export function formatDateTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

/** @param {string} iso */
export function formatDate(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateOnly.format(d);
}

/** @param {number} n */
export function formatBytes(n) {
  if (n >= 1000 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1000) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${n} B`;
}

/**
 * `<time>` element with a readable date and the machine-readable one.
 * @param {string} iso
 * @param {boolean} [withTime]
 */
export function timeEl(iso, withTime = true) {
  return h("time", { datetime: iso }, withTime ? formatDateTime(iso) : formatDate(iso));
}

/**
 * Opens a `<dialog>` and resolves with its return value; focus goes back to the opener afterwards.
 * @param {HTMLDialogElement} dialog
 * @returns {Promise<string>}
 */
export function openDialog(dialog) {
  const opener = /** @type {HTMLElement | null} */ (document.activeElement);
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (opener?.isConnected) opener.focus();
        resolve(dialog.returnValue);
      },
      { once: true },
    );
  });
}

/**
 * Copies text and reports it in a status element.
 * @param {string} text
 * @param {Element} status
 * @param {string} [done]
 */
export async function copyText(text, status, done = "Copied.") {
  try {
    await navigator.clipboard.writeText(text);
    say(status, done);
  } catch {
    say(status, "Copy did not work here: select the text and copy it by hand.");
  }
}
