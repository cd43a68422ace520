import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EmfMetrics } from "../../src/adapters/aws/emf-metrics.js";
import type { Logger } from "../../src/ports/logger.js";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

describe("EmfMetrics", () => {
  let lines: Record<string, unknown>[];

  beforeEach(() => {
    // The suites keep metric lines off (vitest.config.ts); these tests read them.
    vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "false");
    lines = [];
    vi.spyOn(process.stdout, "write").mockImplementation(((chunk: string | Uint8Array) => {
      for (const line of String(chunk).split("\n")) if (line.includes('"_aws"')) lines.push(JSON.parse(line));
      return true;
    }) as typeof process.stdout.write);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it("holds samples until flushed, then writes one EMF line per set of dimension values", () => {
    const metrics = new EmfMetrics({ namespace: "Enclave", service: "enclave" }, quiet);
    metrics.httpRequest({ route: "/api/ask", method: "POST", status: 200, seconds: 0.5 });
    metrics.httpRequest({ route: "/api/ask", method: "POST", status: 200, seconds: 0.7 });
    metrics.httpRequest({ route: "/api/ask", method: "POST", status: 429, seconds: 0.01 });
    metrics.question({ surface: "slack_dm", outcome: "answered", seconds: 1.2 });
    metrics.ingest({ outcome: "no_text_layer", seconds: 2 });
    expect(lines).toEqual([]);

    metrics.flush();
    expect(lines).toHaveLength(4);
    const ok = lines.find((l) => l.route === "/api/ask" && l.status === "200");
    expect(ok).toMatchObject({ service: "enclave", method: "POST", HttpRequests: [1, 1] });
    expect(ok?.HttpRequestDuration).toEqual([0.5, 0.7]);
    expect(ok?._aws).toMatchObject({
      CloudWatchMetrics: [{ Namespace: "Enclave", Dimensions: [["service", "route", "method", "status"]] }],
    });
    expect(lines.find((l) => l.status === "429")).toMatchObject({ HttpRequests: 1 });
    expect(lines.find((l) => l.surface === "slack_dm")).toMatchObject({
      outcome: "answered",
      Questions: 1,
      AnswerDuration: 1.2,
    });
    expect(lines.find((l) => l.outcome === "no_text_layer")).toMatchObject({ Ingests: 1, IngestDuration: 2 });

    // Nothing held: nothing written, not even Powertools' "no metrics" warning.
    const written = vi.mocked(process.stdout.write).mock.calls.length;
    metrics.flush();
    expect(vi.mocked(process.stdout.write).mock.calls.length).toBe(written);
  });

  it("keeps the dimensions of a busy group across Powertools' own flush at 100 values", () => {
    const metrics = new EmfMetrics({ namespace: "Enclave", service: "enclave" }, quiet);
    for (let i = 0; i < 150; i++) metrics.httpRequest({ route: "/health", method: "GET", status: 200, seconds: 0.001 });
    metrics.flush();
    const counted = lines.reduce((n, l) => n + (Array.isArray(l.HttpRequests) ? l.HttpRequests.length : 1), 0);
    expect(counted).toBe(150);
    for (const line of lines) expect(line).toMatchObject({ route: "/health", method: "GET", status: "200" });
  });
});
