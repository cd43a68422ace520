import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { mkdir, open } from "node:fs/promises";

/**
 * What the embedded shape writes under DATA_DIR (databases, their logs, document files, keys,
 * backups) is for the server's own user alone: folders 0700, files 0600, whatever the umask or the
 * mode of a DATA_DIR the operator made. The one place these modes are chosen.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` and any missing parents 0700; folders that already exist keep their mode. */
export function makePrivateDirSync(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** As `makePrivateDirSync`, asynchronously. */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Opens a file that must not exist yet (`wx`), created 0600. */
export function openNewPrivateFile(path: string) {
  return open(path, "wx", PRIVATE_FILE_MODE);
}

/** Creates an empty file 0600 unless one is there already (then it is left as it is). */
export function touchPrivateFileSync(path: string): void {
  try {
    closeSync(openSync(path, "wx", PRIVATE_FILE_MODE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

/**
 * Takes group and other access away from a file or folder written by an older version (0644, 0755),
 * keeping the owner's. Nothing to do when it is absent or private already; a path this user may not
 * chmod (owned by another user) is left as it is: it worked before, so it keeps working.
 */
export function tightenSync(path: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if ((mode & 0o077) === 0) return;
  try {
    chmodSync(path, mode & 0o700);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "EACCES" && code !== "EROFS" && code !== "ENOENT") throw error;
  }
}

/**
 * Before better-sqlite3 opens `file`: its folder exists (new folders 0700), the database file exists
 * 0600 (SQLite gives its -wal and -shm files the database file's mode), and a database, log or
 * shared-memory file left group- or other-readable by an older version is made 0600.
 */
export function preparePrivateDatabase(file: string, folder: string): void {
  makePrivateDirSync(folder);
  touchPrivateFileSync(file);
  for (const path of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) tightenSync(path);
}
