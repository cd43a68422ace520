import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, copyFile, lstat, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { isTenantId } from "../../domain/tenant.js";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "./private-files.js";

/**
 * What `backup` writes beside the copies (backup.json), and what `restore` checks before it copies
 * anything back. The layout of a backup is the layout of DATA_DIR: directory.db, keys/, and
 * tenants/<tenant id>/ with tenant.db and files/.
 */
export const MANIFEST = "backup.json";
export const FORMAT = "enclave-backup";
export const FORMAT_VERSION = 1;

/** A database's place in DATA_DIR: the directory database or one tenant's. Nothing else is restored. */
const databasePath = z
  .string()
  .refine(
    (p) => p === "directory.db" || (/^tenants\/[^/]+\/tenant\.db$/.test(p) && isTenantId(p.split("/")[1] ?? "")),
    "not a database path of a data folder",
  );

export const manifestSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(FORMAT_VERSION),
  created_at: z.string(),
  enclave_version: z.string().optional(),
  databases: z.array(
    z.object({
      path: databasePath,
      bytes: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    }),
  ),
  files: z.object({ count: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() }),
  keys: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)),
});

export type Manifest = z.infer<typeof manifestSchema>;

/** One line, no stack: the CLI prints the message and exits non-zero. */
export class BackupError extends Error {
  override readonly name = "BackupError";
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** A folder that does not exist or holds nothing. */
export async function isEmptyOrAbsent(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return true;
    if (code === "ENOTDIR") return false;
    throw error;
  }
}

/** The tenant folders under `root`/tenants (only names that are tenant ids: nothing else is ours). */
export async function tenantFolders(root: string): Promise<string[]> {
  try {
    return (await readdir(join(root, "tenants"))).filter((name) => isTenantId(name)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/**
 * Copies the regular files under `from` into `to` (owner-only modes), skipping names that start with a
 * dot (FsObjectStore's files still being written) and anything that is not a plain file or folder.
 * A file removed while the copy runs (its document was deleted) is skipped. Returns count and bytes.
 */
export async function copyTree(from: string, to: string): Promise<{ count: number; bytes: number }> {
  let entries: string[];
  try {
    entries = await readdir(from);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { count: 0, bytes: 0 };
    throw error;
  }
  await mkdir(to, { recursive: true, mode: PRIVATE_DIR_MODE });
  let count = 0;
  let bytes = 0;
  for (const name of entries.sort()) {
    if (name.startsWith(".")) continue;
    const source = join(from, name);
    const target = join(to, name);
    const info = await lstat(source).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (info?.isDirectory()) {
      const nested = await copyTree(source, target);
      count += nested.count;
      bytes += nested.bytes;
    } else if (info?.isFile()) {
      try {
        await copyFile(source, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw error;
      }
      await chmod(target, PRIVATE_FILE_MODE);
      count++;
      bytes += info.size;
    }
  }
  return { count, bytes };
}
