import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";

export type Db = Database.Database;

/**
 * Opens a SQLite file in WAL mode and applies the migrations it has not seen yet. Each migration
 * runs in a transaction and bumps `user_version`, so a half-applied schema never exists.
 */
export function openDatabase(file: string, migrations: readonly string[], setup?: (db: Db) => void): Db {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  // Several processes (server, CLI) may share one data folder: wait for a lock instead of failing.
  db.pragma("busy_timeout = 5000");
  // Functions the schema's triggers call must exist before any migration or write runs.
  setup?.(db);
  migrate(db, migrations);
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
