import { ApiError, getSession, logIn, safeNext } from "./api.js";
import { byId, say } from "./dom.js";
import { messageOf } from "./shell.js";

const params = new URLSearchParams(location.search);
const next = safeNext(params.get("next"));
const form = /** @type {HTMLFormElement} */ (byId("login-form"));
const error = byId("login-error");
const email = /** @type {HTMLInputElement} */ (byId("email"));
const password = /** @type {HTMLInputElement} */ (byId("password"));

const existing = getSession();
if (existing && existing.expiresAt > Date.now() && !params.has("expired") && !params.has("deleted")) {
  location.replace(next);
}
if (params.has("deleted"))
  say(byId("login-notice"), "Your organisation is being deleted. Its accounts can no longer log in.");
else if (params.has("expired")) say(byId("login-notice"), "Your session has expired. Log in again.");
else if (next !== "/") say(byId("login-notice"), "Log in to continue.");
email.focus();

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
  say(error, "");
  button.disabled = true;
  button.textContent = "Logging in…";
  try {
    await logIn(email.value.trim(), password.value);
    location.replace(next);
  } catch (e) {
    say(error, e instanceof ApiError && e.status === 401 ? "Email or password is incorrect." : messageOf(e));
    password.select();
    password.focus();
    button.disabled = false;
    button.textContent = "Log in";
  }
});
