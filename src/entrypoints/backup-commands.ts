import type { Config } from "../config/config.js";

/**
 * `backup --out DIR` and `restore --from DIR`: file operations on the embedded shape's DATA_DIR. They
 * never build the container, so no worker starts and no migration runs on the live data.
 */
export async function runBackupCommand(
  command: "backup" | "restore",
  values: { out?: string; from?: string },
  config: Config,
  print: (line: string) => void,
): Promise<number> {
  const { BackupError } = await import("../adapters/local/backup-manifest.js");
  try {
    if (config.BACKEND !== "local")
      throw new BackupError(
        `${command} copies the embedded shape's DATA_DIR; on AWS use DynamoDB point-in-time recovery and S3 versioning.`,
      );
    if (command === "backup") {
      if (!values.out) throw new BackupError("backup needs --out <folder> (a new or empty folder).");
      const { backupDataDir } = await import("../adapters/local/backup.js");
      const s = await backupDataDir(config.DATA_DIR, values.out);
      print(
        `Backed up the directory and ${s.tenants} tenant databases, ${s.files} document files and ${s.keys} keys (${mib(s.bytes)}) into ${s.out}`,
      );
      return 0;
    }
    if (!values.from) throw new BackupError("restore needs --from <backup folder>.");
    const { restoreDataDir } = await import("../adapters/local/restore.js");
    const s = await restoreDataDir(values.from, config.DATA_DIR);
    print(
      `Restored the directory and ${s.tenants} tenant databases, ${s.files} document files and ${s.keys} keys into ${s.dataDir}, from the backup of ${s.createdAt}${s.enclaveVersion ? ` (Enclave ${s.enclaveVersion})` : ""}. Start the server on it now.`,
    );
    return 0;
  } catch (error) {
    // One line, no stack: a refused target or a damaged backup is the operator's to fix, not a crash.
    const message = error instanceof BackupError ? error.message : `${command} failed: ${(error as Error).message}`;
    process.stderr.write(`${message}\n`);
    return 1;
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
