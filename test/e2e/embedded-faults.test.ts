import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, statSync } from "node:fs";
import { open, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FsObjectStore, type WriteNewFile, writeAndSync } from "../../src/adapters/local/fs-object-store.js";
import { BUSY_TIMEOUT_MS } from "../../src/adapters/local/sqlite.js";
import { TenantDatabases } from "../../src/adapters/local/tenant-databases.js";
import { sandboxStats } from "../../src/ingest/child-sandbox.js";
import {
  type ApiClient,
  newOrganisation,
  startTestServer,
  type TestServer,
  waitForDocument,
} from "../support/server.js";
import { childProcessesOf, longPdf } from "../unit/ingest/pdf-fixtures.js";

/**
 * Faults of the embedded shape, through REST over HTTP into the real server: a full disk, a database
 * another process keeps locked, a parser child killed mid-parse. Each gives the user a reason and
 * loses nothing that was accepted.
 */

// --- The server: real adapters throughout; its file store's writes can be made to fail like a full disk.

let diskFull = false;
const partialFiles: string[] = [];

/** Half the bytes reach the temp file, then the write fails with the kernel's own ENOSPC. */
const writeNewFile: WriteNewFile = async (path, data) => {
  if (!diskFull) return writeAndSync(path, data);
  const file = await open(path, "wx");
  try {
    await file.write(data.subarray(0, Math.ceil(data.length / 2)));
  } finally {
    await file.close();
  }
  partialFiles.push(path);
  // /dev/full answers every write with ENOSPC: a genuine errno error from fs, as a full disk gives.
  await writeFile("/dev/full", data, { flag: "r+" });
};

/** The embedded server as `npm start` builds it, with the file store swapped through `overrides`. */
const startFaultServer = () =>
  startTestServer({}, (dataDir) => ({
    overrides: { objects: new FsObjectStore(new TenantDatabases(resolve(dataDir)), { writeNewFile }) },
  }));

let server: TestServer;

beforeAll(async () => {
  server = await startFaultServer();
});

afterAll(async () => {
  await server?.stop();
});

// --- Helpers

const tenantFolder = (tenantId: string) => join(server.dataDir, "tenants", tenantId);

/** Every file (not folder) under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).filter((entry) => statSync(join(dir, entry)).isFile());
}

function ingestJobs(): number {
  const db = new Database(join(server.dataDir, "directory.db"), { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM jobs WHERE type = 'ingest'").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function documentTitles(client: ApiClient): Promise<string[]> {
  const res = await client.call("GET", "/api/documents");
  expect(res.status).toBe(200);
  return res.json.documents.map((d: { title: string }) => d.title).sort();
}

async function auditCount(client: ApiClient): Promise<number> {
  const res = await client.call("GET", "/api/audit?limit=200");
  expect(res.status).toBe(200);
  return res.json.records.length;
}

/** POST /api/ask, with the Retry-After header the helper client does not show. */
async function ask(client: ApiClient, question: string) {
  const res = await fetch(`${server.url}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${client.token}` },
    body: JSON.stringify({ question }),
  });
  return { status: res.status, json: (await res.json()) as any, retryAfter: res.headers.get("retry-after") };
}

const BETTER_SQLITE3 = createRequire(import.meta.url).resolve("better-sqlite3");
// Another process (the CLI, a backup tool, a sqlite3 shell) takes the write lock and holds it.
const HOLD_LOCK = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2]);
db.exec("BEGIN IMMEDIATE");
process.stdout.write("locked\\n");
const release = () => { db.exec("COMMIT"); db.close(); process.exit(0); };
const ms = Number(process.argv[3]);
if (ms > 0) setTimeout(release, ms);
else { process.stdin.on("data", release); process.stdin.on("end", release); setTimeout(release, 60000); }
`;

/**
 * Holds the write lock of a database file from a separate process, for `ms` or (`"until released"`)
 * until `release()`: a request that must meet the lock for its whole busy timeout meets it however
 * long the server takes to get there (its worker may wait out the same lock first). It must be another
 * process: better-sqlite3 waits for a lock on the event loop, so a holder in this one could never let go.
 */
async function holdWriteLock(
  file: string,
  ms: number | "until released",
): Promise<{ released: Promise<unknown>; release: () => Promise<unknown> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["-e", HOLD_LOCK, BETTER_SQLITE3, file, String(ms === "until released" ? 0 : ms)],
    { env: { PATH: process.env.PATH ?? "" }, stdio: ["pipe", "pipe", "inherit"] },
  );
  const released = once(child, "exit");
  const release = () => {
    child.stdin?.end();
    return released;
  };
  await new Promise<void>((done, fail) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("locked")) done();
    });
    child.once("exit", (code) => fail(new Error(`lock holder exited (${code}) before taking the lock`)));
  });
  return { released, release };
}

const BUSY = {
  code: "dependency_unavailable",
  message: "The database is busy right now, so your request could not be completed. Try again in a moment.",
};

// --- 1. A full disk

describe.skipIf(!existsSync("/dev/full"))("the disk is full while an upload is stored", () => {
  it("the upload is refused with the reason, leaves no partial file and no record; once space is back it is indexed", async () => {
    const org = await newOrganisation(server.url, "Fullstop");
    const text = "Expenses: taxis to the airport are refunded when the flight leaves before seven in the morning.";
    const jobsBefore = ingestJobs();

    diskFull = true;
    let refused: Awaited<ReturnType<ApiClient["upload"]>>;
    try {
      refused = await org.client.upload("Expenses policy.txt", text, "text/plain");
    } finally {
      diskFull = false;
    }
    expect(refused.status).toBe(503);
    expect(refused.json.error).toEqual({
      code: "dependency_unavailable",
      message: "The server has run out of disk space, so the file was not stored. Try again later.",
    });
    // The fault really wrote half a file; none of it is left, and nothing points at it.
    expect(partialFiles).toHaveLength(1);
    expect(existsSync(partialFiles[0] ?? "")).toBe(false);
    expect(filesUnder(join(tenantFolder(org.tenantId), "files"))).toEqual([]);
    expect(await documentTitles(org.client)).toEqual([]);
    expect(ingestJobs()).toBe(jobsBefore);

    // Space is back: the same upload works, and is indexed and answered from.
    const accepted = await org.client.upload("Expenses policy.txt", text, "text/plain");
    expect(accepted.status).toBe(202);
    expect(accepted.json.duplicate).toBe(false);
    expect((await waitForDocument(org.client, accepted.json.document.id)).status).toBe("ready");
    expect(filesUnder(join(tenantFolder(org.tenantId), "files"))).toEqual([
      join("documents", accepted.json.document.id, "original"),
    ]);
    const answer = await ask(org.client, "When are taxis to the airport refunded?");
    expect(answer.status).toBe(200);
    expect(answer.json.sources.map((s: { title: string }) => s.title)).toContain("Expenses policy");
  });
});

// --- 2. A database another process keeps locked

describe("a database locked by another process", () => {
  let org: Awaited<ReturnType<typeof newOrganisation>>;
  const tenantDb = () => join(tenantFolder(org.tenantId), "tenant.db");

  beforeAll(async () => {
    org = await newOrganisation(server.url, "Lockwood");
    const seed = await org.client.upload(
      "Office hours.txt",
      "The office opens at nine in the morning and closes at six in the evening.",
      "text/plain",
    );
    expect((await waitForDocument(org.client, seed.json.document.id)).status).toBe("ready");
  });

  it(`a lock released within the busy timeout (${BUSY_TIMEOUT_MS} ms): the upload and the question wait and succeed`, async () => {
    const hold = BUSY_TIMEOUT_MS / 2;

    let lock = await holdWriteLock(tenantDb(), hold);
    let started = Date.now();
    const upload = await org.client.upload("Parking.txt", "Parking is free on weekends for all staff.", "text/plain");
    expect(upload.status).toBe(202);
    expect(Date.now() - started).toBeGreaterThan(hold / 2); // it did wait for the lock
    await lock.released;
    expect((await waitForDocument(org.client, upload.json.document.id)).status).toBe("ready");

    lock = await holdWriteLock(tenantDb(), hold);
    started = Date.now();
    const answer = await ask(org.client, "When does the office open?");
    expect(answer.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThan(hold / 2);
    expect(answer.json.outcome).toBe("answered");
    await lock.released;

    // The directory database (the job queue) too: queuing the upload's job waits for the lock.
    lock = await holdWriteLock(join(server.dataDir, "directory.db"), hold);
    const queued = await org.client.upload("Canteen.txt", "The canteen serves lunch from noon to two.", "text/plain");
    expect(queued.status).toBe(202);
    await lock.released;
    expect((await waitForDocument(org.client, queued.json.document.id)).status).toBe("ready");
  });

  it("a lock held past the busy timeout: 503 busy with Retry-After and nothing half-written; after release the same requests work", async () => {
    const titles = await documentTitles(org.client);
    const audits = await auditCount(org.client);
    const jobs = ingestJobs();

    const files = filesUnder(join(tenantFolder(org.tenantId), "files"));

    let lock = await holdWriteLock(tenantDb(), "until released");
    const text = "Bicycles may be parked in the courtyard behind the main building.";
    const refused = await org.client.upload("Bicycles.txt", text, "text/plain");
    await lock.release();
    expect(refused.status).toBe(503);
    expect(refused.json.error).toEqual(BUSY);
    expect(await documentTitles(org.client)).toEqual(titles);
    expect(ingestJobs()).toBe(jobs);
    // The file stored before the record was refused is gone too.
    expect(filesUnder(join(tenantFolder(org.tenantId), "files"))).toEqual(files);

    const accepted = await org.client.upload("Bicycles.txt", text, "text/plain");
    expect(accepted.status).toBe(202);
    expect(accepted.json.duplicate).toBe(false);
    expect((await waitForDocument(org.client, accepted.json.document.id)).status).toBe("ready");

    // A question whose audit record cannot be written gets no answer: every exchange is audited.
    lock = await holdWriteLock(tenantDb(), "until released");
    const busy = await ask(org.client, "Where may bicycles be parked?");
    await lock.release();
    expect(busy.status).toBe(503);
    expect(busy.json.error).toEqual(BUSY);
    expect(busy.retryAfter).toBe("2");
    expect(await auditCount(org.client)).toBe(audits);

    const answered = await ask(org.client, "Where may bicycles be parked?");
    expect(answered.status).toBe(200);
    expect(answered.json.sources.map((s: { title: string }) => s.title)).toContain("Bicycles");
    expect(await auditCount(org.client)).toBe(audits + 1);
  });

  it("the directory database (the job queue) locked past the busy timeout: 503 busy, nothing half-added, and the worker keeps running", async () => {
    const titles = await documentTitles(org.client);
    const files = filesUnder(join(tenantFolder(org.tenantId), "files"));
    const text = "The library lends laptops to staff for up to two weeks.";
    const lock = await holdWriteLock(join(server.dataDir, "directory.db"), "until released");
    const refused = await org.client.upload("Laptops.txt", text, "text/plain");
    await lock.release();
    expect(refused.status).toBe(503);
    expect(refused.json.error).toEqual(BUSY);
    // The record and the file stored before the job was refused are taken back: nothing waits for a job.
    expect(await documentTitles(org.client)).toEqual(titles);
    expect(filesUnder(join(tenantFolder(org.tenantId), "files"))).toEqual(files);
    // The worker polled through the lock without dying: the same upload now runs to the end.
    const accepted = await org.client.upload("Laptops.txt", text, "text/plain");
    expect(accepted.status).toBe(202);
    expect((await waitForDocument(org.client, accepted.json.document.id)).status).toBe("ready");
  });
});

// --- 3. The parser child killed mid-parse

describe("the PDF parser killed mid-parse", () => {
  let org: Awaited<ReturnType<typeof newOrganisation>>;

  beforeAll(async () => {
    org = await newOrganisation(server.url, "Killjoy");
  });

  afterAll(() => {
    expect(sandboxStats().live).toBe(0);
    expect(childProcessesOf(process.pid, "pdf-child.mjs")).toEqual([]);
  });

  /** Waits for a parser child of this (the server's) process that has run for `aliveMs`; its pid. */
  async function parserChild(aliveMs: number, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    const firstSeen = new Map<number, number>();
    for (;;) {
      for (const pid of childProcessesOf(process.pid, "pdf-child.mjs")) {
        const seen = firstSeen.get(pid) ?? Date.now();
        firstSeen.set(pid, seen);
        if (Date.now() - seen >= aliveMs) return pid;
      }
      if (Date.now() > deadline) throw new Error("no parser child appeared");
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it("killed once: the job is retried and the document ends ready", async () => {
    const pdf = await longPdf(2000);
    const upload = await org.client.upload("Operations manual.pdf", pdf, "application/pdf");
    expect(upload.status).toBe(202);
    const victim = await parserChild(700);
    expect((await org.client.call("GET", `/api/documents/${upload.json.document.id}`)).json.status).toBe("indexing");
    process.kill(victim, "SIGKILL");

    const settled = await waitForDocument(org.client, upload.json.document.id, 60_000);
    expect(settled.status).toBe("ready");
    expect(settled.pages).toBe(2000);
    const answer = await ask(org.client, "Who is responsible in clause 1234.1?");
    expect(answer.status).toBe(200);
    expect(answer.json.sources.map((s: { title: string }) => s.title)).toContain("Operations manual");
  }, 90_000);

  it("killed on every try: the document ends failed with a reason, never stuck indexing", async () => {
    const pdf = await longPdf(1999);
    const upload = await org.client.upload("Cursed manual.pdf", pdf, "application/pdf");
    expect(upload.status).toBe(202);
    const id = upload.json.document.id;
    let kills = 0;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const doc = await org.client.call("GET", `/api/documents/${id}`);
      if (doc.json.status === "ready" || doc.json.status === "failed") break;
      if (Date.now() > deadline) throw new Error(`document still ${doc.json.status} after ${kills} kills`);
      for (const pid of childProcessesOf(process.pid, "pdf-child.mjs")) {
        process.kill(pid, "SIGKILL");
        kills++;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const settled = await waitForDocument(org.client, id);
    expect(settled.status).toBe("failed");
    expect(kills).toBeGreaterThanOrEqual(server.container.config.JOB_MAX_ATTEMPTS);
    expect(settled.error.code).toBe("internal");
    expect(settled.error.message).toMatch(/try again/i);
  }, 90_000);
});
