import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchChromium, logInWithPage, PASSWORD, uniqueEmail, watchPage } from "../support/browser.js";
import { joinByInvite, newOrganisation, startTestServer, type TestServer, waitForDocument } from "../support/server.js";

/**
 * The Ask page as a conversation, in headless Chromium against the real embedded server: the answer
 * is shown as it streams in (as text), then with its numbered sources and the note under it; the
 * conversation survives a reload, is sent along with follow-ups, is not shown to anyone else who
 * logs in on the same browser, and "New conversation" starts afresh.
 */

const POLICY = [
  "Employees receive 27 vacation days per year, plus public holidays.",
  "Contractors receive 12 vacation days per year, agreed with their agency <img src=x onerror=window.__pwned=1>.",
  "Contractors must wear a visitor badge at all times inside the building.",
].join("\n\n");

const FIRST = "How many vacation days do employees and contractors get per year?";
const FOLLOW_UP = "And for contractors?";

/** What the init script records of the answer area: its states in order, and any element a document injected. */
interface Recorded {
  states: string[];
  injected: number;
}

describe.skipIf(!hasChromium)("Ask page: streamed answers and conversations in Chromium", () => {
  let server: TestServer;
  let browser: Browser;
  let org: Awaited<ReturnType<typeof newOrganisation>>;
  let memberEmail: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
    org = await newOrganisation(server.url, "Streamline");
    memberEmail = uniqueEmail("grace", "streamline.example");
    await joinByInvite(server.url, org.client, memberEmail, PASSWORD);
    const upload = await org.client.upload("Leave Policy.txt", POLICY, "text/plain");
    await waitForDocument(org.client, upload.json.document.id);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  /** A fresh browser profile whose pages record every state of the answer area (a MutationObserver). */
  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 }, reducedMotion: "reduce" });
    contexts.push(context);
    await context.addInitScript(() => {
      const w = globalThis as any;
      const recorded = { states: [] as string[], injected: 0 };
      w.__recorded = recorded;
      const note = (state: string) => {
        if (recorded.states.at(-1) !== state) recorded.states.push(state);
      };
      new w.MutationObserver((mutations: any[]) => {
        for (const m of mutations) {
          const streaming = m.target?.closest?.(".answer-streaming");
          for (const node of m.addedNodes) {
            if (node.nodeType === 3 && streaming) note(`stream:${node.data}`);
            if (node.nodeType !== 1) continue;
            if (node.closest(".answer") && /^(IMG|SCRIPT|B)$/.test(node.tagName)) recorded.injected++;
            if (node.matches(".thinking")) note("thinking");
            if (node.matches(".answer-text") && !node.matches(".answer-streaming")) note("final");
          }
        }
      }).observe(w.document, { childList: true, subtree: true });
    });
    return context;
  }

  async function newPage(context: BrowserContext): Promise<{ page: Page; problems: string[]; asks: Request[] }> {
    const page = await context.newPage();
    const asks: Request[] = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname === "/api/ask") asks.push(r);
    });
    return { page, problems: watchPage(page), asks };
  }

  const recorded = (page: Page): Promise<Recorded> => page.evaluate(() => (globalThis as any).__recorded);
  const storedKeys = (page: Page): Promise<string[]> =>
    page.evaluate(() => {
      const storage = (globalThis as any).sessionStorage;
      return Array.from({ length: storage.length }, (_, i) => storage.key(i) as string);
    });

  async function ask(page: Page, text: string, nth: number) {
    await page.getByLabel("Your question").fill(text);
    await page.getByLabel("Your question").press("Enter");
    const answer = page.locator(".exchange .answer").nth(nth);
    await answer.locator(".feedback").waitFor();
    return answer;
  }

  it("shows the answer as it streams, then with sources and the note, and keeps the conversation across a reload", async () => {
    const context = await newContext();
    const { page, problems, asks } = await newPage(context);
    await logInWithPage(page, server.url, org.email);
    expect(await page.getByRole("button", { name: "New conversation" }).isVisible()).toBe(false);

    const first = await ask(page, FIRST, 0);
    const request = asks[0];
    expect(await request?.headerValue("accept")).toBe("text/event-stream");
    expect(request?.postDataJSON()).toEqual({ question: FIRST, surface: "web", history: [] });
    expect(await (await request?.response())?.headerValue("content-type")).toBe("text/event-stream; charset=utf-8");

    const answerText = (await first.locator(".answer-text").textContent()) ?? "";
    expect(answerText).toContain("27 vacation days");
    expect(answerText).toContain("12 vacation days");
    expect(await first.locator(".source .source-title").first().textContent()).toBe("Leave Policy");
    expect(await first.locator("a.cite", { hasText: "[1]" }).count()).toBeGreaterThan(0);
    // The note is under the answer, quiet, and not its first line.
    const note = first.locator(".answer-note");
    expect(await note.textContent()).toMatch(/no language model is configured/i);
    expect(answerText).not.toMatch(/language model/i);
    expect(
      await first.evaluate((el: any) => {
        const text = el.querySelector(".answer-text");
        const n = el.querySelector(".answer-note");
        // 4: DOCUMENT_POSITION_FOLLOWING
        return Boolean(text.compareDocumentPosition(n) & 4) && !text.contains(n);
      }),
    ).toBe(true);
    expect(await first.locator(".answer-streaming").count()).toBe(0);

    // Before the final rendering the answer area showed "Searching…", then the answer growing as text.
    const { states, injected } = await recorded(page);
    const firstStream = states.findIndex((s) => s.startsWith("stream:"));
    expect(states[0]).toBe("thinking");
    expect(firstStream).toBeGreaterThan(0);
    expect(states.indexOf("final")).toBeGreaterThan(firstStream);
    const streamed = states.filter((s) => s.startsWith("stream:")).map((s) => s.slice("stream:".length));
    const partial = streamed.find((s) => s.length > 0 && s.length < answerText.length);
    expect(partial, JSON.stringify(states)).toBeDefined();
    // The document's markup arrived as text while streaming and after: no element was made of it.
    expect(streamed.at(-1)).toContain("<img src=x onerror=window.__pwned=1>");
    expect(injected).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).__pwned)).toBeUndefined();

    await first.getByRole("button", { name: "Helpful", exact: true }).click();
    await first.locator(".feedback-note", { hasText: "Thanks for the feedback." }).waitFor();

    // A follow-up carries the conversation so far, and is answered in its light.
    const second = await ask(page, FOLLOW_UP, 1);
    const firstAnswer = answerText.trim();
    expect(asks[1]?.postDataJSON().history).toEqual([
      { role: "user", text: FIRST },
      { role: "assistant", text: expect.stringContaining("27 vacation days") },
    ]);
    expect(firstAnswer).toContain("27 vacation days");
    expect(await second.locator(".answer-text").textContent()).toContain("Contractors receive 12 vacation days");
    expect(await second.locator(".answer-text").textContent()).not.toContain("visitor badge");

    // Reloaded, the page shows the whole conversation as it was, and goes on from it.
    await page.reload();
    const exchanges = page.locator(".exchange");
    await exchanges.nth(1).locator(".feedback").waitFor();
    expect(await exchanges.count()).toBe(2);
    expect(await exchanges.nth(0).locator(".question").textContent()).toContain(FIRST);
    expect(await exchanges.nth(1).locator(".question").textContent()).toContain(FOLLOW_UP);
    const restored = exchanges.nth(0).locator(".answer");
    expect(await restored.locator(".answer-text").textContent()).toContain("27 vacation days");
    expect(await restored.locator(".source-title").first().textContent()).toBe("Leave Policy");
    expect(await restored.locator(".answer-note").textContent()).toMatch(/no language model is configured/i);
    expect(await restored.getByRole("button", { name: "Helpful", exact: true }).getAttribute("aria-pressed")).toBe(
      "true",
    );
    expect(await page.locator("#ask-empty").isVisible()).toBe(false);
    expect(await page.getByRole("button", { name: "New conversation" }).isVisible()).toBe(true);
    // The restored citations still lead to their sources.
    await restored.locator("a.cite", { hasText: "[1]" }).first().click();
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe(
      await restored.locator(".source").first().getAttribute("id"),
    );

    await ask(page, "Who must wear a visitor badge?", 2);
    expect(asks[2]?.postDataJSON().history.map((t: { role: string; text: string }) => t.role)).toEqual([
      "user",
      "assistant",
      "user",
      "assistant",
    ]);
    expect(asks[2]?.postDataJSON().history[2]).toEqual({ role: "user", text: FOLLOW_UP });
    expect(problems).toEqual([]);
  });

  it("shows no one else the conversation on the same browser, and logging out forgets it", async () => {
    const context = await newContext();
    const { page, problems } = await newPage(context);
    await logInWithPage(page, server.url, org.email);
    await ask(page, FIRST, 0);

    // Another member opens a tab of the same browser: their Ask page is empty.
    const other = await newPage(context);
    await logInWithPage(other.page, server.url, memberEmail);
    await other.page.locator("#ask-empty").waitFor();
    expect(await other.page.locator(".exchange").count()).toBe(0);

    // On the first tab, they log in over the admin's session: nothing of the admin's is shown or kept.
    await page.goto(`${server.url}/login?expired=1`);
    await page.getByLabel("Email").fill(memberEmail);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL((u) => u.pathname === "/");
    await page.locator("#account-email").filter({ hasText: memberEmail }).waitFor();
    await page.locator("#ask-empty").waitFor();
    expect(await page.locator(".exchange").count()).toBe(0);
    expect((await storedKeys(page)).filter((k) => k.startsWith("enclave.user."))).toEqual([]);

    // The member asks, logs out: the conversation is gone from the tab, and is not back after logging in.
    await ask(page, FIRST, 0);
    expect((await storedKeys(page)).filter((k) => k.startsWith("enclave.user."))).toHaveLength(1);
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL((u) => u.pathname === "/login");
    expect((await storedKeys(page)).filter((k) => k.startsWith("enclave.user."))).toEqual([]);
    await logInWithPage(page, server.url, memberEmail);
    await page.locator("#ask-empty").waitFor();
    expect(await page.locator(".exchange").count()).toBe(0);
    expect([...problems, ...other.problems]).toEqual([]);
  });

  it("starts a new conversation: cleared on screen and in storage, and the next question has no history", async () => {
    const context = await newContext();
    const { page, problems, asks } = await newPage(context);
    await logInWithPage(page, server.url, org.email);
    await ask(page, FIRST, 0);
    await ask(page, FOLLOW_UP, 1);

    await page.getByRole("button", { name: "New conversation" }).click();
    expect(await page.locator(".exchange").count()).toBe(0);
    expect(await page.locator("#ask-empty").isVisible()).toBe(true);
    expect(await page.getByRole("button", { name: "New conversation" }).isVisible()).toBe(false);
    expect(await page.locator("#ask-status").textContent()).toBe("Started a new conversation.");
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("question");

    await page.reload();
    await page.locator("#ask-empty").waitFor();
    expect(await page.locator(".exchange").count()).toBe(0);

    // The same short follow-up, now without the earlier question, is about anything contractors do.
    const fresh = await ask(page, FOLLOW_UP, 0);
    expect(asks.at(-1)?.postDataJSON().history).toEqual([]);
    expect(await fresh.locator(".answer-text").textContent()).toContain("visitor badge");
    expect(problems).toEqual([]);
  });
});
