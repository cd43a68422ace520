import { api, openDocument, uploadFile } from "./api.js";
import { announce, byId, formatBytes, h, openDialog, say, timeEl } from "./dom.js";
import { messageOf, showPageError, startAppPage } from "./shell.js";

/**
 * @typedef {import("./api.js").Visibility} Visibility
 * @typedef {{ id: string, title: string, status: "queued" | "indexing" | "ready" | "failed", pages: number, chunks: number,
 *   error?: { code: string, message: string }, content_type: string, size_bytes: number, source: string,
 *   visibility?: Visibility, uploaded_by?: string, can_read?: boolean,
 *   created_at: string, updated_at: string }} Doc
 */

const POLL_MS = 1500;
const PARALLEL_UPLOADS = 2;
const STATUS_LABEL = { queued: "Waiting", indexing: "Indexing…", ready: "Ready", failed: "Failed" };

const rowsEl = byId("doc-rows");
const statusEl = byId("docs-status");
const errorEl = byId("docs-error");
const filter = /** @type {HTMLInputElement} */ (byId("filter"));
const statusFilter = /** @type {HTMLSelectElement} */ (byId("status-filter"));
const dialog = /** @type {HTMLDialogElement} */ (byId("delete-dialog"));

/** @type {Map<string, Doc>} */
const docs = new Map();
/** @type {Map<string, HTMLTableRowElement>} */
const rows = new Map();
/** @type {ReturnType<typeof setTimeout> | undefined} */
let pollTimer;
let loaded = false;
/** @type {import("./api.js").Me | null} */
let me = null;
/** Member user id -> email, for admins (who may list the members). */
/** @type {Map<string, string>} */
const memberEmails = new Map();

/** @param {Doc} d */
const processing = (d) => d.status === "queued" || d.status === "indexing";

/** An admin's governance view lists documents they may not read: those cannot be opened. */
const readable = (/** @type {Doc} */ d) => d.can_read !== false;

/**
 * A person the API names by id (a web user id, `slack:<team>:<user>` or `cli`), in words; undefined
 * when this page cannot tell who it is.
 * @param {string | undefined} id
 */
function personName(id) {
  if (!id) return undefined;
  if (id === "cli") return "the command line";
  const slack = /^slack:[^:]+:(.+)$/.exec(id);
  if (slack) return `Slack user ${slack[1]}`;
  const email = memberEmails.get(id);
  if (email) return email === me?.email ? "you" : email;
  return undefined;
}

/**
 * Who may read a document, in plain words.
 * @param {Doc} d
 */
function readersText(d) {
  const v = d.visibility;
  if (!v || v.kind === "organisation") return "Everyone in the organisation";
  if (v.kind === "private") {
    if (readable(d)) return "Only you";
    const owner = personName(v.owner);
    return owner && owner !== "you" ? `Only ${owner}` : "Only the person who added it";
  }
  const conversations = v.conversations ?? [];
  if (conversations.length > 1) return `Slack: ${conversations.length} conversations`;
  return `Members of Slack channel ${v.channel_id ?? conversations[0]?.channel_id ?? "(unknown)"}`;
}

/** @param {Doc} d */
function titleCell(d) {
  return h(
    "td",
    { "data-label": "Title", class: "doc-title" },
    readable(d)
      ? h(
          "button",
          {
            type: "button",
            class: "link-button",
            title: "Open the original",
            onclick: () =>
              openDocument({ id: d.id, contentType: d.content_type }).catch((e) => say(errorEl, messageOf(e))),
          },
          d.title,
        )
      : h("span", { class: "doc-title-text" }, d.title),
    d.source === "slack" ? h("span", { class: "tag" }, "from Slack") : null,
    readable(d)
      ? null
      : h(
          "span",
          { class: "tag tag-governance", title: "Listed for governance: you cannot open it" },
          "Governance only",
        ),
  );
}

/** @param {Doc} d */
function readersCell(d) {
  const v = d.visibility;
  const channels =
    v?.kind === "slack_conversation" && (v.conversations?.length ?? 0) > 1
      ? v.conversations.map((c) => c.channel_id).join(", ")
      : undefined;
  // Admins see who added each document; members only list what they may read.
  const adder = me?.role === "admin" ? personName(d.uploaded_by) : undefined;
  return h(
    "td",
    { "data-label": "Who can read", class: "doc-readers" },
    h("span", { class: `readers readers-${v?.kind ?? "organisation"}`, title: channels }, readersText(d)),
    adder ? h("p", { class: "hint" }, `Added by ${adder}`) : null,
  );
}

/** @param {Doc} d */
function statusCell(d) {
  return h(
    "td",
    { "data-label": "Status" },
    h("span", { class: `badge badge-${d.status}` }, STATUS_LABEL[d.status] ?? d.status),
    d.status === "failed" && d.error ? h("p", { class: "error-text" }, d.error.message) : null,
  );
}

/** @param {Doc} d */
function buildRow(d) {
  const del = h(
    "button",
    {
      type: "button",
      class: "btn small ghost danger-text",
      "aria-label": `Delete “${d.title}”`,
      onclick: () => remove(d.id),
    },
    "Delete",
  );
  const tr = /** @type {HTMLTableRowElement} */ (h("tr", { "data-id": d.id }));
  tr.append(
    titleCell(d),
    readersCell(d),
    statusCell(d),
    h("td"),
    h("td"),
    h("td"),
    h("td", { class: "actions-cell" }, del),
  );
  fillRow(tr, d, true);
  return tr;
}

/**
 * Updates a row in place, keeping its buttons (and the keyboard focus on them) where nothing changed.
 * @param {HTMLTableRowElement} tr
 * @param {Doc} d
 * @param {boolean} fresh
 */
function fillRow(tr, d, fresh) {
  const old = fresh ? undefined : /** @type {Doc | undefined} */ (JSON.parse(tr.dataset.doc ?? "null") ?? undefined);
  const cells = tr.cells;
  const access = JSON.stringify([d.visibility ?? null, d.uploaded_by ?? null, readable(d)]);
  if (old && (old.title !== d.title || old.access !== access)) cells[0]?.replaceWith(titleCell(d));
  if (old && old.access !== access) cells[1]?.replaceWith(readersCell(d));
  if (!old || old.status !== d.status || old.error?.message !== d.error?.message) cells[2]?.replaceWith(statusCell(d));
  const pages = tr.cells[3];
  const size = tr.cells[4];
  const added = tr.cells[5];
  if (pages) {
    pages.dataset.label = "Pages";
    pages.textContent = d.status === "ready" ? String(d.pages) : "—";
  }
  if (size) {
    size.dataset.label = "Size";
    size.textContent = formatBytes(d.size_bytes);
  }
  if (added && fresh) {
    added.dataset.label = "Added";
    added.replaceChildren(timeEl(d.created_at));
  }
  tr.dataset.doc = JSON.stringify({ title: d.title, status: d.status, error: d.error, access });
}

function matches(/** @type {Doc} */ d) {
  const q = filter.value.trim().toLowerCase();
  const s = statusFilter.value;
  if (q && !d.title.toLowerCase().includes(q)) return false;
  if (s === "processing") return processing(d);
  return !s || d.status === s;
}

function render() {
  const sorted = [...docs.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
  let shown = 0;
  sorted.forEach((d, i) => {
    let tr = rows.get(d.id);
    if (!tr) {
      tr = buildRow(d);
      rows.set(d.id, tr);
    } else {
      fillRow(tr, d, false);
    }
    tr.hidden = !matches(d);
    if (!tr.hidden) shown++;
    if (rowsEl.children[i] !== tr) rowsEl.insertBefore(tr, rowsEl.children[i] ?? null);
  });
  for (const [id, tr] of rows) {
    if (!docs.has(id)) {
      tr.remove();
      rows.delete(id);
    }
  }
  const busy = sorted.filter(processing).length;
  const failed = sorted.filter((d) => d.status === "failed").length;
  const parts = [`${sorted.length} ${sorted.length === 1 ? "document" : "documents"}`];
  if (busy) parts.push(`${busy} processing`);
  if (failed) parts.push(`${failed} failed`);
  byId("doc-count").textContent = sorted.length ? parts.join(" · ") : "";
  const empty = byId("docs-empty");
  empty.hidden = shown > 0;
  empty.textContent =
    sorted.length === 0
      ? "No documents yet. Upload a PDF, text or Markdown file above."
      : "No documents match the filter.";
  rowsEl.closest("table")?.classList.toggle("is-empty", shown === 0);
  byId("governance-note").hidden = !sorted.some((d) => !readable(d));
}

/** @param {Doc[]} list */
function merge(list) {
  const announcements = [];
  const seen = new Set();
  for (const d of list) {
    seen.add(d.id);
    const before = docs.get(d.id);
    if (before && processing(before) && !processing(d)) {
      announcements.push(
        d.status === "ready" ? `${d.title} is ready.` : `${d.title} failed: ${d.error?.message ?? "unknown reason"}`,
      );
    }
    docs.set(d.id, d);
  }
  for (const id of [...docs.keys()]) if (!seen.has(id)) docs.delete(id);
  if (announcements.length) announce(statusEl, announcements.join(" "));
}

async function load() {
  clearTimeout(pollTimer);
  try {
    const { documents } = await api("/api/documents");
    merge(documents);
    loaded = true;
    render();
  } catch (e) {
    if (!loaded) showPageError(e);
    if (/** @type {{ status?: number }} */ (e).status === 401) return;
  }
  if ([...docs.values()].some(processing)) pollTimer = setTimeout(load, POLL_MS);
}

/** @param {string} id */
async function remove(id) {
  const d = docs.get(id);
  if (!d) return;
  byId("delete-name").textContent = d.title;
  if ((await openDialog(dialog)) !== "delete") return;
  say(errorEl, "");
  const tr = rows.get(id);
  const next = /** @type {HTMLTableRowElement | null} */ (tr?.nextElementSibling ?? tr?.previousElementSibling ?? null);
  try {
    await api(`/api/documents/${encodeURIComponent(id)}`, { method: "DELETE" });
    docs.delete(id);
    render();
    announce(statusEl, `Deleted ${d.title}.`);
    const target = /** @type {HTMLElement | null} */ (next?.querySelector(".actions-cell button") ?? null);
    (target ?? filter).focus();
  } catch (e) {
    say(errorEl, messageOf(e));
  }
}

/** @param {File} file */
function uploadItem(file) {
  const bar = /** @type {HTMLProgressElement} */ (
    h("progress", { max: "100", value: "0", "aria-label": `Uploading ${file.name}` })
  );
  const state = h("span", { class: "upload-state" }, "Waiting…");
  const li = h("li", { class: "upload" }, h("span", { class: "upload-name" }, file.name), bar, state);
  byId("uploads").prepend(li);
  return {
    /** @param {number} f */
    progress(f) {
      bar.value = Math.round(f * 100);
      state.textContent = f < 1 ? `${Math.round(f * 100)}%` : "Processing…";
    },
    /** @param {string} text @param {"ok" | "error"} kind */
    done(text, kind) {
      bar.value = 100;
      bar.hidden = kind === "error";
      state.textContent = text;
      li.classList.add(kind === "ok" ? "is-done" : "is-error");
    },
  };
}

/** Who may read the next uploads, as chosen above the drop zone. */
function chosenVisibility() {
  const checked = /** @type {HTMLInputElement | null} */ (document.querySelector('input[name="visibility"]:checked'));
  return checked?.value === "private" ? "private" : "organisation";
}

/** @param {File[]} files */
async function uploadAll(files) {
  if (!files.length) return;
  const visibility = chosenVisibility();
  announce(statusEl, `Uploading ${files.length} ${files.length === 1 ? "file" : "files"}.`);
  const queue = files.map((file) => ({ file, item: uploadItem(file) }));
  let failures = 0;
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const { file, item } = job;
      try {
        const result = await uploadFile(file, (f) => item.progress(f), { visibility });
        item.done(
          result.duplicate ? `Already in the library as “${result.document.title}”.` : "Uploaded. Indexing…",
          "ok",
        );
        const known = docs.get(result.document.id);
        if (!known) {
          const now = new Date().toISOString();
          docs.set(result.document.id, {
            ...result.document,
            status: "queued",
            pages: 0,
            chunks: 0,
            content_type: file.type,
            size_bytes: file.size,
            source: "upload",
            can_read: true,
            created_at: now,
            updated_at: now,
          });
          render();
        }
      } catch (e) {
        failures++;
        item.done(messageOf(e), "error");
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_UPLOADS, files.length) }, worker));
  announce(
    statusEl,
    failures
      ? `${failures} of ${files.length} uploads failed.`
      : `Uploaded ${files.length} ${files.length === 1 ? "file" : "files"}.`,
  );
  await load();
}

const input = /** @type {HTMLInputElement} */ (byId("files"));
input.addEventListener("change", () => {
  const files = [...(input.files ?? [])];
  input.value = "";
  uploadAll(files);
});

const dropzone = byId("dropzone");
// A file dropped anywhere else would make the browser navigate away to it.
for (const type of ["dragover", "drop"]) window.addEventListener(type, (e) => e.preventDefault());
dropzone.addEventListener("dragenter", () => dropzone.classList.add("is-over"));
dropzone.addEventListener("dragover", (e) => {
  e.preventDefault();
  dropzone.classList.add("is-over");
});
dropzone.addEventListener("dragleave", (e) => {
  if (!dropzone.contains(/** @type {Node | null} */ (e.relatedTarget))) dropzone.classList.remove("is-over");
});
dropzone.addEventListener("drop", (e) => {
  e.preventDefault();
  dropzone.classList.remove("is-over");
  uploadAll([...(e.dataTransfer?.files ?? [])]);
});

filter.addEventListener("input", render);
statusFilter.addEventListener("change", render);

if (new URLSearchParams(location.search).has("welcome")) {
  byId("welcome").hidden = false;
  history.replaceState(null, "", location.pathname);
}

/** Admins see who added each document: the member list turns user ids into emails. */
async function loadMembers() {
  if (me?.role !== "admin") return;
  try {
    const { members } = await api("/api/members");
    for (const m of members) memberEmails.set(m.user_id, m.email);
  } catch {
    // Only a nicety: without it the page says less about who added what.
  }
}

me = await startAppPage();
if (me) {
  await loadMembers();
  await load();
}
