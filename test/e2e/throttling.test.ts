import { startTestServer } from "../support/server.js";
import { describeThrottling, THROTTLING_SUITE_SETTINGS } from "./throttling.suite.js";

/**
 * The throttling suite against the embedded server, over HTTP. The test client plays the one proxy
 * the server trusts (`trust proxy` 1): it appends the client's address to X-Forwarded-For.
 */
describeThrottling("embedded server", async () => {
  const server = await startTestServer(THROTTLING_SUITE_SETTINGS);
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
