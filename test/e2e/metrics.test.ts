import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newOrganisation, startTestServer, type TestServer, waitForDocument } from "../support/server.js";
import { type SlackHarness, startSlackHarness } from "../support/slack-harness.js";

const POLICY = `Vacation policy.
Every employee gets 27 days of paid vacation per year. Unused vacation days carry over to the next year, up to five days.
Requests for vacation go to your manager at least two weeks ahead.`;

/** The value of one series on a Prometheus text page (`name{labels}`), undefined when absent. */
function sample(body: string, series: string): number | undefined {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/metrics`, { headers });
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
}

describe("GET /metrics on the embedded server", () => {
  let server: TestServer;
  let a: Awaited<ReturnType<typeof newOrganisation>>;
  let b: Awaited<ReturnType<typeof newOrganisation>>;
  let documentId: string;
  const missingId = randomUUID();
  let page: Awaited<ReturnType<typeof scrape>>;

  beforeAll(async () => {
    server = await startTestServer({ JOB_MAX_ATTEMPTS: "2" });
    a = await newOrganisation(server.url, "Northwind");
    b = await newOrganisation(server.url, "Globex");
    const upload = await a.client.upload("vacation-policy.txt", POLICY, "text/plain");
    expect(upload.status).toBe(202);
    documentId = upload.json.document.id;
    expect(await waitForDocument(a.client, documentId)).toMatchObject({ status: "ready" });
    const blank = await a.client.upload("blank.txt", " \n\n \n", "text/plain");
    expect(await waitForDocument(a.client, blank.json.document.id)).toMatchObject({
      status: "failed",
      error: { code: "empty_document" },
    });
    expect((await a.client.call("GET", `/api/documents/${missingId}`)).status).toBe(404);
    const answered = await a.client.call("POST", "/api/ask", { question: "How many vacation days do employees get?" });
    expect(answered.json.outcome).toBe("answered");
    const nothing = await b.client.call("POST", "/api/ask", { question: "What is the parking policy?" });
    expect(nothing.json.outcome).toBe("no_context");
    expect((await fetch(`${server.url}/no/such/${documentId}`)).status).toBe(404);
    // A job nobody can run (no Slack here) fails for good and waits for an operator.
    await server.container.queue.enqueue({ type: "slack_event", payload: {}, idempotencyKey: randomUUID() });
    await server.container.runner.drain();
    page = await scrape(server.url);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("is open and in the Prometheus text format when no METRICS_TOKEN is set", () => {
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(page.body).toContain("# TYPE enclave_http_requests_total counter");
    // The process's own figures come with the product's.
    expect(page.body).toContain("process_resident_memory_bytes");
  });

  it("counts requests by route pattern, method and status, never by raw path", () => {
    const polls = sample(
      page.body,
      'enclave_http_requests_total{route="/api/documents/:id",method="GET",status="200"}',
    );
    expect(polls).toBeGreaterThanOrEqual(1);
    // The 404 was answered by the app's error handler, after Express left the API router.
    expect(sample(page.body, 'enclave_http_requests_total{route="/api/documents/:id",method="GET",status="404"}')).toBe(
      1,
    );
    expect(sample(page.body, 'enclave_http_requests_total{route="/api/upload",method="POST",status="202"}')).toBe(2);
    expect(sample(page.body, 'enclave_http_requests_total{route="/api/ask",method="POST",status="200"}')).toBe(2);
    expect(sample(page.body, 'enclave_http_requests_total{route="/auth/signup",method="POST",status="201"}')).toBe(2);
    expect(sample(page.body, 'enclave_http_requests_total{route="unmatched",method="GET",status="404"}')).toBe(1);
    expect(sample(page.body, 'enclave_http_request_duration_seconds_count{route="/api/ask",method="POST"}')).toBe(2);
    const routes = new Set([...page.body.matchAll(/route="([^"]*)"/g)].map((m) => m[1]));
    for (const route of routes) expect(route).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}/);
  });

  it("counts questions by surface and outcome, with the answer latency as a histogram", () => {
    expect(sample(page.body, 'enclave_questions_total{surface="api",outcome="answered"}')).toBe(1);
    expect(sample(page.body, 'enclave_questions_total{surface="api",outcome="no_context"}')).toBe(1);
    expect(page.body).toContain("# TYPE enclave_answer_duration_seconds histogram");
    expect(sample(page.body, 'enclave_answer_duration_seconds_count{surface="api"}')).toBe(2);
    expect(sample(page.body, 'enclave_answer_duration_seconds_bucket{le="+Inf",surface="api"}')).toBe(2);
  });

  it("times each document once as it settles, by outcome", () => {
    expect(page.body).toContain("# TYPE enclave_ingest_duration_seconds histogram");
    expect(sample(page.body, 'enclave_ingest_duration_seconds_count{outcome="ready"}')).toBe(1);
    expect(sample(page.body, 'enclave_ingest_duration_seconds_count{outcome="empty_document"}')).toBe(1);
  });

  it("reads the queue, dead jobs and open tenant files when scraped", () => {
    expect(sample(page.body, "enclave_job_queue_depth")).toBe(0);
    expect(sample(page.body, "enclave_jobs_dead")).toBe(1);
    // Both organisations' files were opened (one indexed and asked, the other asked).
    expect(sample(page.body, "enclave_tenant_databases_open")).toBe(2);
  });

  it("names no tenant, document or person", () => {
    for (const secret of [a.tenantId, b.tenantId, documentId, missingId, a.email, b.email]) {
      expect(page.body).not.toContain(secret);
    }
    expect(page.body).not.toMatch(/tenant_?id/i);
  });
});

describe("GET /metrics with METRICS_TOKEN, beside Slack", () => {
  const token = "scrape-token-0123456789";
  let h: SlackHarness;

  beforeAll(async () => {
    h = await startSlackHarness(
      (fake) => ({ SLACK_BOT_TOKEN: fake.addTeam({ id: "T0METRICS", name: "Metrics" }).botToken }),
      { METRICS_TOKEN: token },
    );
  });

  afterAll(async () => {
    await h?.stop();
  });

  it("refuses a scrape without the token or with a wrong one", async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong-token" },
      { authorization: `Bearer ${token}x` },
      { authorization: token },
    ];
    for (const headers of attempts) {
      const res = await scrape(h.server.url, headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(JSON.parse(res.body)).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
      expect(res.body).not.toContain("enclave_");
    }
  });

  it("serves the page with the token, Bolt's routes counted by their paths", async () => {
    const challenge = await h.slack.event({ type: "url_verification", token: "t", challenge: "c-123" });
    expect(challenge.status).toBe(200);
    expect((await h.slack.event({ type: "url_verification", challenge: "x" }, { omitHeaders: true })).status).toBe(401);
    const res = await scrape(h.server.url, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(sample(res.body, 'enclave_http_requests_total{route="/slack/events",method="POST",status="200"}')).toBe(1);
    expect(sample(res.body, 'enclave_http_requests_total{route="/slack/events",method="POST",status="401"}')).toBe(1);
    // The refused scrapes are requests like any other.
    expect(sample(res.body, 'enclave_http_requests_total{route="/metrics",method="GET",status="401"}')).toBe(4);
  });
});
