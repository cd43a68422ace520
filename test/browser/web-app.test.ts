import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import type { Browser, BrowserContext, Locator, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TenantId } from "../../src/domain/tenant.js";
import {
  focused,
  hasChromium,
  hasFocus,
  launchChromium,
  logInWithPage,
  makePdf,
  PASSWORD,
  type PageWindow,
  patchSession,
  readSession,
  uniqueEmail,
  watchPage,
} from "../support/browser.js";
import { joinByInvite, newOrganisation, startTestServer, type TestServer, waitForDocument } from "../support/server.js";

/**
 * The web app in headless Chromium against the real embedded server: what a person sees and does.
 * Each test opens its own browser context (its own storage, like a separate browser profile).
 */
describe.skipIf(!hasChromium)("web app in Chromium", () => {
  let server: TestServer;
  let browser: Browser;
  /** Initech: seeded through the API with a document and an audit row. */
  let initech: Awaited<ReturnType<typeof newOrganisation>>;
  let initechDocId: string;
  let initechAuditId: string;
  const contexts: BrowserContext[] = [];

  const url = (path: string) => `${server.url}${path}`;
  async function newPage(
    viewport = { width: 1200, height: 800 },
  ): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport, acceptDownloads: true });
    contexts.push(context);
    const page = await context.newPage();
    return { context, page, problems: watchPage(page) };
  }
  const textOf = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? "").trim();

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
    initech = await newOrganisation(server.url, "Initech");
    const upload = await initech.client.upload(
      "TPS Report Guide.txt",
      "TPS reports are due every Friday at noon. Every TPS report needs the new cover sheet.",
      "text/plain",
    );
    initechDocId = upload.json.document.id;
    await waitForDocument(initech.client, initechDocId);
    const ask = await initech.client.call("POST", "/api/ask", { question: "When are TPS reports due?" });
    expect(ask.json.outcome).toBe("answered");
    initechAuditId = ask.json.audit_id;
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  it("signs up, uploads a PDF, watches it become ready, asks and sees the cited source", async () => {
    const { context, page, problems } = await newPage();
    const requests: Request[] = [];
    // Records what the page hands to the viewer (the CSP rightly keeps a test from fetching blob: URLs).
    await context.addInitScript(() => {
      const create = URL.createObjectURL;
      URL.createObjectURL = (blob: Blob) => {
        const w = globalThis as unknown as PageWindow;
        w.__blobs = [...(w.__blobs ?? []), { type: blob.type, size: blob.size }];
        return create.call(URL, blob);
      };
    });
    page.on("request", (r) => requests.push(r));
    const email = uniqueEmail("ada", "northwind.example");

    // A newcomer opens the root and is sent to log in, then on to sign up.
    await page.goto(url("/"));
    await page.waitForURL((u) => u.pathname === "/login");
    await page.getByRole("link", { name: "Create an organisation or join one" }).click();
    await page.getByLabel("Organisation name").fill("Northwind Traders");
    await page.getByLabel("Work email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create organisation" }).click();
    await page.waitForURL((u) => u.pathname === "/documents");
    expect(await page.locator("#welcome").isVisible()).toBe(true);
    expect(await textOf(page, "#account-org")).toBe("Northwind Traders");

    const pdf = await makePdf([
      ["Kitchen guide", "Welcome to the office kitchen. Please keep it tidy."],
      ["Coffee", "The Zephyr espresso machine must be descaled every 14 days with citric acid."],
    ]);
    await page.setInputFiles("#files", {
      name: "Zephyr Handbook.pdf",
      mimeType: "application/pdf",
      buffer: Buffer.from(pdf),
    });
    const row = page.locator("#doc-rows tr", { hasText: "Zephyr Handbook" });
    await row.locator(".badge", { hasText: "Ready" }).waitFor();
    expect(await row.locator('td[data-label="Pages"]').textContent()).toBe("2");
    expect(await row.locator('td[data-label="Who can read"] .readers').textContent()).toBe(
      "Everyone in the organisation",
    );
    await page.locator("#docs-status", { hasText: "Zephyr Handbook is ready." }).waitFor();
    expect(await page.locator(".upload progress").evaluate((p) => (p as unknown as { value: number }).value)).toBe(100);
    expect(await textOf(page, ".upload .upload-state")).toMatch(/^Ready: 2 pages, \d+ passages?\.$/);

    await page.getByRole("link", { name: "Ask", exact: true }).click();
    await page.waitForURL((u) => u.pathname === "/");
    const question = page.getByLabel("Your question");
    await question.fill("When must the Zephyr espresso machine be descaled?");
    await question.press("Enter");
    const answer = page.locator(".exchange .answer").last();
    await answer.locator(".sources").waitFor();
    expect(await answer.locator(".answer-text").textContent()).toContain("descaled every 14 days");
    const source = answer.locator(".source").first();
    expect(await source.locator(".source-title").textContent()).toBe("Zephyr Handbook");
    expect(await source.locator(".source-page").textContent()).toBe("page 2");

    // [1] in the answer leads to source 1 and moves the focus there.
    await answer.locator("a.cite", { hasText: "[1]" }).first().click();
    expect(await focused(page)).toBe(await source.getAttribute("id"));

    // The source opens the PDF itself, at the cited page, from a Blob (the token never goes in a URL).
    const [viewer] = await Promise.all([context.waitForEvent("page"), source.locator("button.source-open").click()]);
    await viewer.waitForURL(/^blob:/);
    expect(viewer.url()).toMatch(/^blob:http:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]{36}#page=2$/);
    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).__blobs)).toEqual([
      { type: "application/pdf", size: pdf.length },
    ]);
    await viewer.close();

    // Feedback.
    await answer.getByRole("button", { name: "Helpful", exact: true }).click();
    await answer.locator(".feedback-note", { hasText: "Thanks for the feedback." }).waitFor();
    expect(await answer.getByRole("button", { name: "Helpful", exact: true }).getAttribute("aria-pressed")).toBe(
      "true",
    );

    // The admin reads it in the audit log, opens the exchange, and exports the log.
    await page.getByRole("link", { name: "Audit log" }).click();
    const auditRow = page.locator("#audit-rows tr", { hasText: "When must the Zephyr espresso machine be descaled?" });
    await auditRow.waitFor();
    expect(await auditRow.textContent()).toContain("Web");
    expect(await auditRow.textContent()).toContain("Helpful");
    const view = auditRow.getByRole("button", { name: /View exchange/ });
    await view.click();
    const dialog = page.locator("#exchange-dialog");
    await dialog.locator(".source-title", { hasText: "Zephyr Handbook" }).waitFor();
    expect(await dialog.textContent()).toContain(email);
    expect(await dialog.textContent()).toContain("descaled every 14 days");
    await page.keyboard.press("Escape");
    expect(await dialog.isVisible()).toBe(false);
    expect(await hasFocus(view)).toBe(true);

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export CSV" }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^enclave-audit-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = readFileSync((await download.path()) ?? "", "utf8");
    expect(csv).toContain("When must the Zephyr espresso machine be descaled?");
    expect(csv).toContain("[1] Zephyr Handbook p.2");

    // Filters: by surface and by day.
    /** Runs an action that reloads the audit list and waits until the new rows are shown. */
    const reloaded = async (action: () => Promise<void>) => {
      await Promise.all([page.waitForResponse((r) => new URL(r.url()).pathname === "/api/audit"), action()]);
      await page.locator("#audit-status", { hasText: "Loading…" }).waitFor({ state: "hidden" });
      return page.locator("#audit-rows tr").count();
    };
    const filterTo = (field: string, value: string) =>
      reloaded(async () => {
        if (field === "Surface") await page.getByLabel("Surface").selectOption(value);
        else await page.getByLabel(field).fill(value);
        await page.getByRole("button", { name: "Apply" }).click();
      });
    const day = (offset: number) => {
      const d = new Date(Date.now() + offset * 86_400_000);
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    };
    expect(await filterTo("Surface", "slack_command")).toBe(0);
    expect(await page.locator("#audit-empty").isVisible()).toBe(true);
    expect(await filterTo("Surface", "web")).toBe(1);
    expect(await filterTo("From", day(1))).toBe(0);
    expect(await filterTo("From", day(0))).toBe(1);
    expect(await filterTo("To", day(-1))).toBe(0);
    expect(new URL(page.url()).searchParams.get("surface")).toBe("web");
    expect(await reloaded(() => page.getByRole("button", { name: "Clear" }).click())).toBe(1);

    // The admin invites a colleague; the invite link opens sign-up ready to join.
    await page.getByRole("link", { name: "Team" }).click();
    await page.getByRole("button", { name: "Create invite" }).click();
    // The link appears once the invite request returns: wait for it rather than read it at once.
    await expect.poll(() => page.getByLabel("Invite link").inputValue(), { timeout: 10_000 }).toMatch(/#invite=/);
    const inviteLink = await page.getByLabel("Invite link").inputValue();
    expect(inviteLink).toMatch(/\/signup#invite=[\w-]+$/);
    const colleague = await newPage();
    await colleague.page.goto(inviteLink);
    expect(await colleague.page.getByLabel("Join an organisation with an invite code").isChecked()).toBe(true);
    expect(colleague.page.url()).toBe(url("/signup"));
    await colleague.page.getByLabel("Work email").fill(uniqueEmail("grace", "northwind.example"));
    await colleague.page.getByLabel("Password").fill(PASSWORD);
    await colleague.page.getByRole("button", { name: "Join organisation" }).click();
    await colleague.page.waitForURL((u) => u.pathname === "/");
    await colleague.page.locator("#account-org", { hasText: "Northwind Traders" }).waitFor();
    // A member has the audit page too, for their own questions, and the nav says so.
    await colleague.page.getByRole("link", { name: "Your questions" }).waitFor();
    expect(await colleague.page.getByRole("link", { name: "Audit log" }).count()).toBe(0);
    expect(await colleague.page.getByRole("link", { name: "Documents" }).isVisible()).toBe(true);
    await page.reload();
    await page.locator("#member-rows tr").nth(1).waitFor();
    expect(await page.locator("#member-rows").textContent()).toContain("Member");
    expect(colleague.problems).toEqual([]);

    // The token travelled only as a Bearer header: never in a URL, never as a cookie.
    const token = (await readSession(page))?.token ?? "";
    expect(token).toMatch(/^ey/);
    for (const r of requests) expect(r.url()).not.toContain(token.slice(-20));
    const apiRequests = requests.filter((r) => new URL(r.url()).pathname.startsWith("/api/"));
    expect(apiRequests.length).toBeGreaterThan(5);
    for (const r of apiRequests) expect(r.headers().authorization).toBe(`Bearer ${token}`);
    expect(await context.cookies()).toEqual([]);
    expect(problems).toEqual([]);
  });

  it("a second organisation in another browser context cannot see the first one's documents or audit rows", async () => {
    const globex = await newOrganisation(server.url, "Globex");
    const a = await newPage();
    const b = await newPage();
    await Promise.all([
      logInWithPage(a.page, server.url, initech.email),
      logInWithPage(b.page, server.url, globex.email),
    ]);

    // Initech sees its own document and audit row (the control)...
    await a.page.goto(url("/documents"));
    await a.page.locator("#doc-rows tr", { hasText: "TPS Report Guide" }).waitFor();
    await a.page.goto(url("/audit"));
    await a.page.locator("#audit-rows tr", { hasText: "When are TPS reports due?" }).waitFor();

    // ...Globex, in its own context, sees none of it.
    await b.page.goto(url("/documents"));
    await b.page.locator("#docs-empty", { hasText: "No documents yet" }).waitFor();
    expect(await b.page.locator("#doc-rows tr").count()).toBe(0);
    await b.page.goto(url("/audit"));
    await b.page.locator("#audit-empty").waitFor();
    expect(await b.page.locator("#audit-rows tr").count()).toBe(0);
    await b.page.goto(url("/"));
    await b.page.getByLabel("Your question").fill("When are TPS reports due?");
    await b.page.getByLabel("Your question").press("Enter");
    const answer = b.page.locator(".answer").last();
    await answer.locator(".outcome-no_context").waitFor();
    expect(await answer.locator(".sources").count()).toBe(0);
    expect(await b.page.locator("main").textContent()).not.toMatch(/Friday|cover sheet|TPS Report Guide/);

    // Not even by asking the API directly from Globex's page with Globex's token.
    const direct = await b.page.evaluate(
      async ({ docId, auditId }) => {
        const storage = (globalThis as unknown as PageWindow).sessionStorage;
        const token = JSON.parse(storage.getItem("enclave.session") ?? "{}").token;
        const get = (p: string) => fetch(p, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
        return [
          await get(`/api/documents/${docId}`),
          await get(`/api/documents/${docId}/file`),
          await get(`/api/audit/${auditId}`),
        ];
      },
      { docId: initechDocId, auditId: initechAuditId },
    );
    expect(direct).toEqual([404, 404, 404]);

    // And Globex's question does not show up in Initech's audit log.
    await a.page.reload();
    await a.page.locator("#audit-rows tr").first().waitFor();
    expect(await a.page.locator("#audit-rows").textContent()).not.toContain(globex.email);
    expect(await a.page.locator("#audit-rows tr").count()).toBe(1);
    expect([...a.problems, ...b.problems]).toEqual([]);
  });

  it("shows a member their own questions in the audit log, and an admin everyone's with the export", async () => {
    const org = await newOrganisation(server.url, "Hooli");
    const memberEmail = uniqueEmail("gavin", "hooli.example");
    await joinByInvite(server.url, org.client, memberEmail, PASSWORD);
    const guide = await org.client.upload(
      "Nucleus guide.txt",
      "Nucleus compresses files with a middle-out algorithm. The Nucleus launch is on a Tuesday.",
      "text/plain",
    );
    await waitForDocument(org.client, guide.json.document.id);
    const adminQuestion = "Who may sign off the Nucleus budget?";
    const adminAsk = await org.client.call("POST", "/api/ask", { question: adminQuestion });
    expect(adminAsk.status).toBe(200);

    // The member asks twice on the Ask page.
    const member = await newPage();
    await logInWithPage(member.page, server.url, memberEmail);
    const memberQuestions = ["How does Nucleus compress files?", "On which day is the Nucleus launch?"];
    for (const [i, q] of memberQuestions.entries()) {
      await member.page.getByLabel("Your question").fill(q);
      await member.page.getByLabel("Your question").press("Enter");
      await member.page.locator(".exchange .answer .feedback").nth(i).waitFor();
    }

    // Their audit page: only their own two exchanges, under their own heading, without the export or
    // the user filter, and a word that admins see everything.
    await member.page.getByRole("link", { name: "Your questions" }).click();
    await member.page.waitForURL((u) => u.pathname === "/audit");
    const memberRows = member.page.locator("#audit-rows tr");
    await memberRows.nth(1).waitFor();
    await member.page.locator("#audit-status", { hasText: "Showing 2 exchanges." }).waitFor();
    expect(await memberRows.count()).toBe(2);
    const listed = await member.page.locator("#audit-rows .cell-question").allTextContents();
    expect(listed.sort()).toEqual([...memberQuestions].sort());
    expect(await member.page.locator("#audit-rows").textContent()).not.toContain(org.email);
    expect(await member.page.getByRole("heading", { level: 1 }).textContent()).toBe("Your questions");
    expect(await member.page.title()).toBe("Your questions · Enclave");
    expect(await member.page.getByRole("link", { name: "Your questions" }).getAttribute("aria-current")).toBe("page");
    expect(await member.page.getByRole("button", { name: "Export CSV" }).count()).toBe(0);
    expect(await member.page.locator("#export").isVisible()).toBe(false);
    expect(await member.page.getByLabel("User").isVisible()).toBe(false);
    expect(await member.page.getByLabel("Surface").isVisible()).toBe(true);
    expect(await member.page.locator("#member-note").textContent()).toContain(
      "Admins see every exchange of the organisation",
    );
    expect(await member.page.locator("#member-note").isVisible()).toBe(true);

    // Their exchange opens; a bookmarked user filter is not sent for a member.
    await member.page.getByRole("button", { name: `View exchange: ${memberQuestions[0]}` }).click();
    const dialog = member.page.locator("#exchange-dialog");
    await dialog.locator(".question-text", { hasText: memberQuestions[0] }).waitFor();
    expect(await dialog.textContent()).toContain(memberEmail);
    await member.page.keyboard.press("Escape");
    const auditRequests: string[] = [];
    member.page.on("request", (r) => {
      if (new URL(r.url()).pathname.startsWith("/api/")) auditRequests.push(r.url());
    });
    await member.page.goto(url("/audit?user_id=someone-else"));
    await member.page.locator("#audit-status", { hasText: "Showing 2 exchanges." }).waitFor();
    expect(auditRequests.filter((u) => new URL(u).pathname === "/api/audit")).toHaveLength(1);
    for (const u of auditRequests) expect(new URL(u).searchParams.has("user_id")).toBe(false);
    expect(auditRequests.some((u) => new URL(u).pathname === "/api/members")).toBe(false);

    // The admin sees all three, with the user filter and the export.
    const admin = await newPage();
    await logInWithPage(admin.page, server.url, org.email);
    await admin.page.getByRole("link", { name: "Audit log" }).click();
    await admin.page.waitForURL((u) => u.pathname === "/audit");
    await admin.page.locator("#audit-status", { hasText: "Showing 3 exchanges." }).waitFor();
    expect(await admin.page.locator("#audit-rows tr").count()).toBe(3);
    const all = await admin.page.locator("#audit-rows .cell-question").allTextContents();
    expect(all.sort()).toEqual([...memberQuestions, adminQuestion].sort());
    expect(await admin.page.getByRole("heading", { level: 1 }).textContent()).toBe("Audit log");
    expect(await admin.page.getByRole("button", { name: "Export CSV" }).isVisible()).toBe(true);
    expect(await admin.page.getByLabel("User").isVisible()).toBe(true);
    expect(await admin.page.locator("#member-note").isVisible()).toBe(false);
    expect([...member.problems, ...admin.problems]).toEqual([]);
  });

  it("shows a document title containing HTML as text, everywhere", async () => {
    const evil = "<img src=x onerror=window.__pwned=1><b>Quarterly plan";
    const upload = await initech.client.upload(
      `${evil}.txt`,
      "The quarterly plan budget is 42 thousand euros. <script>window.__pwned=2</script> <img src=y onerror=window.__pwned=3>",
      "text/plain",
    );
    await waitForDocument(initech.client, upload.json.document.id);
    const { page, problems } = await newPage();
    await logInWithPage(page, server.url, initech.email);

    await page.goto(url("/documents"));
    const title = page.locator("#doc-rows .doc-title button", { hasText: "Quarterly plan" });
    await title.waitFor();
    expect(await title.textContent()).toBe(evil);
    expect(await page.locator("#doc-rows img, #doc-rows b").count()).toBe(0);

    await page.goto(url("/"));
    await page.getByLabel("Your question").fill("What is the quarterly plan budget?");
    await page.getByLabel("Your question").press("Enter");
    const answer = page.locator(".answer").last();
    await answer.locator(".sources").waitFor();
    expect(await answer.locator(".source-title").first().textContent()).toBe(evil);
    expect(await answer.textContent()).toContain("<script>window.__pwned=2</script>");
    expect(await page.locator("main img, main b, main script").count()).toBe(0);

    await page.goto(url("/audit"));
    await page.getByRole("button", { name: /View exchange: What is the quarterly plan budget/ }).click();
    await page.locator("#exchange-dialog .source-title", { hasText: "Quarterly plan" }).waitFor();
    expect(await page.locator("#exchange-dialog img, #exchange-dialog b, #exchange-dialog script").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).__pwned)).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it("says to log in with the account's own password when the email of a sign-up already has one", async () => {
    const { page, problems } = await newPage();
    await page.goto(url("/signup"));
    await page.getByLabel("Organisation name").fill("Initech Again");
    await page.getByLabel("Work email").fill(initech.email);
    await page.getByLabel("Password").fill("Another-pass-1");
    await page.getByRole("button", { name: "Create organisation" }).click();
    // The server answers as for a new account, creating nothing; the log-in that follows is refused.
    const message = page.locator("#signup-error");
    await message.getByRole("link", { name: "log in" }).waitFor();
    expect(await textOf(page, "#signup-error")).toBe(
      "Couldn't log you in. If this email already has an account, log in with its password.",
    );
    expect(await message.getByRole("link", { name: "log in" }).getAttribute("href")).toBe("/login");
    expect(page.url()).toBe(url("/signup"));
    expect(await readSession(page)).toBeNull();
    expect(await page.getByRole("button", { name: "Create organisation" }).isEnabled()).toBe(true);
    // The existing account is as it was: its own password logs in to its own organisation.
    const login = await fetch(url("/auth/login"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: initech.email, password: initech.password }),
    });
    expect(((await login.json()) as { tenant_id: string }).tenant_id).toBe(initech.tenantId);
    expect(problems).toEqual([]);
  });

  it("signs up with the keyboard alone", async () => {
    const { page, problems } = await newPage();
    await page.goto(url("/signup"));
    await page.keyboard.press("Tab");
    expect(await focused(page)).toBe("skip-link");
    for (let i = 0; i < 6 && (await focused(page)) !== "mode:create"; i++) await page.keyboard.press("Tab");
    expect(await focused(page)).toBe("mode:create");

    // Arrow keys switch between creating and joining; the form follows.
    await page.keyboard.press("ArrowDown");
    expect(await focused(page)).toBe("mode:join");
    expect(await page.locator("#invite-code").isVisible()).toBe(true);
    expect(await page.locator("#organization").isVisible()).toBe(false);
    await page.keyboard.press("ArrowUp");
    expect(await focused(page)).toBe("mode:create");

    await page.keyboard.press("Tab");
    expect(await focused(page)).toBe("organization");
    await page.keyboard.type("Keyboard & Co");
    await page.keyboard.press("Tab");
    expect(await focused(page)).toBe("email");
    await page.keyboard.type(uniqueEmail("kim", "keyboard.example"));
    await page.keyboard.press("Tab");
    expect(await focused(page)).toBe("password");
    // A weak password is refused before it is sent, with the rule spelled out.
    await page.keyboard.type("weakpass");
    await page.keyboard.press("Enter");
    expect(
      await page
        .locator("#password")
        .evaluate((el) => (el as unknown as { validationMessage: string }).validationMessage),
    ).toBe("Your password needs an upper-case letter and a digit.");
    expect(page.url()).toBe(url("/signup"));
    await page.keyboard.press("ControlOrMeta+a");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await page.waitForURL((u) => u.pathname === "/documents");
    expect(await textOf(page, "#account-org")).toBe("Keyboard & Co");

    // The upload control is reachable by keyboard too: the skip link leads into the page.
    await page.keyboard.press("Tab");
    expect(await focused(page)).toBe("skip-link");
    await page.keyboard.press("Enter");
    for (let i = 0; i < 6 && (await focused(page)) !== "files"; i++) await page.keyboard.press("Tab");
    expect(await focused(page)).toBe("files");
    expect(problems).toEqual([]);
  });

  it("says clearly when the session has expired and brings the user back after logging in", async () => {
    const { page, problems } = await newPage();
    await logInWithPage(page, server.url, initech.email);
    await page.goto(url("/documents"));
    await page.locator("#doc-rows tr").first().waitFor();

    // The server stops accepting the token (here: it is tampered with) -> the next call says so.
    await patchSession(page, { tamperToken: true });
    await page.getByLabel("Status").selectOption("ready");
    await page
      .locator("#doc-rows tr")
      .first()
      .getByRole("button", { name: /^Delete/ })
      .click();
    await page.locator("#delete-dialog").getByRole("button", { name: "Delete" }).click();
    const banner = page.locator("#session-banner");
    await banner.getByText("Your session has expired.").waitFor();
    expect(await banner.getByRole("link", { name: "Log in again" }).getAttribute("href")).toBe(
      "/login?next=%2Fdocuments",
    );
    expect(await readSession(page)).toBeNull();
    expect(await initech.client.call("GET", `/api/documents/${initechDocId}`).then((r) => r.status)).toBe(200);
    await banner.getByRole("link", { name: "Log in again" }).click();
    await page.getByLabel("Email").fill(initech.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL((u) => u.pathname === "/documents");

    // The token's lifetime runs out while the page is open: the page says so without waiting for a click.
    await patchSession(page, { expiresInMs: 1500 });
    await page.reload();
    await banner.getByText("Your session has expired.").waitFor({ timeout: 5000 });

    // Opening a page after it ran out goes to the login page with the reason.
    await logInWithPage(page, server.url, initech.email);
    await patchSession(page, { expiresInMs: -1000 });
    await page.goto(url("/audit"));
    await page.waitForURL((u) => u.pathname === "/login");
    expect(new URL(page.url()).searchParams.get("next")).toBe("/audit");
    expect(await textOf(page, "#login-notice")).toBe("Your session has expired. Log in again.");
    expect(problems).toEqual([]);
  });

  it("uploads several files with progress, shows failures, filters and deletes with confirmation", async () => {
    const { page, problems } = await newPage();
    const org = await newOrganisation(server.url, "Umbrella");
    await logInWithPage(page, server.url, org.email);
    await page.goto(url("/documents"));
    await page.locator("#docs-empty", { hasText: "No documents yet" }).waitFor();
    await page.setInputFiles("#files", [
      {
        name: "Lab safety.md",
        mimeType: "text/markdown",
        buffer: Buffer.from("# Lab safety\n\nGoggles are required in every laboratory at all times.\n"),
      },
      {
        name: "Broken scan.pdf",
        mimeType: "application/pdf",
        buffer: Buffer.from("%PDF-1.7\nthis is not really a PDF\n"),
      },
      {
        name: "photo.png",
        mimeType: "image/png",
        buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      },
    ]);
    const ready = page.locator("#doc-rows tr", { hasText: "Lab safety" });
    const broken = page.locator("#doc-rows tr", { hasText: "Broken scan" });
    await ready.locator(".badge", { hasText: "Ready" }).waitFor();
    await broken.locator(".badge", { hasText: "Failed" }).waitFor();
    const reason = (await broken.locator(".error-text").textContent()) ?? "";
    expect(reason.length).toBeGreaterThan(10);
    const refused = page.locator(".upload.is-error", { hasText: "photo.png" });
    expect(await refused.locator(".upload-state").textContent()).toMatch(/not supported/);
    // Each upload row ends with its document's final state, like the library.
    expect(
      await page.locator(".upload.is-error", { hasText: "Broken scan.pdf" }).locator(".upload-state").textContent(),
    ).toBe(`Failed: ${reason}`);
    expect(await page.locator(".upload.is-done").count()).toBe(1);
    expect(await page.locator(".upload.is-done .upload-state").textContent()).toMatch(
      /^Ready: 1 page, \d+ passages?\.$/,
    );
    await page.locator("#docs-status", { hasText: "1 of 3 uploads failed." }).waitFor();
    expect(await textOf(page, "#doc-count")).toBe("2 documents · 1 failed");

    // Filter by title and by status.
    await page.getByLabel("Filter by title").fill("lab");
    expect(await ready.isVisible()).toBe(true);
    expect(await broken.isVisible()).toBe(false);
    await page.getByLabel("Filter by title").fill("");
    await page.getByLabel("Status").selectOption("failed");
    expect(await ready.isVisible()).toBe(false);
    expect(await broken.isVisible()).toBe(true);
    await page.getByLabel("Filter by title").fill("zzz");
    await page.locator("#docs-empty", { hasText: "No documents match the filter." }).waitFor();
    await page.getByLabel("Filter by title").fill("");
    await page.getByLabel("Status").selectOption("");

    // Delete asks first; cancelling keeps the document and the focus.
    const del = ready.getByRole("button", { name: "Delete “Lab safety”" });
    await del.click();
    const dialog = page.locator("#delete-dialog");
    expect(await dialog.locator("#delete-name").textContent()).toBe("Lab safety");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(await ready.count()).toBe(1);
    expect(await hasFocus(del)).toBe(true);
    await del.click();
    await dialog.getByRole("button", { name: "Delete" }).click();
    await page.locator("#docs-status", { hasText: "Deleted Lab safety." }).waitFor();
    expect(await ready.count()).toBe(0);
    const left = await org.client.call("GET", "/api/documents");
    expect(left.json.documents.map((d: { title: string }) => d.title)).toEqual(["Broken scan"]);
    expect(problems).toEqual([]);
  });

  it("uploads for “Only me”, and shows an admin what others keep private without letting them open it", async () => {
    const org = await newOrganisation(server.url, "Vandelay");
    const memberEmail = uniqueEmail("george", "vandelay.example");
    await joinByInvite(server.url, org.client, memberEmail, PASSWORD);
    const handbook = await org.client.upload(
      "Import handbook.txt",
      "Latex imports are cleared at the harbour.",
      "text/plain",
    );
    await waitForDocument(org.client, handbook.json.document.id);
    // Files shared in Slack are readable by the members of their conversations only.
    const slackActor = {
      tenantId: org.tenantId as TenantId,
      principal: "slack:T0VANDEL:U0ELAINE",
      principals: ["slack:T0VANDEL:U0ELAINE"],
      role: "member" as const,
      surface: "slack_command" as const,
      slack: { teamId: "T0VANDEL", userId: "U0ELAINE" },
    };
    const conversation = (channelId: string, isPublic: boolean) => ({
      teamId: "T0VANDEL",
      channelId,
      public: isPublic,
    });
    for (const [title, conversations] of [
      ["Pendant plans", [conversation("C0PENDANT", false)]],
      ["Soup schedule", [conversation("C0SOUP001", false), conversation("C0SOUP002", true)]],
    ] as const) {
      await server.container.services.documents.add(slackActor, {
        fileName: `${title}.txt`,
        data: Buffer.from(`${title}: only for the channel.`),
        source: { kind: "slack", teamId: "T0VANDEL", fileId: `F${title.length}` },
        visibility: { kind: "slack_conversation", conversations: [...conversations] },
      });
    }

    // The member keeps a file to themselves.
    const member = await newPage();
    await logInWithPage(member.page, server.url, memberEmail);
    await member.page.goto(url("/documents"));
    const organisationWide = member.page.locator("#doc-rows tr", { hasText: "Import handbook" });
    await organisationWide.waitFor();
    expect(await member.page.getByLabel("Everyone in the organisation").isChecked()).toBe(true);
    await member.page.getByLabel("Only me").check();
    await member.page.setInputFiles("#files", {
      name: "Diary.txt",
      mimeType: "text/plain",
      buffer: Buffer.from("Dear diary: I am an architect."),
    });
    const diary = member.page.locator("#doc-rows tr", { hasText: "Diary" });
    await diary.locator(".badge", { hasText: "Ready" }).waitFor();
    expect(await diary.locator('td[data-label="Who can read"]').textContent()).toBe("Only you");
    expect(await organisationWide.locator('td[data-label="Who can read"]').textContent()).toBe(
      "Everyone in the organisation",
    );
    // Slack files of conversations the member is not in do not exist for them.
    expect(await member.page.locator("#doc-rows tr", { hasText: /Pendant|Soup/ }).count()).toBe(0);
    const listed = await org.client.call("GET", "/api/documents");
    const stored = listed.json.documents.find((d: { title: string }) => d.title === "Diary");
    expect(stored.visibility).toEqual({ kind: "private", owner: stored.uploaded_by });
    expect(stored.can_read).toBe(false);

    // A member deletes only what they added: the API's reason is shown, and the document stays.
    await organisationWide.getByRole("button", { name: "Delete “Import handbook”" }).click();
    await member.page.locator("#delete-dialog").getByRole("button", { name: "Delete" }).click();
    await member.page
      .locator("#docs-error", { hasText: "Only the person who added this document, or an admin, can delete it." })
      .waitFor();
    expect(await organisationWide.count()).toBe(1);

    // The admin sees every document for governance: who can read it and who added it, but cannot open
    // what was not shared with them.
    const admin = await newPage();
    await logInWithPage(admin.page, server.url, org.email);
    await admin.page.goto(url("/documents"));
    const theirDiary = admin.page.locator("#doc-rows tr", { hasText: "Diary" });
    await theirDiary.waitFor();
    const readers = (row: Locator) => row.locator('td[data-label="Who can read"] .readers').textContent();
    expect(await readers(theirDiary)).toBe(`Only ${memberEmail}`);
    expect(await theirDiary.locator(".tag-governance").textContent()).toBe("Governance only");
    expect(await theirDiary.locator(".doc-title button").count()).toBe(0);
    expect(await theirDiary.locator(".hint").textContent()).toBe(`Added by ${memberEmail}`);
    const pendant = admin.page.locator("#doc-rows tr", { hasText: "Pendant plans" });
    expect(await readers(pendant)).toBe("Members of Slack channel C0PENDANT");
    expect(await pendant.locator(".hint").textContent()).toBe("Added by Slack user U0ELAINE");
    const soup = admin.page.locator("#doc-rows tr", { hasText: "Soup schedule" });
    expect(await readers(soup)).toBe("Slack: 2 conversations");
    const own = admin.page.locator("#doc-rows tr", { hasText: "Import handbook" });
    expect(await readers(own)).toBe("Everyone in the organisation");
    expect(await own.locator(".doc-title button").count()).toBe(1);
    expect(await own.locator(".hint").textContent()).toBe("Added by you");
    expect(await admin.page.locator("#governance-note").isVisible()).toBe(true);

    // Deleting stays possible for the admin.
    await theirDiary.getByRole("button", { name: "Delete “Diary”" }).click();
    await admin.page.locator("#delete-dialog").getByRole("button", { name: "Delete" }).click();
    await admin.page.locator("#docs-status", { hasText: "Deleted Diary." }).waitFor();
    expect(await theirDiary.count()).toBe(0);
    expect([...member.problems, ...admin.problems]).toEqual([]);
  });

  it("lets an admin export the organisation and delete it by typing its name; a member sees neither", async () => {
    const org = await newOrganisation(server.url, "Vandelay Industries");
    const memberEmail = uniqueEmail("george", "vandelay.example");
    const memberClient = await joinByInvite(server.url, org.client, memberEmail, PASSWORD);
    const doc = await org.client.upload(
      "Latex catalogue.txt",
      "Vandelay imports latex and exports chips.",
      "text/plain",
    );
    await waitForDocument(org.client, doc.json.document.id);

    const member = await newPage();
    await logInWithPage(member.page, server.url, memberEmail);
    await member.page.goto(url("/team"));
    await member.page.locator("#member-note").waitFor();
    expect(await member.page.getByRole("button", { name: "Export everything" }).isVisible()).toBe(false);
    expect(await member.page.getByRole("button", { name: "Delete organisation…" }).isVisible()).toBe(false);

    const admin = await newPage();
    await logInWithPage(admin.page, server.url, org.email);
    await admin.page.goto(url("/team"));
    const [download] = await Promise.all([
      admin.page.waitForEvent("download"),
      admin.page.getByRole("button", { name: "Export everything" }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^enclave-export-\d{4}-\d{2}-\d{2}\.tar\.gz$/);
    const archive = gunzipSync(readFileSync((await download.path()) ?? ""));
    // A tar file: entry names sit in its 512-byte headers.
    expect(archive.includes("organisation.json")).toBe(true);
    expect(archive.includes("Vandelay imports latex")).toBe(true);
    await admin.page.locator("#export-status", { hasText: "Export downloaded." }).waitFor();

    await admin.page.getByRole("button", { name: "Delete organisation…" }).click();
    const dialog = admin.page.locator("#delete-org-dialog");
    const confirm = dialog.getByRole("button", { name: "Delete organisation" });
    await dialog.getByLabel("Organisation name").fill("Vandelay");
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel("Organisation name").fill("Vandelay Industries");
    await confirm.click();
    await admin.page.waitForURL((u) => u.pathname === "/login");
    await admin.page.locator("#login-notice", { hasText: "Your organisation is being deleted" }).waitFor();
    expect(await readSession(admin.page)).toBeNull();
    expect((await memberClient.call("GET", "/api/me")).status).toBe(401);
    expect((await org.client.call("GET", "/api/documents")).status).toBe(401);
    expect([...member.problems, ...admin.problems]).toEqual([]);
  });

  it("fits a 375 px wide phone screen without sideways scrolling", async () => {
    const { page, problems } = await newPage({ width: 375, height: 740 });
    await logInWithPage(page, server.url, initech.email);
    await page.getByLabel("Your question").fill("When are TPS reports due?");
    await page.getByLabel("Your question").press("Enter");
    await page.locator(".answer .sources").waitFor();
    for (const path of ["/", "/documents", "/audit", "/team", "/signup"]) {
      if (path !== "/") await page.goto(url(path));
      await page.waitForLoadState("networkidle");
      const width = await page.evaluate(
        () => (globalThis as unknown as PageWindow).document.documentElement.scrollWidth,
      );
      expect(width, path).toBeLessThanOrEqual(375);
    }
    expect(problems).toEqual([]);
  });
});
