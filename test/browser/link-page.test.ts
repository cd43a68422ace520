import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Actor } from "../../src/domain/access.js";
import type { TenantId } from "../../src/domain/tenant.js";
import {
  focused,
  hasChromium,
  launchChromium,
  PASSWORD,
  readSession,
  uniqueEmail,
  watchPage,
} from "../support/browser.js";
import type { FakeTeam } from "../support/fake-slack.js";
import { apiClient, joinByInvite, newOrganisation } from "../support/server.js";
import { commandForm } from "../support/slack.js";
import { linkUrlIn, type SlackHarness, startSlackHarness, tokenOf, whoIn } from "../support/slack-harness.js";

/**
 * The page Slack's link buttons open, driven end to end: `/ask link` by a Slack workspace admin in the
 * fake Slack, the link from the bot's reply opened in Chromium, an organisation admin logs in and
 * confirms, the bot confirms in Slack. And the identity link (`/ask connect`) that ties a Slack user to
 * the web account that opens it.
 */
describe.skipIf(!hasChromium)("Slack link page in Chromium", () => {
  let h: SlackHarness;
  let team: FakeTeam;
  let browser: Browser;
  let org: Awaited<ReturnType<typeof newOrganisation>>;
  const contexts: BrowserContext[] = [];
  const PETER = "U0PETER01";

  async function newPage(): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    return { page, problems: watchPage(page) };
  }

  /** `/ask link` as a Slack user; the link page URL on this server (the bot builds it on PUBLIC_URL). */
  async function linkFromSlack(userId: string): Promise<string> {
    const responseUrl = h.fake.responseUrl();
    const ack = await h.slack.command(
      commandForm(whoIn(team, userId), { text: "link", channel: "C0LINK001", responseUrl }),
    );
    expect(ack.status).toBe(200);
    const reply = await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 10_000, "link reply");
    const url = linkUrlIn(reply.body);
    if (!url) throw new Error(`no link button in ${JSON.stringify(reply.body)}`);
    return `${h.server.url}/link?token=${encodeURIComponent(tokenOf(url))}`;
  }

  async function logInOnLinkPage(page: Page, email: string) {
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
  }

  beforeAll(async () => {
    const started = await Promise.all([
      startSlackHarness((fake) => {
        // Only a Slack workspace admin or owner (or the installer) may ask for a workspace link.
        team = fake.addTeam({
          id: "T0INITECH",
          name: "Initech Chat",
          users: [{ id: PETER, name: "peter", isAdmin: true }],
        });
        return { SLACK_BOT_TOKEN: team.botToken };
      }),
      launchChromium(),
    ]);
    [h, browser] = started;
    org = await newOrganisation(h.server.url, "Initech");
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await h?.stop();
  });

  it("shows which workspace goes to which organisation, links it on confirmation, and Slack hears of it", async () => {
    const link = await linkFromSlack(PETER);
    const { page, problems } = await newPage();
    await page.goto(link);
    await page.locator("#link-team", { hasText: "T0INITECH" }).waitFor();
    // The one-time token leaves the address bar (and so history, bookmarks and Referer) at once.
    expect(page.url()).toBe(`${h.server.url}/link`);
    expect(await page.locator("#link-requester").textContent()).toBe(`Slack user ${PETER}`);

    expect(await page.locator("#link-org").textContent()).toBe("Log in to choose");

    // Not logged in: an admin of the organisation logs in right here, then sees both sides before confirming.
    await logInOnLinkPage(page, org.email);
    const confirm = page.getByRole("button", { name: "Link workspace" });
    await confirm.waitFor();
    expect(await page.locator("#link-team").textContent()).toBe("Initech Chat (T0INITECH)");
    expect(await page.locator("#link-org").textContent()).toBe("Initech");
    expect(await page.locator("#link-you").textContent()).toBe(`${org.email} (admin)`);
    expect(await page.locator("#link-question").textContent()).toBe(
      "Link the Slack workspace Initech Chat (T0INITECH) to the Enclave organisation Initech?",
    );
    expect(await focused(page)).toBe("link-go");
    expect(await h.server.container.directory.getLink(team.id)).toBeUndefined();
    await confirm.click();
    await page.locator("#link-done-text", { hasText: /is now linked to Initech\./ }).waitFor();
    expect(await focused(page)).toBe("link-done-text");
    expect((await h.server.container.directory.getLink(team.id))?.tenantId).toBe(org.tenantId);
    const confirmation = await h.fake.waitFor(
      () => h.fake.callsTo("chat.postMessage").find((c) => c.params.channel === PETER),
      10_000,
      "confirmation DM",
    );
    expect(confirmation.params.text).toMatch(/linked to \*Initech\*/);

    // The same link cannot be used twice.
    await page.goto(link);
    await page.locator("#link-already").waitFor();
    await page.getByRole("button", { name: "Link workspace" }).click();
    await page.locator("#link-error", { hasText: /already used/ }).waitFor();

    // The team page lists the workspace and unlinks it after a confirmation.
    await page.goto(`${h.server.url}/team`);
    const row = page.locator("#link-rows tr", { hasText: team.id });
    await row.waitFor();
    await row.getByRole("button", { name: /Unlink/ }).click();
    await page.locator("#unlink-dialog").getByRole("button", { name: "Unlink" }).click();
    await page.locator("#links-empty", { hasText: "No Slack workspace is linked yet." }).waitFor();
    expect(await h.server.container.directory.getLink(team.id)).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it("tells a member who is not an admin, and a broken link, what to do instead", async () => {
    const memberEmail = uniqueEmail("milton", "initech.example");
    await joinByInvite(h.server.url, org.client, memberEmail, PASSWORD);
    const { page, problems } = await newPage();
    await page.goto(await linkFromSlack(PETER));
    await logInOnLinkPage(page, memberEmail);
    await page.locator("#link-error", { hasText: "Only an admin" }).waitFor();
    expect(await page.getByRole("button", { name: "Link workspace" }).isVisible()).toBe(false);
    expect(await h.server.container.directory.getLink(team.id)).toBeUndefined();

    await page.goto(`${h.server.url}/link`);
    await page.locator("#link-error", { hasText: "needs the link from Slack" }).waitFor();
    expect(await page.locator("#link-error").textContent()).toContain("/ask connect");
    await page.goto(`${h.server.url}/link?token=v1.forged.signature`);
    await page.locator("#link-error", { hasText: "not valid" }).waitFor();
    expect(problems).toEqual([]);
  });

  it("connects a Slack user to the web account that opens their identity link, and the team page lists it", async () => {
    // A second organisation with a linked workspace; its Slack user asked `/ask connect`.
    const hooli = await newOrganisation(h.server.url, "Hooli");
    const TEAM = "T0HOOLI01";
    const GAVIN = "U0GAVIN01";
    await h.server.container.directory.putLink({
      teamId: TEAM,
      tenantId: hooli.tenantId as TenantId,
      linkedBy: "test",
      linkedAt: new Date().toISOString(),
    });
    const slackActor: Actor = {
      tenantId: hooli.tenantId as TenantId,
      principal: `slack:${TEAM}:${GAVIN}`,
      principals: [`slack:${TEAM}:${GAVIN}`],
      role: "member",
      surface: "slack_command",
      slack: { teamId: TEAM, userId: GAVIN },
    };
    const { token } = h.server.container.services.links.requestIdentityLink(slackActor, "Hooli Chat");
    const link = `${h.server.url}/link?token=${encodeURIComponent(token)}`;
    const memberEmail = uniqueEmail("gavin", "hooli.example");
    await joinByInvite(h.server.url, hooli.client, memberEmail, PASSWORD);

    const { page, problems } = await newPage();
    await page.goto(link);
    await page.getByRole("heading", { name: "Connect your Slack account" }).waitFor();
    await page.locator("#link-slack-user", { hasText: GAVIN }).waitFor();
    expect(page.url()).toBe(`${h.server.url}/link`);
    expect(await page.title()).toBe("Connect your Slack account · Enclave");
    expect(await page.locator("#link-team").textContent()).toBe(`Hooli Chat (${TEAM})`);
    expect(await page.locator("#link-already").isVisible()).toBe(false);

    // An account of another organisation is refused with the API's reason, and the link stays usable.
    await logInOnLinkPage(page, org.email);
    const connect = page.getByRole("button", { name: "Connect Slack account" });
    await connect.waitFor();
    await connect.click();
    await page.locator("#link-error", { hasText: "belongs to a workspace of another organisation" }).waitFor();

    // The right person, a member (no admin needed), sees both sides in one sentence and connects.
    await page.getByRole("button", { name: "Use another account" }).click();
    await logInOnLinkPage(page, memberEmail);
    await page.locator("#link-you", { hasText: memberEmail }).waitFor();
    expect(await page.locator("#link-question").textContent()).toBe(
      `Connect Slack user ${GAVIN} in Hooli Chat (${TEAM}) to your Enclave account ${memberEmail} (organisation Hooli)?`,
    );
    expect(await page.locator("#link-org").textContent()).toBe("Hooli");
    await connect.click();
    const done = page.locator("#link-done-text");
    await done.waitFor();
    expect(await done.textContent()).toBe(
      `Slack user ${GAVIN} in Hooli Chat (${TEAM}) is now connected to ${memberEmail}.`,
    );
    expect(await focused(page)).toBe("link-done-text");

    // Opened again, the page knows (from /api/me) that this Slack account is already theirs.
    await page.goto(link);
    await page.locator("#link-connected").waitFor();
    expect(await connect.isVisible()).toBe(false);

    // The team page, open to members for their own Slack accounts, lists it and disconnects it.
    await page.getByRole("link", { name: "Team page" }).click();
    await page.waitForURL((u) => u.pathname === "/team");
    const row = page.locator("#identity-rows tr", { hasText: GAVIN });
    await row.waitFor();
    expect(await row.locator('td[data-label="Workspace"]').textContent()).toBe(TEAM);
    expect(await page.locator("#member-note").isVisible()).toBe(true);
    expect(await page.locator("#invite-form").isVisible()).toBe(false);
    expect(await page.locator("#identities-how").textContent()).toContain("/ask connect");
    await row.getByRole("button", { name: `Disconnect Slack user ${GAVIN} in ${TEAM}` }).click();
    await page.locator("#disconnect-dialog").getByRole("button", { name: "Disconnect" }).click();
    await page
      .locator("#identities-empty", { hasText: "No Slack account is connected to your Enclave account yet." })
      .waitFor();
    const me = await apiClient(h.server.url, (await readSession(page))?.token).call("GET", "/api/me");
    expect(me.json.slack_identities).toEqual([]);

    // Each link works once.
    await page.goto(link);
    await connect.click();
    await page.locator("#link-error", { hasText: /already used/ }).waitFor();
    expect(problems).toEqual([]);
  });
});
