import { once } from "node:events";
import { createReadStream } from "node:fs";
import { mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import tar from "tar-stream";

/** One file of an archive: its bytes, or lines spooled to a temporary file (any number of them). */
export type ArchiveEntry =
  | { name: string; data: Uint8Array | string; mtime?: Date }
  | { name: string; lines: AsyncIterable<string>; mtime?: Date };

/**
 * Writes entries into a .tar.gz as they come, with back-pressure: a slow reader holds the producer,
 * so memory stays at one file at a time. A tar header needs the entry's size before its bytes, so a
 * `lines` entry (an audit log of any length) is spooled to a temporary file first. A failure destroys
 * the returned stream with the error: the reader sees an incomplete download, never a short archive.
 */
export function tarGz(entries: AsyncIterable<ArchiveEntry>): Readable {
  const pack = tar.pack();
  const out = new PassThrough();
  const gzip = createGzip();
  pipeline(pack, gzip, out).catch((error: unknown) => out.destroy(error as Error));
  (async () => {
    for await (const entry of entries) {
      if (out.destroyed) break;
      if ("data" in entry) await addBytes(pack, entry.name, entry.data, entry.mtime);
      else await addSpooled(pack, entry.name, entry.lines, entry.mtime);
    }
    pack.finalize();
  })().catch((error: unknown) => {
    pack.destroy(error as Error);
    out.destroy(error as Error);
  });
  return out;
}

/**
 * One entry, its bytes piped in. Always through a pipeline, never `pack.entry(header, buffer)`: when the
 * reader goes away mid-download the pack is destroyed, and an entry stream with no error listener would
 * throw its "premature close" as an uncaught error, taking the whole server down.
 */
function addEntry(pack: tar.Pack, header: Parameters<tar.Pack["entry"]>[0], source: Readable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const sink = pack.entry(header, (error) => (error ? reject(error) : resolve()));
    pipeline(source, sink).catch(reject);
  });
}

async function addBytes(pack: tar.Pack, name: string, data: Uint8Array | string, mtime = new Date()): Promise<void> {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
  await addEntry(pack, { name, size: bytes.length, mode: 0o644, mtime }, Readable.from([bytes]));
}

async function addSpooled(
  pack: tar.Pack,
  name: string,
  lines: AsyncIterable<string>,
  mtime = new Date(),
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "enclave-export-"));
  const file = join(dir, "spool");
  try {
    const handle = await open(file, "wx", 0o600);
    try {
      const writer = handle.createWriteStream();
      for await (const line of lines) {
        if (!writer.write(line)) await once(writer, "drain");
      }
      writer.end();
      await once(writer, "finish");
    } finally {
      await handle.close().catch(() => undefined);
    }
    const { size } = await stat(file);
    await addEntry(pack, { name, size, mode: 0o644, mtime }, createReadStream(file));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
