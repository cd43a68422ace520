import { readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOT_SCOPES } from "../../src/slack/settings.js";
import { type FakeFile, FakeSlack, type FakeTeam, nextTs } from "../support/fake-slack.js";
import { newOrganisation } from "../support/server.js";
import { fileEventEnvelope, lifecycleEnvelope, mentionEnvelope } from "../support/slack.js";
import {
  linkUrlIn,
  PUBLIC_URL,
  type SlackHarness,
  settle,
  startSlackHarness,
  tokenOf,
  visible,
  waitForReply,
  whoIn,
} from "../support/slack-harness.js";

const handbook = readFileSync(new URL("../../examples/documents/northwind-employee-handbook.md", import.meta.url));
const runbook = readFileSync(new URL("../../examples/documents/globex-security-runbook.txt", import.meta.url));

let h: SlackHarness;
let north: FakeTeam;
let globex: FakeTeam;
let orgA: Awaited<ReturnType<typeof newOrganisation>>;
let orgB: Awaited<ReturnType<typeof newOrganisation>>;

beforeAll(async () => {
  h = await startSlackHarness((fake) => {
    north = fake.addTeam({ id: "T0NORTHOA", name: "Northwind HQ", users: [{ id: "U0NADMIN1", name: "nadia" }] });
    globex = fake.addTeam({ id: "T0GLOBXOA", name: "Globex Corp", users: [{ id: "U0GADMIN1", name: "gus" }] });
    return {
      SLACK_CLIENT_ID: fake.clientId,
      SLACK_CLIENT_SECRET: fake.clientSecret,
      SLACK_STATE_SECRET: "state-secret-for-tests-0123456789",
    };
  });
  orgA = await newOrganisation(h.server.url, "Northwind");
  orgB = await newOrganisation(h.server.url, "Globex");
});

afterAll(async () => {
  await h?.stop();
});

/** The browser's part of Slack's OAuth flow: /slack/install -> Slack's authorize page -> /slack/oauth_redirect. */
async function install(teamId: string, installer: string, withCookie = true): Promise<Response> {
  h.fake.installingUser = installer;
  const start = await fetch(`${h.server.url}/slack/install`, { redirect: "manual" });
  expect(start.status).toBe(302);
  const cookie = (start.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const authorize = new URL(start.headers.get("location") ?? "");
  expect(`${authorize.origin}${authorize.pathname}`).toBe(`${h.fake.url}/oauth/v2/authorize`);
  expect(authorize.searchParams.get("scope")?.split(",").sort()).toEqual([...BOT_SCOPES].sort());
  expect(authorize.searchParams.get("redirect_uri")).toBe(`${PUBLIC_URL}/slack/oauth_redirect`);
  authorize.searchParams.set("team", teamId);
  const approved = await fetch(authorize, { redirect: "manual" });
  const back = new URL(approved.headers.get("location") ?? "");
  expect(back.pathname).toBe("/slack/oauth_redirect");
  return fetch(`${h.server.url}/slack/oauth_redirect${back.search}`, withCookie ? { headers: { cookie } } : {});
}

async function linkFromWelcome(team: FakeTeam, installer: string, admin: typeof orgA): Promise<void> {
  const welcome = await h.fake.waitFor(
    () =>
      h.fake.callsTo("chat.postMessage", team.id).find((c) => c.params.channel === installer && linkUrlIn(c.params)),
    10_000,
    "welcome DM",
  );
  const res = await admin.client.call("POST", "/api/links", { token: tokenOf(linkUrlIn(welcome.params) ?? "") });
  expect(res.status).toBe(201);
}

async function shareFile(team: FakeTeam, user: string, name: string, content: Buffer): Promise<FakeFile> {
  const file = h.fake.addFile({
    id: `F0${team.id.slice(2, 8)}${name.length}`,
    teamId: team.id,
    name,
    content,
    mimetype: "text/plain",
    filetype: "text",
    user,
    channel: "C0SHARED1",
  });
  await h.slack.event(
    fileEventEnvelope(whoIn(team, user), { type: "file_shared", fileId: file.id, channel: "C0SHARED1" }),
  );
  await h.fake.waitFor(
    () =>
      h.fake
        .callsTo("chat.postMessage", team.id)
        .find((c) => c.params.thread_ts === file.ts && /^Indexed/.test(c.params.text)),
    20_000,
    `indexed ${name}`,
  );
  return file;
}

async function ask(team: FakeTeam, user: string, question: string): Promise<string> {
  const ts = nextTs();
  await h.slack.event(
    mentionEnvelope(whoIn(team, user), { channel: "C0SHARED1", text: `<@${team.botUserId}> ${question}`, ts }),
  );
  const answer = await waitForReply(h.fake, { channel: "C0SHARED1", threadTs: ts, teamId: team.id });
  return visible(FakeSlack.textOf(answer));
}

describe("OAuth installation", () => {
  it("refuses a callback whose state is not this browser's", async () => {
    const res = await install(north.id, "U0NADMIN1", false);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/Installation failed/);
    expect(await h.server.container.directory.getInstallation(north.id)).toBeUndefined();
  });

  it("installs two workspaces, keeping each bot token encrypted at rest, and welcomes the installer", async () => {
    for (const [team, installer] of [
      [north, "U0NADMIN1"],
      [globex, "U0GADMIN1"],
    ] as const) {
      const res = await install(team.id, installer);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain(`Enclave was added to <strong>${team.name}</strong>`);
      const stored = await h.server.container.directory.getInstallation(team.id);
      expect(stored).toMatchObject({
        teamId: team.id,
        teamName: team.name,
        botUserId: team.botUserId,
        botId: team.botId,
        botToken: team.botToken,
        installedBy: installer,
      });
    }
    const db = new Database(join(h.server.dataDir, "directory.db"), { readonly: true });
    try {
      const rows = db.prepare("SELECT team_id, bot_token FROM installations").all() as {
        team_id: string;
        bot_token: string;
      }[];
      expect(rows).toHaveLength(2);
      for (const row of rows) {
        expect(row.bot_token).toMatch(/^v1\./);
        expect(row.bot_token).not.toContain("xoxb");
      }
    } finally {
      db.close();
    }
    expect(h.fake.callsTo("oauth.v2.access")).toHaveLength(2);
  });

  it("links each workspace to its own tenant from the welcome DM", async () => {
    await linkFromWelcome(north, "U0NADMIN1", orgA);
    await linkFromWelcome(globex, "U0GADMIN1", orgB);
    expect((await h.server.container.directory.getLink(north.id))?.tenantId).toBe(orgA.tenantId);
    expect((await h.server.container.directory.getLink(globex.id))?.tenantId).toBe(orgB.tenantId);
  });
});

describe("two workspaces on two tenants", () => {
  it("never see each other's documents", async () => {
    await shareFile(north, "U0NADMIN1", "handbook.txt", handbook);
    await shareFile(globex, "U0GADMIN1", "runbook.txt", runbook);
    const ownA = await ask(north, "U0NADMIN1", "What paid vacation do full-time employees receive per calendar year?");
    expect(ownA).toContain("27 days");
    const ownB = await ask(globex, "U0GADMIN1", "Who pages the incident commander for a SEV1?");
    expect(ownB).toContain("Beacon");
    const crossA = await ask(north, "U0NADMIN1", "Who pages the incident commander for a SEV1?");
    expect(crossA).toMatch(/couldn't find/);
    expect(crossA).not.toMatch(/Beacon|runbook/i);
    const crossB = await ask(
      globex,
      "U0GADMIN1",
      "What paid vacation do full-time employees receive per calendar year?",
    );
    expect(crossB).toMatch(/couldn't find/);
    expect(crossB).not.toMatch(/27 days|handbook/i);
    // Each workspace's calls used its own bot token.
    expect(
      h.fake.calls
        .filter((c) => c.method.startsWith("chat.") && c.params.channel === "C0SHARED1")
        .every((c) => c.teamId),
    ).toBe(true);
    const auditA = (await orgA.client.call("GET", "/api/audit?limit=50")).json.records;
    const auditB = (await orgB.client.call("GET", "/api/audit?limit=50")).json.records;
    expect(auditA.every((r: any) => r.slack.team_id === north.id)).toBe(true);
    expect(auditB.every((r: any) => r.slack.team_id === globex.id)).toBe(true);
    expect((await orgB.client.call("GET", "/api/documents")).json.documents.map((d: any) => d.title)).toEqual([
      "runbook",
    ]);
  });
});

describe("uninstalling", () => {
  it("app_uninstalled removes the installation and the link; the tenant keeps its documents", async () => {
    expect((await h.slack.event(lifecycleEnvelope(north.id, "app_uninstalled"))).status).toBe(200);
    await settle(h);
    expect(await h.server.container.directory.getInstallation(north.id)).toBeUndefined();
    expect(await h.server.container.directory.getLink(north.id)).toBeUndefined();
    expect((await orgA.client.call("GET", "/api/documents")).json.documents).toHaveLength(1);
    // The bot has no token there any more: a mention gets no Slack call at all.
    const calls = h.fake.calls.length;
    await h.slack.event(
      mentionEnvelope(whoIn(north, "U0NADMIN1"), {
        channel: "C0SHARED1",
        text: `<@${north.botUserId}> hello`,
        ts: nextTs(),
      }),
    );
    await settle(h);
    expect(h.fake.calls.length).toBe(calls);
    // Globex is untouched.
    expect(await h.server.container.directory.getLink(globex.id)).toBeDefined();
  });

  it("tokens_revoked does the same for the bot token's workspace", async () => {
    expect((await h.slack.event(lifecycleEnvelope(globex.id, "tokens_revoked"))).status).toBe(200);
    await settle(h);
    expect(await h.server.container.directory.getInstallation(globex.id)).toBeUndefined();
    expect(await h.server.container.directory.getLink(globex.id)).toBeUndefined();
    expect((await orgB.client.call("GET", "/api/documents")).json.documents).toHaveLength(1);
  });
});
