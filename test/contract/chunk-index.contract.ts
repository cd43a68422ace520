import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Chunk, chunkId } from "../../src/domain/documents.js";
import type { TenantId } from "../../src/domain/tenant.js";
import type { ChunkIndex } from "../../src/ports/chunk-index.js";
import { type Factory, type Fixture, twoTenants } from "./support.js";

export function chunksOf(tenant: TenantId, documentId: string, title: string, texts: readonly string[]): Chunk[] {
  return texts.map((text, ordinal) => ({
    id: chunkId(documentId, ordinal),
    tenantId: tenant,
    documentId,
    ordinal,
    title,
    page: ordinal + 1,
    text,
  }));
}

const HANDBOOK = [
  "Employees receive 27 days of paid vacation per year, plus public holidays.",
  "Laptops are replaced every three years by the IT department.",
  "The hotel limit in capital cities is 180 euros per night.",
];
const RUNBOOK = [
  "Rotate the database credentials every ninety days and record the rotation in the change log.",
  "Security incidents are reported to the on-call engineer within fifteen minutes.",
];

export const GARBAGE_QUERIES = [
  "",
  "   ",
  "???",
  'vacation" OR NEAR(a b) AND * ^ : -- ;',
  '"unterminated',
  "col:umn^2 -x +y (a OR",
  "\u0000\u0001 \uFFFF",
  "😀 🙃",
  "a".repeat(5000),
  "SELECT * FROM chunks; DROP TABLE chunks; --",
];

export function describeChunkIndexContract(name: string, factory: Factory<ChunkIndex>) {
  describe(`ChunkIndex contract: ${name}`, () => {
    let fx: Fixture<ChunkIndex>;
    let index: ChunkIndex;
    beforeEach(async () => {
      fx = await factory();
      index = fx.adapter;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it("finds the passage about the question first, with its tenant, document, title, page and text", async () => {
      const { a } = twoTenants();
      await index.upsert(a, chunksOf(a, "doc-handbook", "Employee Handbook", HANDBOOK));
      await index.upsert(a, chunksOf(a, "doc-runbook", "Security Runbook", RUNBOOK));
      const hits = await index.search(a, "How many vacation days do employees get per year?", 5);
      expect(hits.length).toBeGreaterThan(0);
      expect(hits[0]).toMatchObject({
        tenantId: a,
        chunkId: chunkId("doc-handbook", 0),
        documentId: "doc-handbook",
        title: "Employee Handbook",
        page: 1,
        text: HANDBOOK[0],
      });
      expect(typeof hits[0]?.score).toBe("number");
      for (let i = 1; i < hits.length; i++) expect(hits[i - 1]?.score ?? 0).toBeGreaterThanOrEqual(hits[i]?.score ?? 0);
      const security = await index.search(a, "when are database credentials rotated", 5);
      expect(security[0]?.chunkId).toBe(chunkId("doc-runbook", 0));
      expect(await index.search(a, "vacation", 1)).toHaveLength(1);
    });

    it("keeps tenants apart: every hit carries the searching tenant, and B never sees A's passages", async () => {
      const { a, b } = twoTenants();
      await index.upsert(a, chunksOf(a, "doc-a", "Employee Handbook", HANDBOOK));
      await index.upsert(b, chunksOf(b, "doc-b", "Security Runbook", RUNBOOK));
      const fromB = await index.search(b, "How many vacation days do employees get per year?", 10);
      expect(fromB.every((h) => h.tenantId === b)).toBe(true);
      expect(fromB.some((h) => h.documentId === "doc-a" || h.text.includes("vacation"))).toBe(false);
      const fromA = await index.search(a, "database credentials rotation", 10);
      expect(fromA.every((h) => h.tenantId === a && h.documentId === "doc-a")).toBe(true);
      const empty = twoTenants().a;
      expect(await index.search(empty, "vacation days", 10)).toEqual([]);
    });

    it("refuses chunks that belong to another tenant", async () => {
      const { a, b } = twoTenants();
      await expect(index.upsert(a, chunksOf(b, "doc-x", "X", ["belongs to B"]))).rejects.toThrow();
      expect(await index.search(a, "belongs", 5)).toEqual([]);
      expect(await index.search(b, "belongs", 5)).toEqual([]);
    });

    it("replaces a chunk re-upserted under the same id", async () => {
      const { a } = twoTenants();
      await index.upsert(
        a,
        chunksOf(a, "doc-r", "Policy", ["Parking spaces are assigned by seniority in the north garage."]),
      );
      await index.upsert(
        a,
        chunksOf(a, "doc-r", "Policy", ["Bicycles are parked in the basement storage room near the lifts."]),
      );
      const hits = await index.search(a, "bicycles parked basement storage", 10);
      expect(hits.filter((h) => h.chunkId === chunkId("doc-r", 0))).toHaveLength(1);
      expect(hits[0]?.text).toContain("Bicycles");
      const old = await index.search(a, "parking garage seniority", 10);
      expect(old.every((h) => !h.text.includes("seniority"))).toBe(true);
    });

    it("deleteDocument removes every passage of that document only, and only in the tenant asked", async () => {
      const { a, b } = twoTenants();
      const many = Array.from(
        { length: 130 },
        (_, i) => `Section ${i} of the travel policy covers hotel bookings and receipts number ${i}.`,
      );
      await index.upsert(a, chunksOf(a, "doc-big", "Travel Policy", many));
      await index.upsert(a, chunksOf(a, "doc-keep", "Employee Handbook", HANDBOOK));
      await index.upsert(b, chunksOf(b, "doc-big", "Travel Policy", many.slice(0, 3)));
      await index.deleteDocument(b, "doc-keep");
      expect((await index.search(a, "vacation days per year", 5))[0]?.documentId).toBe("doc-keep");
      await index.deleteDocument(a, "doc-big");
      const hits = await index.search(a, "travel policy hotel bookings receipts", 50);
      expect(hits.some((h) => h.documentId === "doc-big")).toBe(false);
      expect(
        (await index.search(b, "travel policy hotel bookings receipts", 10)).some((h) => h.documentId === "doc-big"),
      ).toBe(true);
      await index.deleteDocument(a, "doc-never-existed");
    });

    it("never throws on query syntax, punctuation or odd input", async () => {
      const { a } = twoTenants();
      await index.upsert(a, chunksOf(a, "doc-g", "Employee Handbook", HANDBOOK));
      for (const query of GARBAGE_QUERIES) {
        const hits = await index.search(a, query, 5);
        expect(Array.isArray(hits), JSON.stringify(query.slice(0, 30))).toBe(true);
        expect(hits.every((h) => h.tenantId === a)).toBe(true);
      }
    });
  });
}
