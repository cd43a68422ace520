import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";
import { describeThrottling, THROTTLING_SUITE_SETTINGS } from "./throttling.suite.js";

/**
 * The throttling suite against the embedded server, over HTTP. The test client plays the one proxy
 * the server is told to trust (TRUST_PROXY_HOPS=1): it appends the client's address to X-Forwarded-For.
 */
describeThrottling("embedded server", async () => {
  const server = await startTestServer({ ...THROTTLING_SUITE_SETTINGS, TRUST_PROXY_HOPS: "1" });
  return {
    baseUrl: server.url,
    from: (address) =>
      ((input: Parameters<typeof fetch>[0], init: RequestInit = {}) => {
        const headers = new Headers(init.headers);
        const sent = headers.get("x-forwarded-for");
        headers.set("x-forwarded-for", sent ? `${sent}, ${address}` : address);
        return fetch(input, { ...init, headers });
      }) as typeof fetch,
    limiter: server.container.rateLimiter,
    stop: () => server.stop(),
  };
});

describe("a server reached directly (TRUST_PROXY_HOPS=0, the default)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(THROTTLING_SUITE_SETTINGS);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("counts by the real peer: an X-Forwarded-For the client makes up does not get it out of a lock-out", async () => {
    const login = (n: number) =>
      fetch(`${server.url}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": `198.51.100.${n}` },
        body: JSON.stringify({ email: `nobody${n}@example.com`, password: "Wrong-pass-1" }),
      });
    for (let n = 1; n <= 10; n++) expect((await login(n)).status).toBe(401);
    const locked = await login(11);
    expect(locked.status).toBe(429);
    expect(((await locked.json()) as { error: { code: string } }).error.code).toBe("too_many_attempts");
  });
});
