import { api, download, endSession } from "./api.js";
import { byId, copyText, h, openDialog, say, timeEl } from "./dom.js";
import { messageOf, showPageError, startAppPage } from "./shell.js";

/**
 * @typedef {{ team_id: string, team_name?: string, enterprise_id?: string, linked_at: string }} Link
 * @typedef {import("./api.js").SlackIdentity} SlackIdentity
 */

const inviteForm = /** @type {HTMLFormElement} */ (byId("invite-form"));
const inviteStatus = byId("invite-status");
const inviteError = byId("invite-error");
const linksStatus = byId("links-status");
const identitiesStatus = byId("identities-status");
const identitiesError = byId("identities-error");

inviteForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const role = /** @type {HTMLSelectElement} */ (byId("invite-role")).value;
  say(inviteStatus, "");
  say(inviteError, "");
  try {
    const invite = await api("/api/invites", { body: { role } });
    // The code goes in the fragment: browsers never send it to the server or in a Referer.
    const link = `${location.origin}/signup#invite=${encodeURIComponent(invite.code)}`;
    /** @type {HTMLInputElement} */ (byId("invite-link")).value = link;
    /** @type {HTMLInputElement} */ (byId("invite-code")).value = invite.code;
    byId("invite-result").hidden = false;
    inviteStatus.replaceChildren(
      `Invite for a ${role} created. Share the link or the code; it expires `,
      timeEl(invite.expires_at),
      ".",
    );
    byId("invite-link").focus();
  } catch (e) {
    say(inviteError, messageOf(e));
  }
});
for (const [button, field] of [
  ["copy-link", "invite-link"],
  ["copy-code", "invite-code"],
]) {
  byId(button).addEventListener("click", () => {
    const input = /** @type {HTMLInputElement} */ (byId(field));
    input.select();
    copyText(input.value, inviteStatus, button === "copy-link" ? "Invite link copied." : "Invite code copied.");
  });
}

async function loadMembers() {
  const { members } = await api("/api/members");
  byId("member-rows").replaceChildren(
    ...members.map((/** @type {{ email: string, role: string, created_at: string }} */ m) =>
      h(
        "tr",
        {},
        h("td", { "data-label": "Email" }, m.email),
        h(
          "td",
          { "data-label": "Role" },
          h("span", { class: `badge role-${m.role}` }, m.role === "admin" ? "Admin" : "Member"),
        ),
        h("td", { "data-label": "Joined" }, timeEl(m.created_at, false)),
      ),
    ),
  );
}

/** @param {Link} link */
function linkName(link) {
  return link.team_name ? `${link.team_name} (${link.team_id})` : link.team_id;
}

/** @param {Link} link */
async function unlink(link) {
  byId("unlink-name").textContent = linkName(link);
  if ((await openDialog(/** @type {HTMLDialogElement} */ (byId("unlink-dialog")))) !== "unlink") return;
  try {
    await api(`/api/links/${encodeURIComponent(link.team_id)}`, { method: "DELETE" });
    say(linksStatus, `Unlinked ${linkName(link)}.`);
    await loadLinks();
    byId("slack-title").setAttribute("tabindex", "-1");
    byId("slack-title").focus();
  } catch (e) {
    say(linksStatus, messageOf(e));
  }
}

async function loadLinks() {
  const empty = byId("links-empty");
  const table = byId("links-table");
  /** @type {Link[]} */
  let links;
  try {
    ({ links } = await api("/api/links"));
  } catch (e) {
    if (/** @type {{ status?: number }} */ (e).status !== 404) throw e;
    table.hidden = true;
    empty.hidden = false;
    empty.textContent = "Slack is not set up on this server.";
    return;
  }
  table.hidden = links.length === 0;
  empty.hidden = links.length > 0;
  empty.textContent = "No Slack workspace is linked yet.";
  byId("link-rows").replaceChildren(
    ...links.map((link) =>
      h(
        "tr",
        {},
        h("td", { "data-label": "Workspace" }, linkName(link)),
        h("td", { "data-label": "Linked" }, timeEl(link.linked_at)),
        h(
          "td",
          { class: "actions-cell" },
          h(
            "button",
            {
              type: "button",
              class: "btn small ghost danger-text",
              "aria-label": `Unlink ${linkName(link)}`,
              onclick: () => unlink(link),
            },
            "Unlink",
          ),
        ),
      ),
    ),
  );
}

/** @param {SlackIdentity} tie */
function identityName(tie) {
  return `Slack user ${tie.user_id} in ${tie.team_id}`;
}

/** @param {SlackIdentity} tie */
async function disconnect(tie) {
  byId("disconnect-name").textContent = identityName(tie);
  if ((await openDialog(/** @type {HTMLDialogElement} */ (byId("disconnect-dialog")))) !== "disconnect") return;
  say(identitiesError, "");
  try {
    await api(`/api/identities/${encodeURIComponent(tie.team_id)}/${encodeURIComponent(tie.user_id)}`, {
      method: "DELETE",
    });
    say(identitiesStatus, `Disconnected ${identityName(tie)}.`);
    await loadIdentities();
    byId("identities-title").setAttribute("tabindex", "-1");
    byId("identities-title").focus();
  } catch (e) {
    say(identitiesError, messageOf(e));
  }
}

/** The Slack accounts the logged-in person proved are theirs (any role has some). */
async function loadIdentities() {
  const empty = byId("identities-empty");
  /** @type {{ identities: SlackIdentity[] }} */
  const { identities } = await api("/api/identities");
  byId("identities-table").hidden = identities.length === 0;
  empty.hidden = identities.length > 0;
  empty.textContent = "No Slack account is connected to your Enclave account yet.";
  byId("identity-rows").replaceChildren(
    ...identities.map((tie) =>
      h(
        "tr",
        {},
        h("td", { "data-label": "Slack user" }, tie.user_id),
        h("td", { "data-label": "Workspace" }, tie.team_id),
        h("td", { "data-label": "Connected" }, timeEl(tie.linked_at)),
        h(
          "td",
          { class: "actions-cell" },
          h(
            "button",
            {
              type: "button",
              class: "btn small ghost danger-text",
              "aria-label": `Disconnect ${identityName(tie)}`,
              onclick: () => disconnect(tie),
            },
            "Disconnect",
          ),
        ),
      ),
    ),
  );
}

const exportStatus = byId("export-status");
byId("export-org").addEventListener("click", async () => {
  const button = /** @type {HTMLButtonElement} */ (byId("export-org"));
  button.disabled = true;
  say(exportStatus, "Preparing the export…");
  try {
    await download("/api/organisation/export", `enclave-export-${new Date().toISOString().slice(0, 10)}.tar.gz`);
    say(exportStatus, "Export downloaded.");
  } catch (e) {
    say(exportStatus, messageOf(e));
  } finally {
    button.disabled = false;
  }
});

/**
 * Deleting the organisation: the admin types its exact name (the server checks it too). Once accepted,
 * the session ends at once: every token of the organisation is refused from then on.
 * @param {string} name
 */
async function deleteOrganisation(name) {
  const confirm = /** @type {HTMLInputElement} */ (byId("delete-org-confirm"));
  const submit = /** @type {HTMLButtonElement} */ (byId("delete-org-submit"));
  const error = byId("delete-org-error");
  byId("delete-org-name").textContent = name;
  confirm.value = "";
  submit.disabled = true;
  confirm.oninput = () => {
    submit.disabled = confirm.value.trim() !== name.trim();
  };
  say(error, "");
  if ((await openDialog(/** @type {HTMLDialogElement} */ (byId("delete-org-dialog")))) !== "delete") return;
  try {
    await api("/api/organisation", { method: "DELETE", body: { confirm: confirm.value } });
    endSession();
    location.replace("/login?deleted");
  } catch (e) {
    say(error, messageOf(e));
  }
}

// Open to every member for their own Slack accounts; invites, members and workspaces are for admins.
const me = await startAppPage();
if (me) {
  byId("org-name").textContent = me.tenant_name;
  byId("delete-org").addEventListener("click", () => deleteOrganisation(me.tenant_name));
  byId("member-note").hidden = me.role === "admin";
  try {
    await Promise.all([loadIdentities(), ...(me.role === "admin" ? [loadMembers(), loadLinks()] : [])]);
  } catch (e) {
    showPageError(e);
  }
}
