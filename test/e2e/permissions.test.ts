import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack, type FakeTeam, nextTs } from "../support/fake-slack.js";
import { type ApiClient, joinByInvite, newOrganisation, waitForDocument } from "../support/server.js";
import {
  blockAction,
  commandForm,
  fileEventEnvelope,
  mentionEnvelope,
  messageEnvelope,
  type Who,
} from "../support/slack.js";
import {
  linkOverHttp,
  linkUrlIn,
  type SlackHarness,
  settle,
  startSlackHarness,
  tokenOf,
  visible,
  whoIn,
} from "../support/slack-harness.js";

/**
 * Who sees what inside one organisation, as a matrix: readers (an admin, members, a guest, a Slack
 * Connect user, web accounts tied and not tied to a Slack user) x places (a public channel, a private
 * channel, a channel with a guest, a Slack Connect channel, a DM, /ask, the web) x documents of every
 * visibility. Each cell asks about one document and checks whether its name (in the answer, a
 * source's title or a snippet) reaches the reader. Runs on the embedded shape here and on the AWS
 * shape in permissions.aws.test.ts.
 */

const T = "T0PERMS01";
const OTHER_ORG_TEAM = "T0OTHERORG";
const ADMIN = "U0ADMIN01"; // Slack workspace admin; links the workspace
const MEMBER = "U0MEMBER1";
const OTHER = "U0OTHER01";
const GUEST = "U0GUEST01";
const EXTERNAL = "U0EXTERN1"; // of another organisation, in the Slack Connect channel

const PUBLIC = "C0PUBLIC1";
const PRIVATE = "G0PRIVATE";
const WITH_GUEST = "C0GUESTY1";
const CONNECT = "C0CONNECT";
const DM: Record<string, string> = {
  [ADMIN]: "D0ADMIN01",
  [MEMBER]: "D0MEMBER1",
  [OTHER]: "D0OTHER01",
  [GUEST]: "D0GUEST01",
  [EXTERNAL]: "D0EXTERN1",
};

/** One document per visibility; its name appears in its title and text, never in the question. */
interface Doc {
  name: string;
  title: string;
  text: string;
  question: string;
}
const doc = (name: string, title: string, text: string, question: string): Doc => ({ name, title, text, question });
const AURORA = doc(
  "Aurora",
  "Aurora Handbook",
  "Aurora lanterns glow amber above the quarry gate every evening.",
  "What glows amber above the quarry gate?",
);
const BOREALIS = doc(
  "Borealis",
  "Borealis Notes",
  "Borealis pensions vest after seven winters in the orchard cooperative.",
  "When do pensions vest in the orchard cooperative?",
);
const CYGNUS = doc(
  "Cygnus",
  "Cygnus Plan",
  "Cygnus ferries depart the harbour pier at dawn on weekdays.",
  "When do ferries depart the harbour pier?",
);
const DRACO = doc(
  "Draco",
  "Draco Salaries",
  "Draco engineers earn ninety thousand crowns yearly before bonuses.",
  "How many crowns do engineers earn yearly?",
);
const ERIDANUS = doc(
  "Eridanus",
  "Eridanus Memo",
  "Eridanus interviews happen behind the blue greenhouse on Thursdays.",
  "Where do interviews happen behind the greenhouse?",
);
const FORNAX = doc(
  "Fornax",
  "Fornax Contract",
  "Fornax invoices are settled within forty banking days of delivery.",
  "Within how many banking days are invoices settled?",
);
/** Shared by a guest and by a Slack Connect user: never indexed. */
const GEMINI = doc(
  "Gemini",
  "Gemini Leak",
  "Gemini passwords hide under the violet doormat of the boathouse.",
  "Where do passwords hide under the doormat?",
);
const HYDRA = doc(
  "Hydra",
  "Hydra Pitch",
  "Hydra discounts reach sixty percent for wholesale partners.",
  "How large are discounts for wholesale partners?",
);
const DOCS = [AURORA, BOREALIS, CYGNUS, DRACO, ERIDANUS, FORNAX, GEMINI, HYDRA];

let h: SlackHarness;
let team: FakeTeam;
let org: Awaited<ReturnType<typeof newOrganisation>>;
let webTied: ApiClient;
let webUntied: ApiClient;
const ids = new Map<string, string>();

const member = (label: string): Promise<ApiClient> =>
  joinByInvite(h.server.url, org.client, `${label}-${Date.now()}@perms.example`, "Member-pass-1");

let files = 0;
/** A file shared in a conversation by a Slack user, as Slack delivers it (file_shared carries ids). */
async function shareInSlack(d: Doc, by: string, channel: string): Promise<void> {
  files++;
  const file = h.fake.addFile({
    id: `F0PERM${String(files).padStart(4, "0")}`,
    teamId: T,
    name: `${d.title}.txt`,
    title: d.title,
    content: Buffer.from(`${d.text}\n`),
    mimetype: "text/plain",
    filetype: "text",
    user: by,
    channel,
  });
  const res = await h.slack.event(
    fileEventEnvelope(whoIn(team, by), { type: "file_shared", fileId: file.id, channel }),
  );
  expect(res.status).toBe(200);
  await settle(h);
}

/** Everything the bot sent (messages, updates, ephemerals, response_url posts) while `act` ran. */
async function outbound(act: () => Promise<unknown>): Promise<string> {
  const calls = h.fake.calls.length;
  const responses = h.fake.responses.length;
  await act();
  await settle(h);
  const made = h.fake.calls.slice(calls);
  const sent = made
    .filter((c) => ["chat.postMessage", "chat.update", "chat.postEphemeral"].includes(c.method))
    .map((c) => FakeSlack.textOf(c.params));
  // A streamed answer, whole: what its stream calls added up to.
  for (const start of made.filter((c) => c.method === "chat.startStream")) {
    const message = h.fake.messages.find((m) => m.ts === start.result?.ts && m.channel === start.params.channel);
    sent.push(visible(FakeSlack.textOf(message ?? start.params)));
  }
  const posted = h.fake.responses.slice(responses).map((r) => FakeSlack.textOf(r.body));
  return [...sent, ...posted].join("\n");
}

type Place = "public" | "private" | "with_guest" | "connect" | "dm" | "command";
const CHANNEL_OF: Record<Exclude<Place, "dm" | "command">, string> = {
  public: PUBLIC,
  private: PRIVATE,
  with_guest: WITH_GUEST,
  connect: CONNECT,
};

const who = (user: string): Who =>
  user === EXTERNAL ? { ...whoIn(team, user), userTeamId: OTHER_ORG_TEAM } : whoIn(team, user);

function askInSlack(user: string, place: Place, question: string): Promise<string> {
  return outbound(async () => {
    if (place === "command") {
      // Slash commands of a shared channel reach the installation of the channel's host: the user's own
      // organisation shows only in users.info.
      const form = commandForm(whoIn(team, user), {
        text: question,
        channel: PUBLIC,
        responseUrl: h.fake.responseUrl(),
      });
      expect((await h.slack.command(form)).status).toBe(200);
    } else if (place === "dm") {
      const channel = DM[user] ?? "";
      expect((await h.slack.event(messageEnvelope(who(user), { channel, text: question, ts: nextTs() }))).status).toBe(
        200,
      );
    } else {
      const channel = CHANNEL_OF[place];
      const envelope = mentionEnvelope(who(user), { channel, text: `<@${team.botUserId}> ${question}`, ts: nextTs() });
      expect((await h.slack.event(envelope)).status).toBe(200);
    }
  });
}

async function askOnWeb(client: ApiClient, question: string): Promise<string> {
  const res = await client.call("POST", "/api/ask", { question, surface: "web" });
  expect(res.status).toBe(200);
  return JSON.stringify(res.json);
}

/** The documents whose name reaches the reader, of all documents asked about. */
async function visibleTo(ask: (question: string) => Promise<string>): Promise<string[]> {
  const seen: string[] = [];
  for (const d of DOCS) {
    const reply = await ask(d.question);
    if (reply.includes(d.name) || reply.includes(d.title)) seen.push(d.name);
  }
  return seen;
}

const names = (...docs: Doc[]) => docs.map((d) => d.name);

beforeAll(async () => {
  h = await startSlackHarness(
    (fake) => {
      team = fake.addTeam({
        id: T,
        name: "Perms Slack",
        users: [
          { id: ADMIN, name: "admin", isAdmin: true },
          { id: MEMBER, name: "member" },
          { id: OTHER, name: "other" },
          { id: GUEST, name: "guest", isGuest: "multi" },
        ],
      });
      fake.addTeam({ id: OTHER_ORG_TEAM, name: "Other Org", users: [{ id: EXTERNAL, name: "external" }] });
      fake.strictConversations = true;
      fake.addChannel(T, { id: PUBLIC, name: "general", kind: "public", members: [ADMIN, MEMBER, OTHER] });
      fake.addChannel(T, { id: PRIVATE, name: "hr-private", kind: "private", members: [ADMIN, MEMBER] });
      fake.addChannel(T, { id: WITH_GUEST, name: "with-guest", kind: "public", members: [MEMBER, GUEST] });
      fake.addChannel(T, {
        id: CONNECT,
        name: "shared-with-other-org",
        kind: "private",
        members: [MEMBER, OTHER, EXTERNAL],
        connectedTeams: [OTHER_ORG_TEAM],
      });
      for (const [user, channel] of Object.entries(DM))
        fake.addChannel(T, { id: channel, kind: "im", members: [user] });
      return { SLACK_BOT_TOKEN: team.botToken };
    },
    // Membership is asked of Slack at every question here, so removals show at once; and no question limits.
    {
      SLACK_MEMBERSHIP_CACHE_SECONDS: "0",
      RATE_LIMIT_USER_PER_MINUTE: "100000",
      RATE_LIMIT_TENANT_PER_MINUTE: "100000",
    },
  );
  org = await newOrganisation(h.server.url, "Perms");
  await linkOverHttp(h, whoIn(team, ADMIN), org.client, PUBLIC);

  for (const [d, visibility] of [
    [AURORA, "organisation"],
    [BOREALIS, "private"],
  ] as const) {
    const up = await org.client.upload(`${d.title}.txt`, `${d.text}\n`, "text/plain", { visibility });
    expect(up.status, JSON.stringify(up.json)).toBe(202);
    expect(up.json.document.visibility.kind).toBe(visibility);
    ids.set(d.name, up.json.document.id);
    await waitForDocument(org.client, up.json.document.id);
  }
  await shareInSlack(CYGNUS, OTHER, PUBLIC);
  await shareInSlack(DRACO, MEMBER, PRIVATE);
  await shareInSlack(ERIDANUS, MEMBER, DM[MEMBER] ?? "");
  await shareInSlack(FORNAX, MEMBER, CONNECT);
  await shareInSlack(GEMINI, GUEST, WITH_GUEST);
  await shareInSlack(HYDRA, EXTERNAL, CONNECT);

  webTied = await member("tied");
  webUntied = await member("untied");
  // The tied account's owner proves in Slack that they are MEMBER: /ask connect, then the link on the web.
  const connectUrl = h.fake.responseUrl();
  await h.slack.command(
    commandForm(whoIn(team, MEMBER), { text: "connect", channel: PUBLIC, responseUrl: connectUrl }),
  );
  await settle(h);
  const token = tokenOf(linkUrlIn(h.fake.responsesTo(connectUrl)[0]?.body) ?? "");
  const tie = await webTied.call("POST", "/api/identities", { token });
  expect(tie.status, JSON.stringify(tie.json)).toBe(201);

  const all = (await org.client.call("GET", "/api/documents")).json.documents as any[];
  for (const d of all) ids.set(d.title.split(" ")[0], d.id);
  expect(all.map((d) => d.status)).toEqual(all.map(() => "ready"));
}, 180_000);

afterAll(async () => {
  await h?.stop();
});

describe("who sees what: Slack readers x places", () => {
  const ORG_AND_PUBLIC = names(AURORA, CYGNUS);
  // Readers who will read the answer, place by place. An answer in a channel thread uses only what everyone
  // in the channel may read; /ask and DMs use the asker's own access.
  const cells: [string, string, Place, string[]][] = [
    ["admin", ADMIN, "public", ORG_AND_PUBLIC],
    ["admin", ADMIN, "private", names(AURORA, CYGNUS, DRACO)],
    ["admin", ADMIN, "dm", names(AURORA, CYGNUS, DRACO)],
    ["admin", ADMIN, "command", names(AURORA, CYGNUS, DRACO)],
    ["member", MEMBER, "public", ORG_AND_PUBLIC],
    ["member", MEMBER, "private", names(AURORA, CYGNUS, DRACO)],
    ["member", MEMBER, "with_guest", []],
    ["member", MEMBER, "connect", names(FORNAX)],
    ["member", MEMBER, "dm", names(AURORA, CYGNUS, DRACO, ERIDANUS, FORNAX)],
    ["member", MEMBER, "command", names(AURORA, CYGNUS, DRACO, ERIDANUS, FORNAX)],
    ["another member", OTHER, "public", ORG_AND_PUBLIC],
    ["another member", OTHER, "connect", names(FORNAX)],
    ["another member", OTHER, "dm", names(AURORA, CYGNUS, FORNAX)],
    ["another member", OTHER, "command", names(AURORA, CYGNUS, FORNAX)],
    ["guest", GUEST, "with_guest", []],
    ["guest", GUEST, "dm", []],
    ["guest", GUEST, "command", []],
    ["Slack Connect user", EXTERNAL, "connect", []],
    ["Slack Connect user", EXTERNAL, "dm", []],
    ["Slack Connect user", EXTERNAL, "command", []],
  ];
  it.each(cells)("%s (%s) in %s sees exactly %j", async (_label, user, place, expected) => {
    expect(await visibleTo((q) => askInSlack(user, place, q))).toEqual(expected);
  });

  it("tells guests and people of other organisations why, on every surface, and indexes nothing they share", async () => {
    for (const [user, reason] of [
      [GUEST, /Guests can't use Enclave/],
      [EXTERNAL, /other organisations/],
    ] as const) {
      for (const place of ["dm", "command"] as const) expect(await askInSlack(user, place, "hello?")).toMatch(reason);
    }
    expect(await askInSlack(GUEST, "with_guest", "hello?")).toMatch(/Guests can't use Enclave/);
    expect(await askInSlack(EXTERNAL, "connect", "hello?")).toMatch(/other organisations/);
    const titles = ((await org.client.call("GET", "/api/documents")).json.documents as any[]).map((d) => d.title);
    expect(titles).not.toContain(GEMINI.title);
    expect(titles).not.toContain(HYDRA.title);
  });

  it("lists in /ask docs only what the asker may read", async () => {
    const docsOf = async (user: string) => {
      const text = await outbound(() =>
        h.slack.command(
          commandForm(whoIn(team, user), { text: "docs", channel: PUBLIC, responseUrl: h.fake.responseUrl() }),
        ),
      );
      return DOCS.filter((d) => text.includes(d.title)).map((d) => d.name);
    };
    expect(await docsOf(MEMBER)).toEqual(names(AURORA, CYGNUS, DRACO, ERIDANUS, FORNAX));
    expect(await docsOf(OTHER)).toEqual(names(AURORA, CYGNUS, FORNAX));
    expect(await docsOf(GUEST)).toEqual([]);
  });
});

describe("who sees what: web accounts", () => {
  it.each([
    ["the admin (not tied to Slack)", names(AURORA, BOREALIS), () => org.client],
    ["a member tied to a Slack user", names(AURORA, CYGNUS, DRACO, ERIDANUS, FORNAX), () => webTied],
    ["a member not tied", names(AURORA), () => webUntied],
  ] as const)("%s sees exactly %j when asking", async (_label, expected, client) => {
    expect(await visibleTo((q) => askOnWeb(client(), q))).toEqual(expected);
  });

  it("lists, opens and deletes only what the reader may; admins list everything for governance", async () => {
    const titles = async (client: ApiClient) =>
      ((await client.call("GET", "/api/documents")).json.documents as any[]).map((d) => d.title.split(" ")[0]).sort();
    expect(await titles(webUntied)).toEqual(["Aurora"]);
    expect(await titles(webTied)).toEqual(names(AURORA, CYGNUS, DRACO, ERIDANUS, FORNAX).sort());
    const governance = (await org.client.call("GET", "/api/documents")).json.documents as any[];
    expect(governance.map((d) => d.title.split(" ")[0]).sort()).toEqual(
      names(AURORA, BOREALIS, CYGNUS, DRACO, ERIDANUS, FORNAX).sort(),
    );
    const draco = governance.find((d) => d.title === DRACO.title);
    expect(draco).toMatchObject({
      can_read: false,
      uploaded_by: `slack:${T}:${MEMBER}`,
      visibility: { kind: "slack_conversation", team_id: T, channel_id: PRIVATE },
    });
    expect(governance.find((d) => d.title === BOREALIS.title)).toMatchObject({
      can_read: true,
      visibility: { kind: "private" },
    });

    const dracoId = ids.get("Draco") ?? "";
    const fileStatus = async (client: ApiClient, id: string) =>
      (
        await fetch(`${h.server.url}/api/documents/${id}/file`, {
          headers: { authorization: `Bearer ${client.token}` },
        })
      ).status;
    // Not readable: does not exist for a member, is governance-only for the admin.
    expect((await webUntied.call("GET", `/api/documents/${dracoId}`)).status).toBe(404);
    expect(await fileStatus(webUntied, dracoId)).toBe(404);
    expect((await webUntied.call("DELETE", `/api/documents/${dracoId}`)).status).toBe(404);
    expect(await fileStatus(org.client, dracoId)).toBe(403);
    expect(await fileStatus(webTied, dracoId)).toBe(200);
    // Readable but someone else's: a member may not delete it.
    const auroraId = ids.get("Aurora") ?? "";
    const refused = await webUntied.call("DELETE", `/api/documents/${auroraId}`);
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toMatch(/Only the person who added/);
    expect((await webUntied.call("GET", `/api/documents/${ids.get("Borealis")}`)).status).toBe(404);
  });

  it("shows a member only their own exchanges and lets only the asker rate one", async () => {
    const mine = await webUntied.call("POST", "/api/ask", { question: AURORA.question });
    const theirs = await webTied.call("POST", "/api/ask", { question: DRACO.question });
    const records = (await webUntied.call("GET", "/api/audit?limit=200")).json.records as any[];
    expect(records.length).toBeGreaterThan(0);
    expect(records.map((r) => r.id)).toContain(mine.json.audit_id);
    expect(records.map((r) => r.id)).not.toContain(theirs.json.audit_id);
    expect(JSON.stringify(records)).not.toContain("Draco");
    expect((await webUntied.call("GET", `/api/audit/${theirs.json.audit_id}`)).status).toBe(404);
    expect(
      (await webUntied.call("POST", `/api/audit/${theirs.json.audit_id}/feedback`, { value: "down" })).status,
    ).toBe(403);
    expect((await webTied.call("POST", `/api/audit/${theirs.json.audit_id}/feedback`, { value: "up" })).status).toBe(
      204,
    );
    // The admin reads every exchange.
    const all = (await org.client.call("GET", "/api/audit?limit=200")).json.records as any[];
    expect(all.map((r) => r.id)).toContain(theirs.json.audit_id);
  });
});

describe("sharing a private answer, and membership that changes", () => {
  it("shares an /ask answer to a channel only when everyone there may read its sources", async () => {
    const responseUrl = h.fake.responseUrl();
    await outbound(() =>
      h.slack.command(commandForm(whoIn(team, MEMBER), { text: DRACO.question, channel: PUBLIC, responseUrl })),
    );
    const answer = h.fake.responsesTo(responseUrl)[0]?.body;
    expect(FakeSlack.textOf(answer)).toContain(DRACO.title);
    const auditId = JSON.stringify(answer).match(/"value":"([^"]+)"/)?.[1] ?? "";
    const share = (user: string, channel: string) => {
      const url = h.fake.responseUrl();
      return outbound(() =>
        h.slack.action(
          blockAction(whoIn(team, user), { actionId: "enclave_share", value: auditId, channel, responseUrl: url }),
        ),
      ).then(() => h.fake.responsesTo(url));
    };
    const refused = await share(MEMBER, PUBLIC);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.body.response_type).toBe("ephemeral");
    expect(FakeSlack.textOf(refused[0]?.body)).toMatch(/can't share this answer here.*Draco Salaries/s);
    // Someone else cannot post the asker's answer anywhere.
    const stranger = await share(OTHER, PRIVATE);
    expect(stranger.every((r) => r.body.response_type !== "in_channel")).toBe(true);
    const shared = await share(MEMBER, PRIVATE);
    expect(
      shared.some((r) => r.body.response_type === "in_channel" && FakeSlack.textOf(r.body).includes("ninety")),
    ).toBe(true);
  });

  it("stops quoting a private channel's file to someone removed from it", async () => {
    expect(await visibleTo((q) => askInSlack(ADMIN, "command", q))).toContain("Draco");
    h.fake.removeMember(T, PRIVATE, ADMIN);
    try {
      expect(await visibleTo((q) => askInSlack(ADMIN, "command", q))).not.toContain("Draco");
    } finally {
      h.fake.addMember(T, PRIVATE, ADMIN);
    }
  });

  it("opens a private channel's file to another conversation it is shared into", async () => {
    expect(await visibleTo((q) => askInSlack(OTHER, "command", q))).not.toContain("Eridanus");
    const file = [...h.fake.files.values()].find((f) => f.title === ERIDANUS.title);
    if (!file) throw new Error("no Eridanus file");
    h.fake.shareFile(T, file.id, CONNECT);
    await outbound(() =>
      h.slack.event(fileEventEnvelope(whoIn(team, MEMBER), { type: "file_shared", fileId: file.id, channel: CONNECT })),
    );
    expect(await visibleTo((q) => askInSlack(OTHER, "command", q))).toContain("Eridanus");
    expect(await visibleTo((q) => askInSlack(OTHER, "connect", q))).toEqual(names(ERIDANUS, FORNAX));
  });
});

describe("linking and the workspace an event came from", () => {
  it("refuses a squatter: a member who is not a Slack admin gets no link token, so no other organisation can claim the workspace", async () => {
    const squat = h.fake.addTeam({
      id: "T0SQUAT01",
      name: "Unlinked Slack",
      users: [{ id: "U0SQUATTR", name: "squatter" }],
    });
    h.fake.addChannel(squat.id, { id: "C0SQUATCH", kind: "public", members: ["U0SQUATTR"] });
    h.fake.addChannel(squat.id, { id: "D0SQUATTR", kind: "im", members: ["U0SQUATTR"] });
    // The embedded shape serves this workspace with the single bot token only when it is the configured one;
    // an installation of the second workspace is what OAuth would store.
    await h.server.container.directory.putInstallation({
      teamId: squat.id,
      teamName: squat.name,
      botUserId: squat.botUserId,
      botId: squat.botId,
      botToken: squat.botToken,
      installedBy: "U0INSTALL",
      installedAt: new Date().toISOString(),
    });
    const squatter = whoIn(squat, "U0SQUATTR");
    const attempts = [
      await outbound(() =>
        h.slack.command(
          commandForm(squatter, { text: "link", channel: "C0SQUATCH", responseUrl: h.fake.responseUrl() }),
        ),
      ),
      await outbound(() =>
        h.slack.event(
          mentionEnvelope(squatter, { channel: "C0SQUATCH", text: `<@${squat.botUserId}> link?`, ts: nextTs() }),
        ),
      ),
      await outbound(() =>
        h.slack.event(messageEnvelope(squatter, { channel: "D0SQUATTR", text: "link me", ts: nextTs() })),
      ),
    ];
    for (const text of attempts) {
      expect(text).toMatch(/Only a Slack workspace admin or owner/);
      expect(text).not.toMatch(/\/link\?token=/);
    }
    expect(h.fake.calls.some((c) => JSON.stringify(c.params).includes("/link?token=") && c.teamId === squat.id)).toBe(
      false,
    );
    expect(await h.server.container.directory.getLink(squat.id)).toBeUndefined();
  });

  it("refuses an event whose envelope names another workspace than the installation that received it", async () => {
    const before = (await org.client.call("GET", "/api/audit?limit=200")).json.records.length;
    const envelope = mentionEnvelope(whoIn(team, MEMBER), {
      channel: PUBLIC,
      text: `<@${team.botUserId}> ${AURORA.question}`,
      ts: nextTs(),
      envelopeTeamId: "T0FORGED1",
    });
    const text = await outbound(() => h.slack.event(envelope));
    expect(text).toMatch(/other organisations/);
    expect(text).not.toContain(AURORA.name);
    expect((await org.client.call("GET", "/api/audit?limit=200")).json.records.length).toBe(before);
  });
});
