import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../../domain/errors.js";
import { isTenantId, type TenantId } from "../../domain/tenant.js";
import { cjkBigrams } from "../../domain/terms.js";
import { type PassageTerms, passageTerms } from "./passage-terms.js";
import { tightenSync } from "./private-files.js";
import { type Db, openDatabase } from "./sqlite.js";

/**
 * One SQLite file per tenant holds its documents, passages (FTS5) and audit log, like a Pinecone
 * namespace: BM25 statistics never mix across tenants, search cost does not grow with other tenants'
 * data, and deleting or exporting a tenant is a file operation. Handles open lazily and the least
 * recently used one is closed past `maxOpen`. better-sqlite3 is synchronous, so a handle is never in
 * use across an `await` and closing an idle one is safe.
 */
const MIGRATIONS = [
  `
  CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    title TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    pages INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL,
    slack_team_id TEXT,
    slack_file_id TEXT,
    uploaded_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE UNIQUE INDEX documents_hash ON documents (tenant_id, sha256);
  CREATE INDEX documents_slack_file ON documents (tenant_id, slack_team_id, slack_file_id);

  CREATE TABLE chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    page INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL
  );
  CREATE INDEX chunks_document ON chunks (tenant_id, document_id);
  CREATE VIRTUAL TABLE passages USING fts5 (
    title, text,
    content = 'chunks', content_rowid = 'rowid',
    tokenize = 'porter unicode61 remove_diacritics 2'
  );
  CREATE VIRTUAL TABLE passages_vocab USING fts5vocab (passages, 'row');
  CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO passages (rowid, title, text) VALUES (new.rowid, new.title, new.text);
  END;
  CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO passages (passages, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
  END;

  CREATE TABLE audit (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    user_id TEXT NOT NULL,
    surface TEXT NOT NULL,
    outcome TEXT NOT NULL,
    record TEXT NOT NULL
  );
  CREATE INDEX audit_time ON audit (tenant_id, created_at DESC, id DESC);
  `,
  // Passage lengths and collection totals for BM25 re-scoring (see SqliteChunkIndex), kept by triggers.
  `
  ALTER TABLE chunks ADD COLUMN tokens INTEGER NOT NULL DEFAULT 0;
  UPDATE chunks SET tokens = length(title || ' ' || text) - length(replace(title || ' ' || text, ' ', '')) + 1;
  CREATE TABLE chunk_stats (id INTEGER PRIMARY KEY CHECK (id = 1), passages INTEGER NOT NULL, tokens INTEGER NOT NULL);
  INSERT INTO chunk_stats (id, passages, tokens) SELECT 1, count(*), coalesce(sum(tokens), 0) FROM chunks;
  CREATE TRIGGER chunks_stats_ai AFTER INSERT ON chunks BEGIN
    UPDATE chunk_stats SET passages = passages + 1, tokens = tokens + new.tokens WHERE id = 1;
  END;
  CREATE TRIGGER chunks_stats_ad AFTER DELETE ON chunks BEGIN
    UPDATE chunk_stats SET passages = passages - 1, tokens = tokens - old.tokens WHERE id = 1;
  END;
  `,
  // The index holds its own copy of each passage with CJK runs split into character pairs
  // (fts_text, see cjkBigrams), so Chinese and Japanese text can be searched inside sentences.
  `
  DROP TRIGGER chunks_ai;
  DROP TRIGGER chunks_ad;
  DROP TABLE passages_vocab;
  DROP TABLE passages;
  CREATE VIRTUAL TABLE passages USING fts5 (title, text, tokenize = 'porter unicode61 remove_diacritics 2');
  CREATE VIRTUAL TABLE passages_vocab USING fts5vocab (passages, 'row');
  INSERT INTO passages (rowid, title, text) SELECT rowid, fts_text(title), fts_text(text) FROM chunks;
  CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO passages (rowid, title, text) VALUES (new.rowid, fts_text(new.title), fts_text(new.text));
  END;
  CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    DELETE FROM passages WHERE rowid = old.rowid;
  END;
  `,
  // Who may read each document. Existing rows get the rule of legacyVisibility
  // (adapters/shared/stored-visibility.ts); scope is dedupeScope of it, and the same bytes are one document
  // only within one scope. document_access holds accessKeys of each document for the chunk index to filter on.
  `
  ALTER TABLE documents ADD COLUMN visibility TEXT;
  ALTER TABLE documents ADD COLUMN scope TEXT;
  UPDATE documents SET visibility = CASE
    WHEN json_extract(source, '$.kind') IN ('upload', 'cli') THEN json_object('kind', 'organisation')
    WHEN json_extract(source, '$.kind') = 'slack' AND json_extract(source, '$.channelId') IS NOT NULL THEN
      json_object('kind', 'slack_conversation', 'conversations', json_array(json_object(
        'teamId', json_extract(source, '$.teamId'),
        'channelId', json_extract(source, '$.channelId'),
        'public', json('false'))))
    ELSE json_object('kind', 'private', 'owner', uploaded_by)
  END;
  UPDATE documents SET scope = CASE json_extract(visibility, '$.kind')
    WHEN 'organisation' THEN 'organisation'
    WHEN 'private' THEN 'private:' || json_extract(visibility, '$.owner')
    ELSE 'slack:' || json_extract(visibility, '$.conversations[0].teamId') || ':'
      || json_extract(visibility, '$.conversations[0].channelId')
  END;
  DROP INDEX documents_hash;
  CREATE UNIQUE INDEX documents_scope_hash ON documents (tenant_id, scope, sha256);

  CREATE TABLE document_access (
    document_id TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (document_id, key)
  ) WITHOUT ROWID;
  CREATE INDEX document_access_key ON document_access (key, document_id);
  INSERT OR IGNORE INTO document_access (document_id, key)
    SELECT id, 'org' FROM documents WHERE json_extract(visibility, '$.kind') = 'organisation'
    UNION ALL
    SELECT id, 'owner:' || json_extract(visibility, '$.owner') FROM documents
     WHERE json_extract(visibility, '$.kind') = 'private'
    UNION ALL
    SELECT d.id, 'conv:' || json_extract(c.value, '$.teamId') || ':' || json_extract(c.value, '$.channelId')
      FROM documents d, json_each(d.visibility, '$.conversations') c
     WHERE json_extract(d.visibility, '$.kind') = 'slack_conversation'
    UNION ALL
    SELECT d.id, 'pub:' || json_extract(c.value, '$.teamId')
      FROM documents d, json_each(d.visibility, '$.conversations') c
     WHERE json_extract(d.visibility, '$.kind') = 'slack_conversation' AND json_extract(c.value, '$.public') = 1;
  `,
  // Progress of a running ingest, and the recovery sweep's look-up of documents not settled yet.
  `
  ALTER TABLE documents ADD COLUMN progress_done INTEGER;
  ALTER TABLE documents ADD COLUMN progress_total INTEGER;
  CREATE INDEX documents_unsettled ON documents (status, updated_at) WHERE status IN ('queued', 'indexing');
  `,
  // Each passage's term frequencies, so BM25 re-scoring reads them instead of re-tokenising the text
  // of every candidate at every search (see passage-terms.ts); a version that changes with every
  // passage written or removed (cached statistics are checked against it), and how many were since
  // the FTS5 index was last merged into one segment (see SqliteChunkIndex.compact).
  `
  ALTER TABLE chunks ADD COLUMN terms TEXT NOT NULL DEFAULT '';
  UPDATE chunks SET terms = passage_terms(title, text), tokens = passage_tokens(title, text);
  ALTER TABLE chunk_stats ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE chunk_stats ADD COLUMN unmerged INTEGER NOT NULL DEFAULT 0;
  UPDATE chunk_stats SET tokens = (SELECT coalesce(sum(tokens), 0) FROM chunks), unmerged = passages;
  DROP TRIGGER chunks_stats_ai;
  DROP TRIGGER chunks_stats_ad;
  CREATE TRIGGER chunks_stats_ai AFTER INSERT ON chunks BEGIN
    UPDATE chunk_stats SET passages = passages + 1, tokens = tokens + new.tokens, version = version + 1,
      unmerged = unmerged + 1 WHERE id = 1;
  END;
  CREATE TRIGGER chunks_stats_ad AFTER DELETE ON chunks BEGIN
    UPDATE chunk_stats SET passages = passages - 1, tokens = tokens - old.tokens, version = version + 1,
      unmerged = unmerged + 1 WHERE id = 1;
  END;
  `,
  // FTS5 removes a deleted passage's terms from the index's segments at once (not beside a delete
  // marker until the next merge): with secure_delete, no copy of deleted text stays in the file.
  `
  INSERT INTO passages (passages, rank) VALUES ('secure-delete', 1);
  `,
];

function registerFunctions(db: Db): void {
  db.function("fts_text", { deterministic: true }, (value: unknown) => cjkBigrams(String(value ?? "")));
  // The migration asks for a row's terms and then its tokens: the row is analysed once for both.
  let last: { title: string; text: string; terms: PassageTerms } | undefined;
  const analysed = (titleValue: unknown, textValue: unknown): PassageTerms => {
    const title = String(titleValue ?? "");
    const text = String(textValue ?? "");
    if (last?.title !== title || last.text !== text) last = { title, text, terms: passageTerms(title, text) };
    return last.terms;
  };
  db.function("passage_terms", { deterministic: true }, (title: unknown, text: unknown) => analysed(title, text).terms);
  db.function(
    "passage_tokens",
    { deterministic: true },
    (title: unknown, text: unknown) => analysed(title, text).tokens,
  );
}

/** Opens one tenant's file at the newest schema, or at an older one (to test a migration from it). */
export function openTenantDatabase(file: string, version = MIGRATIONS.length): Db {
  return openDatabase(file, MIGRATIONS.slice(0, version), registerFunctions);
}

/**
 * SQLite's page cache per open tenant handle, in KiB. better-sqlite3 builds SQLite with 16 MiB a
 * connection (SQLITE_DEFAULT_CACHE_SIZE=-16000), which a handle fills as it indexes: 20 busy tenants
 * held over 300 MiB of it. Searching and indexing a SciFact-sized tenant (a 35 MiB file) are as fast
 * with 1 MiB (measured down to 512 KiB): a miss is read from the operating system's file cache, which
 * every handle and process shares.
 */
export const TENANT_PAGE_CACHE_KIB = 1024;

/**
 * A handle unused this long is closed (its page cache, statements and three file descriptors go), so
 * memory follows the tenants in use now rather than every tenant since the start; the next use opens
 * it again in about a millisecond.
 */
export const TENANT_IDLE_MS = 5 * 60_000;

export interface TenantDatabasesOptions {
  pageCacheKiB?: number;
  idleMs?: number;
}

export class TenantDatabases {
  /** Open handles, least recently used first. */
  private readonly open = new Map<TenantId, { db: Db; usedAt: number }>();
  private readonly pageCacheKiB: number;
  private readonly idleMs: number;
  private sweeper: NodeJS.Timeout | undefined;
  /**
   * Tenants destroyed by this process. A job of the tenant still running when it was erased must not
   * bring its database back to life: opening one again is refused (a new tenant gets a new id).
   */
  private readonly destroyed = new Set<TenantId>();

  constructor(
    private readonly root: string,
    private readonly maxOpen = 64,
    options: TenantDatabasesOptions = {},
  ) {
    this.pageCacheKiB = options.pageCacheKiB ?? TENANT_PAGE_CACHE_KIB;
    this.idleMs = options.idleMs ?? TENANT_IDLE_MS;
    // A folder an older version made 0755 is closed to other users (new ones are made 0700), and with it
    // every tenant's documents, whatever their own mode. Each tenant's own folder is tightened as it opens.
    tightenSync(join(root, "tenants"));
  }

  folder(tenant: TenantId): string {
    // The id format is the only thing standing between a tenant id and a path: check it every time.
    if (!isTenantId(tenant)) throw new Error("invalid tenant id");
    return join(this.root, "tenants", tenant);
  }

  get(tenant: TenantId): Db {
    if (this.destroyed.has(tenant)) throw new AppError("not_found", "This organisation has been deleted.");
    const now = Date.now();
    const cached = this.open.get(tenant);
    if (cached) {
      this.open.delete(tenant);
      this.open.set(tenant, { db: cached.db, usedAt: now }); // most recently used last
      return cached.db;
    }
    tightenSync(this.folder(tenant));
    const db = openTenantDatabase(join(this.folder(tenant), "tenant.db"));
    db.pragma(`cache_size = -${this.pageCacheKiB}`);
    this.open.set(tenant, { db, usedAt: now });
    while (this.open.size > this.maxOpen) this.closeOldest();
    this.sweepWhileOpen();
    return db;
  }

  /** Closes the handles unused for `idleMs` before `now` (the sweeper's timer calls this too). */
  closeIdle(now = Date.now()): void {
    for (const [tenant, { usedAt }] of this.open) {
      if (now - usedAt < this.idleMs) break; // the rest were used later
      this.open.get(tenant)?.db.close();
      this.open.delete(tenant);
    }
    if (this.open.size === 0) this.stopSweeping();
  }

  private closeOldest(): void {
    const oldest = this.open.entries().next().value;
    if (!oldest) return;
    this.open.delete(oldest[0]);
    oldest[1].db.close();
  }

  private sweepWhileOpen(): void {
    if (this.sweeper || !Number.isFinite(this.idleMs)) return;
    // Only handles unused for idleMs are closed: code that got one is done with it (better-sqlite3 is
    // synchronous, and no caller holds a handle across an await for anywhere near that long).
    this.sweeper = setInterval(() => this.closeIdle(), Math.max(1000, this.idleMs / 2));
    this.sweeper.unref();
  }

  private stopSweeping(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Whether the tenant has a database on disk (without creating one, as `get` would). */
  has(tenant: TenantId): boolean {
    return this.open.has(tenant) || existsSync(join(this.folder(tenant), "tenant.db"));
  }

  /** Removes everything a tenant owns on disk (documents, passages, audit, files) and refuses to reopen it. */
  destroy(tenant: TenantId): void {
    this.destroyed.add(tenant);
    this.open.get(tenant)?.db.close();
    this.open.delete(tenant);
    rmSync(this.folder(tenant), { recursive: true, force: true });
  }

  /** Every tenant with a database on disk (the recovery sweep). */
  tenants(): TenantId[] {
    const dir = join(this.root, "tenants");
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter(
      (name): name is TenantId => isTenantId(name) && existsSync(join(dir, name, "tenant.db")),
    );
  }

  openCount(): number {
    return this.open.size;
  }

  close(): void {
    this.stopSweeping();
    for (const { db } of this.open.values()) db.close();
    this.open.clear();
  }
}
