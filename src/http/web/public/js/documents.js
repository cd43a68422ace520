import { api, openDocument, uploadFile } from "./api.js";
import { announce, byId, formatBytes, h, openDialog, say, timeEl } from "./dom.js";
import { messageOf, onPageResume, onSessionEnd, showPageError, startAppPage } from "./shell.js";

/**
 * @typedef {import("./api.js").Visibility} Visibility
 * @typedef {{ id: string, title: string, status: "queued" | "indexing" | "ready" | "failed", pages: number, chunks: number,
 *   error?: { code: string, message: string }, content_type: string, size_bytes: number, source: string,
 *   visibility?: Visibility, uploaded_by?: string, can_read?: boolean,
 *   progress?: { pages_done: number, pages_total: number },
 *   created_at: string, updated_at: string }} Doc
 * @typedef {{ show(d: Doc): void, gone(): void }} UploadItem
 */

/**
 * Polling while documents are being indexed: soon after the state changes, every couple of seconds
 * while the page count moves, then less and less often while nothing changes (a busy worker), never
 * slower than the cap; failed requests back off further. Only while the page is shown and the
 * session lasts.
 */
const POLL = { firstMs: 1000, progressMs: 2000, growth: 1.5, maxMs: 8000, errorMaxMs: 30_000 };
const PARALLEL_UPLOADS = 2;
const STATUS_LABEL = { queued: "Waiting", indexing: "Indexing…", ready: "Ready", failed: "Failed" };
// The page is in English, so are its numbers: "1,500 pages".
const numbers = new Intl.NumberFormat("en");

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
let listDelay = POLL.firstMs;
let loaded = false;
/** While the page is hidden (left for another, maybe kept in the back/forward cache), nothing polls. */
let paused = false;
/** Upload rows following their document, by document id. */
/** @type {Map<string, Set<UploadItem>>} */
const followers = new Map();
/** The per-document polls behind those rows. */
/** @type {Map<string, { delay: number, timer?: ReturnType<typeof setTimeout>, abort?: AbortController }>} */
const tracks = new Map();
/** @type {import("./api.js").Me | null} */
let me = null;
/** Member user id -> email, for admins (who may list the members). */
/** @type {Map<string, string>} */
const memberEmails = new Map();

/** @param {Doc} d */
const processing = (d) => d.status === "queued" || d.status === "indexing";

/** @param {number} n @param {string} one @param {string} many */
const plural = (n, one, many) => `${numbers.format(n)} ${n === 1 ? one : many}`;

/**
 * How far indexing got, when the server knows the number of pages (only while `indexing`).
 * @param {Doc} d
 */
function pagesProgress(d) {
  const p = d.status === "indexing" ? d.progress : undefined;
  if (!p || !Number.isFinite(p.pages_total) || p.pages_total <= 0) return undefined;
  const total = p.pages_total;
  const done = Math.min(Math.max(0, Number(p.pages_done) || 0), total);
  return { done, total, text: `${numbers.format(done)} of ${plural(total, "page", "pages")}` };
}

/**
 * What is happening to a document that is not settled yet, in words.
 * @param {Doc} d
 */
function workText(d) {
  if (d.status === "queued") return "In line to be indexed";
  return pagesProgress(d)?.text ?? "Reading the file…";
}

/**
 * Shows indexing progress on a bar: how far when the total is known, else indeterminate (moving).
 * @param {HTMLProgressElement} bar
 * @param {Doc} d
 */
function setBar(bar, d) {
  const p = pagesProgress(d);
  if (p) {
    bar.max = p.total;
    bar.value = p.done;
  } else {
    bar.removeAttribute("value");
  }
}

/**
 * The final state of a document in one sentence, for the upload list and announcements.
 * @param {Doc} d
 */
function settledText(d) {
  if (d.status === "ready")
    return `Ready: ${plural(d.pages, "page", "pages")}, ${plural(d.chunks, "passage", "passages")}.`;
  return `Failed: ${d.error?.message ?? "the file could not be indexed."}`;
}

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
    { "data-label": "Status", class: "doc-status" },
    h("span", { class: `badge badge-${d.status}` }, STATUS_LABEL[d.status] ?? d.status),
    processing(d) ? progressLine(d) : null,
    d.status === "failed" && d.error ? h("p", { class: "error-text" }, d.error.message) : null,
  );
}

/**
 * The line under the badge while a document is queued or indexing: a bar and "120 of 1,500 pages".
 * It is there from the start (queued) so the row does not grow when the first numbers arrive.
 * @param {Doc} d
 */
function progressLine(d) {
  const bar = /** @type {HTMLProgressElement} */ (h("progress", { "aria-label": `Indexing ${d.title}` }));
  setBar(bar, d);
  return h("span", { class: "doc-progress" }, bar, h("span", { class: "doc-progress-text" }, workText(d)));
}

/**
 * Moves a row's progress line on without rebuilding the cell (no flicker, focus and layout stay).
 * @param {HTMLTableRowElement} tr
 * @param {Doc} d
 */
function updateProgress(tr, d) {
  const bar = /** @type {HTMLProgressElement | null} */ (tr.querySelector(".doc-progress progress"));
  const text = tr.querySelector(".doc-progress-text");
  if (bar) setBar(bar, d);
  if (text) text.textContent = workText(d);
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
  const old = fresh
    ? undefined
    : /** @type {{ title: string, status: string, error?: Doc["error"], access: string, work: string } | undefined} */ (
        JSON.parse(tr.dataset.doc ?? "null") ?? undefined
      );
  const cells = tr.cells;
  const access = JSON.stringify([d.visibility ?? null, d.uploaded_by ?? null, readable(d)]);
  if (old && (old.title !== d.title || old.access !== access)) cells[0]?.replaceWith(titleCell(d));
  if (old && old.access !== access) cells[1]?.replaceWith(readersCell(d));
  // Only the numbers move while indexing: those are updated in place, the rest rebuilds the cell.
  const work = processing(d) ? workText(d) : "";
  if (!old || old.status !== d.status || old.error?.message !== d.error?.message || old.title !== d.title)
    cells[2]?.replaceWith(statusCell(d));
  else if (old.work !== work) updateProgress(tr, d);
  const pages = tr.cells[3];
  const size = tr.cells[4];
  const added = tr.cells[5];
  if (pages) {
    pages.dataset.label = "Pages";
    pages.textContent = d.status === "ready" ? numbers.format(d.pages) : "—";
  }
  if (size) {
    size.dataset.label = "Size";
    size.textContent = formatBytes(d.size_bytes);
  }
  if (added && fresh) {
    added.dataset.label = "Added";
    added.replaceChildren(timeEl(d.created_at));
  }
  tr.dataset.doc = JSON.stringify({ title: d.title, status: d.status, error: d.error, access, work });
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

/**
 * Takes in a fresh copy of a document; says (in the live region) when it has just settled, and
 * updates the upload rows following it.
 * @param {Doc} d
 * @param {string[]} announcements
 * @returns {"status" | "progress" | ""} what changed
 */
function take(d, announcements) {
  const before = docs.get(d.id);
  docs.set(d.id, d);
  if (before && processing(before) && !processing(d)) {
    announcements.push(
      d.status === "ready" ? `${d.title} is ready.` : `${d.title} failed: ${d.error?.message ?? "unknown reason"}`,
    );
  }
  for (const item of followers.get(d.id) ?? []) item.show(d);
  if (!before || before.status !== d.status) return "status";
  return JSON.stringify(pagesProgress(before) ?? null) !== JSON.stringify(pagesProgress(d) ?? null) ? "progress" : "";
}

/**
 * @param {Doc[]} list
 * @returns {boolean} whether anything changed
 */
function merge(list) {
  /** @type {string[]} */
  const announcements = [];
  const seen = new Set();
  let changed = false;
  for (const d of list) {
    seen.add(d.id);
    if (take(d, announcements)) changed = true;
  }
  // A document followed by an upload row may be newer than this list; its own poll tells if it is gone.
  for (const id of [...docs.keys()]) {
    if (!seen.has(id) && !tracks.has(id)) {
      docs.delete(id);
      changed = true;
    }
  }
  if (announcements.length) announce(statusEl, announcements.join(" "));
  return changed;
}

/** The library polls while a document it shows is unsettled that no upload row is following already. */
const listNeedsPolling = () => [...docs.values()].some((d) => processing(d) && !tracks.has(d.id));

async function load() {
  clearTimeout(pollTimer);
  pollTimer = undefined;
  if (paused) return;
  try {
    const { documents } = await api("/api/documents");
    if (paused) return;
    listDelay = merge(documents) ? POLL.firstMs : Math.min(listDelay * POLL.growth, POLL.maxMs);
    loaded = true;
    render();
  } catch (e) {
    if (!loaded) showPageError(e);
    if (/** @type {{ status?: number }} */ (e).status === 401) return;
    listDelay = Math.min(listDelay * 2, POLL.errorMaxMs);
  }
  if (!paused && listNeedsPolling()) pollTimer = setTimeout(load, listDelay);
}

/**
 * Lets the upload row follow its document until it is ready, failed or gone.
 * @param {string} id
 * @param {UploadItem} item
 */
function follow(id, item) {
  let set = followers.get(id);
  if (!set) {
    set = new Set();
    followers.set(id, set);
  }
  set.add(item);
  const known = docs.get(id);
  if (known) item.show(known);
  if (known && !processing(known)) {
    unfollow(id);
    return;
  }
  if (!tracks.has(id)) {
    tracks.set(id, { delay: POLL.firstMs });
    schedule(id);
  }
}

/** @param {string} id */
function unfollow(id) {
  const track = tracks.get(id);
  clearTimeout(track?.timer);
  track?.abort?.abort();
  tracks.delete(id);
  followers.delete(id);
}

/** @param {string} id */
function schedule(id) {
  const track = tracks.get(id);
  if (!track || paused) return;
  clearTimeout(track.timer);
  track.timer = setTimeout(() => poll(id), track.delay);
}

/** @param {string} id */
async function poll(id) {
  const track = tracks.get(id);
  if (!track || paused) return;
  const known = docs.get(id);
  if (known && !processing(known)) {
    // The library's own poll saw it settle first (and already told the upload row).
    unfollow(id);
    return;
  }
  const abort = new AbortController();
  track.abort = abort;
  /** @type {Doc} */
  let d;
  try {
    d = await api(`/api/documents/${encodeURIComponent(id)}`, { signal: abort.signal });
  } catch (e) {
    if (abort.signal.aborted) return; // the page was left or the row stopped following: nothing to do
    const status = /** @type {{ status?: number }} */ (e).status;
    if (status === 404) {
      // Deleted meanwhile (here, in another tab or in Slack).
      for (const item of followers.get(id) ?? []) item.gone();
      unfollow(id);
      docs.delete(id);
      render();
      return;
    }
    if (status === 401) {
      stopPolling(); // the session ended: the banner says so
      return;
    }
    track.delay = Math.min(track.delay * 2, POLL.errorMaxMs);
    schedule(id);
    return;
  } finally {
    if (track.abort === abort) track.abort = undefined;
  }
  if (tracks.get(id) !== track) return;
  /** @type {string[]} */
  const announcements = [];
  const changed = take(d, announcements);
  if (announcements.length) announce(statusEl, announcements.join(" "));
  render();
  if (!processing(d)) {
    unfollow(id);
    return;
  }
  if (changed === "status") track.delay = POLL.firstMs;
  else if (changed === "progress") track.delay = POLL.progressMs;
  else track.delay = Math.min(track.delay * POLL.growth, POLL.maxMs);
  schedule(id);
}

/** Stops every timer and request; the rows stay as they are. */
function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = undefined;
  for (const track of tracks.values()) {
    clearTimeout(track.timer);
    track.timer = undefined;
    track.abort?.abort();
  }
}

/** The page is shown again (back/forward cache) with a live session: catch up, then poll again. */
function resume() {
  paused = false;
  listDelay = POLL.firstMs;
  for (const [id, track] of tracks) {
    track.delay = POLL.firstMs;
    schedule(id);
  }
  load();
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
    for (const item of followers.get(id) ?? []) item.gone();
    unfollow(id);
    docs.delete(id);
    render();
    announce(statusEl, `Deleted ${d.title}.`);
    const target = /** @type {HTMLElement | null} */ (next?.querySelector(".actions-cell button") ?? null);
    (target ?? filter).focus();
  } catch (e) {
    say(errorEl, messageOf(e));
  }
}

/**
 * A row of the upload list: the upload's progress, then its document's until it is ready or failed.
 * State changes are announced in the page's live region (by `take`), not here, so they are read once.
 * @param {File} file
 */
function uploadItem(file) {
  const bar = /** @type {HTMLProgressElement} */ (
    h("progress", { max: "100", value: "0", "aria-label": `Uploading ${file.name}` })
  );
  const state = h("span", { class: "upload-state" }, "Waiting…");
  const li = h("li", { class: "upload" }, h("span", { class: "upload-name" }, file.name), bar, state);
  byId("uploads").prepend(li);
  let prefix = "";
  /** @param {string} text @param {"working" | "ok" | "error"} kind */
  const set = (text, kind) => {
    state.textContent = `${prefix}${text}`;
    li.classList.toggle("is-done", kind === "ok");
    li.classList.toggle("is-error", kind === "error");
  };
  return {
    /** @param {number} f */
    progress(f) {
      bar.value = Math.round(f * 100);
      state.textContent = f < 1 ? `${Math.round(f * 100)}%` : "Processing…";
    },
    /** The server has the file, already in the library under this title. @param {string} title */
    duplicateOf(title) {
      prefix = `Already in the library as “${title}”. `;
    },
    /** @param {Doc} d */
    show(d) {
      bar.hidden = d.status === "failed";
      if (processing(d)) {
        bar.setAttribute("aria-label", `Indexing ${file.name}`);
        setBar(bar, d);
        const pages = pagesProgress(d);
        set(
          d.status === "queued" ? "Uploaded. Waiting to be indexed…" : `Indexing…${pages ? ` ${pages.text}` : ""}`,
          "working",
        );
        return;
      }
      bar.max = 100;
      bar.value = 100;
      bar.setAttribute("aria-label", `${file.name}: ${STATUS_LABEL[d.status] ?? d.status}`);
      set(settledText(d), d.status === "ready" ? "ok" : "error");
    },
    gone() {
      bar.hidden = true;
      set("No longer in the library.", "working");
    },
    /** The upload itself failed (refused type, too large, offline). @param {string} text */
    failed(text) {
      bar.hidden = true;
      set(text, "error");
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
        if (result.duplicate) item.duplicateOf(result.document.title);
        const id = result.document.id;
        const given = /** @type {Doc["status"]} */ (result.document.status);
        const unsettled = given === "queued" || given === "indexing";
        // Not listed yet: shown as waiting until the first poll about it says more.
        const status = unsettled ? given : "queued";
        const known = docs.get(id);
        if (!known) {
          const now = new Date().toISOString();
          docs.set(id, {
            ...result.document,
            status,
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
        } else if (unsettled && !processing(known)) {
          // The same file again after it failed: the server tries it once more.
          const { error: _error, progress: _progress, ...rest } = known;
          docs.set(id, { ...rest, status });
          render();
        }
        follow(id, item);
      } catch (e) {
        failures++;
        item.failed(messageOf(e));
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

// Leaving the page stops its polls (the browser may keep it, frozen, in its back/forward cache).
window.addEventListener("pagehide", () => {
  paused = true;
  stopPolling();
});
onPageResume(resume);
// Logged out, or the session was found gone: forget the documents, not only their rows.
onSessionEnd(() => {
  paused = true;
  stopPolling();
  for (const id of [...tracks.keys()]) unfollow(id);
  docs.clear();
  rows.clear();
  memberEmails.clear();
  me = null;
  loaded = false;
});

me = await startAppPage();
if (me) {
  await loadMembers();
  await load();
}
