import { randomUUID } from "node:crypto";
import { readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { AppError, isAppError } from "../../domain/errors.js";
import type { TenantId } from "../../domain/tenant.js";
import type { ObjectStore } from "../../ports/object-store.js";
import { makePrivateDir, openNewPrivateFile } from "./private-files.js";
import type { TenantDatabases } from "./tenant-databases.js";

const SAFE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

/** How bytes reach a new file and the disk. */
export type WriteNewFile = (path: string, data: Uint8Array) => Promise<void>;

export interface FsObjectStoreOptions {
  /** Test seam: a fault test makes writes fail the way a full disk does. */
  writeNewFile?: WriteNewFile;
}

/** Writes, flushes and closes a file that must not exist yet, 0600 (the default). */
export const writeAndSync: WriteNewFile = async (path, data) => {
  const file = await openNewPrivateFile(path);
  try {
    await file.writeFile(data);
    // On the disk before the rename makes it visible: a crash leaves no file rather than an empty one.
    await file.sync();
  } finally {
    await file.close();
  }
};

const DISK_FULL = new Set(["ENOSPC", "EDQUOT"]);

/** A failed write as a reason the user can read; the errno stays in the log detail. */
function writeFailure(error: unknown, key: string): AppError {
  if (isAppError(error)) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "unknown";
  const detail = `writing object ${key}: ${code}`;
  if (DISK_FULL.has(code)) {
    return new AppError(
      "dependency_unavailable",
      "The server has run out of disk space, so the file was not stored. Try again later.",
      { retryable: true, cause: error, detail },
    );
  }
  return new AppError(
    "dependency_unavailable",
    "The server could not store the file because of a storage error on its side. Try again later.",
    { retryable: true, cause: error, detail },
  );
}

/** Files under `<DATA_DIR>/tenants/<tenant>/files/`, beside the tenant's database. */
export class FsObjectStore implements ObjectStore {
  private readonly writeNewFile: WriteNewFile;

  constructor(
    private readonly dbs: TenantDatabases,
    options: FsObjectStoreOptions = {},
  ) {
    this.writeNewFile = options.writeNewFile ?? writeAndSync;
  }

  private path(tenant: TenantId, key: string): string {
    if (!SAFE_KEY.test(key) || key.split("/").some((p) => p === "." || p === "..")) {
      throw new AppError("bad_request", "Invalid file key.", {
        detail: `unsafe object key ${JSON.stringify(key)}`,
      });
    }
    const root = resolve(this.dbs.folder(tenant), "files");
    const full = resolve(root, key);
    if (!full.startsWith(root + sep)) throw new AppError("bad_request", "Invalid file key.");
    return full;
  }

  /**
   * Write to a temporary file, then rename: a reader never sees half a file, and a write that fails
   * (a full disk) leaves nothing behind and the previous version, if any, in place.
   */
  async put(tenant: TenantId, key: string, data: Uint8Array): Promise<void> {
    const target = this.path(tenant, key);
    // A leading dot and a random part: never a valid key, never shared by two writers.
    const temp = join(dirname(target), `.${basename(target)}.${randomUUID()}.tmp`);
    try {
      await makePrivateDir(dirname(target));
      await this.writeNewFile(temp, data);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => {});
      throw writeFailure(error, key);
    }
  }

  async get(tenant: TenantId, key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(tenant, key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new AppError("not_found", "File not found.");
      throw error;
    }
  }

  async delete(tenant: TenantId, key: string): Promise<void> {
    await rm(this.path(tenant, key), { force: true });
  }

  async deleteTenant(tenant: TenantId): Promise<void> {
    await rm(resolve(this.dbs.folder(tenant), "files"), { recursive: true, force: true });
  }
}
