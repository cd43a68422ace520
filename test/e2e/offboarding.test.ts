import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TenantId } from "../../src/domain/tenant.js";
import { eventually } from "../contract/support.js";
import { untarGz } from "../support/archive.js";
import type { FakeTeam } from "../support/fake-slack.js";
import { type ApiClient, apiClient, joinByInvite, newOrganisation, waitForDocument } from "../support/server.js";
import { commandForm } from "../support/slack.js";
import { linkOverHttp, type SlackHarness, startSlackHarness, whoIn } from "../support/slack-harness.js";

/**
 * Offboarding an organisation on this shape (the `.aws` wrapper runs it on Lambda over the emulators):
 * its admin exports everything it holds, then deletes it; afterwards no store holds anything of it, its
 * people can no longer sign in, its Slack workspace is unlinked, and the organisation beside it is whole.
 */
const AWS = process.env.ENCLAVE_TEST_SHAPE === "aws";
const ADMIN = "U0OFFADM1";
const MARKER = "quokkaberry";
const DOOMED = "Doomed Quokka Ltd";
const MEMBER_EMAIL = `member-${Date.now()}@doomed.example`;
const POLICY = `The ${MARKER} allowance is 42 euros a day for every traveller.\n`;

let h: SlackHarness;
let team: FakeTeam;
let doomed: Awaited<ReturnType<typeof newOrganisation>>;
let member: ApiClient;
let survivor: Awaited<ReturnType<typeof newOrganisation>>;
let documentId: string;

async function download(client: ApiClient, path: string) {
  const res = await fetch(`${h.server.url}${path}`, { headers: { authorization: `Bearer ${client.token}` } });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

/** Every file under the embedded data folder whose bytes contain one of `needles`. */
function embeddedMentions(dataDir: string, needles: readonly string[]): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const bytes = readFileSync(path);
        for (const needle of needles) {
          const at = bytes.indexOf(needle);
          if (at >= 0)
            found.push(
              `${path}: ${needle} in ${JSON.stringify(bytes.subarray(Math.max(0, at - 300), at + 100).toString("latin1"))}`,
            );
        }
      }
    }
  };
  walk(dataDir);
  return found;
}

async function mentionsInStores(needles: readonly string[]): Promise<string[]> {
  if (!AWS) return embeddedMentions(h.server.dataDir, needles);
  const { awsStoreMentions } = await import("../support/aws-stores.js");
  return awsStoreMentions(h.server.container.config, needles);
}

beforeAll(async () => {
  h = await startSlackHarness((fake) => {
    team = fake.addTeam({
      id: "T0DOOMED1",
      name: "Doomed Slack",
      users: [{ id: ADMIN, name: "admin", isAdmin: true }],
    });
    return { SLACK_BOT_TOKEN: team.botToken };
  });
  doomed = await newOrganisation(h.server.url, DOOMED);
  member = await joinByInvite(h.server.url, doomed.client, MEMBER_EMAIL, "Correct-horse-9");
  survivor = await newOrganisation(h.server.url, "Survivor Corp");

  const up = await doomed.client.upload("travel-policy.txt", POLICY, "text/plain");
  expect(up.status).toBe(202);
  documentId = up.json.document.id;
  expect((await waitForDocument(doomed.client, documentId)).status).toBe("ready");
  const asked = await doomed.client.call("POST", "/api/ask", { question: `What is the ${MARKER} allowance?` });
  expect(asked.json.answer).toContain("42 euros");
  await linkOverHttp(h, whoIn(team, ADMIN), doomed.client);

  const kept = await survivor.client.upload("survivor.txt", "Survivors keep their lighthouse keys.\n", "text/plain");
  expect((await waitForDocument(survivor.client, kept.json.document.id)).status).toBe("ready");
  await survivor.client.call("POST", "/api/ask", { question: "Who keeps the lighthouse keys?" });
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

describe("exporting an organisation", () => {
  it("gives its admin a .tar.gz of the organisation, its documents with their files, and its audit log", async () => {
    const { res, body } = await download(doomed.client, "/api/organisation/export");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/gzip");
    expect(res.headers.get("content-disposition")).toMatch(
      /attachment; filename="enclave-export-\d{4}-\d\d-\d\d\.tar\.gz"/,
    );
    const files = await untarGz(body);

    const org = JSON.parse(files.get("organisation.json")?.toString("utf8") ?? "{}");
    expect(org.organisation).toMatchObject({ id: doomed.tenantId, name: DOOMED });
    expect(org.members.map((m: { email: string }) => m.email).sort()).toEqual([doomed.email, MEMBER_EMAIL].sort());
    expect(org.workspace_links).toEqual([expect.objectContaining({ team_id: team.id })]);

    const documents = (files.get("documents.jsonl")?.toString("utf8") ?? "")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(documents).toEqual([
      expect.objectContaining({
        id: documentId,
        title: "travel-policy",
        status: "ready",
        file: expect.any(String),
      }),
    ]);
    expect(files.get(documents[0].file)?.toString("utf8")).toBe(POLICY);

    const audit = (files.get("audit.jsonl")?.toString("utf8") ?? "")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(audit.map((r: { question: string }) => r.question)).toContain(`What is the ${MARKER} allowance?`);

    // Nothing of the organisation beside it, and no secret of any kind.
    const everything = [...files.values()].map((b) => b.toString("utf8")).join("\n");
    expect(everything).not.toContain("lighthouse");
    expect(everything).not.toContain(survivor.tenantId);
    expect(everything).not.toContain("xoxb-");
    expect(everything).not.toMatch(/password|scrypt|id_token|Correct-horse/i);
  });

  it("is refused to a member and to anyone signed out", async () => {
    expect((await download(member, "/api/organisation/export")).res.status).toBe(403);
    expect((await fetch(`${h.server.url}/api/organisation/export`)).status).toBe(401);
  });
});

describe("deleting an organisation", () => {
  it("is refused to a member, and to an admin who does not type its exact name", async () => {
    expect((await member.call("DELETE", "/api/organisation", { confirm: DOOMED })).status).toBe(403);
    const wrong = await doomed.client.call("DELETE", "/api/organisation", { confirm: "Doomed Quokka" });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error.code).toBe("validation_failed");
    expect((await doomed.client.call("DELETE", "/api/organisation", {})).status).toBe(400);
    expect((await doomed.client.call("GET", "/api/me")).status).toBe(200);
  });

  it("answers 202, then removes everything of it from every store, and only of it", async () => {
    const needles = [doomed.tenantId, doomed.email, MEMBER_EMAIL, DOOMED, MARKER];
    // The search finds each of them before, so finding none after means something.
    const before = await mentionsInStores(needles);
    for (const needle of needles)
      expect(
        before.some((m) => m.includes(needle)),
        needle,
      ).toBe(true);
    if (AWS) {
      for (const store of ["dynamodb", "s3", "pinecone", "cognito"])
        expect(
          before.some((m) => m.startsWith(`${store} `)),
          store,
        ).toBe(true);
    } else {
      expect(before.some((m) => m.includes(`tenants/${doomed.tenantId}/tenant.db`))).toBe(true);
      expect(before.some((m) => m.includes("directory.db"))).toBe(true);
    }

    const asked = await doomed.client.call("DELETE", "/api/organisation", { confirm: DOOMED });
    expect(asked.status).toBe(202);
    expect(asked.json).toEqual({ status: "deleting", tenant_id: doomed.tenantId, requested_at: expect.any(String) });
    // From the moment it was asked, its tokens are refused.
    expect((await doomed.client.call("GET", "/api/me")).status).toBe(401);
    expect((await member.call("GET", "/api/documents")).status).toBe(401);

    const directory = h.server.container.directory;
    await eventually(
      async () => ((await directory.getTenant(doomed.tenantId as TenantId)) ? undefined : true),
      60_000,
      "the erasure",
    );
    expect(await mentionsInStores(needles)).toEqual([]);

    expect((await doomed.client.call("GET", "/api/me")).status).toBe(401);
    const login = await apiClient(h.server.url).call("POST", "/auth/login", {
      email: doomed.email,
      password: doomed.password,
    });
    expect(login.status).toBe(401);
    expect(await directory.getLink(team.id)).toBeUndefined();

    // The organisation beside it is whole.
    const survivorAnswer = await survivor.client.call("POST", "/api/ask", {
      question: "Who keeps the lighthouse keys?",
    });
    expect(survivorAnswer.json.answer).toMatch(/Survivors/);
    expect((await survivor.client.call("GET", "/api/audit")).json.records.length).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it("leaves its Slack workspace unlinked: asking there says so", async () => {
    const responseUrl = h.fake.responseUrl();
    const ack = await h.slack.command(
      commandForm(whoIn(team, ADMIN), { text: `what is the ${MARKER} allowance?`, channel: "C0ASKING1", responseUrl }),
    );
    expect(ack.status).toBe(200);
    const reply = await h.fake.waitFor(() => h.fake.responsesTo(responseUrl)[0], 10_000, "the reply");
    expect(JSON.stringify(reply.body)).toMatch(/not linked/i);
    expect(JSON.stringify(reply.body)).not.toContain("42 euros");
  });
});
