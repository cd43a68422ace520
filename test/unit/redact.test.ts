import { describe, expect, it } from "vitest";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import { PAYLOAD_REDACTED, redactPayload, redactPayloads, scrubSecrets } from "../../src/domain/redact.js";
import { BoltLoggerAdapter } from "../../src/slack/bolt-logger.js";

const SENTENCE = "Employees accrue twenty-seven vacation days per year.";
const LINK_TOKEN = "v1.eyJ0Ijoid29ya3NwYWNlIn0.c2lnbmF0dXJlLWJ5dGVz";
const LINK_URL = `https://enclave.test/link?token=${encodeURIComponent(LINK_TOKEN)}`;
const JWT =
  "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1MSIsImN1c3RvbTp0ZW5hbnRfaWQiOiJ0MSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

/** A chat.postMessage body as WebClient logs it (arrays flattened into {"0": …} by its redact()). */
const postMessageBody = {
  team_id: "T0NORTH01",
  channel: "C0GENERAL1",
  thread_ts: "1700000000.000100",
  text: `Answer: ${SENTENCE}`,
  blocks: {
    "0": { type: "section", block_id: "answer", text: { type: "mrkdwn", text: SENTENCE } },
    "1": {
      type: "actions",
      elements: {
        "0": { type: "button", action_id: "link_workspace", url: LINK_URL, text: { type: "plain_text", text: "Link" } },
      },
    },
  },
  markdown_text: SENTENCE,
  token: "[[REDACTED]]",
};

const leaks = (text: string) =>
  [SENTENCE, "twenty-seven", LINK_TOKEN, encodeURIComponent(LINK_TOKEN), "xoxb-"].filter((s) => text.includes(s));

describe("payload redaction", () => {
  it("keeps a Web API request body's shape and ids, and none of its text or URLs", () => {
    const line = redactPayloads(`http request body: ${JSON.stringify(postMessageBody)}`);
    expect(leaks(line)).toEqual([]);
    const kept = JSON.parse(line.slice("http request body: ".length));
    expect(kept).toMatchObject({
      team_id: "T0NORTH01",
      channel: "C0GENERAL1",
      thread_ts: "1700000000.000100",
      text: `[redacted ${`Answer: ${SENTENCE}`.length} chars]`,
      blocks: { "0": { type: "section", block_id: "answer", text: { type: "mrkdwn" } }, "1": { type: "actions" } },
    });
    expect(kept.blocks["1"].elements["0"]).toMatchObject({
      action_id: "link_workspace",
      url: expect.stringMatching(/^\[redacted \d+ chars\]$/),
    });
  });

  it("keeps a result's ok, error and Slack's warnings, and drops messages read back", () => {
    const result = {
      ok: false,
      error: "invalid_blocks",
      messages: [
        {
          type: "message",
          user: "U0ASKER01",
          ts: "1.2",
          text: SENTENCE,
          files: [{ id: "F1", name: "Handbook.pdf", url_private: "https://files/x?t=1" }],
        },
      ],
      response_metadata: {
        messages: ["[ERROR] must provide a string [json-pointer:/blocks/0/text]"],
        warnings: ["missing_charset"],
      },
    };
    const line = redactPayloads(`http request result: ${JSON.stringify(result)}`);
    expect(leaks(line)).toEqual([]);
    expect(line).not.toContain("Handbook.pdf");
    const kept = JSON.parse(line.slice("http request result: ".length));
    expect(kept).toMatchObject({
      ok: false,
      error: "invalid_blocks",
      messages: [{ type: "message", user: "U0ASKER01", ts: "1.2", files: [{ id: "F1" }] }],
      response_metadata: {
        messages: ["[ERROR] must provide a string [json-pointer:/blocks/0/text]"],
        warnings: ["missing_charset"],
      },
    });
  });

  it("redacts a Socket Mode envelope's event text but keeps its ids", () => {
    const envelope = {
      envelope_id: "env-1",
      type: "events_api",
      accepts_response_payload: false,
      retry_attempt: 0,
      retry_reason: "",
      payload: {
        team_id: "T0NORTH01",
        api_app_id: "A0APP",
        event_id: "Ev01",
        token: "verification-token-value",
        event: {
          type: "app_mention",
          user: "U0ASKER01",
          channel: "C0GENERAL1",
          ts: "1.3",
          text: `<@U0BOT> ${SENTENCE}`,
        },
      },
    };
    const line = redactPayloads(`Received a message on the WebSocket: ${JSON.stringify(envelope)}`);
    expect(leaks(line)).toEqual([]);
    expect(line).not.toContain("verification-token-value");
    for (const id of ["env-1", "events_api", "T0NORTH01", "A0APP", "Ev01", "app_mention", "U0ASKER01", "C0GENERAL1"]) {
      expect(line).toContain(id);
    }
  });

  it("redacts ack bodies, Lambda events and payloads embedded mid-message", () => {
    const ack = redactPayloads(
      `ack() response sent (body: ${JSON.stringify({ response_type: "ephemeral", text: SENTENCE })})`,
    );
    expect(ack).toMatch(
      /^ack\(\) response sent \(body: \{"response_type":"ephemeral","text":"\[redacted \d+ chars\]"\}\)$/,
    );
    expect(redactPayloads(`ack() call begins (body: ${SENTENCE})`)).toBe(
      `ack() call begins (body: ${PAYLOAD_REDACTED})`,
    );
    expect(redactPayloads("ack() call begins (body: )")).toBe("ack() call begins (body: )");
    const aws = redactPayloads(
      `AWS event: ${JSON.stringify({ body: `text=${SENTENCE}&token=abc`, headers: { "x-slack-signature": "v0=abc" } }, null, 2)}`,
    );
    expect(leaks(aws)).toEqual([]);
    expect(aws).not.toContain("v0=abc");
    const dev = redactPayloads(JSON.stringify({ type: "event_callback", event: { text: SENTENCE } }));
    expect(dev).toBe('{"type":"event_callback","event":{"text":"[redacted 53 chars]"}}');
    const mid = redactPayloads(`Calling ack() - type: slash_commands, envelope_id: e1, data: {"text":"${SENTENCE}"}`);
    expect(mid).toContain("envelope_id: e1");
    expect(leaks(mid)).toEqual([]);
  });

  it("drops a payload that does not parse, and passes a message without one", () => {
    expect(redactPayloads(`http request body: {"text":"${SENTENCE}`)).toBe(`http request body: ${PAYLOAD_REDACTED}`);
    expect(
      redactPayloads(`Unable to parse an incoming WebSocket message (will ignore): SyntaxError, ${SENTENCE}`),
    ).toBe(`Unable to parse an incoming WebSocket message (will ignore): ${PAYLOAD_REDACTED}`);
    expect(redactPayloads("apiCall('chat.postMessage') start")).toBe("apiCall('chat.postMessage') start");
    expect(redactPayloads("[WARN] something [not json")).toBe("[WARN] something [not json");
  });

  it("gives up on brackets that never close, dropping the rest as a payload", () => {
    // Without a budget the search for each bracket's match would scan the rest of the line again.
    const line = `error: ${"{".repeat(200_000)}"text":"${SENTENCE}"`;
    const out = redactPayloads(line);
    expect(out.endsWith(PAYLOAD_REDACTED)).toBe(true);
    expect(out).not.toContain(SENTENCE);
    expect(out.length).toBeLessThan(line.length);
  });

  it("survives cycles and deep nesting", () => {
    const a: Record<string, unknown> = { id: "x" };
    a.self = a;
    expect(redactPayload(a)).toEqual({ id: "x", self: "[circular]" });
    let deep: unknown = "leaf";
    for (let i = 0; i < 50; i++) deep = { text: deep };
    expect(JSON.stringify(redactPayload(deep))).not.toContain("leaf");
  });
});

describe("secret scrubbing", () => {
  it("replaces Slack tokens, JWTs and secret URL parameters, and keeps the rest of the URL", () => {
    expect(scrubSecrets("bot xoxb-1-2-abc app xapp-1-A1-2-x")).toBe("bot xoxb-[redacted] app xapp-[redacted]");
    expect(scrubSecrets(`Bearer ${JWT} end`)).toBe("Bearer [redacted jwt] end");
    expect(scrubSecrets(`open ${LINK_URL} now`)).toBe("open https://enclave.test/link?token=[redacted] now");
    expect(scrubSecrets("/slack/oauth_redirect?code=abc.def&state=s3cr3t")).toBe(
      "/slack/oauth_redirect?code=[redacted]&state=[redacted]",
    );
    expect(
      scrubSecrets(
        "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F1&X-Amz-Security-Token=tok&X-Amz-Signature=ff&x=1",
      ),
    ).toBe(
      "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=[redacted]&X-Amz-Security-Token=[redacted]&X-Amz-Signature=[redacted]&x=1",
    );
    expect(scrubSecrets("a?access_token=1&client_secret=2&ticket=3&sig=4&page=2")).toBe(
      "a?access_token=[redacted]&client_secret=[redacted]&ticket=[redacted]&sig=[redacted]&page=2",
    );
    expect(scrubSecrets("link?x=1&amp;token=abc")).toBe("link?x=1&amp;token=[redacted]");
    expect(scrubSecrets("tenant t_123 asked in C0GENERAL1")).toBe("tenant t_123 asked in C0GENERAL1");
  });
});

describe("the log sink", () => {
  it("scrubs the message and every string field at every level, and keeps ids and errors", () => {
    const lines: Record<string, any>[] = [];
    const logger = new JsonLogger("info", { component: "test" }, (line) => lines.push(JSON.parse(line))).child({
      tenantId: "t_123",
    });
    const error = Object.assign(new Error(`fetch ${LINK_URL} failed with ${JWT}`), {
      code: "upstream",
      detail: "xoxb-1-2-secret",
    });
    logger.info(`link made: ${LINK_URL}`, {
      requestId: "r1",
      nested: { url: LINK_URL, list: [`xoxp-9-9`, { deeper: `id ${JWT}` }] },
      error,
    });
    const text = JSON.stringify(lines);
    expect(text).not.toContain(encodeURIComponent(LINK_TOKEN));
    expect(text).not.toMatch(/xox[bp]-\d/);
    expect(text).not.toContain(JWT.slice(0, 40));
    expect(lines[0]).toMatchObject({
      level: "info",
      msg: "link made: https://enclave.test/link?token=[redacted]",
      component: "test",
      tenantId: "t_123",
      requestId: "r1",
      nested: {
        url: "https://enclave.test/link?token=[redacted]",
        list: ["xoxp-[redacted]", { deeper: "id [redacted jwt]" }],
      },
      error: {
        name: "Error",
        code: "upstream",
        detail: "xoxb-[redacted]",
        message: expect.stringContaining("token=[redacted]"),
      },
    });
    expect(lines[0]?.error.stack).toMatch(/^Error: fetch/);
  });

  it("keeps Slack's payloads out through Bolt's logger", () => {
    const lines: string[] = [];
    const bolt = new BoltLoggerAdapter(new JsonLogger("debug", {}, (line) => lines.push(line)), "debug");
    bolt.debug(`http request body: ${JSON.stringify(postMessageBody)}`);
    bolt.debug({ channel: "C0GENERAL1", text: SENTENCE });
    bolt.error(
      "Slack API error: channel_not_found",
      Object.assign(new Error(`bad ${LINK_URL}`), { code: "slack_webapi_platform_error" }),
    );
    expect(leaks(lines.join("\n"))).toEqual([]);
    expect(lines.join("\n")).toContain("C0GENERAL1");
    expect(JSON.parse(lines[2] ?? "{}").error).toMatchObject({ code: "slack_webapi_platform_error" });
  });
});
