import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AuditRecord, newAuditId, type Surface } from "../../src/domain/audit.js";
import type { TenantId } from "../../src/domain/tenant.js";
import type { AuditLog } from "../../src/ports/audit-log.js";
import { type Factory, type Fixture, twoTenants } from "./support.js";

export function auditRecord(tenant: TenantId, at: Date, overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    id: newAuditId(at, randomBytes(6).toString("hex")),
    tenantId: tenant,
    createdAt: at.toISOString(),
    actor: { userId: "u-1", email: "u1@a.example" },
    surface: "api",
    question: "How many vacation days?",
    answer: "27 days [1]",
    sources: [
      {
        n: 1,
        documentId: "doc-1",
        title: "Handbook",
        page: 2,
        snippet: "27 days of paid vacation",
        score: 3.2,
        link: "https://x/f",
      },
    ],
    outcome: "answered",
    latencyMs: 42,
    model: "extractive",
    ...overrides,
  };
}

export function describeAuditLogContract(name: string, factory: Factory<AuditLog>) {
  describe(`AuditLog contract: ${name}`, () => {
    let fx: Fixture<AuditLog>;
    let audit: AuditLog;
    beforeEach(async () => {
      fx = await factory();
      audit = fx.adapter;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    /** Seven exchanges a minute apart, oldest first. */
    async function seed(tenant: TenantId) {
      const start = Date.parse("2025-03-01T10:00:00.000Z");
      const surfaces: Surface[] = ["api", "slack_command", "web", "slack_dm", "api", "slack_mention", "api"];
      const records = surfaces.map((surface, i) =>
        auditRecord(tenant, new Date(start + i * 60_000), {
          surface,
          question: `question ${i}`,
          actor: { userId: i % 2 ? "u-odd" : "u-even" },
        }),
      );
      for (const r of records) await audit.append(r);
      return records;
    }

    it("round-trips a record, Slack context included", async () => {
      const { a } = twoTenants();
      const record = auditRecord(a, new Date(), {
        surface: "slack_mention",
        actor: { userId: "u-9", slackUserId: "U999" },
        slack: { teamId: "T1", channelId: "C1", threadTs: "1700000000.000100", enterpriseId: "E1" },
      });
      await audit.append(record);
      expect(await audit.get(a, record.id)).toEqual(record);
      expect(await audit.get(a, "nope")).toBeUndefined();
    });

    it("lists newest first and pages with a cursor to the end", async () => {
      const { a } = twoTenants();
      const records = await seed(a);
      const newestFirst = [...records].reverse().map((r) => r.question);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await audit.list(a, { limit: 3, ...(cursor ? { cursor } : {}) });
        expect(page.records.length).toBeLessThanOrEqual(3);
        seen.push(...page.records.map((r) => r.question));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(seen).toEqual(newestFirst);
      expect(pages).toBe(3);
      const exact = await audit.list(a, { limit: 7 });
      expect(exact.records).toHaveLength(7);
      expect(exact.nextCursor).toBeUndefined();
    });

    it("filters by surface, user and time window, and pages through filtered results", async () => {
      const { a } = twoTenants();
      const records = await seed(a);
      const api = await audit.list(a, { limit: 10, surface: "api" });
      expect(api.records.map((r) => r.question)).toEqual(["question 6", "question 4", "question 0"]);
      const odd = await audit.list(a, { limit: 10, userId: "u-odd" });
      expect(odd.records.map((r) => r.question)).toEqual(["question 5", "question 3", "question 1"]);
      const window = await audit.list(a, {
        limit: 10,
        from: records[2]?.createdAt ?? "",
        to: records[4]?.createdAt ?? "",
      });
      expect(window.records.map((r) => r.question)).toEqual(["question 4", "question 3", "question 2"]);
      const first = await audit.list(a, { limit: 2, surface: "api" });
      expect(first.records.map((r) => r.question)).toEqual(["question 6", "question 4"]);
      const rest = await audit.list(a, { limit: 2, surface: "api", cursor: first.nextCursor ?? "" });
      expect(rest.records.map((r) => r.question)).toEqual(["question 0"]);
      expect(rest.nextCursor).toBeUndefined();
    });

    it("attaches feedback, in the record's own tenant only", async () => {
      const { a, b } = twoTenants();
      const record = auditRecord(a, new Date());
      await audit.append(record);
      const feedback = { value: "down" as const, by: "u-1", at: new Date().toISOString() };
      expect(await audit.setFeedback(b, record.id, { ...feedback, value: "up" })).toBe(false);
      expect(await audit.setFeedback(a, record.id, feedback)).toBe(true);
      expect((await audit.get(a, record.id))?.feedback).toEqual(feedback);
      expect((await audit.list(a, { limit: 1 })).records[0]?.feedback).toEqual(feedback);
      expect(await audit.setFeedback(a, "missing-id", feedback)).toBe(false);
      expect(await audit.get(a, "missing-id")).toBeUndefined();
    });

    it("deleteBefore removes only the tenant's exchanges older than the time, and says how many", async () => {
      const { a, b } = twoTenants();
      const records = await seed(a);
      const inB = await seed(b);
      const cut = new Date(records[3]?.createdAt ?? "");
      expect(await audit.deleteBefore(a, cut)).toBe(3);
      const left = await audit.list(a, { limit: 100 });
      expect(left.records.map((r) => r.question)).toEqual(["question 6", "question 5", "question 4", "question 3"]);
      expect(await audit.get(a, records[0]?.id ?? "")).toBeUndefined();
      expect(await audit.get(a, records[3]?.id ?? "")).toEqual(records[3]);
      expect((await audit.list(b, { limit: 100 })).records).toHaveLength(inB.length);
      expect(await audit.deleteBefore(a, cut)).toBe(0);
      expect(await audit.deleteBefore(twoTenants().a, new Date())).toBe(0);
    });

    it("deleteTenant removes every exchange of the tenant, and nothing of another", async () => {
      const { a, b } = twoTenants();
      const records = await seed(a);
      // More than one write batch.
      for (let i = 0; i < 30; i++) await audit.append(auditRecord(a, new Date(Date.now() - i * 1000)));
      const inB = auditRecord(b, new Date(), { question: "B's own question" });
      await audit.append(inB);
      await audit.deleteTenant(a);
      expect(await audit.list(a, { limit: 100 })).toEqual({ records: [] });
      for (const r of records) expect(await audit.get(a, r.id)).toBeUndefined();
      expect(
        await audit.setFeedback(a, records[0]?.id ?? "", { value: "up", by: "u-1", at: new Date().toISOString() }),
      ).toBe(false);
      expect(await audit.get(b, inB.id)).toEqual(inB);
      await audit.deleteTenant(a);
      await audit.deleteTenant(twoTenants().a);
    });

    it("keeps tenants apart: B cannot list or get A's exchanges", async () => {
      const { a, b } = twoTenants();
      const records = await seed(a);
      await audit.append(auditRecord(b, new Date(), { question: "B's own question" }));
      const listed = await audit.list(b, { limit: 100 });
      expect(listed.records.map((r) => r.question)).toEqual(["B's own question"]);
      expect(await audit.get(b, records[0]?.id ?? "")).toBeUndefined();
      expect(await audit.list(b, { limit: 100, cursor: records[6]?.id ?? "" })).toEqual({ records: [] });
    });
  });
}
