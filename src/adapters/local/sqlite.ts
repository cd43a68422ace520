import { dirname } from "node:path";
import Database from "better-sqlite3";
import { preparePrivateDatabase } from "./private-files.js";

export type Db = Database.Database;

/**
 * How long a statement waits for another process's write lock (the CLI, a backup, a sqlite3 shell)
 * before it fails with SQLITE_BUSY, which the HTTP layer answers with a 503 "busy, try again".
 * better-sqlite3 is synchronous: the wait blocks the whole event loop (web, Slack, the job worker),
 * so it stays short, under Slack's 3-second acknowledgement deadline.
 */
export const BUSY_TIMEOUT_MS = 2000;

/**
 * Opens a SQLite file (0600, see private-files.ts) in WAL mode and applies the migrations it has not
 * seen yet. Each migration runs in a transaction and bumps `user_version`, so a half-applied schema
 * never exists.
 */
export function openDatabase(file: string, migrations: readonly string[], setup?: (db: Db) => void): Db {
  // For the server's user alone: a new file 0600 (its log and shared memory follow), an older one tightened.
  if (file !== ":memory:" && file !== "") preparePrivateDatabase(file, dirname(file));
  const db = new Database(file);
  try {
    // Several processes (server, CLI) may share one data folder: wait for a lock instead of failing.
    // First, so that switching a new file to WAL and migrating it wait too.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    // Deleted rows (a document's passages, a purged exchange, a deleted tenant's members and emails)
    // are overwritten with zeros instead of lingering in free pages and the free space of pages.
    // Per connection: every handle that can delete sets it. FAST would leave copies on freelist pages.
    db.pragma("secure_delete = ON");
    // Functions the schema's triggers call must exist before any migration or write runs.
    setup?.(db);
    migrate(db, migrations);
  } catch (error) {
    // Busy past the timeout (or any other failure): no half-opened handle is left holding the file.
    db.close();
    throw error;
  }
  return db;
}

export function migrate(db: Db, migrations: readonly string[]): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(`database schema version ${current} is newer than this program (${migrations.length})`);
  }
  for (let version = current; version < migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version] ?? "");
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}

export const nowIso = (): string => new Date().toISOString();

/**
 * Copies the write-ahead log into the database and empties it, so that pages it holds from before a
 * delete (the deleted text, in the versions written before) are gone from the disk too. Only when no
 * other connection is reading or writing: it does not wait (that would hold the event loop for up to
 * BUSY_TIMEOUT_MS); when busy, the old pages stay until the log is next reused from its start.
 * Returns whether the log was emptied.
 */
export function truncateWal(db: Db): boolean {
  if (db.memory) return true;
  const timeout = db.pragma("busy_timeout", { simple: true }) as number;
  db.pragma("busy_timeout = 0");
  try {
    const [result] = db.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
    return result?.busy === 0;
  } catch {
    return false;
  } finally {
    db.pragma(`busy_timeout = ${timeout}`);
  }
}

// Compiled statements of each open handle, by SQL text. better-sqlite3 compiles SQL at every
// prepare(), which costs as much as a small indexed query; the hot paths (search) reuse theirs.
// Weakly held: a closed handle and its statements go together.
const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/** The handle's compiled statement for `sql`, prepared once. */
export function statement(db: Db, sql: string): Database.Statement {
  let cache = statements.get(db);
  if (!cache) {
    cache = new Map();
    statements.set(db, cache);
  }
  let prepared = cache.get(sql);
  if (!prepared) {
    prepared = db.prepare(sql);
    cache.set(sql, prepared);
  }
  return prepared;
}
