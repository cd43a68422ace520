import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ORGANISATION, type Visibility } from "../../src/domain/access.js";
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
    visibility: ORGANISATION,
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
        visibility: { kind: "organisation" },
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

    it("round-trips every kind of visibility", async () => {
      const { a } = twoTenants();
      const visibilities: Visibility[] = [
        { kind: "organisation" },
        { kind: "private", owner: "u-alice" },
        {
          kind: "slack_conversation",
          conversations: [
            { teamId: "T1", channelId: "C1", public: true },
            { teamId: "T1", channelId: "G2", public: false },
          ],
        },
      ];
      for (const visibility of visibilities) {
        const source = { kind: "slack" as const, teamId: "T1", fileId: randomUUID(), channelId: "C1" };
        const { document } = await catalog.create(a, newDoc({ visibility, source }));
        expect(document.visibility).toEqual(visibility);
        expect((await catalog.get(a, document.id))?.visibility).toEqual(visibility);
        expect((await catalog.findBySlackFile(a, "T1", source.fileId))?.visibility).toEqual(visibility);
        await sleep(5);
      }
      expect((await catalog.list(a)).map((d) => d.visibility)).toEqual([...visibilities].reverse());
    });

    it("is idempotent by content hash within one scope only: the same bytes with other readers are their own", async () => {
      const { a } = twoTenants();
      const bytes = sha(11);
      const channel = (...channelIds: string[]): Visibility => ({
        kind: "slack_conversation",
        conversations: channelIds.map((channelId) => ({ teamId: "T1", channelId, public: false })),
      });
      const scopes: Visibility[] = [
        ORGANISATION,
        { kind: "private", owner: "u-alice" },
        { kind: "private", owner: "u-bob" },
        channel("C1"),
        channel("C2"),
      ];
      const firsts = [];
      for (const visibility of scopes) firsts.push(await catalog.create(a, newDoc({ sha256: bytes, visibility })));
      expect(firsts.every((r) => r.created)).toBe(true);
      expect(new Set(firsts.map((r) => r.document.id)).size).toBe(scopes.length);
      expect(await catalog.list(a)).toHaveLength(scopes.length);

      const alice = await catalog.create(
        a,
        newDoc({ sha256: bytes, visibility: { kind: "private", owner: "u-alice" } }),
      );
      expect(alice).toMatchObject({ created: false, document: { id: firsts[1]?.document.id } });
      // A file shared into one more conversation keeps the scope of the first one.
      const c1 = await catalog.create(a, newDoc({ sha256: bytes, visibility: channel("C1", "C9") }));
      expect(c1).toMatchObject({ created: false, document: { id: firsts[3]?.document.id, visibility: channel("C1") } });
      expect(await catalog.list(a)).toHaveLength(scopes.length);
    });

    it("setVisibility replaces who may read a document and keeps the scope it was created in", async () => {
      const { a, b } = twoTenants();
      const bytes = sha(12);
      const { document } = await catalog.create(a, newDoc({ sha256: bytes }));
      const narrowed: Visibility = { kind: "private", owner: "u-alice" };
      const updated = await catalog.setVisibility(a, document.id, narrowed);
      expect(updated).toMatchObject({ id: document.id, visibility: narrowed, title: document.title, status: "queued" });
      expect(await catalog.get(a, document.id)).toEqual(updated);
      const again = await catalog.create(a, newDoc({ sha256: bytes }));
      expect(again).toMatchObject({ created: false, document: { id: document.id } });
      expect(await catalog.setVisibility(a, randomUUID(), ORGANISATION)).toBeUndefined();
      expect(await catalog.setVisibility(b, document.id, ORGANISATION)).toBeUndefined();
      expect((await catalog.get(a, document.id))?.visibility).toEqual(narrowed);
      expect(await catalog.get(b, document.id)).toBeUndefined();
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

    it("keeps parse progress only while indexing", async () => {
      const { a } = twoTenants();
      const { document } = await catalog.create(a, newDoc());
      expect(document.progress).toBeUndefined();
      await catalog.update(a, document.id, { status: "indexing", error: null });
      const half = await catalog.update(a, document.id, {
        status: "indexing",
        progress: { pagesDone: 750, pagesTotal: 1500 },
      });
      expect(half?.progress).toEqual({ pagesDone: 750, pagesTotal: 1500 });
      expect((await catalog.get(a, document.id))?.progress).toEqual({ pagesDone: 750, pagesTotal: 1500 });
      const ready = await catalog.update(a, document.id, { status: "ready", pages: 1500, chunks: 3000 });
      expect(ready?.progress).toBeUndefined();
      // A new run of indexing starts without the old figures.
      expect((await catalog.update(a, document.id, { status: "indexing" }))?.progress).toBeUndefined();
    });

    it("lists the documents of every tenant still queued or indexing and unchanged since a time", async () => {
      const { a, b } = twoTenants();
      const queued = (await catalog.create(a, newDoc())).document;
      const indexing = (await catalog.create(b, newDoc())).document;
      await catalog.update(b, indexing.id, { status: "indexing", progress: { pagesDone: 1, pagesTotal: 9 } });
      const ready = (await catalog.create(a, newDoc())).document;
      await catalog.update(a, ready.id, { status: "ready", pages: 1, chunks: 1 });
      const failed = (await catalog.create(b, newDoc())).document;
      await catalog.update(b, failed.id, { status: "failed", error: { code: "internal", message: "x" } });
      const mine = new Set([queued.id, indexing.id, ready.id, failed.id]);
      const unsettled = async (before: Date) =>
        (await catalog.unsettled(before)).filter((d) => mine.has(d.id)).map((d) => [d.tenantId, d.id, d.status]);
      await sleep(5);
      expect((await unsettled(new Date())).sort()).toEqual(
        [
          [a, queued.id, "queued"],
          [b, indexing.id, "indexing"],
        ].sort(),
      );
      // Changed since: not stale yet.
      expect(await unsettled(new Date(Date.parse(queued.createdAt) - 1000))).toEqual([]);
      // Settling takes a document off the list.
      await catalog.update(a, queued.id, { status: "ready", pages: 1, chunks: 1 });
      expect(await unsettled(new Date())).toEqual([[b, indexing.id, "indexing"]]);
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

    it("deleteTenant removes every document of the tenant, its lookups included, and nothing of another", async () => {
      const { a, b } = twoTenants();
      const slack = { kind: "slack" as const, teamId: "T1", fileId: "F1", channelId: "C1" };
      const shared = await catalog.create(a, newDoc({ sha256: sha(11) }));
      const mine = await catalog.create(a, newDoc({ sha256: sha(11), visibility: { kind: "private", owner: "u-1" } }));
      const fromSlack = await catalog.create(a, newDoc({ source: slack }));
      await catalog.update(a, fromSlack.document.id, { status: "indexing", progress: { pagesDone: 1, pagesTotal: 3 } });
      // More than one write batch of records and markers.
      for (let i = 0; i < 27; i++) await catalog.create(a, newDoc({ title: `bulk ${i}` }));
      const inB = await catalog.create(b, newDoc({ sha256: sha(11), source: slack }));
      const ids = [shared, mine, fromSlack].map((c) => c.document.id);

      await catalog.deleteTenant(a);
      expect(await catalog.list(a)).toEqual([]);
      for (const id of ids) expect(await catalog.get(a, id)).toBeUndefined();
      expect(await catalog.findBySlackFile(a, "T1", "F1")).toBeUndefined();
      expect((await catalog.unsettled(new Date(Date.now() + 60_000))).filter((d) => d.tenantId === a)).toEqual([]);
      expect(await catalog.list(b)).toEqual([inB.document]);
      expect(await catalog.findBySlackFile(b, "T1", "F1")).toEqual(inB.document);

      await catalog.deleteTenant(a);
      await catalog.deleteTenant(twoTenants().a);
      // Nothing of the old content is left to deduplicate against.
      const again = await catalog.create(a, newDoc({ sha256: sha(11) }));
      expect(again.created).toBe(true);
      expect(await catalog.list(a)).toEqual([again.document]);
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
