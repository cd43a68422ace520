import { type Browser, type BrowserContext, chromium, type Page, type Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CHROMIUM_FLAGS,
  CHROMIUM_PATH,
  hasChromium,
  logInWithPage,
  type PageWindow,
  patchSession,
  readSession,
  watchPage,
} from "../support/browser.js";
import { newOrganisation, startTestServer, type TestServer, waitForDocument } from "../support/server.js";

/** What the init script records: every time a page of the tab was shown, and whether from the bfcache. */
interface Shown {
  path: string;
  persisted: boolean;
}

/**
 * "Nothing lost, nothing stuck" in headless Chromium against the real embedded server: the session
 * ends for real at logout (the Back button shows no data), and upload rows and the library follow
 * each document to its final state, with indexing progress on the way.
 *
 * Playwright turns Chromium's back/forward cache off by default; real browsers keep it on, and it is
 * what shows a page again after logging out, so this suite turns it back on.
 */
describe.skipIf(!hasChromium)("session end and live indexing in Chromium", () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const url = (path: string) => `${server.url}${path}`;

  async function newPage(): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    contexts.push(context);
    // Notes each pageshow in the tab's sessionStorage (it outlives the page), to tell a page restored
    // from the back/forward cache from one loaded again.
    await context.addInitScript(() => {
      const w = globalThis as unknown as PageWindow & {
        location: { pathname: string };
        addEventListener(type: "pageshow", listener: (event: { persisted: boolean }) => void): void;
      };
      w.addEventListener("pageshow", (event) => {
        try {
          const log = JSON.parse(w.sessionStorage.getItem("test.shown") ?? "[]");
          log.push({ path: w.location.pathname, persisted: event.persisted });
          w.sessionStorage.setItem("test.shown", JSON.stringify(log));
        } catch {
          // about:blank has no storage
        }
      });
    });
    const page = await context.newPage();
    return { page, problems: watchPage(page) };
  }
  const shown = (page: Page): Promise<Shown[]> =>
    page.evaluate(() => JSON.parse((globalThis as unknown as PageWindow).sessionStorage.getItem("test.shown") ?? "[]"));
  const bodyText = async (page: Page) => (await page.locator("body").textContent()) ?? "";

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startTestServer(),
      chromium.launch({
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: CHROMIUM_FLAGS,
        ignoreDefaultArgs: ["--disable-back-forward-cache"],
      }),
    ]);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  it("after logging out, Back shows none of the documents and lands on the login page", async () => {
    const org = await newOrganisation(server.url, "Hooli");
    const seeded = await org.client.upload("Nucleus merger plan.txt", "The merger closes in March.", "text/plain");
    await waitForDocument(org.client, seeded.json.document.id);
    const { page, problems } = await newPage();
    await logInWithPage(page, server.url, org.email);
    await page.goto(url("/documents"));
    await page.locator("#doc-rows tr", { hasText: "Nucleus merger plan" }).waitFor();
    expect(await page.locator("#account-email").textContent()).toBe(org.email);

    // Logging out wipes the page before the browser leaves it (and maybe keeps it for Back): note
    // what the page still shows at that moment.
    await page.evaluate(() => {
      const w = globalThis as unknown as PageWindow & {
        document: { body: { textContent: string | null } };
        addEventListener(type: "pagehide", listener: () => void): void;
      };
      w.addEventListener("pagehide", () =>
        w.sessionStorage.setItem("test.left-showing", w.document.body.textContent ?? ""),
      );
    });
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL((u) => u.pathname === "/login");
    expect(await readSession(page)).toBeNull();
    const leftShowing = await page.evaluate(() =>
      (globalThis as unknown as PageWindow).sessionStorage.getItem("test.left-showing"),
    );
    expect(leftShowing).not.toBeNull();
    expect(leftShowing).not.toContain("Nucleus merger plan");
    expect(leftShowing).not.toContain(org.email);

    // Back: the browser shows the documents page from its back/forward cache, which holds nothing,
    // and the page finds the session gone and goes to the login page.
    await page.goBack({ waitUntil: "commit" });
    expect(await bodyText(page)).not.toContain("Nucleus merger plan");
    await page.waitForURL((u) => u.pathname === "/login" && u.searchParams.get("next") === "/documents");
    await page.getByLabel("Email").waitFor();
    expect(await bodyText(page)).not.toContain("Nucleus merger plan");
    expect(await page.locator("#login-notice").textContent()).toBe("Log in to continue.");
    // The documents page really came back from the back/forward cache (not loaded afresh).
    expect(await shown(page)).toContainEqual({ path: "/documents", persisted: true });
    expect(problems).toEqual([]);
  });

  it("checks with the server when a page comes back from the back/forward cache", async () => {
    const org = await newOrganisation(server.url, "Pied Piper");
    const seeded = await org.client.upload("Compression notes.txt", "Middle-out compression.", "text/plain");
    await waitForDocument(org.client, seeded.json.document.id);
    const { page, problems } = await newPage();
    await logInWithPage(page, server.url, org.email);
    await page.goto(url("/documents"));
    await page.locator("#doc-rows tr", { hasText: "Compression notes" }).waitFor();

    // With the session still good, Back shows the same page again, brought up to date.
    await page.evaluate(() => {
      (globalThis as unknown as { __kept?: boolean }).__kept = true;
    });
    await page.getByRole("link", { name: "Ask", exact: true }).click();
    await page.waitForURL((u) => u.pathname === "/");
    const added = await org.client.upload("Board minutes.txt", "The board met on Tuesday.", "text/plain");
    await waitForDocument(org.client, added.json.document.id);
    await page.goBack({ waitUntil: "commit" });
    await page.locator("#doc-rows tr", { hasText: "Board minutes" }).waitFor();
    expect(await page.locator("#doc-rows tr", { hasText: "Compression notes" }).count()).toBe(1);
    expect(await page.evaluate(() => (globalThis as unknown as { __kept?: boolean }).__kept)).toBe(true);
    expect(await page.locator("#account-email").textContent()).toBe(org.email);

    // The server no longer accepts the token (here: tampered with while on another page): coming
    // back, the page asks who is logged in, is told no one, and goes to log in again.
    await page.getByRole("link", { name: "Ask", exact: true }).click();
    await page.waitForURL((u) => u.pathname === "/");
    // The Ask page's own session check must be over first: tampered with before it, its /api/me would be
    // the request told no one is logged in, and this test is about the documents page coming back.
    await page.waitForLoadState("networkidle");
    await patchSession(page, { tamperToken: true });
    await page.goBack({ waitUntil: "commit" });
    await page.waitForURL(
      (u) => u.pathname === "/login" && u.searchParams.has("expired") && u.searchParams.get("next") === "/documents",
    );
    expect(await page.locator("#login-notice").textContent()).toBe("Your session has expired. Log in again.");
    expect(await bodyText(page)).not.toContain("Compression notes");
    expect((await shown(page)).filter((s) => s.path === "/documents" && s.persisted)).toHaveLength(2);
    expect(problems).toEqual([]);
  });

  it("follows each upload to its final state: Ready with its size, or Failed with the reason", async () => {
    // Accepted (it starts like a PDF), then fails to index.
    const brokenPdf = "%PDF-1.4\n\u0000\u0001garbage that no PDF reader can parse \u00ff\u00fe\n";
    const org = await newOrganisation(server.url, "Aviato");
    const { page, problems } = await newPage();
    await logInWithPage(page, server.url, org.email);
    await page.goto(url("/documents"));
    await page.locator("#docs-empty", { hasText: "No documents yet" }).waitFor();
    await page.setInputFiles("#files", [
      {
        name: "Travel policy.txt",
        mimeType: "text/plain",
        buffer: Buffer.from("Economy class for flights under six hours. Business class for longer flights.\n"),
      },
      {
        name: "Scanned contract.pdf",
        mimeType: "application/pdf",
        buffer: Buffer.from(brokenPdf),
      },
    ]);

    const goodUpload = page.locator(".upload", { hasText: "Travel policy.txt" });
    const badUpload = page.locator(".upload", { hasText: "Scanned contract.pdf" });
    await goodUpload.locator(".upload-state", { hasText: /^Ready/ }).waitFor();
    await badUpload.locator(".upload-state", { hasText: /^Failed/ }).waitFor();

    const { documents } = (await org.client.call("GET", "/api/documents")).json as {
      documents: {
        id: string;
        title: string;
        status: string;
        pages: number;
        chunks: number;
        error?: { message: string };
      }[];
    };
    const good = documents.find((d) => d.title === "Travel policy");
    const bad = documents.find((d) => d.title === "Scanned contract");
    expect(good?.status).toBe("ready");
    expect(bad?.status).toBe("failed");
    const reason = bad?.error?.message ?? "";
    expect(reason.length).toBeGreaterThan(10);

    const plural = (n: number, one: string) => `${n} ${n === 1 ? one : `${one}s`}`;
    expect(await goodUpload.locator(".upload-state").textContent()).toBe(
      `Ready: ${plural(good?.pages ?? 0, "page")}, ${plural(good?.chunks ?? 0, "passage")}.`,
    );
    expect(await badUpload.locator(".upload-state").textContent()).toBe(`Failed: ${reason}`);
    expect(await goodUpload.evaluate((li) => li.classList.contains("is-done"))).toBe(true);
    expect(await badUpload.evaluate((li) => li.classList.contains("is-error"))).toBe(true);
    expect(await page.locator(".upload", { hasText: "Indexing" }).count()).toBe(0);

    // The library says the same.
    const goodRow = page.locator("#doc-rows tr", { hasText: "Travel policy" });
    const badRow = page.locator("#doc-rows tr", { hasText: "Scanned contract" });
    await goodRow.locator(".badge", { hasText: "Ready" }).waitFor();
    await badRow.locator(".badge", { hasText: "Failed" }).waitFor();
    expect(await badRow.locator(".error-text").textContent()).toBe(reason);
    expect(await goodRow.locator('td[data-label="Pages"]').textContent()).toBe(String(good?.pages));
    expect(await page.locator("#doc-rows .doc-progress").count()).toBe(0);
    // And the live region told a screen reader both outcomes.
    await page.locator("#docs-status", { hasText: "Travel policy is ready." }).waitFor();
    await page.locator("#docs-status", { hasText: `Scanned contract failed: ${reason}` }).waitFor();

    // The same broken file again: the server tries it once more, and both places follow that try
    // rather than show the old failure. (The try is held at "indexing" by rewriting the server's
    // answers about this document, as a real one is over in a moment.)
    const retrying = (d: { title: string; error?: unknown }) => {
      if (d.title !== "Scanned contract") return d;
      const { error: _error, ...rest } = d;
      return { ...rest, status: "indexing" };
    };
    const oneDoc = (u: URL) => u.pathname === `/api/documents/${bad?.id}`;
    const list = (u: URL) => u.pathname === "/api/documents";
    await page.route(oneDoc, async (route: Route) => {
      const response = await route.fetch();
      await route.fulfill({ response, json: retrying(await response.json()) });
    });
    await page.route(list, async (route: Route) => {
      const response = await route.fetch();
      const body = (await response.json()) as { documents: { title: string }[] };
      await route.fulfill({ response, json: { documents: body.documents.map(retrying) } });
    });
    await page.setInputFiles("#files", {
      name: "Scanned contract.pdf",
      mimeType: "application/pdf",
      buffer: Buffer.from(brokenPdf),
    });
    const again = page.locator(".upload").first();
    await again
      .locator(".upload-state", { hasText: "Already in the library as “Scanned contract”. Indexing…" })
      .waitFor();
    await badRow.locator(".badge", { hasText: "Indexing…" }).waitFor();
    await page.unroute(oneDoc);
    await page.unroute(list);
    await again
      .locator(".upload-state", { hasText: `Already in the library as “Scanned contract”. Failed: ${reason}` })
      .waitFor({ timeout: 20_000 });
    await badRow.locator(".badge", { hasText: "Failed" }).waitFor();
    expect(await page.locator("#doc-rows tr").count()).toBe(2);
    expect(problems).toEqual([]);
  });

  it("shows indexing progress in the upload row and the library, live, then the final state", async () => {
    const org = await newOrganisation(server.url, "Raviga");
    const { page, problems } = await newPage();
    await logInWithPage(page, server.url, org.email);
    await page.goto(url("/documents"));
    await page.locator("#docs-empty", { hasText: "No documents yet" }).waitFor();

    // A real indexing state is over in a moment: the server's answers about this one document are
    // rewritten to the state the test chooses; everything else is the real server's.
    const title = "Atlas of everything";
    let state: Record<string, unknown> = {
      status: "indexing",
      progress: { pages_done: 120, pages_total: 1500 },
      pages: 0,
      chunks: 0,
    };
    const rewrite = (d: { title: string; progress?: unknown; error?: unknown }) => {
      if (d.title !== title) return d;
      const { progress: _progress, error: _error, ...rest } = d;
      return { ...rest, ...state };
    };
    await page.route(
      (u) => /^\/api\/documents\/[^/]+$/.test(u.pathname),
      async (route: Route) => {
        if (route.request().method() !== "GET") return route.fallback();
        const response = await route.fetch();
        await route.fulfill({ response, json: rewrite(await response.json()) });
      },
    );
    await page.route(
      (u) => u.pathname === "/api/documents",
      async (route: Route) => {
        const response = await route.fetch();
        const body = (await response.json()) as { documents: { title: string }[] };
        await route.fulfill({ response, json: { documents: body.documents.map(rewrite) } });
      },
    );

    await page.setInputFiles("#files", {
      name: `${title}.txt`,
      mimeType: "text/plain",
      buffer: Buffer.from("Every map in the atlas is drawn to the same scale.\n"),
    });
    const upload = page.locator(".upload", { hasText: `${title}.txt` });
    const row = page.locator("#doc-rows tr", { hasText: title });
    await upload.locator(".upload-state", { hasText: "Indexing… 120 of 1,500 pages" }).waitFor();
    await row.locator(".doc-progress", { hasText: "120 of 1,500 pages" }).waitFor();
    expect(await row.locator(".badge").textContent()).toBe("Indexing…");
    const bar = (where: typeof row) =>
      where.locator("progress").evaluate((p) => {
        const el = p as unknown as { value: number; max: number; getAttribute(name: string): string | null };
        return { value: el.value, max: el.max, label: el.getAttribute("aria-label") };
      });
    expect(await bar(row)).toEqual({ value: 120, max: 1500, label: `Indexing ${title}` });
    expect(await bar(upload)).toEqual({ value: 120, max: 1500, label: `Indexing ${title}.txt` });
    const heightBefore = (await row.boundingBox())?.height;

    // Progress moves on: both places follow without the row changing size.
    state = { ...state, progress: { pages_done: 600, pages_total: 1500 } };
    await upload.locator(".upload-state", { hasText: "Indexing… 600 of 1,500 pages" }).waitFor({ timeout: 20_000 });
    await row.locator(".doc-progress", { hasText: "600 of 1,500 pages" }).waitFor({ timeout: 20_000 });
    expect((await bar(row)).value).toBe(600);
    expect((await row.boundingBox())?.height).toBe(heightBefore);

    // Done: the final state replaces the progress, and is announced.
    state = { status: "ready", pages: 1500, chunks: 4200 };
    await upload
      .locator(".upload-state", { hasText: "Ready: 1,500 pages, 4,200 passages." })
      .waitFor({ timeout: 20_000 });
    await row.locator(".badge", { hasText: "Ready" }).waitFor();
    expect(await row.locator('td[data-label="Pages"]').textContent()).toBe("1,500");
    expect(await row.locator(".doc-progress").count()).toBe(0);
    await page.locator("#docs-status", { hasText: `${title} is ready.` }).waitFor();
    expect(await page.locator("#doc-count").textContent()).toBe("1 document");
    expect(problems).toEqual([]);
  });
});
