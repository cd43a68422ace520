import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { AppError } from "../../domain/errors.js";
import type { TenantId } from "../../domain/tenant.js";
import type { ObjectStore } from "../../ports/object-store.js";
import type { TenantDatabases } from "./tenant-databases.js";

const SAFE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

/** Files under `<DATA_DIR>/tenants/<tenant>/files/`, beside the tenant's database. */
export class FsObjectStore implements ObjectStore {
  constructor(private readonly dbs: TenantDatabases) {}

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

  async put(tenant: TenantId, key: string, data: Uint8Array): Promise<void> {
    const target = this.path(tenant, key);
    await mkdir(dirname(target), { recursive: true });
    // Write then rename, so a reader never sees half a file.
    const temp = join(dirname(target), `.${process.pid}.${Date.now()}.tmp`);
    await writeFile(temp, data);
    await rename(temp, target);
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
}
