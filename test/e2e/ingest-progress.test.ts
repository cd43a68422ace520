import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiClient, newOrganisation, startTestServer } from "../support/server.js";
import { longPdf } from "../unit/ingest/pdf-fixtures.js";

/**
 * A long PDF reports how far its parse has come while it is indexed (`progress` on the document), on
 * both shapes (`ingest-progress.aws.test.ts`): the figures only grow, name the page count, and are
 * gone once the document is ready.
 */
const PAGES = 1500;

let client: ApiClient;
let stop: () => Promise<void>;

beforeAll(async () => {
  if (process.env.ENCLAVE_TEST_SHAPE === "aws") {
    const { startAwsStack } = await import("../support/aws-stack.js");
    const { startLambdaApp } = await import("../support/lambda.js");
    const { installBedrockMock } = await import("../support/fake-bedrock.js");
    const bedrock = installBedrockMock({ dimensions: 256 });
    const stack = await startAwsStack();
    const app = await startLambdaApp(stack.env);
    client = (
      await newOrganisation(app.baseUrl, "Long Reads", {
        transport: app.fetch,
        confirmationCode: async (email) => stack.cognito.codeFor(email) ?? "",
      })
    ).client;
    stop = async () => {
      await app.stop();
      await stack.stop();
      bedrock.restore();
    };
  } else {
    const server = await startTestServer();
    client = (await newOrganisation(server.url, "Long Reads")).client;
    stop = () => server.stop();
  }
}, 120_000);

afterAll(async () => {
  await stop?.();
});

describe("a long PDF being indexed", () => {
  it("reports pages done out of its page count while indexing, and no progress once ready", async () => {
    const upload = await client.upload("annual report.pdf", await longPdf(PAGES), "application/pdf");
    expect(upload.status).toBe(202);
    const id = upload.json.document.id;
    const seen: { pages_done: number; pages_total: number }[] = [];
    let doc: any;
    const deadline = Date.now() + 120_000;
    for (;;) {
      doc = (await client.call("GET", `/api/documents/${id}`)).json;
      if (doc.status === "indexing" && doc.progress) seen.push(doc.progress);
      if (doc.status !== "indexing" && doc.status !== "queued") break;
      if (Date.now() > deadline) throw new Error(`still ${doc.status} after two minutes`);
      await new Promise((r) => setTimeout(r, 40));
    }
    expect(doc.status).toBe("ready");
    expect(doc.pages).toBe(PAGES);
    expect(doc.progress).toBeUndefined();
    // The parse took long enough to be watched, and what was shown made sense.
    expect(seen.length).toBeGreaterThan(0);
    for (const p of seen) {
      expect(p.pages_total).toBe(PAGES);
      expect(p.pages_done).toBeGreaterThanOrEqual(0);
      expect(p.pages_done).toBeLessThanOrEqual(PAGES);
    }
    const done = seen.map((p) => p.pages_done);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    // Not "0 pages" for the whole parse: the count moved while it ran.
    expect(Math.max(...done)).toBeGreaterThan(0);
    // The list says the same as the document.
    const listed = (await client.call("GET", "/api/documents")).json.documents.find((d: any) => d.id === id);
    expect(listed).toMatchObject({ status: "ready", pages: PAGES });
    expect(listed.progress).toBeUndefined();
  }, 180_000);
});
