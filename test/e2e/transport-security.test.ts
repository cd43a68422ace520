import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";

const HSTS = "max-age=31536000; includeSubDomains";
// A page, the health probe, an API call refused for want of a token, and a route that does not exist.
const PATHS = ["/", "/health", "/api/me", "/no-such-page"];

let https: TestServer;
let plain: TestServer;

beforeAll(async () => {
  [https, plain] = await Promise.all([startTestServer({ PUBLIC_URL: "https://enclave.example" }), startTestServer()]);
});

afterAll(async () => {
  await Promise.all([https?.stop(), plain?.stop()]);
});

describe("Strict-Transport-Security", () => {
  it("is on every response when PUBLIC_URL is https, errors included", async () => {
    const statuses: number[] = [];
    for (const path of PATHS) {
      const res = await fetch(`${https.url}${path}`);
      statuses.push(res.status);
      expect(res.headers.get("strict-transport-security"), path).toBe(HSTS);
    }
    expect(statuses).toEqual([200, 200, 401, 404]);
  });

  it("is absent when PUBLIC_URL is http (the default, http://localhost)", async () => {
    for (const path of PATHS) {
      const res = await fetch(`${plain.url}${path}`);
      expect(res.headers.get("strict-transport-security"), path).toBeNull();
    }
  });
});
