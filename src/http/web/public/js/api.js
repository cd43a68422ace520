// The REST API client shared by every page. The ID token lives in sessionStorage only (per tab,
// gone when the tab closes) and travels as a Bearer header, never in a URL: the API needs no cookies,
// so cross-site requests carry no credentials and there is nothing to forge (CSRF).

const KEY = "enclave.session";

/**
 * @typedef {{ token: string, expiresAt: number, email?: string, role?: string, tenantName?: string }} Session
 * @typedef {{ team_id: string, user_id: string, linked_at: string }} SlackIdentity
 * @typedef {{ email: string, tenant_id: string, tenant_name: string, role: "admin" | "member",
 *   slack_identities?: SlackIdentity[] }} Me
 * @typedef {{ kind: "organisation" } | { kind: "private", owner: string }
 *   | { kind: "slack_conversation", team_id: string | null, channel_id: string | null,
 *       conversations: { team_id: string, channel_id: string, public: boolean }[] }} Visibility
 */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** @returns {Session | null} */
export function getSession() {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw);
    if (typeof s?.token !== "string" || typeof s.expiresAt !== "number") return null;
    return s;
  } catch {
    return null;
  }
}

/**
 * Stores the token from `POST /auth/login`.
 * @param {{ id_token: string, expires_in: number }} login
 */
export function startSession(login) {
  /** @type {Session} */
  const s = { token: login.id_token, expiresAt: Date.now() + login.expires_in * 1000 };
  sessionStorage.setItem(KEY, JSON.stringify(s));
  // Logging in over someone else's session (without logging out) must not hand them its data.
  forgetUserData(sessionUserId());
  return s;
}

/** @param {Partial<Session>} patch */
export function updateSession(patch) {
  const s = getSession();
  if (s) sessionStorage.setItem(KEY, JSON.stringify({ ...s, ...patch }));
}

/**
 * Logs in and starts a session.
 * @param {string} email
 * @param {string} password
 */
export async function logIn(email, password) {
  const login = await api("/auth/login", { body: { email, password } });
  return startSession(login);
}

/** Ends the session, and with it everything pages kept for its user (the Ask page's conversation). */
export function endSession() {
  sessionStorage.removeItem(KEY);
  forgetUserData(null);
}

/** What pages keep for one user in this tab: `enclave.user.<user id>.<name>`. */
const USER_DATA = "enclave.user.";

/**
 * The logged-in user's id: the `sub` claim of the ID token (which is the client's to read; the server
 * still checks the token on every call). Null without a session or a readable claim.
 * @returns {string | null}
 */
export function sessionUserId() {
  const token = getSession()?.token ?? "";
  try {
    const part = (token.split(".")[1] ?? "").replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
    const sub = JSON.parse(new TextDecoder().decode(bytes))?.sub;
    return typeof sub === "string" && sub ? sub : null;
  } catch {
    return null;
  }
}

/**
 * The sessionStorage key under which a page keeps `name` for the logged-in user, or null when there is
 * no user to keep it for. Another user logging in on this tab never reads it: it is forgotten then.
 * @param {string} name
 */
export function userDataKey(name) {
  const id = sessionUserId();
  return id ? `${USER_DATA}${encodeURIComponent(id)}.${name}` : null;
}

/** @param {string | null} keepUserId whose data stays (null: nobody's) */
function forgetUserData(keepUserId) {
  const keep = keepUserId ? `${USER_DATA}${encodeURIComponent(keepUserId)}.` : null;
  try {
    for (let i = sessionStorage.length - 1; i >= 0; i--) {
      const key = sessionStorage.key(i);
      if (key?.startsWith(USER_DATA) && !(keep && key.startsWith(keep))) sessionStorage.removeItem(key);
    }
  } catch {
    // storage unavailable: nothing was kept either
  }
}

/**
 * A same-site path to return to after logging in; anything else (other origins, `//host`) is dropped.
 * @param {string | null | undefined} value
 */
export function safeNext(value) {
  if (!value?.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return "/";
  if (value.startsWith("/login") || value.startsWith("/signup")) return "/";
  return value;
}

/** The login page, set to come back here. */
export function loginUrl(next = location.pathname + location.search) {
  const target = safeNext(next);
  return target === "/" ? "/login" : `/login?next=${encodeURIComponent(target)}`;
}

/** @type {Set<() => void>} */
const expiredListeners = new Set();
let expiredFired = false;

/** @param {() => void} listener */
export function onSessionExpired(listener) {
  expiredListeners.add(listener);
}

/** Clears the token and tells the page, once. */
export function expireSession() {
  endSession();
  if (expiredFired) return;
  expiredFired = true;
  for (const listener of expiredListeners) listener();
}

/**
 * Turns a failed response into an ApiError; a 401 while logged in means the session ended.
 * @param {number} status
 * @param {string} text
 */
function failure(status, text) {
  let code = "http_error";
  let message = `The server answered ${status}. Please try again.`;
  try {
    const body = JSON.parse(text);
    if (body?.error?.message) {
      code = String(body.error.code ?? code);
      message = String(body.error.message);
    }
  } catch {
    // not JSON (a proxy error page): keep the generic message
  }
  if (status === 401 && code !== "invalid_credentials") {
    expireSession();
    message = "Your session has expired. Log in again.";
  }
  if (status === 0) message = "Could not reach the server. Check your connection and try again.";
  return new ApiError(status, code, message);
}

/** @param {Record<string, string>} [headers] */
function authHeaders(headers = {}) {
  const s = getSession();
  return s ? { ...headers, authorization: `Bearer ${s.token}` } : headers;
}

/**
 * One authenticated request; a network failure becomes ApiError status 0, an abort stays an AbortError.
 * @param {string} path
 * @param {string} method
 * @param {unknown} body
 * @param {Record<string, string>} headers
 * @param {AbortSignal | undefined} signal
 * @returns {Promise<Response>}
 */
async function send(path, method, body, headers, signal) {
  try {
    return await fetch(path, {
      method,
      headers: authHeaders(headers),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw failure(0, "");
  }
}

/**
 * Calls the JSON API.
 * @param {string} path
 * @param {{ method?: string, body?: unknown, signal?: AbortSignal }} [options]
 * @returns {Promise<any>}
 */
export async function api(path, options = {}) {
  const { method = options.body === undefined ? "GET" : "POST", body, signal } = options;
  const res = await send(path, method, body, body === undefined ? {} : { "content-type": "application/json" }, signal);
  const text = await res.text();
  if (!res.ok) throw failure(res.status, text);
  return text ? JSON.parse(text) : undefined;
}

/**
 * POSTs to an endpoint that answers with Server-Sent Events (`Accept: text/event-stream`), handing each
 * event to `onEvent` as it arrives, and resolves with the data of its `done` event. A refusal before
 * the stream starts is an ordinary JSON error, handled as `api` does (a 401 ends the session); an
 * `error` event becomes an ApiError with its code and message. A JSON answer instead of a stream (a
 * proxy that dropped the Accept header) is taken as the done event.
 * @param {string} path
 * @param {{ body: unknown, signal?: AbortSignal, onEvent?: (event: string, data: any) => void }} options
 * @returns {Promise<any>}
 */
export async function apiStream(path, options) {
  const { body, signal, onEvent } = options;
  const res = await send(
    path,
    "POST",
    body,
    { "content-type": "application/json", accept: "text/event-stream" },
    signal,
  );
  if (!res.ok) throw failure(res.status, await res.text());
  if (!res.body || !(res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    const text = await res.text();
    return text ? JSON.parse(text) : undefined;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  /** @type {{ data: any } | undefined} */
  let done;
  /** @type {ApiError | undefined} */
  let failed;
  const parser = eventStreamParser((event, raw) => {
    if (done || failed) return;
    let data;
    try {
      data = JSON.parse(raw);
    } catch {
      return; // not one of ours
    }
    if (event === "done") done = { data };
    else if (event === "error")
      failed = new ApiError(
        res.status,
        String(data?.error?.code ?? "stream_error"),
        String(data?.error?.message ?? "Something went wrong. Please try again."),
      );
    else onEvent?.(event, data);
  });
  try {
    while (!done && !failed) {
      const chunk = await reader.read();
      if (chunk.done) break;
      parser.push(decoder.decode(chunk.value, { stream: true }));
    }
    parser.push(decoder.decode());
    parser.end();
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "stream_cut", "The connection broke before the answer was complete. Please ask again.");
  } finally {
    reader.cancel().catch(() => {});
  }
  if (failed) throw failed;
  if (!done) throw new ApiError(0, "stream_cut", "The answer was cut off before it was complete. Please ask again.");
  return done.data;
}

/**
 * Splits Server-Sent Events text, fed in any pieces, into events as the HTML standard's EventSource
 * does: `event:` and `data:` fields (several data lines joined by line breaks), a blank line ends an
 * event, comment lines (`:`) and other fields are skipped.
 * @param {(event: string, data: string) => void} dispatch
 */
export function eventStreamParser(dispatch) {
  let buffer = "";
  let event = "";
  /** @type {string[]} */
  let data = [];
  /** @param {string} line */
  const take = (line) => {
    if (line === "") {
      if (data.length) dispatch(event || "message", data.join("\n"));
      event = "";
      data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  };
  return {
    /** @param {string} text */
    push(text) {
      buffer += text;
      for (;;) {
        const end = buffer.search(/\r\n|\r|\n/);
        // A CR at the very end may be the first half of a CRLF still on its way.
        if (end < 0 || (end === buffer.length - 1 && buffer.endsWith("\r"))) return;
        const breakLength = buffer.startsWith("\r\n", end) ? 2 : 1;
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + breakLength);
        take(line);
      }
    },
    /** The stream ended: an event without its closing blank line is dropped, as EventSource does. */
    end() {
      if (buffer.endsWith("\r")) take(buffer.slice(0, -1));
      buffer = "";
    },
  };
}

/**
 * Fetches a file with the token (for downloads and viewing documents) as a Blob.
 * @param {string} path
 * @returns {Promise<Blob>}
 */
export async function apiBlob(path) {
  let res;
  try {
    res = await fetch(path, { headers: authHeaders(), credentials: "omit", cache: "no-store" });
  } catch {
    throw failure(0, "");
  }
  if (!res.ok) throw failure(res.status, await res.text());
  return res.blob();
}

/**
 * Uploads one file as multipart `file`, reporting progress (XHR: fetch has no upload progress).
 * `visibility` says who may read it: everyone in the organisation (the server's default) or only the
 * uploader. It goes before the file part, so the server knows it before the bytes arrive.
 * @param {File} file
 * @param {(fraction: number) => void} onProgress
 * @param {{ visibility?: "organisation" | "private" }} [options]
 * @returns {Promise<{ document: { id: string, title: string, status: string, visibility: Visibility }, duplicate: boolean }>}
 */
export function uploadFile(file, onProgress, options = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/upload");
    const s = getSession();
    if (s) xhr.setRequestHeader("authorization", `Bearer ${s.token}`);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(JSON.parse(xhr.responseText));
      } else {
        reject(failure(xhr.status, xhr.responseText));
      }
    });
    xhr.addEventListener("error", () => reject(failure(0, "")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", "Upload cancelled.")));
    const form = new FormData();
    if (options.visibility) form.append("visibility", options.visibility);
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

/**
 * Opens a document in a new tab from a Blob URL, at its page for PDFs. The Blob gets a type we
 * choose (PDF or plain text), never the stored one, so a file can never render as HTML here.
 * The tab is opened before the download so the browser's popup blocker sees the click.
 * @param {{ id: string, contentType?: string, page?: number }} doc
 */
export async function openDocument(doc) {
  const win = window.open("", "_blank");
  try {
    const blob = await apiBlob(`/api/documents/${encodeURIComponent(doc.id)}/file`);
    const isPdf = blob.type.startsWith("application/pdf") || doc.contentType === "application/pdf";
    const typed = new Blob([blob], { type: isPdf ? "application/pdf" : "text/plain;charset=utf-8" });
    const url = URL.createObjectURL(typed);
    const target = isPdf && doc.page ? `${url}#page=${doc.page}` : url;
    if (win) win.location.href = target;
    else location.href = target;
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    win?.close();
    throw error;
  }
}

/**
 * Downloads a file from the API with the token.
 * @param {string} path
 * @param {string} fileName
 */
export async function download(path, fileName) {
  const blob = await apiBlob(path);
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
