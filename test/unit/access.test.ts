import { describe, expect, it } from "vitest";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import type { Visibility } from "../../src/domain/access.js";
import type { DocumentRecord } from "../../src/domain/documents.js";
import type { Identity, TenantId } from "../../src/domain/tenant.js";
import type { DocumentCatalog } from "../../src/ports/document-catalog.js";
import type { SlackDirectory, SlackUserInfo } from "../../src/ports/slack-directory.js";
import type { SlackIdentityLink, TenantDirectory, WorkspaceLink } from "../../src/ports/tenant-directory.js";
import { AccessService } from "../../src/services/access.js";

/** The access rules over small in-memory stand-ins for the directory, the catalogue and Slack. */
const TENANT = "t_aaaaaaaaaaaaaaaaaaaa" as TenantId;
const OTHER_TENANT = "t_bbbbbbbbbbbbbbbbbbbb" as TenantId;

function world() {
  const links = new Map<string, WorkspaceLink>([
    ["T1", { teamId: "T1", tenantId: TENANT, linkedBy: "a", linkedAt: "" }],
    ["T2", { teamId: "T2", tenantId: TENANT, linkedBy: "a", linkedAt: "" }], // another workspace of the same Grid
    ["T9", { teamId: "T9", tenantId: OTHER_TENANT, linkedBy: "b", linkedAt: "" }],
  ]);
  const ties: SlackIdentityLink[] = [];
  const directory = {
    getLink: async (team: string) => links.get(team),
    getTenant: async (id: TenantId) => ({ id, name: id, createdAt: "" }),
    getSlackIdentity: async (tenant: TenantId, team: string, user: string) =>
      ties.find((t) => t.tenantId === tenant && t.teamId === team && t.slackUserId === user),
    listSlackIdentities: async (tenant: TenantId, userId: string) =>
      ties.filter((t) => t.tenantId === tenant && t.userId === userId),
    getMember: async (tenant: TenantId, userId: string) =>
      tenant === TENANT && userId === "web-admin"
        ? { tenantId: TENANT, userId, email: "a@x", role: "admin" as const, createdAt: "" }
        : undefined,
  } as unknown as TenantDirectory;
  const docs: DocumentRecord[] = [];
  const catalog = { list: async () => docs } as unknown as DocumentCatalog;
  const users = new Map<string, Partial<SlackUserInfo>>([
    ["U1", {}],
    ["U2", {}],
    ["UGUEST", { guest: true }],
    ["UEXT", { teamId: "T0OTHERORG" }],
    ["USTRANGER", { stranger: true }],
    ["UGRID", { teamId: "T2" }],
    ["UBOT", { bot: true }],
  ]);
  const channels = new Map<string, { members: string[]; kind: "public" | "private"; externallyShared?: boolean }>([
    ["CPRIV", { members: ["U1", "UBOT"], kind: "private" }],
    ["CPUB", { members: ["U1", "U2", "UBOT"], kind: "public" }],
    ["CGUEST", { members: ["U1", "UGUEST"], kind: "public" }],
    ["CCONNECT", { members: ["U1", "UEXT"], kind: "private", externallyShared: true }],
  ]);
  const failing = new Set<string>();
  const fail = (what: string) => {
    if (failing.has(what)) throw new Error(`${what} is down`);
  };
  const slack: SlackDirectory = {
    user: async (_team, id) => {
      fail("users.info");
      const u = users.get(id);
      return u ? { id, guest: false, workspaceAdmin: false, bot: false, deleted: false, ...u } : undefined;
    },
    conversation: async (_team, id) => {
      fail("conversations.info");
      const c = channels.get(id);
      return c ? { id, kind: c.kind, externallyShared: Boolean(c.externallyShared) } : undefined;
    },
    members: async (_team, id) => {
      fail("conversations.members");
      return channels.get(id)?.members;
    },
    conversationsOf: async (_team, user) => {
      fail("users.conversations");
      return [...channels].filter(([, c]) => c.members.includes(user)).map(([id]) => id);
    },
  };
  const access = new AccessService(directory, catalog, slack, new JsonLogger("silent"));
  const addDoc = (id: string, visibility: Visibility) => docs.push({ id, visibility } as DocumentRecord);
  return { access, ties, failing, addDoc };
}

const slackAsker = async (w: ReturnType<typeof world>, userId: string) => {
  const result = await w.access.slackActor({ teamId: "T1", userId }, "slack_dm");
  if (!result.ok) throw new Error(`refused: ${result.refusal}`);
  return result.actor;
};

describe("who a Slack user is", () => {
  it("serves full members, and refuses guests, other organisations and unknown people with the reason", async () => {
    const w = world();
    expect(await w.access.slackActor({ teamId: "T1", userId: "U1" }, "slack_dm")).toMatchObject({ ok: true });
    expect(await w.access.slackActor({ teamId: "T1", userId: "UGUEST" }, "slack_dm")).toMatchObject({
      ok: false,
      refusal: "guest",
    });
    expect(await w.access.slackActor({ teamId: "T1", userId: "UEXT" }, "slack_dm")).toMatchObject({
      ok: false,
      refusal: "external",
    });
    // What the payload claims about the author's team counts against them, never for them.
    expect(
      await w.access.slackActor({ teamId: "T1", userId: "U1", userTeamId: "T0OTHERORG" }, "slack_dm"),
    ).toMatchObject({ ok: false, refusal: "external" });
    expect(await w.access.slackActor({ teamId: "T1", userId: "USTRANGER" }, "slack_dm")).toMatchObject({
      refusal: "external",
    });
    expect(await w.access.slackActor({ teamId: "T1", userId: "UGRID" }, "slack_dm")).toMatchObject({ ok: true });
    expect(await w.access.slackActor({ teamId: "T1", userId: "UNOBODY" }, "slack_dm")).toMatchObject({
      refusal: "unknown_user",
    });
    expect(await w.access.slackActor({ teamId: "T0UNLINKED", userId: "U1" }, "slack_dm")).toMatchObject({
      refusal: "not_linked",
    });
    w.failing.add("users.info");
    expect(await w.access.slackActor({ teamId: "T1", userId: "U1" }, "slack_dm")).toMatchObject({
      refusal: "unverified",
    });
  });

  it("gives a Slack user the role of the web account they proved is theirs", async () => {
    const w = world();
    expect((await slackAsker(w, "U1")).role).toBe("member");
    w.ties.push({ tenantId: TENANT, userId: "web-admin", teamId: "T1", slackUserId: "U1", linkedAt: "" });
    const actor = await slackAsker(w, "U1");
    expect(actor).toMatchObject({ role: "admin", principals: ["slack:T1:U1", "web-admin"] });
  });
});

describe("what an asker may read", () => {
  it("holds the conversations they are in now, asked of Slack, and falls back to users.conversations", async () => {
    const w = world();
    w.addDoc("d1", {
      kind: "slack_conversation",
      conversations: [{ teamId: "T1", channelId: "CPRIV", public: false }],
    });
    const member = await slackAsker(w, "U1");
    const other = await slackAsker(w, "U2");
    expect(await w.access.readable(member, { kind: "asker" })).toContain("conv:T1:CPRIV");
    expect(await w.access.readable(other, { kind: "asker" })).not.toContain("conv:T1:CPRIV");
    w.failing.add("conversations.members");
    expect(await w.access.readable(member, { kind: "asker" })).toContain("conv:T1:CPRIV");
    w.failing.add("users.conversations");
    // Nobody to ask: nothing granted.
    expect(await w.access.readable(member, { kind: "asker" })).not.toContain("conv:T1:CPRIV");
  });

  it("gives a web account Slack's access only through a tie to a workspace still linked to the organisation", async () => {
    const w = world();
    w.addDoc("d1", {
      kind: "slack_conversation",
      conversations: [{ teamId: "T1", channelId: "CPRIV", public: false }],
    });
    const identity: Identity = { userId: "web-member", email: "m@x", tenantId: TENANT, role: "member" };
    expect(await w.access.readable(await w.access.webActor(identity, "web"), { kind: "asker" })).toEqual([
      "org",
      "owner:web-member",
    ]);
    w.ties.push({ tenantId: TENANT, userId: "web-member", teamId: "T1", slackUserId: "U1", linkedAt: "" });
    const tied = await w.access.readable(await w.access.webActor(identity, "web"), { kind: "asker" });
    expect(tied).toEqual(
      expect.arrayContaining(["org", "owner:web-member", "owner:slack:T1:U1", "pub:T1", "conv:T1:CPRIV"]),
    );
    // A tie to a guest account, or to a workspace of another organisation, grants nothing of Slack.
    w.ties.splice(0, 1, { tenantId: TENANT, userId: "web-member", teamId: "T1", slackUserId: "UGUEST", linkedAt: "" });
    w.ties.push({ tenantId: TENANT, userId: "web-member", teamId: "T9", slackUserId: "U1", linkedAt: "" });
    const stale = await w.access.readable(await w.access.webActor(identity, "web"), { kind: "asker" });
    expect(stale.filter((k) => k.startsWith("pub:") || k.startsWith("conv:"))).toEqual([]);
  });
});

describe("what everyone reading a conversation may read", () => {
  const keys = async (w: ReturnType<typeof world>, channelId: string) =>
    w.access.readable(await slackAsker(w, "U1"), { kind: "conversation", teamId: "T1", channelId });

  it("adds the organisation's and the workspace's public documents only when every member is a full member", async () => {
    const w = world();
    expect((await keys(w, "CPUB")).sort()).toEqual(["conv:T1:CPUB", "org", "pub:T1"]);
    expect((await keys(w, "CPRIV")).sort()).toEqual(["conv:T1:CPRIV", "org", "pub:T1"]);
    expect(await keys(w, "CGUEST")).toEqual(["conv:T1:CGUEST"]);
    expect(await keys(w, "CCONNECT")).toEqual(["conv:T1:CCONNECT"]);
  });

  it("answers from the conversation's own files alone when Slack cannot say who is in it", async () => {
    for (const method of ["conversations.info", "conversations.members", "users.info"]) {
      const w = world();
      w.failing.add(method);
      const readable = await w.access.readable(
        {
          tenantId: TENANT,
          principal: "slack:T1:U1",
          principals: ["slack:T1:U1"],
          role: "member",
          surface: "slack_mention",
          slack: { teamId: "T1", userId: "U1" },
        },
        { kind: "conversation", teamId: "T1", channelId: "CPUB" },
      );
      expect(readable, method).toEqual(["conv:T1:CPUB"]);
    }
  });
});
