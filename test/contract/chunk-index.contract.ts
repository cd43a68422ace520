import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AccessKey, conversationKey, ORG_KEY, ownerKey, workspaceKey } from "../../src/domain/access.js";
import { type Chunk, chunkId } from "../../src/domain/documents.js";
import type { TenantId } from "../../src/domain/tenant.js";
import type { ChunkIndex, SearchOptions } from "../../src/ports/chunk-index.js";
import { type Factory, type Fixture, twoTenants } from "./support.js";

export function chunksOf(
  tenant: TenantId,
  documentId: string,
  title: string,
  texts: readonly string[],
  access: readonly AccessKey[] = [ORG_KEY],
): Chunk[] {
  return texts.map((text, ordinal) => ({
    id: chunkId(documentId, ordinal),
    tenantId: tenant,
    documentId,
    ordinal,
    title,
    page: ordinal + 1,
    text,
    access,
  }));
}

/** A member of the organisation who holds only its shared key. */
export const orgReader = (k: number): SearchOptions => ({ k, readable: [ORG_KEY] });

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
      const hits = await index.search(a, "How many vacation days do employees get per year?", orgReader(5));
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
      const security = await index.search(a, "when are database credentials rotated", orgReader(5));
      expect(security[0]?.chunkId).toBe(chunkId("doc-runbook", 0));
      expect(await index.search(a, "vacation", orgReader(1))).toHaveLength(1);
    });

    it("keeps tenants apart: every hit carries the searching tenant, and B never sees A's passages", async () => {
      const { a, b } = twoTenants();
      await index.upsert(a, chunksOf(a, "doc-a", "Employee Handbook", HANDBOOK));
      await index.upsert(b, chunksOf(b, "doc-b", "Security Runbook", RUNBOOK));
      const fromB = await index.search(b, "How many vacation days do employees get per year?", orgReader(10));
      expect(fromB.every((h) => h.tenantId === b)).toBe(true);
      expect(fromB.some((h) => h.documentId === "doc-a" || h.text.includes("vacation"))).toBe(false);
      const fromA = await index.search(a, "database credentials rotation", orgReader(10));
      expect(fromA.every((h) => h.tenantId === a && h.documentId === "doc-a")).toBe(true);
      const empty = twoTenants().a;
      expect(await index.search(empty, "vacation days", orgReader(10))).toEqual([]);
    });

    it("refuses chunks that belong to another tenant", async () => {
      const { a, b } = twoTenants();
      await expect(index.upsert(a, chunksOf(b, "doc-x", "X", ["belongs to B"]))).rejects.toThrow();
      expect(await index.search(a, "belongs", orgReader(5))).toEqual([]);
      expect(await index.search(b, "belongs", orgReader(5))).toEqual([]);
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
      const hits = await index.search(a, "bicycles parked basement storage", orgReader(10));
      expect(hits.filter((h) => h.chunkId === chunkId("doc-r", 0))).toHaveLength(1);
      expect(hits[0]?.text).toContain("Bicycles");
      const old = await index.search(a, "parking garage seniority", orgReader(10));
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
      expect((await index.search(a, "vacation days per year", orgReader(5)))[0]?.documentId).toBe("doc-keep");
      await index.deleteDocument(a, "doc-big");
      const hits = await index.search(a, "travel policy hotel bookings receipts", orgReader(50));
      expect(hits.some((h) => h.documentId === "doc-big")).toBe(false);
      expect(
        (await index.search(b, "travel policy hotel bookings receipts", orgReader(10))).some(
          (h) => h.documentId === "doc-big",
        ),
      ).toBe(true);
      await index.deleteDocument(a, "doc-never-existed");
    });

    it("deleteTenant removes every passage of the tenant, whoever could read it, and nothing of another", async () => {
      const { a, b } = twoTenants();
      await index.upsert(a, chunksOf(a, "doc-a", "Employee Handbook", HANDBOOK));
      await index.upsert(a, chunksOf(a, "doc-private", "Security Runbook", RUNBOOK, [ownerKey("u-1")]));
      await index.upsert(b, chunksOf(b, "doc-b", "Employee Handbook", HANDBOOK));
      const everything = { k: 50, readable: [ORG_KEY, ownerKey("u-1")] };
      await index.deleteTenant(a);
      expect(await index.search(a, "vacation days per year", everything)).toEqual([]);
      expect(await index.search(a, "database credentials rotation", everything)).toEqual([]);
      expect((await index.search(b, "vacation days per year", orgReader(5)))[0]).toMatchObject({
        tenantId: b,
        documentId: "doc-b",
      });
      await index.deleteTenant(a);
      await index.deleteTenant(twoTenants().a);
      await index.upsert(a, chunksOf(a, "doc-new", "Travel Policy", ["Hotels up to 180 euros per night."]));
      expect((await index.search(a, "hotel per night", orgReader(5))).map((h) => h.documentId)).toEqual(["doc-new"]);
    });

    it("gives a reader only passages whose access keys they hold", async () => {
      const { a } = twoTenants();
      const alice = ownerKey("u-alice");
      const channel = conversationKey("T1", "C1");
      await index.upsert(a, chunksOf(a, "doc-org", "Employee Handbook", HANDBOOK));
      await index.upsert(
        a,
        chunksOf(a, "doc-alice", "Alice's notes", ["Alice takes 12 vacation days in August."], [alice]),
      );
      await index.upsert(
        a,
        chunksOf(
          a,
          "doc-channel",
          "Team plan",
          ["The team's vacation days are planned in March."],
          [channel, workspaceKey("T1")],
        ),
      );
      const question = "vacation days";
      const documents = async (readable: AccessKey[]) =>
        [...new Set((await index.search(a, question, { k: 10, readable })).map((h) => h.documentId))].sort();
      expect(await documents([ORG_KEY])).toEqual(["doc-org"]);
      expect(await documents([alice])).toEqual(["doc-alice"]);
      expect(await documents([ORG_KEY, channel])).toEqual(["doc-channel", "doc-org"]);
      expect(await documents([workspaceKey("T1")])).toEqual(["doc-channel"]);
      expect(await documents([ownerKey("u-bob"), conversationKey("T1", "C2"), workspaceKey("T2")])).toEqual([]);
    });

    it("fills the top k with readable passages even when unreadable ones match far better", async () => {
      const { a } = twoTenants();
      // More strong matches than any candidate pool a backend might rank before filtering.
      const secret = Array.from(
        { length: 60 },
        (_, i) => `Quarterly revenue forecast ${i}: the revenue forecast by quarter, revenue forecast assumptions.`,
      );
      const readable = [
        "The canteen board lists the lunch menu and, at the bottom, last year's revenue.",
        "Parking rules for visitors; the forecast says it will rain on Friday.",
        "Office plants are watered on Mondays, and the quarterly plant budget is small.",
      ];
      await index.upsert(a, chunksOf(a, "doc-secret", "Board pack", secret, [ownerKey("u-cfo")]));
      await index.upsert(a, chunksOf(a, "doc-open", "Office notes", readable));
      const query = "quarterly revenue forecast";
      const cfo = await index.search(a, query, { k: 3, readable: [ownerKey("u-cfo"), ORG_KEY] });
      expect(cfo.map((h) => h.documentId)).toEqual(["doc-secret", "doc-secret", "doc-secret"]);
      const member = await index.search(a, query, orgReader(3));
      expect(member.map((h) => h.chunkId).sort()).toEqual([0, 1, 2].map((n) => chunkId("doc-open", n)));
    });

    it("returns nothing to a reader without keys", async () => {
      const { a } = twoTenants();
      await index.upsert(a, chunksOf(a, "doc-h", "Employee Handbook", HANDBOOK));
      expect(await index.search(a, "vacation days per year", { k: 5, readable: [] })).toEqual([]);
    });

    it("setAccess changes who reads every passage of a document, in its own tenant only", async () => {
      const { a, b } = twoTenants();
      const alice = ownerKey("u-alice");
      const many = Array.from({ length: 120 }, (_, i) => `Clause ${i} of the supplier contract covers penalties.`);
      await index.upsert(a, chunksOf(a, "doc-contract", "Supplier contract", many));
      await index.upsert(b, chunksOf(b, "doc-contract", "Supplier contract", many.slice(0, 3)));
      const query = "supplier contract penalties clause";
      expect(await index.search(a, query, orgReader(5))).toHaveLength(5);

      await index.setAccess(a, "doc-contract", [alice]);
      expect(await index.search(a, query, orgReader(200))).toEqual([]);
      expect(await index.search(a, query, { k: 200, readable: [alice] })).toHaveLength(120);
      expect(await index.search(b, query, orgReader(5))).toHaveLength(3);

      await index.setAccess(b, "doc-contract", []);
      expect(await index.search(b, query, orgReader(5))).toEqual([]);
      expect(await index.search(a, query, { k: 5, readable: [alice] })).toHaveLength(5);

      await index.setAccess(a, "doc-contract", [ORG_KEY, alice]);
      expect(await index.search(a, query, orgReader(5))).toHaveLength(5);
      await index.setAccess(a, "doc-never-existed", [ORG_KEY]);
    });

    it("takes a re-upserted document's access from its chunks, and refuses chunks of one document that disagree", async () => {
      const { a } = twoTenants();
      const alice = ownerKey("u-alice");
      await index.upsert(a, chunksOf(a, "doc-m", "Memo", ["The memo about the office move to Lyon."]));
      await index.upsert(a, chunksOf(a, "doc-m", "Memo", ["The memo about the office move to Lyon."], [alice]));
      expect(await index.search(a, "office move memo", orgReader(5))).toEqual([]);
      expect(await index.search(a, "office move memo", { k: 5, readable: [alice] })).toHaveLength(1);
      const mixed = [
        ...chunksOf(a, "doc-x", "Mixed", ["First passage about budgets."]),
        ...chunksOf(a, "doc-x", "Mixed", ["", "Second passage about budgets."], [alice]).slice(1),
      ];
      await expect(index.upsert(a, mixed)).rejects.toThrow();
      const hits = await index.search(a, "budgets passage", { k: 5, readable: [ORG_KEY, alice] });
      expect(hits.some((h) => h.documentId === "doc-x")).toBe(false);
    });

    it("never throws on query syntax, punctuation or odd input", async () => {
      const { a } = twoTenants();
      await index.upsert(a, chunksOf(a, "doc-g", "Employee Handbook", HANDBOOK));
      for (const query of GARBAGE_QUERIES) {
        const hits = await index.search(a, query, orgReader(5));
        expect(Array.isArray(hits), JSON.stringify(query.slice(0, 30))).toBe(true);
        expect(hits.every((h) => h.tenantId === a)).toBe(true);
      }
    });
  });
}
