/**
 * Screenshots of the web app for the README: starts the embedded server on a scratch data folder,
 * seeds an organisation with the sample documents in examples/documents (plus two generated PDFs and
 * a scanned one without text), asks a few questions on the web and "from Slack", links a workspace,
 * then photographs the main pages in headless Chromium into docs/screenshots/*.png (1200x800).
 *
 *   npx tsx bench/screenshots.ts [outDir]
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PDFDocument, rgb, StandardFonts } from "pdf-lib";
import { chromium, type Page } from "playwright-core";
import type { TenantId } from "../src/domain/tenant.js";
import { startServer } from "../src/entrypoints/server.js";
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from "../test/support/browser.js";
import { workspaceLinkToken } from "../test/support/link-tokens.js";

const OUT = resolve(process.argv[2] ?? "docs/screenshots");
const EXAMPLES = resolve("examples/documents");
const PASSWORD = "Correct-horse-9";
const ADMIN = "ada.lovelace@northwind.example";
const MEMBER = "grace.hopper@northwind.example";
const SLACK_TEAM = "T04NWIND";

async function call<T = unknown>(
  base: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

async function upload(base: string, token: string, name: string, data: Uint8Array, type: string): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([Buffer.from(data)], { type }), name);
  const res = await fetch(`${base}/api/upload`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  if (!res.ok) throw new Error(`upload ${name}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { document: { id: string } }).document.id;
}

/** A tidy text PDF: wrapped paragraphs, one list per page. */
async function textPdf(pages: string[][]): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  for (const paragraphs of pages) {
    const page = pdf.addPage([595, 842]);
    let y = 770;
    for (const paragraph of paragraphs) {
      const words = paragraph.split(" ");
      let line = "";
      for (const word of words) {
        const next = line ? `${line} ${word}` : word;
        if (font.widthOfTextAtSize(next, 11) > 480) {
          page.drawText(line, { x: 56, y, size: 11, font });
          y -= 16;
          line = word;
        } else {
          line = next;
        }
      }
      if (line) page.drawText(line, { x: 56, y, size: 11, font });
      y -= 28;
    }
  }
  return pdf.save();
}

/** A "scan": only shapes, no text layer. */
async function scannedPdf(): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const page = pdf.addPage([595, 842]);
  for (let i = 0; i < 30; i++)
    page.drawRectangle({ x: 56, y: 760 - i * 22, width: 300 + (i % 5) * 30, height: 9, color: rgb(0.75, 0.75, 0.75) });
  return pdf.save();
}

async function waitSettled(base: string, token: string, ids: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { documents } = await call<{ documents: { id: string; title: string; status: string }[] }>(
      base,
      token,
      "GET",
      "/api/documents",
    );
    const pending = documents.filter((d) => ids.includes(d.id) && (d.status === "queued" || d.status === "indexing"));
    if (pending.length === 0) return;
    if (Date.now() > deadline) throw new Error(`still indexing: ${pending.map((d) => d.title).join(", ")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function shoot(page: Page, name: string): Promise<void> {
  // No blinking caret or half-finished transition in the pictures.
  await page.evaluate(() =>
    (
      globalThis as unknown as { document: { activeElement: { blur?: () => void } | null } }
    ).document.activeElement?.blur?.(),
  );
  await page.mouse.move(1, 1);
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(OUT, `${name}.png`) });
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), "enclave-screens-"));
  const server = await startServer({
    DATA_DIR: dataDir,
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "error",
    PUBLIC_URL: "http://localhost:3000",
  });
  const base = server.url;
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_FLAGS, "--hide-scrollbars"],
  });
  try {
    // The organisation, its documents and a member.
    await call(base, undefined, "POST", "/auth/signup", {
      email: ADMIN,
      password: PASSWORD,
      organization: "Northwind Traders",
    });
    const admin = (
      await call<{ id_token: string }>(base, undefined, "POST", "/auth/login", { email: ADMIN, password: PASSWORD })
    ).id_token;
    const ids: string[] = [];
    for (const file of readdirSync(EXAMPLES).sort()) {
      const type = file.endsWith(".md") ? "text/markdown" : "text/plain";
      const title = file
        .replace(/\.(md|txt)$/, "")
        .replace(/-/g, " ")
        .replace(/\b\w/g, (c) => c.toUpperCase());
      ids.push(
        await upload(base, admin, `${title}.${file.split(".").pop()}`, readFileSync(join(EXAMPLES, file)), type),
      );
    }
    ids.push(
      await upload(
        base,
        admin,
        "Travel Policy 2025.pdf",
        await textPdf([
          [
            "This policy applies to all business travel booked by Northwind Traders staff.",
            "Book every trip through the Orbit travel portal at least 14 days ahead.",
          ],
          [
            "Trains are preferred for journeys under four hours. Flights under six hours are booked in economy class.",
            "Business class flights need the approval of a director.",
          ],
          [
            "The daily meal allowance on business trips is 45 euros; alcohol is never reimbursed.",
            "Expense claims are submitted within 30 days with a photo of every receipt.",
          ],
        ]),
        "application/pdf",
      ),
    );
    ids.push(
      await upload(
        base,
        admin,
        "IT Onboarding Checklist.pdf",
        await textPdf([
          [
            "New laptops are set up by the IT service desk before the first day.",
            "Enable two-factor authentication on your account within the first week.",
          ],
        ]),
        "application/pdf",
      ),
    );
    ids.push(await upload(base, admin, "Signed supplier contract (scan).pdf", await scannedPdf(), "application/pdf"));
    await waitSettled(base, admin, ids);

    const invite = (await call<{ code: string }>(base, admin, "POST", "/api/invites", { role: "member" })).code;
    await call(base, undefined, "POST", "/auth/signup", { email: MEMBER, password: PASSWORD, invite_code: invite });
    const member = (
      await call<{ id_token: string }>(base, undefined, "POST", "/auth/login", { email: MEMBER, password: PASSWORD })
    ).id_token;

    // History for the audit log: the web, and Slack (through the same answer service the bot uses).
    const { tenant_id: tenant } = await call<{ tenant_id: TenantId }>(base, admin, "GET", "/api/me");
    const slackAsk = (userId: string, question: string, surface: "slack_command" | "slack_mention" | "slack_dm") =>
      server.container.services.answers.ask({
        actor: {
          tenantId: tenant,
          principal: `slack:${SLACK_TEAM}:${userId}`,
          principals: [`slack:${SLACK_TEAM}:${userId}`],
          role: "member",
          surface,
          slack: { teamId: SLACK_TEAM, userId },
        },
        audience: { kind: "asker" },
        question,
        slack: { teamId: SLACK_TEAM, channelId: surface === "slack_dm" ? `D${userId.slice(1)}` : "C04GENERAL" },
      });
    await slackAsk("U04MARIE", "When do laptops get replaced?", "slack_command");
    const hotel = await call<{ audit_id: string }>(base, member, "POST", "/api/ask", {
      question: "What is the hotel limit in capital cities?",
      surface: "web",
    });
    await call(base, member, "POST", `/api/audit/${hotel.audit_id}/feedback`, { value: "up" });
    await slackAsk("U04ALAN", "When can business class flights be booked?", "slack_mention");
    await slackAsk("U04MARIE", "What is the policy on bringing pets to the office?", "slack_dm");
    await call(base, member, "POST", "/api/ask", {
      question: "How fast must a lost laptop be reported?",
      surface: "web",
    });
    const link = await workspaceLinkToken(server.container, {
      teamId: SLACK_TEAM,
      teamName: "Northwind Traders",
      slackUserId: "U04ADA",
    });
    await call(base, admin, "POST", "/api/links", { token: link.token });

    // The pictures.
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(`${base}/signup`);
    await shoot(page, "signup");

    await page.goto(`${base}/login`);
    await page.getByLabel("Email").fill(ADMIN);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL((u) => u.pathname === "/");
    await page.getByLabel("Your question").fill("What is the daily meal allowance on business trips?");
    await page.getByLabel("Your question").press("Enter");
    await page.locator(".answer .feedback").waitFor();
    await page.getByRole("button", { name: "Helpful", exact: true }).click();
    await page.locator(".feedback-note", { hasText: "Thanks" }).waitFor();
    await page.evaluate(() => (globalThis as unknown as { scrollTo: (x: number, y: number) => void }).scrollTo(0, 0));
    await shoot(page, "ask");

    await page.goto(`${base}/documents`);
    await page
      .locator("#doc-rows tr")
      .nth(ids.length - 1)
      .waitFor();
    await shoot(page, "documents");

    await page.goto(`${base}/audit`);
    await page.locator("#audit-rows tr").nth(5).waitFor();
    await shoot(page, "audit");
    await page.getByRole("button", { name: /View exchange: What is the hotel limit/ }).click();
    await page.locator("#exchange-dialog .sources").waitFor();
    await shoot(page, "audit-exchange");
    await page.keyboard.press("Escape");

    await page.goto(`${base}/team`);
    await page.locator("#member-rows tr").nth(1).waitFor();
    await page.locator("#link-rows tr").first().waitFor();
    await page.getByRole("button", { name: "Create invite" }).click();
    await page.locator("#invite-result").waitFor();
    await shoot(page, "team");

    const second = await workspaceLinkToken(server.container, {
      teamId: "T04NWENG",
      teamName: "Northwind Engineering",
      slackUserId: "U04LINUS",
    });
    await page.goto(`${base}/link?token=${encodeURIComponent(second.token)}`);
    await page.getByRole("button", { name: "Link workspace" }).waitFor();
    await shoot(page, "link");

    const phone = await browser.newContext({
      viewport: { width: 390, height: 800 },
      deviceScaleFactor: 1,
      isMobile: true,
      hasTouch: true,
    });
    const mobile = await phone.newPage();
    await mobile.goto(`${base}/login`);
    await mobile.getByLabel("Email").fill(ADMIN);
    await mobile.getByLabel("Password").fill(PASSWORD);
    await mobile.getByRole("button", { name: "Log in" }).click();
    await mobile.waitForURL((u) => u.pathname === "/");
    await mobile.getByLabel("Your question").fill("Who approves long vacations?");
    await mobile.getByLabel("Your question").press("Enter");
    await mobile.locator(".answer .feedback").waitFor();
    await mobile.evaluate(() => (globalThis as unknown as { scrollTo: (x: number, y: number) => void }).scrollTo(0, 0));
    await shoot(mobile, "phone-ask");

    for (const file of readdirSync(OUT)
      .filter((f) => f.endsWith(".png"))
      .sort()) {
      process.stdout.write(`${join(OUT, file)}  ${Math.round(statSync(join(OUT, file)).size / 1024)} KB\n`);
    }
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
