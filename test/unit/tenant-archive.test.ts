import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { type ArchiveEntry, tarGz } from "../../src/services/tenant-archive.js";
import { untarGz } from "../support/archive.js";

async function bytesOf(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const spools = () => readdirSync(tmpdir()).filter((n) => n.startsWith("enclave-export-"));

describe("the export archive", () => {
  it("holds every entry, bytes and spooled lines alike, in order", async () => {
    async function* lines() {
      for (let i = 0; i < 5000; i++) yield `{"n":${i}}\n`;
    }
    const entries: ArchiveEntry[] = [
      { name: "organisation.json", data: '{"name":"Northwind"}\n' },
      { name: "files/d1/handbook.pdf", data: Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff]) },
      { name: "audit.jsonl", lines: lines() },
    ];
    async function* all() {
      yield* entries;
    }
    const files = await untarGz(await bytesOf(tarGz(all())));
    expect([...files.keys()]).toEqual(["organisation.json", "files/d1/handbook.pdf", "audit.jsonl"]);
    expect(files.get("files/d1/handbook.pdf")).toEqual(Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff]));
    const audit = files.get("audit.jsonl")?.toString("utf8").trim().split("\n") ?? [];
    expect(audit).toHaveLength(5000);
    expect(audit[4999]).toBe('{"n":4999}');
  });

  it("stops reading the organisation when the reader goes away, without an uncaught error", async () => {
    const before = spools();
    let produced = 0;
    let closed = false;
    async function* entries(): AsyncGenerator<ArchiveEntry> {
      try {
        for (let i = 0; i < 200; i++) {
          produced++;
          yield { name: `files/${i}`, data: Buffer.alloc(256 * 1024, i) };
        }
        yield {
          name: "audit.jsonl",
          lines: (async function* () {
            yield "x\n";
          })(),
        };
      } finally {
        closed = true;
      }
    }
    const stream = tarGz(entries());
    stream.on("error", () => {});
    await new Promise<void>((resolve) => stream.once("data", () => resolve()));
    stream.destroy();
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(true);
    expect(produced).toBeLessThan(200);
    expect(spools()).toEqual(before);
  });

  it("ends with an error, never a short archive, when reading the organisation fails", async () => {
    async function* entries(): AsyncGenerator<ArchiveEntry> {
      yield { name: "organisation.json", data: "{}\n" };
      throw new Error("the store went away");
    }
    await expect(bytesOf(tarGz(entries()))).rejects.toThrow("the store went away");
  });
});
