import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AuditRecord } from "../../src/domain/audit.js";
import type { TenantId } from "../../src/domain/tenant.js";
import type { AuditLog } from "../../src/ports/audit-log.js";
import type { DocumentCatalog } from "../../src/ports/document-catalog.js";
import type { TenantDirectory } from "../../src/ports/tenant-directory.js";
import { auditCsv } from "../../src/services/audit-export.js";
import { auditRecord } from "./audit-log.contract.js";
import { newDoc } from "./document-catalog.contract.js";
import { appError, type LogLine, twoTenants } from "./support.js";

/**
 * The stores of one backend, built with a recording logger, and a way to damage what they hold by
 * writing straight into the backing store (as a bad migration, a hand edit or a bug would).
 */
export interface DamagedRecordsHarness {
  audit: AuditLog;
  catalog: DocumentCatalog;
  directory: TenantDirectory;
  /** Every line the stores above logged. */
  lines: LogLine[];
  /** Everything they logged, as written, to check that no stored content leaked into it. */
  logText: () => string;
  /** Stores an audit item for `record` exactly as append does, except that its stored record is `recordText`. */
  putRawAudit(record: AuditRecord, recordText: string): Promise<void>;
  /** Gives a stored document an unknown status. */
  unknownDocumentStatus(tenant: TenantId, id: string): Promise<void>;
  /** Breaks a stored document's source: bad JSON in its column, or an attribute of the wrong shape. */
  breakDocumentSource(tenant: TenantId, id: string): Promise<void>;
  /** Gives a stored membership a role that does not exist. */
  unknownMemberRole(tenant: TenantId, userId: string): Promise<void>;
  /** Gives a stored workspace link a tenant id that is not one. */
  invalidLinkTenant(teamId: string): Promise<void>;
  cleanup: () => Promise<void>;
}

const DAMAGED = "This record is damaged and can't be read.";

export function describeDamagedRecordsContract(name: string, factory: () => Promise<DamagedRecordsHarness>) {
  describe(`Damaged stored records: ${name}`, () => {
    let h: DamagedRecordsHarness;
    beforeEach(async () => {
      h = await factory();
    });
    afterEach(async () => {
      await h.cleanup();
    });

    const damagedLines = () => h.lines.filter((l) => l.level === "error" && l.msg === "stored record is damaged");

    async function expectDamaged(read: Promise<unknown>) {
      const error = await appError(read);
      expect(error.code).toBe("internal");
      expect(error.status).toBe(500);
      expect(error.message).toBe(DAMAGED);
      return error;
    }

    describe("audit log", () => {
      /** Five exchanges a minute apart (oldest first); the second and fourth are damaged in the store. */
      async function seed(tenant: TenantId) {
        const start = Date.parse("2025-04-01T09:00:00.000Z");
        const records = [0, 1, 2, 3, 4].map((i) =>
          auditRecord(tenant, new Date(start + i * 60_000), {
            question: `question ${i}`,
            answer: `secret answer ${i}`,
          }),
        );
        const [r0, notJson, r2, wrongTenant, r4] = records as [
          AuditRecord,
          AuditRecord,
          AuditRecord,
          AuditRecord,
          AuditRecord,
        ];
        for (const r of [r0, r2, r4]) await h.audit.append(r);
        await h.putRawAudit(notJson, `{"id":"${notJson.id}","question":"secret answer 1`);
        await h.putRawAudit(wrongTenant, JSON.stringify({ ...wrongTenant, tenantId: "acme-corp" }));
        return { valid: [r4, r2, r0], notJson, wrongTenant };
      }

      it("lists the other records and logs each damaged one by store and key, never its content", async () => {
        const { a } = twoTenants();
        const { valid, notJson, wrongTenant } = await seed(a);
        const { records } = await h.audit.list(a, { limit: 10 });
        expect(records).toEqual(valid);

        const logged = damagedLines();
        expect(logged).toHaveLength(2);
        const byKey = (id: string) => logged.find((l) => String(l.key).endsWith(id));
        expect(byKey(notJson.id)).toMatchObject({
          store: "audit log",
          problem: expect.stringContaining("not valid JSON"),
        });
        expect(byKey(wrongTenant.id)).toMatchObject({
          store: "audit log",
          problem: expect.stringContaining("tenantId"),
        });
        expect(h.logText()).not.toContain("secret answer");
        expect(h.logText()).not.toContain("acme-corp");
      });

      it("pages past damaged records to the end, a page of damaged records included", async () => {
        const { a } = twoTenants();
        const { valid } = await seed(a);
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await h.audit.list(a, { limit: 1, ...(cursor ? { cursor } : {}) });
          seen.push(...page.records.map((r) => r.id));
          cursor = page.nextCursor;
          pages++;
        } while (cursor && pages < 10);
        expect(seen).toEqual(valid.map((r) => r.id));
      });

      it("exports the other records as CSV", async () => {
        const { a } = twoTenants();
        const { valid, notJson, wrongTenant } = await seed(a);
        let csv = "";
        for await (const chunk of auditCsv(h.audit, a)) csv += chunk;
        const rows = csv.trim().split("\r\n");
        expect(rows).toHaveLength(1 + valid.length);
        expect(rows.slice(1).map((row) => row.split(",")[0])).toEqual(valid.map((r) => r.id));
        expect(csv).not.toContain(notJson.id);
        expect(csv).not.toContain(wrongTenant.id);
      });

      it("refuses to read a damaged record with a clear error, and logs it", async () => {
        const { a } = twoTenants();
        const { valid, notJson, wrongTenant } = await seed(a);
        const error = await expectDamaged(h.audit.get(a, notJson.id));
        expect(error.detail).toContain(notJson.id);
        await expectDamaged(h.audit.get(a, wrongTenant.id));
        expect(damagedLines().map((l) => l.outcome)).toEqual(["read failed", "read failed"]);
        expect(await h.audit.get(a, valid[0]?.id ?? "")).toEqual(valid[0]);
      });
    });

    describe("document catalogue", () => {
      async function seed(tenant: TenantId) {
        const kept = [];
        for (let i = 0; i < 2; i++)
          kept.push((await h.catalog.create(tenant, newDoc({ title: `Kept ${i}` }))).document);
        const archived = (await h.catalog.create(tenant, newDoc({ title: "Merger plans" }))).document;
        const broken = (await h.catalog.create(tenant, newDoc({ title: "Layoff list" }))).document;
        await h.unknownDocumentStatus(tenant, archived.id);
        await h.breakDocumentSource(tenant, broken.id);
        return { kept, archived, broken };
      }

      it("lists the other documents and logs each damaged one", async () => {
        const { a } = twoTenants();
        const { kept, archived, broken } = await seed(a);
        const listed = await h.catalog.list(a);
        expect(listed.map((d) => d.id).sort()).toEqual(kept.map((d) => d.id).sort());

        const logged = damagedLines();
        expect(logged).toHaveLength(2);
        const byKey = (id: string) => logged.find((l) => String(l.key).endsWith(id));
        expect(byKey(archived.id)).toMatchObject({
          store: "document catalogue",
          problem: expect.stringContaining("status"),
          outcome: "left out of a list",
        });
        expect(byKey(broken.id)).toMatchObject({
          store: "document catalogue",
          problem: expect.stringContaining("source"),
        });
        expect(h.logText()).not.toContain("Merger plans");
        expect(h.logText()).not.toContain("Layoff list");
      });

      it("refuses to read a damaged document with a clear error, and logs it", async () => {
        const { a } = twoTenants();
        const { kept, archived, broken } = await seed(a);
        await expectDamaged(h.catalog.get(a, archived.id));
        await expectDamaged(h.catalog.get(a, broken.id));
        expect(damagedLines()).toHaveLength(2);
        expect((await h.catalog.get(a, kept[0]?.id ?? ""))?.title).toBe("Kept 0");
      });
    });

    describe("tenant directory", () => {
      async function tenantWithMembers() {
        const { a } = twoTenants();
        const now = new Date().toISOString();
        await h.directory.createTenant({ id: a, name: "Northwind", createdAt: now });
        await h.directory.addMember({
          tenantId: a,
          userId: "u-ok",
          email: "ok@a.example",
          role: "admin",
          createdAt: now,
        });
        await h.directory.addMember({
          tenantId: a,
          userId: "u-bad",
          email: "bad@a.example",
          role: "member",
          createdAt: now,
        });
        await h.unknownMemberRole(a, "u-bad");
        return a;
      }

      it("lists the other members, logs the damaged one, and refuses to read it", async () => {
        const a = await tenantWithMembers();
        expect((await h.directory.listMembers(a)).map((m) => m.userId)).toEqual(["u-ok"]);
        expect(damagedLines()).toEqual([
          expect.objectContaining({
            store: "members",
            key: expect.stringContaining("u-bad"),
            problem: expect.stringContaining("role"),
          }),
        ]);
        expect(h.logText()).not.toContain("bad@a.example");
        await expectDamaged(h.directory.getMember(a, "u-bad"));
        expect((await h.directory.getMember(a, "u-ok"))?.role).toBe("admin");
      });

      it("refuses to resolve a workspace through a damaged link, and still lists the tenant's others", async () => {
        const a = await tenantWithMembers();
        const suffix = Math.random().toString(36).slice(2, 10).toUpperCase();
        const [good, bad] = [`TGOOD${suffix}`, `TBAD${suffix}`];
        const linkedAt = new Date().toISOString();
        for (const teamId of [good, bad])
          await h.directory.putLink({ teamId, tenantId: a, linkedBy: "u-ok", linkedAt });
        await h.invalidLinkTenant(bad);
        const error = await expectDamaged(h.directory.getLink(bad));
        expect(error.detail).toContain(bad);
        expect(damagedLines().at(-1)).toMatchObject({
          store: "workspace links",
          problem: expect.stringContaining("tenant"),
        });
        expect((await h.directory.listLinks(a)).map((l) => l.teamId)).toEqual([good]);
        expect((await h.directory.getLink(good))?.tenantId).toBe(a);
      });
    });
  });
}
