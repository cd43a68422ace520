import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { verifySlackRequest } from "@slack/bolt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeTeam, nextTs } from "../support/fake-slack.js";
import { messageEnvelope, payload, SHARED_SLACK, signature } from "../support/slack.js";
import { SIGNING_SECRET, type SlackHarness, startSlackHarness, whoIn } from "../support/slack-harness.js";

const VECTOR = join(SHARED_SLACK, "signing", "slack_docs_signature_vector.json");
const hasVector = existsSync(VECTOR);
if (!hasVector)
  console.warn("../shared/data/slack/signing is absent: skipping the test against Slack's documented signing vector.");

describe("Slack's documented signing vector", () => {
  const vector = hasVector ? JSON.parse(readFileSync(VECTOR, "utf8")) : undefined;
  const verify = (body: string, headers: Record<string, unknown>, nowMs: number) =>
    verifySlackRequest({
      signingSecret: vector.signing_secret,
      body,
      headers: headers as never,
      nowMilliseconds: nowMs,
    });

  it.skipIf(!hasVector)("is accepted at its own time, and our test signer computes the same signature", () => {
    const body = readFileSync(join(SHARED_SLACK, "signing", "slack_docs_signature_vector.body.txt"), "utf8");
    expect(body).toBe(vector.raw_body);
    const ts = Number(vector.x_slack_request_timestamp);
    expect(signature(vector.signing_secret, ts, body)).toBe(vector.expected_x_slack_signature);
    expect(() =>
      verify(
        body,
        { "x-slack-signature": vector.expected_x_slack_signature, "x-slack-request-timestamp": ts },
        ts * 1000,
      ),
    ).not.toThrow();
    // Still inside the five minutes.
    expect(() =>
      verify(
        body,
        { "x-slack-signature": vector.expected_x_slack_signature, "x-slack-request-timestamp": ts },
        (ts + 299) * 1000,
      ),
    ).not.toThrow();
  });

  it.skipIf(!hasVector)("is rejected when tampered, stale or without headers", () => {
    const ts = Number(vector.x_slack_request_timestamp);
    const headers = { "x-slack-signature": vector.expected_x_slack_signature, "x-slack-request-timestamp": ts };
    expect(() => verify(`${vector.raw_body}------`, headers, ts * 1000)).toThrow(/signature/i);
    expect(() => verify(vector.raw_body, headers, Date.now())).toThrow(/stale|old|timestamp/i);
    expect(() => verify(vector.raw_body, {}, ts * 1000)).toThrow();
    expect(() => verify(vector.raw_body, { "x-slack-request-timestamp": ts }, ts * 1000)).toThrow();
  });
});

describe("signatures over HTTP", () => {
  let h: SlackHarness;
  let team: FakeTeam;
  beforeAll(async () => {
    h = await startSlackHarness((fake) => {
      team = fake.addTeam({ id: "T0SIGN001", name: "Signing", users: [{ id: "U0SIGNER1", name: "signer" }] });
      return { SLACK_BOT_TOKEN: team.botToken };
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const challenge = () => {
    const p = payload("events_api/url_verification.json");
    return JSON.stringify(p);
  };

  it("accepts a correctly signed request (url_verification answers the challenge)", async () => {
    const body = challenge();
    const res = await h.slack.post(body, "application/json");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ challenge: JSON.parse(body).challenge });
  });

  it("rejects a bad signature, a wrong secret, a tampered body, a stale timestamp and missing headers with 401", async () => {
    const body = challenge();
    const now = Math.floor(Date.now() / 1000);
    expect((await h.slack.post(body, "application/json", { signature: "v0=deadbeef" })).status).toBe(401);
    expect((await h.slack.post(body, "application/json", { secret: "not-the-secret" })).status).toBe(401);
    expect(
      (
        await h.slack.post(body, "application/json", {
          signature: signature(SIGNING_SECRET, now, `${body} `),
          timestamp: now,
        })
      ).status,
    ).toBe(401);
    expect((await h.slack.post(body, "application/json", { timestamp: now - 6 * 60 })).status).toBe(401);
    expect((await h.slack.post(body, "application/json", { omitHeaders: true })).status).toBe(401);
    // Nothing rejected reached a listener.
    expect(h.fake.calls.filter((c) => c.method !== "auth.test")).toEqual([]);
  });

  it("refuses a correctly signed request stamped more than 5 minutes in the future with 401, and takes one 4 minutes ahead", async () => {
    const now = Math.floor(Date.now() / 1000);
    const body = challenge();
    const ahead = await h.slack.post(body, "application/json", { timestamp: now + 10 * 60 });
    expect(ahead.status).toBe(401);
    expect(ahead.text).toBe("");
    const near = await h.slack.post(body, "application/json", { timestamp: now + 4 * 60 });
    expect(near.status).toBe(200);
    expect(near.json).toEqual({ challenge: JSON.parse(body).challenge });

    // A DM (this workspace is not linked: a DM is answered with an ephemeral link notice).
    const who = whoIn(team, "U0SIGNER1");
    const dm = (channel: string) => messageEnvelope(who, { channel, text: "vacation days?", ts: nextTs() });
    const refused = await h.slack.event(dm("D0AHEAD10"), { timestamp: now + 10 * 60 });
    expect(refused.status).toBe(401);
    const taken = await h.slack.event(dm("D0AHEAD04"), { timestamp: now + 4 * 60 });
    expect(taken.status).toBe(200);
    await h.fake.waitFor(
      () => h.fake.callsTo("chat.postEphemeral").find((c) => c.params.channel === "D0AHEAD04"),
      10_000,
      "notice in the DM stamped 4 minutes ahead",
    );
    // The refused one reached no listener: nothing was queued, nothing said in its DM.
    expect(h.fake.calls.filter((c) => c.params?.channel === "D0AHEAD10")).toEqual([]);
  });

  it("answers Slack's ssl_check", async () => {
    const res = await h.slack.post("token=legacy-token&ssl_check=1", "application/x-www-form-urlencoded");
    expect(res.status).toBe(200);
  });
});
