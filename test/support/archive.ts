import { gunzipSync } from "node:zlib";
import tar from "tar-stream";

/** Every file of a .tar.gz (a tenant export) by name. */
export async function untarGz(gz: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const parts: Buffer[] = [];
      stream.on("data", (chunk: unknown) => {
        parts.push(chunk as Buffer);
      });
      stream.on("end", () => {
        files.set(header.name, Buffer.concat(parts));
        next();
      });
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  extract.end(gunzipSync(gz));
  await done;
  return files;
}
