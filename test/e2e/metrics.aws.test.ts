import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type AwsStack, startAwsStack } from "../support/aws-stack.js";
import { installBedrockMock } from "../support/fake-bedrock.js";
import { type LambdaApp, startLambdaApp } from "../support/lambda.js";
import { newOrganisation, waitForDocument } from "../support/server.js";

const POLICY = `Vacation policy.
Every employee gets 27 days of paid vacation per year. Unused vacation days carry over to the next year, up to five days.`;

interface EmfLine {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
  [key: string]: unknown;
}

/**
 * The AWS shape writes CloudWatch metrics as embedded-metric-format JSON lines on stdout, once per
 * invocation of either function. Captured here as Lambda's log agent would read them.
 */
describe("CloudWatch metrics (EMF) from the Lambda functions", () => {
  let bedrock: ReturnType<typeof installBedrockMock>;
  let stack: AwsStack;
  let app: LambdaApp;
  let org: Awaited<ReturnType<typeof newOrganisation>>;
  let documentId: string;
  const written: string[] = [];
  const emf = (): { line: string; json: EmfLine }[] =>
    written
      .flatMap((chunk) => chunk.split("\n"))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => ({ line, json: JSON.parse(line) as EmfLine }));
  const withMetric = (name: string, dimensions: Record<string, string>) =>
    emf().filter(
      ({ json }) =>
        json._aws.CloudWatchMetrics.some((m) => m.Metrics.some((x) => x.Name === name)) &&
        Object.entries(dimensions).every(([k, v]) => json[k] === v),
    );

  beforeAll(async () => {
    // The other AWS-shape suites keep the functions' metric lines off (vitest.config.ts); these read them.
    vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "false");
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, "write").mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8");
      written.push(text);
      // Only the metric lines are kept off the test output.
      return text.includes('"_aws"') ? true : write(chunk as string, ...(rest as []));
    }) as typeof process.stdout.write);
    bedrock = installBedrockMock({ dimensions: 256 });
    stack = await startAwsStack();
    app = await startLambdaApp(stack.env);
    org = await newOrganisation(app.baseUrl, "Northwind", {
      transport: app.fetch,
      confirmationCode: async (email) => stack.cognito.codeFor(email) ?? "",
    });
    const upload = await org.client.upload("vacation-policy.txt", POLICY, "text/plain");
    expect(upload.status).toBe(202);
    documentId = upload.json.document.id;
    expect(await waitForDocument(org.client, documentId)).toMatchObject({ status: "ready" });
    const asked = await org.client.call("POST", "/api/ask", { question: "How many vacation days do employees get?" });
    expect(asked.json.outcome).toBe("answered");
  });

  afterAll(async () => {
    await app?.stop();
    await stack?.stop();
    bedrock?.restore();
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it("writes each request's metrics by the end of its invocation, by route pattern", async () => {
    const before = withMetric("HttpRequests", { route: "/api/documents/:id", status: "200" }).length;
    const res = await org.client.call("GET", `/api/documents/${documentId}`);
    expect(res.status).toBe(200);
    const lines = withMetric("HttpRequests", { route: "/api/documents/:id", method: "GET", status: "200" });
    expect(lines.length).toBe(before + 1);
    const last = lines.at(-1)?.json;
    expect(last?._aws.CloudWatchMetrics[0]).toEqual({
      Namespace: "Enclave",
      Dimensions: [["service", "route", "method", "status"]],
      Metrics: [
        { Name: "HttpRequests", Unit: "Count" },
        { Name: "HttpRequestDuration", Unit: "Seconds" },
      ],
    });
    expect(last).toMatchObject({ service: "enclave", HttpRequests: 1 });
    expect(typeof last?.HttpRequestDuration).toBe("number");
  });

  it("counts questions from the HTTP function and indexing from the worker", () => {
    const questions = withMetric("Questions", { surface: "api", outcome: "answered" });
    expect(questions).toHaveLength(1);
    expect(questions[0]?.json._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([["service", "surface", "outcome"]]);
    expect(typeof questions[0]?.json.AnswerDuration).toBe("number");
    const ingests = withMetric("Ingests", { outcome: "ready" });
    expect(ingests).toHaveLength(1);
    expect(ingests[0]?.json).toMatchObject({ Ingests: 1, service: "enclave" });
  });

  it("names no tenant, document or person in any metric", () => {
    expect(emf().length).toBeGreaterThan(3);
    for (const { line, json } of emf()) {
      for (const secret of [org.tenantId, documentId, org.email]) expect(line).not.toContain(secret);
      for (const m of json._aws.CloudWatchMetrics) expect(m.Dimensions.flat()).not.toContain("tenant");
    }
  });

  it("has no /metrics page: CloudWatch is where the figures are", async () => {
    const res = await app.fetch(`${app.baseUrl}/metrics`);
    expect(res.status).toBe(404);
    expect(withMetric("HttpRequests", { route: "unmatched", status: "404" }).length).toBeGreaterThanOrEqual(1);
  });
});
