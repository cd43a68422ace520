import { existsSync } from "node:fs";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { type Browser, type ConsoleMessage, chromium, type Locator, type Page } from "playwright-core";

/** Debian's Chromium: CI installs it with apt-get; a developer machine may not have it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM_PATH);

if (!hasChromium && process.env.CI) {
  // CI installs Chromium; a missing one there is a broken pipeline, not a reason to skip silently.
  throw new Error(`No Chromium at ${CHROMIUM_PATH} on CI: the browser tests must run there.`);
}
if (!hasChromium) {
  console.warn(
    `[browser tests] skipped: no Chromium at ${CHROMIUM_PATH}. Install it with "apt-get install -y chromium" (CI always does) or set CHROMIUM_PATH.`,
  );
}

/** Flags for Chromium on a machine without a network, as root. */
export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Headless Chromium with a fresh temporary profile (Playwright creates and removes the user-data dir). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_FLAGS });
}

/**
 * Collects what would mean a broken or unsafe page: uncaught errors and CSP violations. Tests assert
 * the list stays empty.
 */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (message: ConsoleMessage) => {
    if (message.type() === "error" && /Content Security Policy|Refused to/i.test(message.text())) {
      problems.push(`csp: ${message.text()}`);
    }
  });
  return problems;
}

/** A PDF whose pages hold the given text, one line per entry (long lines are not wrapped). */
export async function makePdf(pages: string[][], title?: string): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  if (title) pdf.setTitle(title);
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  for (const lines of pages) {
    const page = pdf.addPage([595, 842]);
    lines.forEach((line, i) => {
      page.drawText(line, { x: 50, y: 780 - i * 18, size: 12, font });
    });
  }
  return pdf.save();
}

/**
 * The browser globals that page callbacks touch. The test project compiles without the DOM library,
 * so callbacks reach them through `globalThis as unknown as PageWindow` (the cast is erased).
 */
export interface PageWindow {
  document: {
    activeElement: { id: string; className: string; tagName: string; name?: string; value?: string } | null;
    documentElement: { scrollWidth: number };
  };
  sessionStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
  __blobs?: { type: string; size: number }[];
  __pwned?: number;
}

/** The web app's stored session in this page (null when logged out). */
export function readSession(page: Page): Promise<{ token: string; expiresAt: number } | null> {
  return page.evaluate(() =>
    JSON.parse((globalThis as unknown as PageWindow).sessionStorage.getItem("enclave.session") ?? "null"),
  );
}

/** Changes the stored session: a token the server will reject, or a lifetime ending `expiresInMs` from now. */
export function patchSession(page: Page, patch: { tamperToken?: boolean; expiresInMs?: number }): Promise<void> {
  return page.evaluate((p) => {
    const storage = (globalThis as unknown as PageWindow).sessionStorage;
    const s = JSON.parse(storage.getItem("enclave.session") ?? "{}");
    if (p.tamperToken) s.token = `${s.token.slice(0, -6)}AAAAAA`;
    if (p.expiresInMs !== undefined) s.expiresAt = Date.now() + p.expiresInMs;
    storage.setItem("enclave.session", JSON.stringify(s));
  }, patch);
}

/** The id of the focused element, or for the sign-up mode radios `mode:<value>`, else its class or tag. */
export function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = (globalThis as unknown as PageWindow).document.activeElement;
    return el?.id || (el?.name === "mode" ? `mode:${el.value}` : el?.className || el?.tagName || "");
  });
}

/** Whether the located element has the keyboard focus. */
export function hasFocus(locator: Locator): Promise<boolean> {
  return locator.evaluate((el) => el === (globalThis as unknown as PageWindow).document.activeElement);
}

export const PASSWORD = "Correct-horse-9";

let counter = 0;
export const uniqueEmail = (who: string, domain: string) => `${who}${++counter}-${Date.now()}@${domain}`;

/** Logs in through the login page. */
export async function logInWithPage(page: Page, baseUrl: string, email: string, password = PASSWORD): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL((url) => url.pathname === "/");
  await page.locator("#account-email").filter({ hasText: email }).waitFor({ state: "attached" });
}
