import { describe, expect, it } from "vitest";
import { PrometheusMetrics } from "../../src/adapters/local/prometheus-metrics.js";

/** The value of one sample line of a Prometheus text page, e.g. `name{a="b"}`. */
function sample(body: string, series: string): number | undefined {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("PrometheusMetrics", () => {
  it("renders counters and histograms in the Prometheus text format", async () => {
    const metrics = new PrometheusMetrics();
    metrics.httpRequest({ route: "/api/documents/:id", method: "GET", status: 200, seconds: 0.02 });
    metrics.httpRequest({ route: "/api/documents/:id", method: "GET", status: 200, seconds: 0.03 });
    metrics.httpRequest({ route: "/api/documents/:id", method: "GET", status: 404, seconds: 0.01 });
    metrics.question({ surface: "api", outcome: "answered", seconds: 1.5 });
    metrics.question({ surface: "slack_dm", outcome: "no_context", seconds: 0.2 });
    metrics.ingest({ outcome: "ready", seconds: 3 });
    metrics.ingest({ outcome: "no_text_layer", seconds: 0.4 });

    const page = await metrics.render();
    expect(page.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = page.body;
    expect(body).toContain("# TYPE enclave_http_requests_total counter");
    expect(sample(body, 'enclave_http_requests_total{route="/api/documents/:id",method="GET",status="200"}')).toBe(2);
    expect(sample(body, 'enclave_http_requests_total{route="/api/documents/:id",method="GET",status="404"}')).toBe(1);
    expect(sample(body, 'enclave_http_request_duration_seconds_count{route="/api/documents/:id",method="GET"}')).toBe(
      3,
    );
    expect(sample(body, 'enclave_questions_total{surface="api",outcome="answered"}')).toBe(1);
    expect(sample(body, 'enclave_questions_total{surface="slack_dm",outcome="no_context"}')).toBe(1);
    expect(body).toContain("# TYPE enclave_answer_duration_seconds histogram");
    expect(sample(body, 'enclave_answer_duration_seconds_bucket{le="1",surface="api"}')).toBe(0);
    expect(sample(body, 'enclave_answer_duration_seconds_bucket{le="2.5",surface="api"}')).toBe(1);
    expect(sample(body, 'enclave_answer_duration_seconds_sum{surface="api"}')).toBe(1.5);
    expect(sample(body, 'enclave_ingest_duration_seconds_count{outcome="ready"}')).toBe(1);
    expect(sample(body, 'enclave_ingest_duration_seconds_count{outcome="no_text_layer"}')).toBe(1);
  });

  it("reads the gauges when the page is rendered", async () => {
    let jobs = { queued: 3, running: 1, dead: 2 };
    let open = 5;
    const metrics = new PrometheusMetrics({ jobs: () => jobs, openTenantDatabases: () => open });
    let body = (await metrics.render()).body;
    expect(body).toContain("# TYPE enclave_job_queue_depth gauge");
    expect(sample(body, "enclave_job_queue_depth")).toBe(4);
    expect(sample(body, "enclave_jobs_dead")).toBe(2);
    expect(sample(body, "enclave_tenant_databases_open")).toBe(5);

    jobs = { queued: 0, running: 0, dead: 7 };
    open = 1;
    body = (await metrics.render()).body;
    expect(sample(body, "enclave_job_queue_depth")).toBe(0);
    expect(sample(body, "enclave_jobs_dead")).toBe(7);
    expect(sample(body, "enclave_tenant_databases_open")).toBe(1);
  });

  it("still renders the page when a figure cannot be read", async () => {
    let busy = false;
    const metrics = new PrometheusMetrics({
      jobs: () => {
        if (busy) throw new Error("SQLITE_BUSY");
        return { queued: 2, running: 0, dead: 0 };
      },
    });
    await metrics.render();
    busy = true;
    metrics.question({ surface: "web", outcome: "answered", seconds: 0.1 });
    const body = (await metrics.render()).body;
    expect(sample(body, 'enclave_questions_total{surface="web",outcome="answered"}')).toBe(1);
    expect(sample(body, "enclave_job_queue_depth")).toBe(2);
  });

  it("keeps a registry per instance: two never count each other", async () => {
    const first = new PrometheusMetrics();
    const second = new PrometheusMetrics();
    first.question({ surface: "api", outcome: "answered", seconds: 0.1 });
    first.question({ surface: "api", outcome: "answered", seconds: 0.1 });
    second.question({ surface: "api", outcome: "answered", seconds: 0.1 });
    expect(sample((await first.render()).body, 'enclave_questions_total{surface="api",outcome="answered"}')).toBe(2);
    expect(sample((await second.render()).body, 'enclave_questions_total{surface="api",outcome="answered"}')).toBe(1);
    expect(sample((await new PrometheusMetrics().render()).body, "enclave_questions_total")).toBeUndefined();
  });

  it("adds the process's own figures when asked, in every instance", async () => {
    const plain = (await new PrometheusMetrics().render()).body;
    expect(plain).not.toContain("process_cpu_user_seconds_total");
    for (const metrics of [
      new PrometheusMetrics({}, { processMetrics: true }),
      new PrometheusMetrics({}, { processMetrics: true }),
    ]) {
      const body = (await metrics.render()).body;
      expect(body).toContain("process_cpu_user_seconds_total");
      expect(body).toContain("nodejs_heap_size_used_bytes");
      expect(body).toContain("# TYPE enclave_http_requests_total counter");
    }
  });
});
