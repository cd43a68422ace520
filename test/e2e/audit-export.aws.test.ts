import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditRecord } from "../../src/domain/audit.js";
import type { TenantId } from "../../src/domain/tenant.js";
import type { AuditLog } from "../../src/ports/audit-log.js";
import { auditCsv } from "../../src/services/audit-export.js";
import { type AwsStack, startAwsStack } from "../support/aws-stack.js";
import { installBedrockMock } from "../support/fake-bedrock.js";
import { type LambdaApp, startLambdaApp } from "../support/lambda.js";
import { type ApiClient, newOrganisation, waitForDocument } from "../support/server.js";

/**
 * The admin's CSV export of the audit log through the HTTP Lambda handler (serverless-express), over
 * the AWS emulators: it completes, it is byte for byte the export of the organisation's own records,
 * and nothing of another organisation is in it.
 */
const handbook = readFileSync(
  new URL("../../examples/documents/northwind-employee-handbook.md", import.meta.url),
  "utf8",
);
const B_MARKER = "zebracorn";
const A_QUESTIONS = [
  "How many vacation days do full-time employees get?",
  // Cells that need quoting or neutralising, and text that is not ASCII.
  'What is the "remote work" policy, and who approves it?',
  "=SUM(A1:A9) how many vacation days, again?",
  "Combien de congés payés ? Ünïcödé ✓ 🏖️",
  "Line one of a question\nand its second line about vacation",
];
const EXPORT_TIMEOUT_MS = 30_000;

let bedrock: ReturnType<typeof installBedrockMock>;
let stack: AwsStack;
let app: LambdaApp;
let a: Awaited<ReturnType<typeof newOrganisation>>;
let b: Awaited<ReturnType<typeof newOrganisation>>;

async function ask(client: ApiClient, question: string): Promise<string> {
  const res = await client.call("POST", "/api/ask", { question });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return res.json.audit_id as string;
}

/** Every audit record of the caller's organisation, as GET /api/audit serves them, newest first. */
async function auditRecords(client: ApiClient): Promise<any[]> {
  const records: any[] = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; json: any } = await client.call(
      "GET",
      `/api/audit?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    expect(page.status).toBe(200);
    records.push(...page.json.records);
    cursor = page.json.next_cursor;
  } while (cursor);
  return records;
}

/** The API's JSON for a record, back in the shape the CSV export formats. */
function fromJson(r: any, tenantId: TenantId): AuditRecord {
  return {
    id: r.id,
    tenantId,
    createdAt: r.created_at,
    actor: { userId: r.user_id, ...(r.user_email ? { email: r.user_email } : {}) },
    surface: r.surface,
    ...(r.slack
      ? { slack: { teamId: r.slack.team_id, ...(r.slack.channel_id ? { channelId: r.slack.channel_id } : {}) } }
      : {}),
    question: r.question,
    answer: r.answer,
    sources: r.sources.map((s: any) => ({
      n: s.n,
      documentId: s.document_id,
      title: s.title,
      page: s.page,
      snippet: s.snippet,
      score: 0,
    })),
    outcome: r.outcome,
    latencyMs: r.latency_ms,
    model: r.model,
    ...(r.feedback ? { feedback: { value: r.feedback.value, by: r.feedback.by, at: r.feedback.at } } : {}),
  };
}

/** The bytes the export must be: the BOM, then the product's own CSV formatting of these records. */
async function expectedCsv(records: AuditRecord[], tenantId: TenantId): Promise<Buffer> {
  const log: AuditLog = {
    append: async () => {},
    get: async () => undefined,
    setFeedback: async () => false,
    list: async () => ({ records }),
    deleteBefore: async () => 0,
    deleteTenant: async () => {},
  };
  let text = "\uFEFF";
  for await (const line of auditCsv(log, tenantId)) text += line;
  return Buffer.from(text, "utf8");
}

async function downloadCsv(client: ApiClient): Promise<Response> {
  const res = await Promise.race([
    app.fetch(`${app.baseUrl}/api/audit/export.csv`, { headers: { authorization: `Bearer ${client.token}` } }),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("the CSV export never answered")), EXPORT_TIMEOUT_MS).unref(),
    ),
  ]);
  return res;
}

/** `foreign`: audit ids and text of another organisation, none of which may be in the export. */
async function expectExactExport(client: ApiClient, tenantId: TenantId, foreign: string[]) {
  const res = await downloadCsv(client);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/csv\b/);
  expect(res.headers.get("content-disposition")).toMatch(/^attachment;.*enclave-audit-\d{4}-\d{2}-\d{2}\.csv/);
  const body = Buffer.from(await res.arrayBuffer());
  const records = (await auditRecords(client)).map((r) => fromJson(r, tenantId));
  const expected = await expectedCsv(records, tenantId);
  expect(body.equals(expected), `export differs:\n${body.toString("utf8").slice(0, 2000)}`).toBe(true);
  const text = body.toString("utf8");
  for (const item of foreign) expect(text).not.toContain(item);
  for (const r of records) expect(text).toContain(r.id);
  return { text, records };
}

beforeAll(async () => {
  bedrock = installBedrockMock({ dimensions: 256 });
  stack = await startAwsStack({ RATE_LIMIT_USER_PER_MINUTE: "100000", RATE_LIMIT_TENANT_PER_MINUTE: "100000" });
  app = await startLambdaApp(stack.env);
  const options = {
    transport: app.fetch,
    confirmationCode: async (email: string) => stack.cognito.codeFor(email) ?? "",
  };
  a = await newOrganisation(app.baseUrl, "Northwind", options);
  b = await newOrganisation(app.baseUrl, "Contoso", options);
  const aDoc = await a.client.upload("Employee Handbook.md", handbook, "text/markdown");
  const bDoc = await b.client.upload(
    "contoso.txt",
    `Contoso ${B_MARKER} policy: vacation days are 40 a year, approved by the ${B_MARKER} committee.`,
  );
  expect((await waitForDocument(a.client, aDoc.json.document.id)).status).toBe("ready");
  expect((await waitForDocument(b.client, bDoc.json.document.id)).status).toBe("ready");
}, 180_000);

afterAll(async () => {
  await app?.stop();
  await stack?.stop();
  bedrock?.restore();
});

describe("audit CSV export through the Lambda HTTP handler", () => {
  const bAuditIds: string[] = [];

  it("answers with exactly the organisation's own records, and none of another's", async () => {
    const aAuditIds: string[] = [];
    for (const question of A_QUESTIONS) aAuditIds.push(await ask(a.client, question));
    for (const question of [`How many ${B_MARKER} vacation days?`, `Who approves ${B_MARKER} leave?`])
      bAuditIds.push(await ask(b.client, question));

    const { text, records } = await expectExactExport(a.client, a.tenantId as TenantId, [...bAuditIds, B_MARKER]);
    expect(records.map((r) => r.id).sort()).toEqual([...aAuditIds].sort());
    expect(text.startsWith("\uFEFFid,created_at,surface,user_id,")).toBe(true);
    // The header, one line per record; a question with a line break is one quoted cell.
    expect(text.match(/\r\n/g)).toHaveLength(1 + A_QUESTIONS.length);
    expect(text).toContain('"What is the ""remote work"" policy, and who approves it?"');
    expect(text).toContain(`,"'=SUM(A1:A9) how many vacation days, again?",`);
    expect(text).toContain("Combien de congés payés ? Ünïcödé ✓ 🏖️");
    // B's own export is B's alone.
    const bExport = await expectExactExport(b.client, b.tenantId as TenantId, [...aAuditIds, "Northwind", "SUM(A1"]);
    expect(bExport.records.map((r) => r.id).sort()).toEqual([...bAuditIds].sort());
  }, 120_000);

  it("completes a large export, page after page of the log", async () => {
    const more = 320;
    const questions = Array.from({ length: more }, (_, i) => `Vacation question number ${i}: how many days?`);
    const workers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = w; i < questions.length; i += 4) await ask(a.client, questions[i] ?? "");
    });
    await Promise.all(workers);

    const { text, records } = await expectExactExport(a.client, a.tenantId as TenantId, [...bAuditIds, B_MARKER]);
    expect(records).toHaveLength(A_QUESTIONS.length + more);
    expect(text.match(/\r\n/g)).toHaveLength(1 + A_QUESTIONS.length + more);
    for (const q of questions) expect(text).toContain(q);
  }, 240_000);
});
