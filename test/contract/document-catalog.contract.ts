import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DocumentCatalog, NewDocument } from "../../src/ports/document-catalog.js";
import { type Factory, type Fixture, sleep, twoTenants } from "./support.js";

const sha = (n: number | string) => String(n).padStart(64, "0");

export function newDoc(overrides: Partial<NewDocument> = {}): NewDocument {
  return {
    id: randomUUID(),
    title: "Employee Handbook",
    contentType: "text/markdown",
    sizeBytes: 1234,
    sha256: sha(randomUUID().replace(/-/g, "")),
    source: { kind: "upload" },
    uploadedBy: "user-1",
    ...overrides,
  };
}

export function describeDocumentCatalogContract(name: string, factory: Factory<DocumentCatalog>) {
  describe(`DocumentCatalog contract: ${name}`, () => {
    let fx: Fixture<DocumentCatalog>;
    let catalog: DocumentCatalog;
    beforeEach(async () => {
      fx = await factory();
      catalog = fx.adapter;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it("creates a queued record and returns it by id", async () => {
      const { a } = twoTenants();
      const input = newDoc({ source: { kind: "cli" } });
      const { document, created } = await catalog.create(a, input);
      expect(created).toBe(true);
      expect(document).toMatchObject({
        id: input.id,
        tenantId: a,
        title: input.title,
        contentType: input.contentType,
        sizeBytes: input.sizeBytes,
        sha256: input.sha256,
        status: "queued",
        pages: 0,
        chunks: 0,
        source: { kind: "cli" },
        uploadedBy: "user-1",
      });
      expect(document.error).toBeUndefined();
      expect(Date.parse(document.createdAt)).not.toBeNaN();
      expect(await catalog.get(a, input.id)).toEqual(document);
      expect(await catalog.get(a, randomUUID())).toBeUndefined();
    });

    it("is idempotent by content hash within a tenant, and only within it", async () => {
      const { a, b } = twoTenants();
      const first = await catalog.create(a, newDoc({ sha256: sha(7), title: "First" }));
      const again = await catalog.create(a, newDoc({ sha256: sha(7), title: "Copy" }));
      expect(again.created).toBe(false);
      expect(again.document.id).toBe(first.document.id);
      expect(again.document.title).toBe("First");
      expect(await catalog.list(a)).toHaveLength(1);
      const inB = await catalog.create(b, newDoc({ sha256: sha(7) }));
      expect(inB.created).toBe(true);
      expect(inB.document.id).not.toBe(first.document.id);
      expect(inB.document.tenantId).toBe(b);
    });

    it("gives one document when the same file is added concurrently", async () => {
      const { a } = twoTenants();
      const results = await Promise.all(
        Array.from({ length: 4 }, () => catalog.create(a, newDoc({ sha256: sha(42) }))),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.document.id)).size).toBe(1);
      expect(await catalog.list(a)).toHaveLength(1);
    });

    it("moves through queued -> indexing -> ready, or failed with a reason that a later success clears", async () => {
      const { a } = twoTenants();
      const { document } = await catalog.create(a, newDoc());
      expect((await catalog.update(a, document.id, { status: "indexing", error: null }))?.status).toBe("indexing");
      const ready = await catalog.update(a, document.id, { status: "ready", pages: 3, chunks: 12, error: null });
      expect(ready).toMatchObject({ status: "ready", pages: 3, chunks: 12 });
      expect(ready?.error).toBeUndefined();
      const failed = await catalog.update(a, document.id, {
        status: "failed",
        error: { code: "no_text_layer", message: "This PDF has no text layer." },
        pages: 0,
        chunks: 0,
      });
      expect(failed).toMatchObject({
        status: "failed",
        pages: 0,
        chunks: 0,
        error: { code: "no_text_layer", message: "This PDF has no text layer." },
      });
      const requeued = await catalog.update(a, document.id, {
        status: "queued",
        error: null,
        title: "Renamed",
        sha256: sha(99),
        sizeBytes: 7,
      });
      expect(requeued).toMatchObject({ status: "queued", title: "Renamed", sha256: sha(99), sizeBytes: 7 });
      expect(requeued?.error).toBeUndefined();
      expect(requeued?.createdAt).toBe(document.createdAt);
      expect(await catalog.get(a, document.id)).toEqual(requeued);
    });

    it("finds a document by its Slack file, in its own tenant only", async () => {
      const { a, b } = twoTenants();
      const source = {
        kind: "slack" as const,
        teamId: "T1",
        fileId: "F1",
        channelId: "C1",
        permalink: "https://x.slack.com/files/F1",
      };
      const { document } = await catalog.create(a, newDoc({ source }));
      expect((await catalog.findBySlackFile(a, "T1", "F1"))?.id).toBe(document.id);
      expect((await catalog.findBySlackFile(a, "T1", "F1"))?.source).toEqual(source);
      expect(await catalog.findBySlackFile(a, "T1", "F2")).toBeUndefined();
      expect(await catalog.findBySlackFile(b, "T1", "F1")).toBeUndefined();
    });

    it("lists a tenant's documents newest first", async () => {
      const { a } = twoTenants();
      const ids: string[] = [];
      for (const title of ["one", "two", "three"]) {
        ids.push((await catalog.create(a, newDoc({ title }))).document.id);
        await sleep(5);
      }
      expect((await catalog.list(a)).map((d) => d.id)).toEqual(ids.reverse());
    });

    it("keeps tenants apart: B cannot get, list, update or delete A's document", async () => {
      const { a, b } = twoTenants();
      const { document } = await catalog.create(a, newDoc({ title: "A only" }));
      expect(await catalog.get(b, document.id)).toBeUndefined();
      expect(await catalog.list(b)).toEqual([]);
      expect(await catalog.update(b, document.id, { status: "ready", pages: 1, chunks: 1 })).toBeUndefined();
      expect(await catalog.delete(b, document.id)).toBe(false);
      expect(await catalog.get(b, document.id)).toBeUndefined();
      expect(await catalog.get(a, document.id)).toEqual(document);
    });

    it("updating a missing document creates nothing", async () => {
      const { a } = twoTenants();
      const id = randomUUID();
      expect(await catalog.update(a, id, { status: "ready", pages: 1, chunks: 1 })).toBeUndefined();
      expect(await catalog.get(a, id)).toBeUndefined();
      expect(await catalog.list(a)).toEqual([]);
    });

    it("deletes once, and the same content can then be added again", async () => {
      const { a } = twoTenants();
      const input = newDoc({ sha256: sha(5), source: { kind: "slack", teamId: "T9", fileId: "F9" } });
      const { document } = await catalog.create(a, input);
      expect(await catalog.delete(a, document.id)).toBe(true);
      expect(await catalog.delete(a, document.id)).toBe(false);
      expect(await catalog.get(a, document.id)).toBeUndefined();
      expect(await catalog.findBySlackFile(a, "T9", "F9")).toBeUndefined();
      const again = await catalog.create(a, newDoc({ sha256: sha(5) }));
      expect(again.created).toBe(true);
      expect(again.document.id).not.toBe(document.id);
    });
  });
}
