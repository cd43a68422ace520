import { ApiError, api, logIn } from "./api.js";
import { byId, h, say } from "./dom.js";
import { messageOf } from "./shell.js";

const form = /** @type {HTMLFormElement} */ (byId("signup-form"));
const confirmForm = /** @type {HTMLFormElement} */ (byId("confirm-form"));
const error = byId("signup-error");
const submit = /** @type {HTMLButtonElement} */ (byId("signup-submit"));
const organization = /** @type {HTMLInputElement} */ (byId("organization"));
const inviteCode = /** @type {HTMLInputElement} */ (byId("invite-code"));
const email = /** @type {HTMLInputElement} */ (byId("email"));
const password = /** @type {HTMLInputElement} */ (byId("password"));

/** @returns {"create" | "join"} */
function mode() {
  const checked = /** @type {HTMLInputElement | null} */ (form.querySelector("input[name=mode]:checked"));
  return checked?.value === "join" ? "join" : "create";
}

function showMode() {
  const join = mode() === "join";
  byId("org-field").hidden = join;
  byId("invite-field").hidden = !join;
  // A hidden field must also be disabled, or its `required` would block the form.
  organization.disabled = join;
  organization.required = !join;
  inviteCode.disabled = !join;
  inviteCode.required = join;
  submit.textContent = join ? "Join organisation" : "Create organisation";
}

for (const radio of form.querySelectorAll("input[name=mode]")) radio.addEventListener("change", showMode);

// Invite links carry the code in the fragment, which never reaches a server log.
const fragment = new URLSearchParams(location.hash.slice(1));
const invited = fragment.get("invite");
if (invited) {
  const join = /** @type {HTMLInputElement} */ (form.querySelector("input[name=mode][value=join]"));
  join.checked = true;
  inviteCode.value = invited;
  history.replaceState(null, "", location.pathname);
}
showMode();

/** The same rules as the server, said up front instead of after a round trip. */
function checkPassword() {
  const v = password.value;
  const missing = [];
  if (v.length < 8) missing.push("at least 8 characters");
  if (!/[a-z]/.test(v)) missing.push("a lower-case letter");
  if (!/[A-Z]/.test(v)) missing.push("an upper-case letter");
  if (!/[0-9]/.test(v)) missing.push("a digit");
  const list = missing.length > 1 ? `${missing.slice(0, -1).join(", ")} and ${missing.at(-1)}` : missing[0];
  password.setCustomValidity(list ? `Your password needs ${list}.` : "");
}
password.addEventListener("input", checkPassword);

/** @type {{ email: string, password: string, join: boolean } | null} */
let pending = null;

/** The log-in right after a sign-up was refused. */
class NotLoggedIn extends Error {}

/**
 * Logs in with what was just signed up with. The server answers a sign-up for an email that already
 * has an account like any other, creating nothing: the log-in with the new password then fails.
 */
async function finish() {
  if (!pending) return;
  try {
    await logIn(pending.email, pending.password);
  } catch (e) {
    if (e instanceof ApiError && e.code === "invalid_credentials") throw new NotLoggedIn();
    throw e;
  }
  location.replace(pending.join ? "/" : "/documents?welcome=1");
}

/**
 * @param {HTMLElement} el
 * @param {unknown} e
 */
function showFailure(el, e) {
  if (!(e instanceof NotLoggedIn)) return say(el, messageOf(e));
  el.replaceChildren(
    "Couldn't log you in. If this email already has an account, ",
    h("a", { href: "/login" }, "log in"),
    " with its password.",
  );
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  checkPassword();
  if (!form.reportValidity()) return;
  say(error, "");
  const join = mode() === "join";
  const body = join
    ? { email: email.value.trim(), password: password.value, invite_code: inviteCode.value.trim() }
    : { email: email.value.trim(), password: password.value, organization: organization.value.trim() };
  submit.disabled = true;
  const label = submit.textContent;
  submit.textContent = join ? "Joining…" : "Creating…";
  try {
    const result = await api("/auth/signup", { body });
    pending = { email: body.email, password: body.password, join };
    if (result.confirmation_required) {
      form.hidden = true;
      confirmForm.hidden = false;
      byId("confirm-email").textContent = body.email;
      byId("confirm-code").focus();
      return;
    }
    await finish();
  } catch (e) {
    showFailure(error, e);
    submit.disabled = false;
    submit.textContent = label;
  }
});

confirmForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!pending) return;
  const confirmError = byId("confirm-error");
  say(confirmError, "");
  const code = /** @type {HTMLInputElement} */ (byId("confirm-code")).value.trim();
  try {
    await api("/auth/confirm", { body: { email: pending.email, code } });
    await finish();
  } catch (e) {
    showFailure(confirmError, e);
  }
});
