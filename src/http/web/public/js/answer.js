// Renders an answer with its numbered sources. Citations like [2] become links to source 2; all text
// goes in as text nodes (answers quote untrusted documents).
import { openDocument } from "./api.js";
import { h } from "./dom.js";
import { messageOf } from "./shell.js";

/**
 * @typedef {{ n: number, document_id: string, title: string, page: number, snippet: string, score: number, link?: string }} Source
 */

/**
 * @param {string} text
 * @param {Source[]} sources
 * @param {string} prefix unique per answer on the page, for the source anchors
 * @returns {HTMLElement}
 */
export function renderAnswerText(text, sources, prefix) {
  const known = new Map(sources.map((s) => [s.n, s]));
  const body = h("div", { class: "answer-text" });
  for (const paragraph of text.split(/\n{2,}/)) {
    if (!paragraph.trim()) continue;
    const p = h("p");
    let last = 0;
    for (const match of paragraph.matchAll(/\[(\d{1,3})\]/g)) {
      const source = known.get(Number(match[1]));
      if (!source) continue;
      p.append(paragraph.slice(last, match.index));
      p.append(
        h(
          "a",
          {
            class: "cite",
            href: `#${prefix}-src-${source.n}`,
            "aria-label": `Source ${source.n}: ${source.title}, page ${source.page}`,
          },
          `[${source.n}]`,
        ),
      );
      last = (match.index ?? 0) + match[0].length;
    }
    p.append(paragraph.slice(last));
    body.append(p);
  }
  return body;
}

/** Only web links leave the page (a stored link could be `javascript:`). @param {string | undefined} link */
function safeLink(link) {
  if (!link) return null;
  try {
    const url = new URL(link);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * @param {Source[]} sources
 * @param {string} prefix
 * @param {(message: string) => void} report where to say that opening failed
 */
export function renderSources(sources, prefix, report) {
  const list = h("ol", { class: "sources" });
  for (const s of sources) {
    const open = h(
      "button",
      {
        type: "button",
        class: "source-open",
        onclick: () => {
          openDocument({ id: s.document_id, page: s.page }).catch((e) => report(messageOf(e)));
        },
      },
      h("span", { class: "source-title" }, s.title),
      h("span", { class: "source-page" }, `page ${s.page}`),
    );
    const slack = safeLink(s.link);
    list.append(
      h(
        "li",
        { id: `${prefix}-src-${s.n}`, tabindex: "-1", class: "source" },
        h("span", { class: "source-n", "aria-hidden": "true" }, String(s.n)),
        h(
          "div",
          { class: "source-body" },
          open,
          slack
            ? h(
                "a",
                { href: slack, class: "source-link", target: "_blank", rel: "noopener noreferrer" },
                "Open in Slack",
              )
            : null,
          s.snippet ? h("blockquote", { class: "snippet" }, s.snippet) : null,
        ),
      ),
    );
  }
  return list;
}

/**
 * Following a [n] link moves focus to the source, so keyboard users land where they jumped.
 * @param {Element} root
 */
export function focusCitedSources(root) {
  root.addEventListener("click", (event) => {
    const target = /** @type {Element} */ (event.target);
    const link = target.closest?.("a.cite");
    if (!link) return;
    const id = link.getAttribute("href")?.slice(1);
    const item = id ? document.getElementById(id) : null;
    if (!item) return;
    event.preventDefault();
    item.scrollIntoView({ block: "nearest" });
    item.focus();
  });
}
