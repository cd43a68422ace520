import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteChunkIndex } from "../../src/adapters/local/sqlite-chunk-index.js";
import { SqliteDocumentCatalog } from "../../src/adapters/local/sqlite-document-catalog.js";
import { openTenantDatabase, TenantDatabases } from "../../src/adapters/local/tenant-databases.js";
import { ORG_KEY } from "../../src/domain/access.js";
import type { DocumentSource } from "../../src/domain/documents.js";
import { newTenantId } from "../../src/domain/tenant.js";
import { newDoc } from "./document-catalog.contract.js";

/** The schema every tenant file had before documents carried a visibility. */
const BEFORE_VISIBILITY = 3;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const sha = (c: string) => c.repeat(64);

describe("tenant database migration to visibilities", () => {
  it("gives existing documents the legacy visibility, its access keys and its dedupe scope", async () => {
    const dir = mkdtempSync(join(tmpdir(), "enclave-migrate-"));
    dirs.push(dir);
    const tenant = newTenantId();
    const dbs = new TenantDatabases(dir);
    const old = openTenantDatabase(join(dbs.folder(tenant), "tenant.db"), BEFORE_VISIBILITY);
    const legacy: { id: string; sha: string; source: DocumentSource; text: string }[] = [
      { id: "d-upload", sha: sha("1"), source: { kind: "upload" }, text: "Uploaded handbook about vacation." },
      { id: "d-cli", sha: sha("2"), source: { kind: "cli" }, text: "Imported policy about vacation." },
      {
        id: "d-channel",
        sha: sha("3"),
        source: { kind: "slack", teamId: "T1", fileId: "F1", channelId: "C1" },
        text: "Channel file about vacation.",
      },
      {
        id: "d-dm",
        sha: sha("4"),
        source: { kind: "slack", teamId: "T1", fileId: "F2" },
        text: "DM file about vacation.",
      },
    ];
    const now = new Date().toISOString();
    for (const d of legacy) {
      old
        .prepare(
          `INSERT INTO documents (id, tenant_id, title, content_type, size_bytes, sha256, status, source,
             uploaded_by, created_at, updated_at) VALUES (?, ?, ?, 'text/plain', 1, ?, 'ready', ?, 'u-old', ?, ?)`,
        )
        .run(d.id, tenant, d.id, d.sha, JSON.stringify(d.source), now, now);
      old
        .prepare(
          `INSERT INTO chunks (chunk_id, tenant_id, document_id, ordinal, page, title, text, tokens)
           VALUES (?, ?, ?, 0, 1, ?, ?, 5)`,
        )
        .run(`${d.id}#0`, tenant, d.id, d.id, d.text);
    }
    old.close();

    const catalog = new SqliteDocumentCatalog(dbs);
    const index = new SqliteChunkIndex(dbs);
    const visibility = async (id: string) => (await catalog.get(tenant, id))?.visibility;
    expect(await visibility("d-upload")).toEqual({ kind: "organisation" });
    expect(await visibility("d-cli")).toEqual({ kind: "organisation" });
    expect(await visibility("d-channel")).toEqual({
      kind: "slack_conversation",
      conversations: [{ teamId: "T1", channelId: "C1", public: false }],
    });
    expect(await visibility("d-dm")).toEqual({ kind: "private", owner: "u-old" });

    const found = async (readable: string[]) =>
      (await index.search(tenant, "vacation", { k: 10, readable })).map((h) => h.documentId).sort();
    expect(await found(["org"])).toEqual(["d-cli", "d-upload"]);
    expect(await found(["conv:T1:C1"])).toEqual(["d-channel"]);
    expect(await found(["pub:T1"])).toEqual([]);
    expect(await found(["owner:u-old"])).toEqual(["d-dm"]);

    expect(await catalog.create(tenant, newDoc({ sha256: sha("1") }))).toMatchObject({
      created: false,
      document: { id: "d-upload" },
    });
    expect((await catalog.create(tenant, newDoc({ sha256: sha("3") }))).created).toBe(true);
    const sameChannel = newDoc({
      sha256: sha("3"),
      visibility: { kind: "slack_conversation", conversations: [{ teamId: "T1", channelId: "C1", public: true }] },
    });
    expect(await catalog.create(tenant, sameChannel)).toMatchObject({ created: false, document: { id: "d-channel" } });
    dbs.close();
  });
});

/** The schema before passages carried their term frequencies. */
const BEFORE_TERMS = 5;

describe("tenant database migration to stored term frequencies", () => {
  it("gives existing passages their statistics: they score exactly as if indexed today", async () => {
    const dir = mkdtempSync(join(tmpdir(), "enclave-migrate-"));
    dirs.push(dir);
    const texts = [
      "Vacation requests need approval from your manager.",
      "Vacation days carry over: unused vacation days expire in March.",
      "Expense claims need receipts.",
    ];
    const tenant = newTenantId();
    const dbs = new TenantDatabases(dir);
    const old = openTenantDatabase(join(dbs.folder(tenant), "tenant.db"), BEFORE_TERMS);
    const now = new Date().toISOString();
    old
      .prepare(
        `INSERT INTO documents (id, tenant_id, title, content_type, size_bytes, sha256, status, source,
           uploaded_by, created_at, updated_at, visibility, scope)
         VALUES ('d1', ?, 'Notes', 'text/plain', 1, ?, 'ready', '{"kind":"upload"}', 'u-old', ?, ?,
           '{"kind":"organisation"}', 'organisation')`,
      )
      .run(tenant, sha("1"), now, now);
    old.prepare("INSERT INTO document_access (document_id, key) VALUES ('d1', 'org')").run();
    texts.forEach((text, i) => {
      old
        .prepare(
          `INSERT INTO chunks (chunk_id, tenant_id, document_id, ordinal, page, title, text, tokens)
           VALUES (?, ?, 'd1', ?, ?, 'Notes', ?, ?)`,
        )
        .run(`d1#${i}`, tenant, i, i + 1, text, 1); // an early count, recomputed by the migration
    });
    old.close();

    const fresh = newTenantId();
    const index = new SqliteChunkIndex(dbs);
    await index.upsert(
      fresh,
      texts.map((text, i) => ({
        id: `d1#${i}`,
        tenantId: fresh,
        documentId: "d1",
        ordinal: i,
        title: "Notes",
        page: i + 1,
        text,
        access: [ORG_KEY],
      })),
    );
    const hits = async (t: typeof tenant) =>
      (await index.search(t, "vacation days approval", { k: 3, readable: [ORG_KEY] })).map((h) => [h.chunkId, h.score]);
    const migrated = await hits(tenant);
    expect(migrated.map(([id]) => id)).toEqual(["d1#1", "d1#0"]);
    expect(migrated).toEqual(await hits(fresh));
    dbs.close();
  });
});
