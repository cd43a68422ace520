import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDirectoryDatabase } from "../../src/adapters/local/directory-database.js";
import { FsObjectStore } from "../../src/adapters/local/fs-object-store.js";
import { SqliteAuditLog } from "../../src/adapters/local/sqlite-audit-log.js";
import { SqliteChunkIndex } from "../../src/adapters/local/sqlite-chunk-index.js";
import { TenantDatabases } from "../../src/adapters/local/tenant-databases.js";
import { ORG_KEY } from "../../src/domain/access.js";
import { newTenantId, type TenantId } from "../../src/domain/tenant.js";
import { stem } from "../../src/domain/terms.js";
import { auditRecord } from "../contract/audit-log.contract.js";

const MARKER = "zorblaxian";
// What the index stores of the word (Porter stemming of the plural the text uses) must go too.
const STEM = stem(`${MARKER}s`);

const dir = mkdtempSync(join(tmpdir(), "enclave-no-copy-"));
const dbs = new TenantDatabases(dir);
afterAll(() => {
  dbs.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The raw bytes of a database file and its write-ahead log, as anyone reading the disk would see them. */
function onDisk(file: string): Buffer {
  const parts = [file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f));
  return Buffer.concat(parts);
}

const tenantFile = (tenant: TenantId) => join(dbs.folder(tenant), "tenant.db");

const filler = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => `policy${(seed * 7 + i) % 40} vacation expense travel claim ${i}`).join(" ");

function passages(tenant: TenantId, documentId: string, texts: string[]) {
  return texts.map((text, ordinal) => ({
    id: `${documentId}#${ordinal}`,
    tenantId: tenant,
    documentId,
    ordinal,
    title: "Quarterly notes",
    page: ordinal + 1,
    text,
    access: [ORG_KEY],
  }));
}

describe("a deleted document leaves no copy behind", () => {
  it("removes its words from the database file, the index and the write-ahead log", async () => {
    const index = new SqliteChunkIndex(dbs);
    const objects = new FsObjectStore(dbs);
    const tenant = newTenantId();
    await index.upsert(
      tenant,
      passages(
        tenant,
        "kept",
        Array.from({ length: 12 }, (_, i) => filler(20, i)),
      ),
    );
    const secret = `The ${MARKER}s approved the merger. ${filler(15, 99)} Ask the ${MARKER}s again.`;
    await index.upsert(tenant, passages(tenant, "secret", [secret, `${MARKER}s everywhere ${filler(10, 3)}`]));
    await objects.put(tenant, "documents/secret", Buffer.from(secret));
    await index.upsert(
      tenant,
      passages(
        tenant,
        "later",
        Array.from({ length: 5 }, (_, i) => filler(20, 50 + i)),
      ),
    );
    expect(await index.search(tenant, `${MARKER}s`, { k: 5, readable: [ORG_KEY] })).toHaveLength(2);
    // The check below would see the word: it is on the disk now.
    expect(onDisk(tenantFile(tenant)).includes(MARKER)).toBe(true);

    // The order DocumentService.delete uses: passages, file, record.
    await index.deleteDocument(tenant, "secret");
    await objects.delete(tenant, "documents/secret");

    const bytes = onDisk(tenantFile(tenant));
    expect(bytes.includes(MARKER)).toBe(false);
    expect(bytes.includes(STEM)).toBe(false);
    expect(existsSync(join(dbs.folder(tenant), "files", "documents", "secret"))).toBe(false);
    expect(await index.search(tenant, `${MARKER}s`, { k: 5, readable: [ORG_KEY] })).toEqual([]);
    // The other documents are still found, ranked as before.
    const kept = await index.search(tenant, "vacation policy3", { k: 3, readable: [ORG_KEY] });
    expect(kept.length).toBe(3);
    expect(kept.every((h) => h.documentId !== "secret")).toBe(true);
  });

  it("leaves the old version's words nowhere when a document is indexed again", async () => {
    const index = new SqliteChunkIndex(dbs);
    const tenant = newTenantId();
    await index.upsert(tenant, passages(tenant, "doc", [`Draft: the ${MARKER}s budget. ${filler(10, 1)}`]));
    // Re-indexing replaces a document's passages (DocumentService.runIngestJob): delete, then write.
    await index.deleteDocument(tenant, "doc");
    await index.upsert(tenant, passages(tenant, "doc", [`Final: the budget. ${filler(10, 1)}`]));
    const bytes = onDisk(tenantFile(tenant));
    expect(bytes.includes(MARKER)).toBe(false);
    expect(bytes.includes(STEM)).toBe(false);
    expect(await index.search(tenant, "final budget", { k: 1, readable: [ORG_KEY] })).toHaveLength(1);
  });
});

describe("an exchange purged by retention leaves no copy behind", () => {
  it("removes it from the database file and the write-ahead log, and keeps the newer ones", async () => {
    const audit = new SqliteAuditLog(dbs);
    const tenant = newTenantId();
    const old = auditRecord(tenant, new Date(Date.now() - 40 * 86_400_000), {
      question: `What did the ${MARKER}s decide?`,
      answer: `The ${MARKER}s approved it [1].`,
    });
    const recent = auditRecord(tenant, new Date(), { question: "How many vacation days?" });
    await audit.append(old);
    await audit.append(recent);
    expect(onDisk(tenantFile(tenant)).includes(MARKER)).toBe(true);

    expect(await audit.deleteBefore(tenant, new Date(Date.now() - 30 * 86_400_000))).toBe(1);

    expect(onDisk(tenantFile(tenant)).includes(MARKER)).toBe(false);
    expect(await audit.get(tenant, old.id)).toBeUndefined();
    expect((await audit.list(tenant, { limit: 10 })).records.map((r) => r.id)).toEqual([recent.id]);
  });

  it("removes every exchange of a tenant being deleted, and none of another's", async () => {
    const audit = new SqliteAuditLog(dbs);
    const [a, b] = [newTenantId(), newTenantId()];
    await audit.append(auditRecord(a, new Date(), { question: `${MARKER}s?` }));
    const kept = auditRecord(b, new Date());
    await audit.append(kept);
    await audit.deleteTenant(a);
    expect(onDisk(tenantFile(a)).includes(MARKER)).toBe(false);
    expect((await audit.list(a, { limit: 10 })).records).toEqual([]);
    expect(await audit.get(b, kept.id)).toEqual(kept);
  });

  it("does not create a database for a tenant that never wrote one", async () => {
    const audit = new SqliteAuditLog(dbs);
    const tenant = newTenantId();
    expect(await audit.deleteBefore(tenant, new Date())).toBe(0);
    expect(existsSync(dbs.folder(tenant))).toBe(false);
  });
});

describe("the directory database", () => {
  it("zeroes deleted rows, so a removed member's email is not left in the file", () => {
    const dataDir = join(dir, "directory");
    const db = openDirectoryDatabase(dataDir);
    const email = `${MARKER}@example.com`;
    db.prepare("INSERT INTO tenants (id, name, created_at) VALUES ('t_1', 'Acme', '2024-01-01')").run();
    db.prepare(
      "INSERT INTO members (tenant_id, user_id, email, role, created_at) VALUES ('t_1', 'u', ?, 'admin', '2024-01-01')",
    ).run(email);
    db.pragma("wal_checkpoint(TRUNCATE)"); // the row is in the database file itself now
    expect(readFileSync(join(dataDir, "directory.db")).includes(email)).toBe(true);
    db.prepare("DELETE FROM members WHERE tenant_id = 't_1'").run();
    // Closing the last handle copies the log into the file and removes the log.
    db.close();
    expect(onDisk(join(dataDir, "directory.db")).includes(MARKER)).toBe(false);
  });
});
