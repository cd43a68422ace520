import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../../src/entrypoints/server.js";
import { apiClient, newOrganisation, startTestServer, type TestServer, waitForDocument } from "../support/server.js";

const handbook = readFileSync(
  new URL("../../examples/documents/northwind-employee-handbook.md", import.meta.url),
  "utf8",
);
const QUESTION = "How many vacation days do employees get per year?";

const run = promisify(execFile);
type CliResult = { stdout: string; stderr: string; code?: number };
const cli = (dataDir: string, ...args: string[]): Promise<CliResult> =>
  run(process.execPath, ["--import", "tsx", "src/entrypoints/cli.ts", ...args], {
    env: { PATH: process.env.PATH, DATA_DIR: dataDir, LOG_LEVEL: "silent" },
    timeout: 120_000,
  }).then(
    (r) => ({ ...r, code: 0 }),
    (error: CliResult) => error,
  );

/** Every path under `dir` with its bytes, to tell that a refused command changed nothing. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[path] = readFileSync(path, "base64");
  }
  return out;
}

/** A refusal an operator can read: one line on stderr, no stack trace. */
function expectOneLineRefusal(result: CliResult, pattern: RegExp) {
  expect(result.code, result.stdout + result.stderr).toBe(1);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr.trim().split("\n")).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

const work = mkdtempSync(join(tmpdir(), "enclave-backup-"));
let server: TestServer;
let org: Awaited<ReturnType<typeof newOrganisation>>;
let documentId: string;
let firstAuditId: string;
const backupDir = join(work, "backup");
const restoredDir = join(work, "restored");
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startTestServer();
  stops.push(server.stop);
  org = await newOrganisation(server.url, "Northwind");
  const upload = await org.client.upload("Employee Handbook.md", handbook, "text/markdown");
  expect(upload.status).toBe(202);
  documentId = upload.json.document.id;
  expect(await waitForDocument(org.client, documentId)).toMatchObject({ status: "ready" });
  const asked = await org.client.call("POST", "/api/ask", { question: QUESTION });
  expect(asked.json).toMatchObject({ outcome: "answered" });
  firstAuditId = asked.json.audit_id;
}, 60_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  rmSync(work, { recursive: true, force: true });
});

describe("backup and restore of the embedded instance", () => {
  it("backs up a running server while it writes, restores into an empty folder, and answers from it", async () => {
    // The server keeps writing while the backup runs: uploads being indexed and questions audited.
    let backingUp = true;
    let writes = 0;
    const writer = (async () => {
      while (backingUp) {
        writes++;
        const note = `Meeting note ${writes}: the parking garage opens at ${writes} o'clock. ${"Filler words. ".repeat(200)}`;
        await org.client.upload(`note-${writes}.txt`, note, "text/plain");
        await org.client.call("POST", "/api/ask", { question: "When does the parking garage open?" });
      }
    })();
    const backup = await cli(server.dataDir, "backup", "--out", backupDir).finally(() => {
      backingUp = false;
    });
    await writer;
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/Backed up the directory and 1 tenant databases, \d+ document files and 3 keys/);
    expect(writes).toBeGreaterThan(0);
    // Secrets and documents stay owner-only in the copy.
    expect(statSync(backupDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(backupDir, "keys", "id-token-signing-key.pem")).mode & 0o777).toBe(0o600);
    expect(statSync(join(backupDir, "directory.db")).mode & 0o777).toBe(0o600);
    const manifest = JSON.parse(readFileSync(join(backupDir, "backup.json"), "utf8"));
    expect(manifest).toMatchObject({ format: "enclave-backup", version: 1 });
    expect(manifest.databases.map((d: { path: string }) => d.path)).toEqual([
      "directory.db",
      `tenants/${org.tenantId}/tenant.db`,
    ]);

    const restore = await cli(restoredDir, "restore", "--from", backupDir);
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/Restored the directory and 1 tenant databases/);
    expect(statSync(join(restoredDir, "keys", "encryption-key")).mode & 0o777).toBe(0o600);

    const restored = await startServer({ DATA_DIR: restoredDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent" });
    stops.push(restored.stop);
    const anon = apiClient(restored.url);
    // The signing key came back too: the token issued before the backup still verifies.
    expect((await apiClient(restored.url, org.client.token).call("GET", "/api/me")).status).toBe(200);
    const login = await anon.call("POST", "/auth/login", { email: org.email, password: org.password });
    expect(login.status).toBe(200);
    const admin = apiClient(restored.url, login.json.id_token);
    expect((await admin.call("GET", "/api/me")).json).toMatchObject({ tenant_id: org.tenantId, role: "admin" });

    const asked = await admin.call("POST", "/api/ask", { question: QUESTION });
    expect(asked.json.outcome).toBe("answered");
    expect(asked.json.answer).toContain("27 days");
    expect(asked.json.sources[0]).toMatchObject({ document_id: documentId });

    const earlier = await admin.call("GET", `/api/audit/${firstAuditId}`);
    expect(earlier.status).toBe(200);
    expect(earlier.json.question).toBe(QUESTION);

    // Every document in the copy is whole: none points at a file the backup lacks.
    const documents = (await admin.call("GET", "/api/documents")).json.documents as { id: string; status: string }[];
    expect(documents.find((d) => d.id === documentId)).toMatchObject({ status: "ready" });
    expect(documents.filter((d) => d.status === "failed")).toEqual([]);
  }, 180_000);

  it("refuses to restore into a folder that is not empty, and changes nothing in it", async () => {
    const occupied = join(work, "occupied");
    mkdirSync(occupied);
    writeFileSync(join(occupied, "notes.txt"), "keep me");
    const before = snapshot(occupied);
    const result = await cli(occupied, "restore", "--from", backupDir);
    expectOneLineRefusal(result, /not empty/);
    expect(snapshot(occupied)).toEqual(before);
  }, 60_000);

  it("refuses to back up into a folder that is not empty", async () => {
    const result = await cli(server.dataDir, "backup", "--out", backupDir);
    expectOneLineRefusal(result, /not empty/);
    expect(readdirSync(backupDir).sort()).toEqual(["backup.json", "directory.db", "keys", "tenants"]);
  }, 60_000);

  it("refuses a missing or damaged backup and leaves no DATA_DIR behind", async () => {
    const missing = await cli(join(work, "never-1"), "restore", "--from", join(work, "no-such-backup"));
    expectOneLineRefusal(missing, /No backup in/);

    const damaged = join(work, "damaged");
    cpSync(backupDir, damaged, { recursive: true });
    const file = join(damaged, "tenants", org.tenantId, "tenant.db");
    const bytes = readFileSync(file);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 0xff;
    writeFileSync(file, bytes);
    const target = join(work, "never-2");
    const result = await cli(target, "restore", "--from", damaged);
    expectOneLineRefusal(result, /damaged: .*tenant\.db/);
    expect(() => statSync(target)).toThrow();
  }, 60_000);
});
