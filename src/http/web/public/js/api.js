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

export function endSession() {
  sessionStorage.removeItem(KEY);
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
 * Calls the JSON API.
 * @param {string} path
 * @param {{ method?: string, body?: unknown, signal?: AbortSignal }} [options]
 * @returns {Promise<any>}
 */
export async function api(path, options = {}) {
  const { method = options.body === undefined ? "GET" : "POST", body, signal } = options;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: authHeaders(body === undefined ? {} : { "content-type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw failure(0, "");
  }
  const text = await res.text();
  if (!res.ok) throw failure(res.status, text);
  return text ? JSON.parse(text) : undefined;
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
