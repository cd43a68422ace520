import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SlackInstallationRecord, TenantDirectory } from "../../src/ports/tenant-directory.js";
import { type Factory, type Fixture, twoTenants } from "./support.js";

export interface TenantDirectoryExtra {
  /** The installation exactly as the backend stores it (row or item), serialised. */
  rawInstallation: (teamId: string) => Promise<string>;
}

const id = (prefix: string) => `${prefix}${randomUUID().replace(/-/g, "").slice(0, 10).toUpperCase()}`;
const inMinutes = (m: number) => new Date(Date.now() + m * 60_000);

export function describeTenantDirectoryContract(name: string, factory: Factory<TenantDirectory, TenantDirectoryExtra>) {
  describe(`TenantDirectory contract: ${name}`, () => {
    let fx: Fixture<TenantDirectory> & TenantDirectoryExtra;
    let dir: TenantDirectory;
    beforeEach(async () => {
      fx = await factory();
      dir = fx.adapter;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    async function tenants() {
      const { a, b } = twoTenants();
      const createdAt = new Date().toISOString();
      await dir.createTenant({ id: a, name: "Northwind", createdAt });
      await dir.createTenant({ id: b, name: "Northwind", createdAt });
      return { a, b, createdAt };
    }

    it("creates and reads tenants", async () => {
      const { a, b, createdAt } = await tenants();
      expect(await dir.getTenant(a)).toEqual({ id: a, name: "Northwind", createdAt });
      expect((await dir.getTenant(b))?.id).toBe(b);
      expect(await dir.getTenant(twoTenants().a)).toBeUndefined();
    });

    it("lists every tenant, oldest first", async () => {
      const { a, b } = twoTenants();
      const older = { id: b, name: "Older", createdAt: new Date(Date.now() - 60_000).toISOString() };
      const newer = { id: a, name: "Newer", createdAt: new Date().toISOString() };
      await dir.createTenant(newer);
      await dir.createTenant(older);
      const listed = (await dir.listTenants()).filter((t) => t.id === a || t.id === b);
      expect(listed).toEqual([older, newer]);
    });

    it("marks a tenant being deleted once, keeps the first time, and finds the marked ones", async () => {
      const { a, b, createdAt } = await tenants();
      expect((await dir.getTenant(a))?.deletingSince).toBeUndefined();
      expect(await dir.tenantsBeingDeleted()).not.toContain(a);
      const first = new Date(Date.now() - 5000);
      await dir.markDeleting(a, first);
      await dir.markDeleting(a, new Date());
      expect(await dir.getTenant(a)).toEqual({
        id: a,
        name: "Northwind",
        createdAt,
        deletingSince: first.toISOString(),
      });
      expect((await dir.listTenants()).find((t) => t.id === a)?.deletingSince).toBe(first.toISOString());
      const marked = await dir.tenantsBeingDeleted();
      expect(marked).toContain(a);
      expect(marked).not.toContain(b);
      expect((await dir.getTenant(b))?.deletingSince).toBeUndefined();
    });

    it("deleteTenant removes the tenant and everything the directory holds of it, and nothing of another", async () => {
      const { a, b } = await tenants();
      const now = new Date().toISOString();
      const teamA = id("T");
      const teamB = id("T");
      const moved = id("T");
      const install = (teamId: string): SlackInstallationRecord => ({
        teamId,
        botUserId: "U0BOT",
        botToken: `xoxb-${randomUUID()}`,
        installedAt: now,
      });
      const invite = { role: "member" as const, createdBy: "u-admin", expiresAt: inMinutes(60).toISOString() };
      const codeA = randomUUID();
      const codeB = randomUUID();
      for (const [tenant, user] of [
        [a, "u-a1"],
        [a, "u-a2"],
        [b, "u-b1"],
      ] as const)
        await dir.addMember({
          tenantId: tenant,
          userId: user,
          email: `${user}@x.example`,
          role: "admin",
          createdAt: now,
        });
      await dir.createInvite(codeA, { ...invite, tenantId: a });
      await dir.createInvite(codeB, { ...invite, tenantId: b });
      await dir.putLink({ teamId: teamA, tenantId: a, linkedBy: "u-a1", linkedAt: now });
      await dir.putLink({ teamId: teamB, tenantId: b, linkedBy: "u-b1", linkedAt: now });
      // Linked to A once, to B now: it is B's, and stays.
      await dir.putLink({ teamId: moved, tenantId: a, linkedBy: "u-a1", linkedAt: now });
      await dir.putLink({ teamId: moved, tenantId: b, linkedBy: "u-b1", linkedAt: now });
      for (const team of [teamA, teamB, moved]) await dir.putInstallation(install(team));
      const tieA = { tenantId: a, userId: "u-a1", teamId: teamA, slackUserId: "U1", linkedAt: now };
      const tieB = { tenantId: b, userId: "u-b1", teamId: teamB, slackUserId: "U1", linkedAt: now };
      await dir.putSlackIdentity(tieA);
      await dir.putSlackIdentity({ ...tieA, slackUserId: "U2", userId: "u-a2" });
      await dir.putSlackIdentity(tieB);
      await dir.markDeleting(a, new Date());

      await dir.deleteTenant(a);
      expect(await dir.getTenant(a)).toBeUndefined();
      expect((await dir.listTenants()).map((t) => t.id)).not.toContain(a);
      expect(await dir.tenantsBeingDeleted()).not.toContain(a);
      expect(await dir.listMembers(a)).toEqual([]);
      expect(await dir.getMember(a, "u-a1")).toBeUndefined();
      expect(await dir.claimInvite(codeA, new Date())).toBeUndefined();
      expect(await dir.listLinks(a)).toEqual([]);
      expect(await dir.getLink(teamA)).toBeUndefined();
      expect(await dir.getInstallation(teamA)).toBeUndefined();
      expect(await dir.getSlackIdentity(a, teamA, "U1")).toBeUndefined();
      expect(await dir.getSlackIdentity(a, teamA, "U2")).toBeUndefined();
      expect(await dir.listSlackIdentities(a, "u-a1")).toEqual([]);
      expect(await dir.listSlackIdentities(a, "u-a2")).toEqual([]);

      expect((await dir.getTenant(b))?.id).toBe(b);
      expect((await dir.listMembers(b)).map((m) => m.userId)).toEqual(["u-b1"]);
      expect((await dir.listLinks(b)).map((l) => l.teamId).sort()).toEqual([teamB, moved].sort());
      expect((await dir.getInstallation(teamB))?.teamId).toBe(teamB);
      expect((await dir.getInstallation(moved))?.teamId).toBe(moved);
      expect(await dir.getSlackIdentity(b, teamB, "U1")).toEqual(tieB);
      expect(await dir.claimInvite(codeB, new Date())).toEqual({ ...invite, tenantId: b });

      await dir.deleteTenant(a);
      await dir.deleteTenant(twoTenants().a);
    });

    it("keeps members per tenant", async () => {
      const { a, b } = await tenants();
      const t0 = new Date(Date.now() - 1000).toISOString();
      await dir.addMember({ tenantId: a, userId: "u-admin", email: "admin@a.example", role: "admin", createdAt: t0 });
      await dir.addMember({
        tenantId: a,
        userId: "u-member",
        email: "m@a.example",
        role: "member",
        createdAt: new Date().toISOString(),
      });
      expect(await dir.getMember(a, "u-admin")).toEqual({
        tenantId: a,
        userId: "u-admin",
        email: "admin@a.example",
        role: "admin",
        createdAt: t0,
      });
      expect((await dir.listMembers(a)).map((m) => m.userId)).toEqual(["u-admin", "u-member"]);
      expect(await dir.getMember(b, "u-admin")).toBeUndefined();
      expect(await dir.listMembers(b)).toEqual([]);
    });

    it("claims an invite once, until released; expired and unknown invites claim nothing", async () => {
      const { a } = await tenants();
      const invite = {
        tenantId: a,
        role: "member" as const,
        createdBy: "u-admin",
        expiresAt: inMinutes(60).toISOString(),
      };
      const code = randomUUID();
      await dir.createInvite(code, invite);
      expect(await dir.claimInvite(code, new Date())).toEqual(invite);
      expect(await dir.claimInvite(code, new Date())).toBeUndefined();
      await dir.releaseInvite(code);
      expect(await dir.claimInvite(code, new Date())).toEqual(invite);

      const expired = randomUUID();
      await dir.createInvite(expired, { ...invite, expiresAt: inMinutes(-1).toISOString() });
      expect(await dir.claimInvite(expired, new Date())).toBeUndefined();
      const later = randomUUID();
      await dir.createInvite(later, invite);
      expect(await dir.claimInvite(later, inMinutes(61))).toBeUndefined();
      expect(await dir.claimInvite(randomUUID(), new Date())).toBeUndefined();
    });

    it("lets exactly one of many concurrent claims of an invite win", async () => {
      const { a } = await tenants();
      const code = randomUUID();
      await dir.createInvite(code, {
        tenantId: a,
        role: "admin",
        createdBy: "u",
        expiresAt: inMinutes(5).toISOString(),
      });
      const results = await Promise.all(Array.from({ length: 6 }, () => dir.claimInvite(code, new Date())));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("gets, moves, lists and deletes workspace links", async () => {
      const { a, b } = await tenants();
      const team = id("T");
      expect(await dir.getLink(team)).toBeUndefined();
      const link = {
        teamId: team,
        enterpriseId: "E1",
        tenantId: a,
        linkedBy: "u-admin",
        linkedAt: new Date().toISOString(),
      };
      await dir.putLink(link);
      expect(await dir.getLink(team)).toEqual(link);
      expect(await dir.listLinks(a)).toEqual([link]);
      expect(await dir.listLinks(b)).toEqual([]);
      const moved = { teamId: team, tenantId: b, linkedBy: "u-b", linkedAt: new Date().toISOString() };
      await dir.putLink(moved);
      expect(await dir.getLink(team)).toEqual(moved);
      expect(await dir.listLinks(a)).toEqual([]);
      expect(await dir.listLinks(b)).toEqual([moved]);
      await dir.deleteLink(team);
      expect(await dir.getLink(team)).toBeUndefined();
      expect(await dir.listLinks(b)).toEqual([]);
      await dir.deleteLink(team);
    });

    it("ties Slack users to web accounts: put, get, list by account, replace on re-put, delete", async () => {
      const { a } = await tenants();
      const team = id("T");
      const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();
      const tie = (slackUserId: string, userId: string, linkedAt: string) => ({
        tenantId: a,
        userId,
        teamId: team,
        slackUserId,
        linkedAt,
      });
      expect(await dir.getSlackIdentity(a, team, "U1")).toBeUndefined();
      expect(await dir.listSlackIdentities(a, "w-1")).toEqual([]);
      const first = tie("U1", "w-1", at(1));
      const second = { ...tie("U2", "w-1", at(2)), teamId: id("T") };
      await dir.putSlackIdentity(second);
      await dir.putSlackIdentity(first);
      expect(await dir.getSlackIdentity(a, team, "U1")).toEqual(first);
      expect(await dir.listSlackIdentities(a, "w-1")).toEqual([first, second]);

      const moved = tie("U1", "w-2", at(3));
      await dir.putSlackIdentity(moved);
      expect(await dir.getSlackIdentity(a, team, "U1")).toEqual(moved);
      expect(await dir.listSlackIdentities(a, "w-1")).toEqual([second]);
      expect(await dir.listSlackIdentities(a, "w-2")).toEqual([moved]);

      await dir.deleteSlackIdentity(a, team, "U1");
      expect(await dir.getSlackIdentity(a, team, "U1")).toBeUndefined();
      expect(await dir.listSlackIdentities(a, "w-2")).toEqual([]);
      expect(await dir.listSlackIdentities(a, "w-1")).toEqual([second]);
      await dir.deleteSlackIdentity(a, team, "U1");
    });

    it("keeps Slack identity ties per tenant: B can neither read nor change A's", async () => {
      const { a, b } = await tenants();
      const team = id("T");
      const inA = { tenantId: a, userId: "w-1", teamId: team, slackUserId: "U1", linkedAt: new Date().toISOString() };
      await dir.putSlackIdentity(inA);
      expect(await dir.getSlackIdentity(b, team, "U1")).toBeUndefined();
      expect(await dir.listSlackIdentities(b, "w-1")).toEqual([]);
      await dir.deleteSlackIdentity(b, team, "U1");
      const inB = { ...inA, tenantId: b, userId: "w-9" };
      await dir.putSlackIdentity(inB);
      expect(await dir.getSlackIdentity(a, team, "U1")).toEqual(inA);
      expect(await dir.listSlackIdentities(a, "w-1")).toEqual([inA]);
      expect(await dir.getSlackIdentity(b, team, "U1")).toEqual(inB);
      expect(await dir.listSlackIdentities(b, "w-1")).toEqual([]);
      await dir.deleteSlackIdentity(b, team, "U1");
      expect(await dir.getSlackIdentity(a, team, "U1")).toEqual(inA);
    });

    it("consumes a nonce and claims an event exactly once, even concurrently", async () => {
      const nonce = randomUUID();
      expect(await dir.consumeNonce(nonce, inMinutes(10))).toBe(true);
      expect(await dir.consumeNonce(nonce, inMinutes(10))).toBe(false);
      const event = `event:${randomUUID()}`;
      const claims = await Promise.all(Array.from({ length: 6 }, () => dir.claimEvent(event, inMinutes(10))));
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await dir.claimEvent(event, inMinutes(10))).toBe(false);
      expect(await dir.claimEvent(`event:${randomUUID()}`, inMinutes(10))).toBe(true);
    });

    it("lets an expired event claim be claimed again", async () => {
      const event = `event:${randomUUID()}`;
      expect(await dir.claimEvent(event, new Date(Date.now() - 1000))).toBe(true);
      expect(await dir.claimEvent(event, inMinutes(10))).toBe(true);
      expect(await dir.claimEvent(event, inMinutes(10))).toBe(false);
    });

    it("gives a released event claim to the next delivery, and only that one", async () => {
      const event = `event:${randomUUID()}`;
      expect(await dir.claimEvent(event, inMinutes(10))).toBe(true);
      await dir.releaseEvent(event);
      expect(await dir.claimEvent(event, inMinutes(10))).toBe(true);
      expect(await dir.claimEvent(event, inMinutes(10))).toBe(false);
      await dir.releaseEvent(`event:${randomUUID()}`); // releasing nothing is harmless
    });

    it("round-trips installations, with the bot token encrypted at rest", async () => {
      const team = id("T");
      const token = `xoxb-${randomUUID()}`;
      const installation: SlackInstallationRecord = {
        teamId: team,
        enterpriseId: "E123",
        teamName: "Northwind HQ",
        botUserId: "U0BOT",
        botId: "B0BOT",
        botToken: token,
        installedBy: "U0ADMIN",
        installedAt: new Date().toISOString(),
        raw: { team: { id: team, name: "Northwind HQ" }, bot: { scopes: ["chat:write", "files:read"] } },
      };
      expect(await dir.getInstallation(team)).toBeUndefined();
      await dir.putInstallation(installation);
      expect(await dir.getInstallation(team)).toEqual(installation);
      const raw = await fx.rawInstallation(team);
      expect(raw).toContain(team);
      expect(raw).not.toContain(token);
      expect(raw).not.toContain(token.slice(5));

      const minimal: SlackInstallationRecord = {
        teamId: team,
        botUserId: "U1",
        botToken: "xoxb-new",
        installedAt: new Date().toISOString(),
      };
      await dir.putInstallation(minimal);
      expect(await dir.getInstallation(team)).toEqual(minimal);
      await dir.deleteInstallation(team);
      expect(await dir.getInstallation(team)).toBeUndefined();
      await dir.deleteInstallation(team);
    });
  });
}
