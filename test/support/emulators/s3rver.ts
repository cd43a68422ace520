import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Emulator } from "./dynalite.js";

const require = createRequire(import.meta.url);

/**
 * s3rver knows one access key (S3RVER) and rejects requests signed with any other; register the keys a
 * test signs with (the service's own, and the per-tenant ones STS hands out in the credential tests).
 * It does not check SigV4 signatures, only that the key id exists.
 */
export function allowS3AccessKey(accessKeyId: string): void {
  const account = require("s3rver/lib/models/account") as {
    DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void };
  };
  account.DUMMY_ACCOUNT.createKeyPair(accessKeyId, "unused");
}

/** S3 on s3rver, files in a temporary folder, on a loopback port chosen by the OS. */
export async function startS3rver(): Promise<Emulator> {
  const S3rver = require("s3rver") as new (
    options: object,
  ) => { run(): Promise<{ port: number }>; close(): Promise<void> };
  const directory = mkdtempSync(join(tmpdir(), "enclave-s3rver-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
