import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import pkg from "../../../package.json" with { type: "json" };
import {
  BackupError,
  copyTree,
  FORMAT,
  FORMAT_VERSION,
  isEmptyOrAbsent,
  MANIFEST,
  type Manifest,
  sha256Of,
  tenantFolders,
} from "./backup-manifest.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, touchPrivateFileSync } from "./private-files.js";
import { BUSY_TIMEOUT_MS } from "./sqlite.js";

export interface BackupSummary {
  out: string;
  databases: number;
  tenants: number;
  files: number;
  bytes: number;
  keys: number;
}

// better-sqlite3 copies 100 pages a step by default; a step that ends lets another process write, and
// SQLite then starts the copy again from the first page. Everything in one step is one read
// transaction: a consistent snapshot, taken however busy the server is, without holding it up (WAL
// readers do not block writers).
const ALL_PAGES = 0x7fffffff;

/**
 * A consistent copy of a running (or stopped) embedded instance: SQLite's online backup of every
 * tenant database and then of the directory database, then each tenant's files and the keys, then
 * backup.json. Databases come before files: an upload writes its file before its record, so every
 * document recorded in the copy has its file. Tenant databases come before the directory, whose
 * jobs table an upload writes after its record: what happens in between is in the directory copy
 * alone (an organisation with nothing written yet, a job whose document is not there, which the
 * worker drops); a document caught between its record and its job is queued again by the recovery
 * sweep after a restore. Nothing in `dataDir` is written or migrated.
 */
export async function backupDataDir(dataDir: string, out: string, now = new Date()): Promise<BackupSummary> {
  const source = resolve(dataDir);
  const target = resolve(out);
  if (!existsSync(join(source, "directory.db")))
    throw new BackupError(`Nothing to back up: ${join(source, "directory.db")} does not exist (check DATA_DIR).`);
  if (!(await isEmptyOrAbsent(target)))
    throw new BackupError(`The backup folder ${target} is not empty: choose a new or empty folder.`);
  await mkdir(target, { recursive: true, mode: PRIVATE_DIR_MODE });
  await chmod(target, PRIVATE_DIR_MODE);
  try {
    const databases: Manifest["databases"] = [];
    const tenants = await tenantFolders(source);
    const withDatabase: string[] = [];
    for (const tenant of tenants) {
      if (!existsSync(join(source, "tenants", tenant, "tenant.db"))) continue;
      databases.push(await copyDatabase(source, target, `tenants/${tenant}/tenant.db`));
      withDatabase.push(tenant);
    }
    databases.unshift(await copyDatabase(source, target, "directory.db"));
    let files = { count: 0, bytes: 0 };
    for (const tenant of tenants) {
      const copied = await copyTree(join(source, "tenants", tenant, "files"), join(target, "tenants", tenant, "files"));
      files = { count: files.count + copied.count, bytes: files.bytes + copied.bytes };
    }
    const keysCopied = await copyTree(join(source, "keys"), join(target, "keys"));
    const keys = keysCopied.count > 0 ? (await readdir(join(target, "keys"))).sort() : [];
    const manifest: Manifest = {
      format: FORMAT,
      version: FORMAT_VERSION,
      created_at: now.toISOString(),
      enclave_version: pkg.version,
      databases,
      files,
      keys,
    };
    // Last: a folder without it is an unfinished backup, and restore refuses it.
    await writeFile(join(target, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: PRIVATE_FILE_MODE });
    return {
      out: target,
      databases: databases.length,
      tenants: withDatabase.length,
      files: files.count,
      bytes: databases.reduce((sum, d) => sum + d.bytes, 0) + files.bytes,
      keys: keys.length,
    };
  } catch (error) {
    // An unfinished copy must not be mistaken for a backup; the folder was empty or absent before.
    for (const name of await readdir(target).catch(() => []))
      await rm(join(target, name), { recursive: true, force: true });
    throw error;
  }
}

/** One database, through SQLite's online backup API from a handle of its own. */
async function copyDatabase(
  sourceRoot: string,
  targetRoot: string,
  path: string,
): Promise<Manifest["databases"][number]> {
  const from = join(sourceRoot, path);
  const to = join(targetRoot, path);
  await mkdir(join(to, ".."), { recursive: true, mode: PRIVATE_DIR_MODE });
  // Read-only while a log exists (a server has it open, or stopped without removing it): nothing to
  // create. Without one, a read-only handle would leave an empty log and shared-memory file behind;
  // a query-only handle makes them and, as the last one to close, removes them again.
  const readonly = existsSync(`${from}-wal`);
  let db: Database.Database;
  try {
    db = new Database(from, { readonly, fileMustExist: true });
  } catch (error) {
    throw new BackupError(`Could not open ${from}: ${(error as Error).message}`);
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (!readonly) db.pragma("query_only = ON");
    // 0600 from the start (SQLite gives the copy's journal the same mode), not only after the chmod below.
    touchPrivateFileSync(to);
    await db.backup(to, { progress: () => ALL_PAGES });
  } catch (error) {
    throw new BackupError(`Could not back up ${from}: ${(error as Error).message}`);
  } finally {
    db.close();
  }
  await chmod(to, PRIVATE_FILE_MODE);
  return { path, bytes: (await stat(to)).size, sha256: await sha256Of(to) };
}
