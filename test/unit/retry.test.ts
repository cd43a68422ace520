import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { backoffMs, retryAfterMs, retryDelayMs, SLACK_HTTP_RETRY, webApiRetryConfig } from "../../src/domain/retry.js";
import { downloadSlackFile, postToResponseUrl } from "../../src/slack/outbound.js";

const policy = { attempts: 4, baseMs: 100, maxMs: 1000 };

describe("the retry policy", () => {
  it("backs off exponentially with jitter that never reaches zero, up to the cap", () => {
    const low = () => 0;
    const high = () => 0.999999;
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(policy, n, low))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(policy, n, high))).toEqual([100, 200, 400, 800, 1000]);
    const spread = new Set(Array.from({ length: 50 }, () => backoffMs(policy, 3)));
    expect(spread.size).toBeGreaterThan(5);
  });

  it("reads Retry-After as seconds or an HTTP date, and gives nothing for a missing or bad one", () => {
    const now = Date.parse("2026-12-01T10:00:00Z");
    expect(retryAfterMs("3", now)).toBe(3000);
    expect(retryAfterMs("0", now)).toBe(0);
    expect(retryAfterMs("Tue, 01 Dec 2026 10:00:05 GMT", now)).toBe(5000);
    for (const missing of [null, undefined, "", "  ", "soon", "-1"]) expect(retryAfterMs(missing, now)).toBeUndefined();
    // No header: the backoff, not zero (Number(null) === 0 made retries fire at once).
    expect(retryDelayMs(policy, 1, null, () => 0)).toBe(50);
    expect(retryDelayMs(policy, 1, "2")).toBe(2000);
    expect(retryDelayMs(policy, 1, "3600")).toBe(60_000);
  });

  it("gives the Slack Web API client the same policy", () => {
    expect(webApiRetryConfig(SLACK_HTTP_RETRY)).toEqual({
      retries: SLACK_HTTP_RETRY.attempts - 1,
      factor: 2,
      minTimeout: SLACK_HTTP_RETRY.baseMs,
      maxTimeout: SLACK_HTTP_RETRY.maxMs,
      randomize: true,
    });
  });
});

/** A loopback server answering with the given statuses in turn (then 200), recording when each request came. */
let server: Server | undefined;
async function flaky(answers: { status: number; retryAfter?: string }[]): Promise<{ url: string; hits: number[] }> {
  const hits: number[] = [];
  server = createServer((req, res) => {
    hits.push(performance.now());
    req.resume();
    const answer = answers[hits.length - 1];
    if (answer) {
      res.writeHead(answer.status, answer.retryAfter ? { "retry-after": answer.retryAfter } : {});
      res.end("busy");
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end("file bytes");
  });
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, hits };
}

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

describe("outbound Slack HTTP", () => {
  it("waits before retrying a response_url post that failed without Retry-After", async () => {
    const { url, hits } = await flaky([{ status: 503 }, { status: 429 }]);
    const waits: number[] = [];
    await postToResponseUrl(
      url,
      { text: "hi" },
      { sleep: async (ms) => void waits.push(ms), policy: { attempts: 4, baseMs: 400, maxMs: 8000 } },
    );
    expect(hits).toHaveLength(3);
    // Equal jitter: at least half of each step.
    expect(waits[0]).toBeGreaterThanOrEqual(200);
    expect(waits[1]).toBeGreaterThanOrEqual(400);
  });

  it("really waits on the wire: the retry comes no sooner than the policy's shortest wait", async () => {
    const { url, hits } = await flaky([{ status: 503 }]);
    await postToResponseUrl(url, { text: "hi" }, { policy: { attempts: 3, baseMs: 400, maxMs: 400 } });
    expect(hits).toHaveLength(2);
    expect((hits[1] ?? 0) - (hits[0] ?? 0)).toBeGreaterThanOrEqual(190);
  });

  it("honours Retry-After when Slack gives one", async () => {
    const { url, hits } = await flaky([{ status: 429, retryAfter: "1" }]);
    const waits: number[] = [];
    await postToResponseUrl(url, { text: "hi" }, { sleep: async (ms) => void waits.push(ms) });
    expect(hits).toHaveLength(2);
    expect(waits).toEqual([1000]);
  });

  it("gives up after the policy's attempts with a reason", async () => {
    const { url, hits } = await flaky([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }]);
    await expect(
      postToResponseUrl(url, { text: "hi" }, { sleep: async () => {}, policy: { attempts: 3, baseMs: 1, maxMs: 1 } }),
    ).rejects.toThrow(/Slack refused the reply/);
    expect(hits).toHaveLength(3);
  });

  it("backs off the same way when a file download is throttled or fails with 5xx", async () => {
    const { url, hits } = await flaky([{ status: 429 }, { status: 502 }]);
    const waits: number[] = [];
    // The loopback server stands in for Slack as SLACK_API_URL's origin (the only loopback a download may reach).
    const data = await downloadSlackFile(url, "xoxb-test", { apiUrl: `${new URL(url).origin}/api/` }, 1024, {
      sleep: async (ms) => void waits.push(ms),
    });
    expect(data.toString()).toBe("file bytes");
    expect(hits).toHaveLength(3);
    expect(waits).toHaveLength(2);
    for (const w of waits) expect(w).toBeGreaterThanOrEqual(SLACK_HTTP_RETRY.baseMs / 2);
  });
});
