import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeFile, FakeSlack, type FakeTeam, nextTs } from "../support/fake-slack.js";
import { newOrganisation } from "../support/server.js";
import { fileEventEnvelope, mentionEnvelope } from "../support/slack.js";
import {
  linkOverHttp,
  type SlackHarness,
  startSlackHarness,
  visible,
  waitForReply,
  whoIn,
} from "../support/slack-harness.js";

/**
 * Where a shared file's download may go: the link from files.info and every redirect are checked
 * before anything is sent; only Slack's file hosts (or exactly SLACK_API_URL's origin, the fake Slack
 * here) are fetched, the bot token only to token hosts, and at most 3 redirects are followed.
 */

const CHANNEL = "C0DEST0001";
const SHARER = "U0DSHARER1";

let h: SlackHarness;
let team: FakeTeam;
let org: Awaited<ReturnType<typeof newOrganisation>>;
let fileCounter = 0;
const sharer = () => whoIn(team, SHARER);

/** A loopback server that is not the fake Slack: it records every request and serves `body`. */
interface Bystander {
  url: string;
  requests: { path: string; headers: IncomingHttpHeaders }[];
  server: Server;
}
const bystanders: Bystander[] = [];

async function bystander(body: string, contentType: string): Promise<Bystander> {
  const requests: Bystander["requests"] = [];
  const server = createServer((req, res) => {
    requests.push({ path: req.url ?? "/", headers: req.headers });
    res.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const b = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
  bystanders.push(b);
  return b;
}

beforeAll(async () => {
  h = await startSlackHarness((fake) => {
    team = fake.addTeam({
      id: "T0DEST0001",
      name: "Destinations Inc",
      users: [{ id: SHARER, name: "sharer", isAdmin: true }],
    });
    return { SLACK_BOT_TOKEN: team.botToken };
  });
  org = await newOrganisation(h.server.url, "Destinations Inc");
  await linkOverHttp(h, sharer(), org.client, CHANNEL);
});

afterAll(async () => {
  for (const b of bystanders) {
    b.server.closeAllConnections();
    await new Promise<void>((resolve) => b.server.close(() => resolve()));
  }
  await h?.stop();
});

function addFile(name: string, text: string, extra: Partial<FakeFile> = {}): FakeFile {
  fileCounter++;
  return h.fake.addFile({
    id: `F0DEST${String(fileCounter).padStart(4, "0")}`,
    teamId: team.id,
    name,
    content: Buffer.from(text),
    mimetype: "text/plain",
    filetype: "text",
    user: SHARER,
    channel: CHANNEL,
    ...extra,
  });
}

async function share(file: FakeFile): Promise<void> {
  const res = await h.slack.event(
    fileEventEnvelope(sharer(), { type: "file_shared", fileId: file.id, channel: file.channel }),
  );
  expect(res.status).toBe(200);
}

/** The bot's outcome reply in the thread of the message that shared the file. */
async function outcome(file: FakeFile): Promise<string> {
  const reply = await h.fake.waitFor(
    () =>
      h.fake
        .callsTo("chat.postMessage")
        .find(
          (c) =>
            c.params.thread_ts === file.ts && /^(Indexed|I couldn't index|I already know)/.test(c.params.text ?? ""),
        ),
    30_000,
    `outcome for ${file.name}`,
  );
  return String(reply.params.text);
}

async function documentTitles(): Promise<string[]> {
  const docs = await org.client.call("GET", "/api/documents");
  expect(docs.status).toBe(200);
  return docs.json.documents.map((d: { title: string }) => d.title);
}

async function ask(question: string): Promise<string> {
  const ts = nextTs();
  await h.slack.event(mentionEnvelope(sharer(), { channel: CHANNEL, text: `<@${team.botUserId}> ${question}`, ts }));
  const answer = await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, undefined, 15_000);
  return visible(FakeSlack.textOf(answer));
}

describe("where a shared file's download may go", () => {
  it("sends nothing, token least of all, to the fake Slack's host on another port named by files.info", async () => {
    const other = await bystander("The Destinations Inc vault code is octarine-42.\n", "text/plain");
    const port = new URL(other.url).port;
    const file = addFile("vault.txt", "decoy", {
      downloadUrl: `${other.url}/files-pri/${team.id}-F0DESTVLT/download/vault.txt`,
    });
    await share(file);
    expect(await outcome(file)).toBe(
      `I couldn't index vault: the download link Slack gave me points to 127.0.0.1:${port}, which is a local or private network address, not one of Slack's file hosts, so I didn't download it.`,
    );
    expect(other.requests).toEqual([]);
    expect(other.requests.some((r) => r.headers.authorization)).toBe(false);
    expect(await documentTitles()).not.toContain("vault");
  });

  it("does not follow a redirect to a loopback address (the server's own JWKS), nor index what is there", async () => {
    const jwks = await bystander(
      JSON.stringify({ keys: [{ kty: "RSA", kid: "marker-kid-zanzibar", n: "zanzibarmodulus", e: "AQAB" }] }),
      "application/json",
    );
    const port = new URL(jwks.url).port;
    const file = addFile("keys.txt", "The Destinations Inc key ceremony happens every spring.", {
      redirectTo: `${jwks.url}/.well-known/jwks.json`,
    });
    await share(file);
    expect(await outcome(file)).toBe(
      `I couldn't index keys: the download was redirected to 127.0.0.1:${port}, which is a local or private network address, not one of Slack's file hosts, so I didn't download it.`,
    );
    expect(jwks.requests).toEqual([]);
    // The hop to the fake Slack itself (SLACK_API_URL's origin) was made, with the token.
    expect(h.fake.downloads.filter((d) => d.path.includes(file.id)).map((d) => d.authorization)).toEqual([
      `Bearer ${team.botToken}`,
    ]);
    expect(await documentTitles()).not.toContain("keys");
    expect(await ask("What is the marker-kid-zanzibar key modulus?")).not.toMatch(/zanzibar/i);
  });

  it("follows up to 3 redirects on the fake Slack's own origin, with the token on each", async () => {
    const file = addFile("three-hops.txt", "The Destinations Inc ferry leaves from pier nine.", {
      sameHostHops: 3,
    });
    await share(file);
    expect(await outcome(file)).toMatch(/^Indexed three-hops: 1 page, 1 passage$/);
    const hops = h.fake.downloads.filter((d) => d.path.includes(file.id) || d.path.startsWith("/files-tmp/"));
    expect(hops.slice(-4).map((d) => [d.status, d.authorization])).toEqual([
      [302, `Bearer ${team.botToken}`],
      [302, `Bearer ${team.botToken}`],
      [302, `Bearer ${team.botToken}`],
      [200, `Bearer ${team.botToken}`],
    ]);
    expect(await ask("Which pier does the ferry leave from?")).toMatch(/pier nine/);
  });

  it("gives up after 3 redirects and says why", async () => {
    const before = h.fake.downloads.length;
    const file = addFile("four-hops.txt", "The Destinations Inc ferry returns at dusk.", { sameHostHops: 4 });
    await share(file);
    expect(await outcome(file)).toBe(
      "I couldn't index four-hops: the download was redirected more than 3 times, so I stopped following it.",
    );
    // The first request and 3 redirects; the 4th redirect is not followed.
    expect(h.fake.downloads.length - before).toBe(4);
    expect(await documentTitles()).not.toContain("four-hops");
  });
});
