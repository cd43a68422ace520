import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TenantId } from "../../src/domain/tenant.js";
import { objectKey } from "../../src/services/documents.js";
import { FakeSlack, type FakeTeam, nextTs } from "../support/fake-slack.js";
import { workspaceLinkToken } from "../support/link-tokens.js";
import { newOrganisation, waitForDocument } from "../support/server.js";
import { commandForm, mentionEnvelope, messageEnvelope } from "../support/slack.js";
import { type SlackHarness, settle, startSlackHarness, waitForReply, whoIn } from "../support/slack-harness.js";

/**
 * The job queue down while work is accepted (SQS answering 503 on AWS, the directory database locked
 * embedded): the user gets a reason and a retry that works, and Slack is never told "done" for a delivery
 * whose job was not stored. A document whose job was lost anyway (the process died in between) is
 * indexed by the recovery sweep, or when the same file comes again. Runs on both shapes (`job-faults.aws.test.ts`).
 */
const handbook = readFileSync(
  new URL("../../examples/documents/northwind-employee-handbook.md", import.meta.url),
  "utf8",
);
const QUESTION = "How many vacation days do employees get per year?";
/** Short, so the sweep counts a document as stranded after a moment instead of two minutes. */
const LEASE_MS = 1500;

let h: SlackHarness;
let team: FakeTeam;
let org: Awaited<ReturnType<typeof newOrganisation>>;
const CHANNEL = "C0FAULTS1";
const ASKER = "U0FAULT01";

beforeAll(async () => {
  h = await startSlackHarness(
    (fake) => {
      team = fake.addTeam({ id: "T0FAULTS1", name: "Faulty Slack", users: [{ id: ASKER, name: "asker" }] });
      return { SLACK_BOT_TOKEN: team.botToken };
    },
    { JOB_LEASE_MS: String(LEASE_MS) },
  );
  org = await newOrganisation(h.server.url, "Northwind");
  const upload = await org.client.upload("Employee Handbook.md", handbook, "text/markdown");
  expect((await waitForDocument(org.client, upload.json.document.id)).status).toBe("ready");
  const { token } = await workspaceLinkToken(h.server.container, { teamId: team.id, slackUserId: ASKER });
  expect((await org.client.call("POST", "/api/links", { token })).status).toBe(201);
});

afterAll(async () => {
  await h?.stop();
});

afterEach(() => {
  h.queueUp();
});

const documents = async () => (await org.client.call("GET", "/api/documents")).json.documents as any[];

describe("an upload while the job queue is down", () => {
  it("answers 503 with a reason and keeps nothing half-added; the same upload again is indexed", async () => {
    h.queueDown();
    const body = "Parking: spaces are assigned by the facilities team every quarter.";
    const refused = await org.client.upload("parking.txt", body);
    expect(refused.status).toBe(503);
    expect(refused.json.error.message).toMatch(/try again/i);
    // Not accepted, so not listed: no document waits for a job that does not exist.
    expect((await documents()).find((d) => d.title === "parking")).toBeUndefined();

    h.queueUp();
    const again = await org.client.upload("parking.txt", body);
    expect(again.status).toBe(202);
    expect((await waitForDocument(org.client, again.json.document.id)).status).toBe("ready");
    expect((await documents()).filter((d) => d.title === "parking")).toHaveLength(1);
  });
});

describe("a document whose job was lost (the process died between storing it and queuing its job)", () => {
  /** What a process killed at that moment leaves: the file and a `queued` record, and no job. */
  async function strand(title: string, text: string): Promise<string> {
    const tenant = org.tenantId as TenantId;
    const id = randomUUID();
    const data = Buffer.from(text);
    await h.server.container.objects.put(tenant, objectKey(id), data, "text/plain");
    await h.server.container.catalog.create(tenant, {
      id,
      title,
      contentType: "text/plain",
      sizeBytes: data.length,
      sha256: createHash("sha256").update(data).digest("hex"),
      source: { kind: "upload" },
      visibility: { kind: "organisation" },
      uploadedBy: "someone",
    });
    return id;
  }

  it("is queued again by the recovery sweep, once it has been still for a lease, and indexed", async () => {
    const id = await strand("travel", "Travel: the hotel limit is 180 euros per night.");
    // Just added: left to its own job.
    expect(await h.sweep()).toBe(0);
    await new Promise((r) => setTimeout(r, LEASE_MS + 200));
    expect(await h.sweep()).toBe(1);
    expect((await waitForDocument(org.client, id)).status).toBe("ready");
    // Settled: nothing for a later sweep.
    await new Promise((r) => setTimeout(r, LEASE_MS + 200));
    expect(await h.sweep()).toBe(0);
  });

  it("is queued again when the same file is uploaded again", async () => {
    const text = "Umbrellas: spare umbrellas are kept at the front desk.";
    const id = await strand("umbrellas", text);
    const again = await org.client.upload("umbrellas.txt", text);
    expect(again.status).toBe(202);
    expect(again.json).toMatchObject({ duplicate: true, document: { id } });
    expect((await waitForDocument(org.client, id)).status).toBe("ready");
  });
});

describe("Slack while the job queue is down", () => {
  it("fails a mention's delivery (5xx) so that Slack retries it, and answers the retry once", async () => {
    const ts = nextTs();
    const envelope = mentionEnvelope(whoIn(team, ASKER), {
      channel: CHANNEL,
      text: `<@${team.botUserId}> ${QUESTION}`,
      ts,
    });
    h.queueDown();
    const first = await h.slack.event(envelope);
    expect(first.status).toBeGreaterThanOrEqual(500);
    h.queueUp();
    // Slack's retry of the same event.
    const retry = await h.slack.event(envelope, { retryNum: 1 });
    expect(retry.status).toBe(200);
    // And a late duplicate retry changes nothing.
    expect((await h.slack.event(envelope, { retryNum: 2 })).status).toBe(200);
    await waitForReply(h.fake, { channel: CHANNEL, threadTs: ts }, "27 days", 20_000);
    await settle(h);
    expect(h.fake.botMessages(CHANNEL, ts)).toHaveLength(1);
  });

  it("fails a DM's delivery the same way, and answers Slack's retry once", async () => {
    const ts = nextTs();
    const envelope = messageEnvelope(whoIn(team, ASKER), { channel: "D0FAULT01", text: QUESTION, ts });
    h.queueDown();
    expect((await h.slack.event(envelope)).status).toBeGreaterThanOrEqual(500);
    h.queueUp();
    expect((await h.slack.event(envelope, { retryNum: 1 })).status).toBe(200);
    // A DM's answer streams in the thread of its message.
    await waitForReply(h.fake, { channel: "D0FAULT01", threadTs: ts }, "27 days", 20_000);
    await settle(h);
    expect(h.fake.botMessages("D0FAULT01", ts)).toHaveLength(1);
  });

  it("tells the user of /ask why it could not take the question, and takes it when asked again", async () => {
    h.queueDown();
    const responseUrl = h.fake.responseUrl();
    const refused = await h.slack.command(
      commandForm(whoIn(team, ASKER), { text: QUESTION, channel: CHANNEL, responseUrl }),
    );
    expect(refused.status).toBe(200);
    expect(refused.text).toMatch(/couldn't take that request right now/);
    h.queueUp();
    const again = h.fake.responseUrl();
    const ack = await h.slack.command(
      commandForm(whoIn(team, ASKER), { text: QUESTION, channel: CHANNEL, responseUrl: again }),
    );
    expect(ack.text).toMatch(/Searching/);
    const answer = await h.fake.waitFor(() => h.fake.responsesTo(again)[0], 20_000, "the answer");
    expect(FakeSlack.textOf(answer.body)).toContain("27 days");
    expect(h.fake.responsesTo(responseUrl)).toHaveLength(0);
  });
});
