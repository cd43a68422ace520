import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, rmdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import {
  BackupError,
  copyTree,
  isEmptyOrAbsent,
  MANIFEST,
  type Manifest,
  manifestSchema,
  sha256Of,
  tenantFolders,
} from "./backup-manifest.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "./private-files.js";

export interface RestoreSummary {
  dataDir: string;
  createdAt: string;
  enclaveVersion?: string;
  databases: number;
  tenants: number;
  files: number;
  keys: number;
}

/**
 * Puts a backup (see backup.ts) into an empty or new DATA_DIR. Everything is first copied into a
 * folder inside DATA_DIR and checked there (each database against the manifest's size and SHA-256,
 * then SQLite's integrity check; the file count), and only then moved into place: a damaged backup
 * leaves DATA_DIR as it was. The server must not be running on DATA_DIR (it is empty, so it is not).
 */
export async function restoreDataDir(from: string, dataDir: string): Promise<RestoreSummary> {
  const backup = resolve(from);
  const target = resolve(dataDir);
  const manifest = await readManifest(backup);
  if (!(await isEmptyOrAbsent(target)))
    throw new BackupError(`DATA_DIR ${target} is not empty: restore only into an empty or new folder.`);
  const created = !existsSync(target);
  await mkdir(target, { recursive: true, mode: PRIVATE_DIR_MODE });
  // A dot name: never a tenant id, never read by the server.
  const staging = join(target, `.restoring-${randomBytes(4).toString("hex")}`);
  try {
    await mkdir(staging, { mode: PRIVATE_DIR_MODE });
    await checkDatabaseSet(backup, manifest);
    for (const database of manifest.databases) await stageDatabase(backup, staging, database);
    let files = 0;
    const tenants = await tenantFolders(backup);
    for (const tenant of tenants) {
      files += (await copyTree(join(backup, "tenants", tenant, "files"), join(staging, "tenants", tenant, "files")))
        .count;
    }
    if (files !== manifest.files.count)
      throw new BackupError(
        `The backup in ${backup} is damaged: it holds ${files} document files, its manifest ${manifest.files.count}.`,
      );
    const keys = await copyTree(join(backup, "keys"), join(staging, "keys"));
    if (keys.count !== manifest.keys.length)
      throw new BackupError(`The backup in ${backup} is damaged: keys/ does not hold the keys its manifest lists.`);
    // Checked: into place. Renames within one folder, so nothing half-copied is ever in DATA_DIR's root.
    for (const name of await readdir(staging)) await rename(join(staging, name), join(target, name));
    await rmdir(staging);
    await chmod(target, PRIVATE_DIR_MODE);
    return {
      dataDir: target,
      createdAt: manifest.created_at,
      ...(manifest.enclave_version ? { enclaveVersion: manifest.enclave_version } : {}),
      databases: manifest.databases.length,
      tenants: manifest.databases.filter((d) => d.path !== "directory.db").length,
      files,
      keys: keys.count,
    };
  } catch (error) {
    await rm(created ? target : staging, { recursive: true, force: true });
    throw error;
  }
}

async function readManifest(backup: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(backup, MANIFEST), "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR")
      throw new BackupError(`No backup in ${backup}: ${MANIFEST} is missing (an unfinished backup has none).`);
    throw new BackupError(`Could not read ${join(backup, MANIFEST)}: ${code ?? String(error)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BackupError(`The backup in ${backup} is damaged: ${MANIFEST} is not valid JSON.`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BackupError(
      `The backup in ${backup} is damaged or of another format: ${MANIFEST} ${issue?.path.join(".") || ""}: ${issue?.message ?? "invalid"}.`,
    );
  }
  if (!parsed.data.databases.some((d) => d.path === "directory.db"))
    throw new BackupError(`The backup in ${backup} is damaged: its manifest lists no directory.db.`);
  return parsed.data;
}

/** The databases in the backup are exactly those its manifest lists. */
async function checkDatabaseSet(backup: string, manifest: Manifest): Promise<void> {
  const listed = new Set(manifest.databases.map((d) => d.path));
  for (const tenant of await tenantFolders(backup)) {
    const path = `tenants/${tenant}/tenant.db`;
    if (existsSync(join(backup, path)) && !listed.has(path))
      throw new BackupError(`The backup in ${backup} is damaged: ${path} is not in its manifest.`);
  }
}

/** Copies one database into the staging folder and checks the copy (the backup itself is only read). */
async function stageDatabase(backup: string, staging: string, database: Manifest["databases"][number]): Promise<void> {
  const from = join(backup, database.path);
  const damaged = (why: string) => new BackupError(`The backup in ${backup} is damaged: ${database.path} ${why}.`);
  const size = await stat(from).then(
    (s) => s.size,
    () => undefined,
  );
  if (size === undefined) throw damaged("is missing");
  if (size !== database.bytes) throw damaged(`has ${size} bytes, its manifest says ${database.bytes}`);
  const to = join(staging, database.path);
  await mkdir(join(to, ".."), { recursive: true, mode: PRIVATE_DIR_MODE });
  await copyFile(from, to);
  await chmod(to, PRIVATE_FILE_MODE);
  if ((await sha256Of(to)) !== database.sha256) throw damaged("does not match its manifest's checksum");
  let result: unknown;
  try {
    const db = new Database(to, { fileMustExist: true });
    try {
      result = db.pragma("integrity_check", { simple: true });
    } finally {
      // The last handle: its log and shared-memory files go with it.
      db.close();
    }
  } catch (error) {
    throw damaged(`cannot be read by SQLite (${(error as Error).message})`);
  }
  if (result !== "ok") throw damaged(`fails SQLite's integrity check (${String(result)})`);
}
