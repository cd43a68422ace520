import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SqsJobQueue } from "../../src/adapters/aws/sqs-job-queue.js";
import { type AwsStack, startAwsStack } from "../support/aws-stack.js";
import { type FakeBedrockHttp, startFakeBedrockHttp } from "../support/emulators/fake-bedrock-http.js";
import { FAULTS } from "../support/emulators/fault-proxy.js";
import { type LambdaApp, startLambdaApp } from "../support/lambda.js";
import { newOrganisation, waitForDocument } from "../support/server.js";

const handbook = readFileSync(
  new URL("../../examples/documents/northwind-employee-handbook.md", import.meta.url),
  "utf8",
);
const QUESTION = "How many vacation days do employees get per year?";

/**
 * Throttling and 5xx injected into S3, DynamoDB, Bedrock and Pinecone, through the Lambda handlers: the
 * SDKs' retries absorb short bursts; a lasting outage reaches the user as a reason; no audit record and
 * no document is lost; a job that keeps failing ends in the dead-letter state with its reason.
 */
let stack: AwsStack;
let bedrock: FakeBedrockHttp;
let app: LambdaApp;
let org: Awaited<ReturnType<typeof newOrganisation>>;

const dynamoCall = (operation: string, table: string) => (r: { target?: string }, body: Buffer) =>
  r.target === `DynamoDB_20120810.${operation}` && body.toString("utf8").includes(`"TableName":"${table}"`);

async function auditCount(): Promise<number> {
  const res = await org.client.call("GET", "/api/audit?limit=200");
  expect(res.status).toBe(200);
  return res.json.records.length;
}

beforeAll(async () => {
  bedrock = await startFakeBedrockHttp();
  stack = await startAwsStack({
    CHAT_MODEL: "bedrock",
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: bedrock.endpoint,
    AWS_MAX_ATTEMPTS: "3",
  });
  app = await startLambdaApp(stack.env);
  org = await newOrganisation(app.baseUrl, "Northwind", {
    transport: app.fetch,
    confirmationCode: async (email) => stack.cognito.codeFor(email) ?? "",
  });
  const upload = await org.client.upload("Employee Handbook.md", handbook, "text/markdown");
  expect((await waitForDocument(org.client, upload.json.document.id)).status).toBe("ready");
});

afterAll(async () => {
  await app?.stop();
  await stack?.stop();
  await bedrock?.stop();
});

beforeEach(() => {
  stack.proxies.s3.clear();
  stack.proxies.dynamodb.clear();
  bedrock.clearFaults();
});

describe("S3", () => {
  it("retries throttling on upload, then reports a lasting outage with a reason and keeps what was stored", async () => {
    stack.proxies.s3.inject(FAULTS.s3SlowDown, 2, (r) => r.method === "PUT" && r.path.includes("/tenants/"));
    const ok = await org.client.upload(
      "travel.txt",
      "Travel: the hotel limit in capital cities is 180 euros per night.",
    );
    expect(ok.status).toBe(202);
    expect(stack.proxies.s3.injected()).toBe(2);
    expect((await waitForDocument(org.client, ok.json.document.id)).status).toBe("ready");

    stack.proxies.s3.inject(FAULTS.s3Internal, 100, (r) => r.method === "PUT" && r.path.includes("/tenants/"));
    const failed = await org.client.upload(
      "parking.txt",
      "Parking spaces are assigned by the facilities team every quarter.",
    );
    expect(failed.status).toBe(503);
    expect(failed.json.error).toEqual({
      code: "dependency_unavailable",
      message: "File storage is unavailable right now. Please try again in a few minutes.",
    });
    stack.proxies.s3.clear();
    const titles = (await org.client.call("GET", "/api/documents")).json.documents.map(
      (d: { title: string }) => d.title,
    );
    expect(titles).toEqual(expect.arrayContaining(["Employee Handbook", "travel"]));
    expect(titles).not.toContain("parking");
  });
});

describe("DynamoDB", () => {
  it("retries throttled audit writes: the answer and its audit record both arrive", async () => {
    const before = await auditCount();
    stack.proxies.dynamodb.inject(FAULTS.dynamoThrottling, 2, dynamoCall("PutItem", stack.config.AUDIT_TABLE));
    const res = await org.client.call("POST", "/api/ask", { question: QUESTION });
    expect(res.status).toBe(200);
    expect(res.json.outcome).toBe("answered");
    expect(stack.proxies.dynamodb.injected()).toBe(2);
    expect(await auditCount()).toBe(before + 1);
    expect((await org.client.call("GET", `/api/audit/${res.json.audit_id}`)).json.question).toBe(QUESTION);
  });

  it("gives no unaudited answer when the audit log stays unavailable, and says why", async () => {
    const before = await auditCount();
    stack.proxies.dynamodb.inject(FAULTS.dynamo500, 100, dynamoCall("PutItem", stack.config.AUDIT_TABLE));
    const res = await org.client.call("POST", "/api/ask", { question: QUESTION });
    expect(res.status).toBe(503);
    expect(res.json.error).toEqual({
      code: "dependency_unavailable",
      message: "The audit log is unavailable right now. Please try again in a few minutes.",
    });
    stack.proxies.dynamodb.clear();
    expect(await auditCount()).toBe(before);
  });
});

describe("Bedrock", () => {
  it("retries throttled Converse and Titan calls, then answers", async () => {
    bedrock.fail("converse", "throttling", 2);
    bedrock.fail("invoke", "throttling", 1);
    const res = await org.client.call("POST", "/api/ask", { question: QUESTION });
    expect(res.status).toBe(200);
    expect(res.json.outcome).toBe("answered");
    expect(res.json.answer).toMatch(/27 days.*\[1\]/);
    const record = await org.client.call("GET", `/api/audit/${res.json.audit_id}`);
    expect(record.json).toMatchObject({ outcome: "answered", model: "amazon.nova-micro-v1:0" });
  });

  it("tells the user the model is unavailable when it stays so, and audits that", async () => {
    bedrock.fail("converse", "unavailable", 100);
    const started = bedrock.calls.length;
    const res = await org.client.call("POST", "/api/ask", { question: QUESTION });
    expect(res.status).toBe(200);
    expect(res.json.outcome).toBe("model_unavailable");
    expect(res.json.answer).toMatch(/language model is unavailable/);
    expect(bedrock.calls.slice(started).filter((c) => c.operation === "converse")).toHaveLength(3);
    const record = await org.client.call("GET", `/api/audit/${res.json.audit_id}`);
    expect(record.json).toMatchObject({ outcome: "model_unavailable", question: QUESTION });
  });
});

describe("Pinecone", () => {
  it("retries 429 and 5xx from the data plane, then reports a lasting outage with a reason", async () => {
    stack.pinecone.fail(429, 2, "/query");
    stack.pinecone.fail(503, 1, "/query");
    const ok = await org.client.call("POST", "/api/ask", { question: QUESTION });
    expect(ok.status).toBe(200);
    expect(ok.json.outcome).toBe("answered");

    stack.pinecone.fail(503, 100, "/query");
    const before = await auditCount();
    const down = await org.client.call("POST", "/api/ask", { question: QUESTION });
    expect(down.status).toBe(503);
    expect(down.json.error).toEqual({
      code: "dependency_unavailable",
      message: "Search is unavailable right now. Please try again in a few minutes.",
    });
    stack.pinecone.fail(503, 0);
    expect(await auditCount()).toBe(before);
  });

  it("marks a document failed with a reason when indexing keeps failing, keeping the record", async () => {
    stack.pinecone.fail(503, 1000, "/vectors/upsert");
    const upload = await org.client.upload(
      "badges.txt",
      "Visitor badges are collected at the front desk every evening.",
    );
    expect(upload.status).toBe(202);
    const doc = await waitForDocument(org.client, upload.json.document.id, 60_000);
    expect(doc).toMatchObject({ status: "failed", error: { code: "internal" } });
    // The reason the last try gave, written for the user: what was down, and to try again.
    expect(doc.error.message).toMatch(/unavailable right now\. Please try again/);
  });
});

describe("jobs", () => {
  it("puts a job that keeps failing in the dead-letter state with its reason, and its message in the dead-letter queue", async () => {
    // Every write of the document's status fails: the ingest job cannot even start its work.
    stack.proxies.dynamodb.inject(FAULTS.dynamo500, 10_000, dynamoCall("UpdateItem", stack.config.DOCUMENTS_TABLE));
    const upload = await org.client.upload(
      "lockers.txt",
      "Lockers on the third floor are emptied on the last Friday of each month.",
    );
    expect(upload.status).toBe(202);
    const queue = (await app.worker.container()).runner as SqsJobQueue;
    const deadline = Date.now() + 60_000;
    let dead: Awaited<ReturnType<SqsJobQueue["deadJobs"]>>[number] | undefined;
    while (!dead && Date.now() < deadline) {
      dead = (await queue.deadJobs()).find((j) => j.type === "ingest" && j.tenantId === org.tenantId);
      if (!dead) await new Promise((r) => setTimeout(r, 100));
    }
    expect(dead).toBeDefined();
    expect(dead?.attempt).toBe(Number(stack.env.JOB_MAX_ATTEMPTS));
    expect(dead?.lastError).toMatch(/document catalogue is unavailable/);
    const dlqName = `${stack.config.SQS_QUEUE_URL?.split("/").at(-1)}-dlq`;
    const inDlq = async () => stack.sqs.messages(dlqName).some((m) => m.body.includes(upload.json.document.id));
    for (let i = 0; i < 100 && !(await inDlq()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await inDlq()).toBe(true);
    stack.proxies.dynamodb.clear();
    // The document is still listed (not lost), waiting for an operator to redrive its job.
    expect((await org.client.call("GET", `/api/documents/${upload.json.document.id}`)).status).toBe(200);
  });
});
