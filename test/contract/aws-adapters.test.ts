import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  UpdateTableCommand,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { Pinecone } from "@pinecone-database/pinecone";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BedrockChatModel, toConverseInput } from "../../src/adapters/aws/bedrock-chat-model.js";
import { BedrockEmbedder } from "../../src/adapters/aws/bedrock-embedder.js";
import { bootstrapAws, ensureUnsettledIndex, tableDefinition } from "../../src/adapters/aws/bootstrap.js";
import { DynamoTenantDirectory } from "../../src/adapters/aws/dynamo-tenant-directory.js";
import { type KmsApi, KmsTokenSealer, kmsSealerFromConfig } from "../../src/adapters/aws/token-sealer.js";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import {
  type ChunkMetadata,
  PineconeChunkIndex,
  retryOn429,
} from "../../src/adapters/pinecone/pinecone-chunk-index.js";
import { TokenCipher } from "../../src/adapters/shared/token-cipher.js";
import { loadConfig } from "../../src/config/config.js";
import { AppError } from "../../src/domain/errors.js";
import { newTenantId } from "../../src/domain/tenant.js";
import type { ChatRequest } from "../../src/ports/chat-model.js";
import type { ChunkIndex } from "../../src/ports/chunk-index.js";
import { AnswerService } from "../../src/services/answer-question.js";
import { type Emulator, startDynalite } from "../support/emulators/dynalite.js";
import { type FakeBedrockHttp, startFakeBedrockHttp } from "../support/emulators/fake-bedrock-http.js";
import { type FakePinecone, startFakePinecone } from "../support/emulators/fake-pinecone.js";
import { converseRequest, installBedrockMock } from "../support/fake-bedrock.js";
import { SEARCH_TOOL } from "./chat-model.contract.js";
import { chunksOf, orgReader } from "./chunk-index.contract.js";
import { describeTenantDirectoryContract } from "./tenant-directory.contract.js";

const creds = { accessKeyId: "a", secretAccessKey: "b" };
const silent = new JsonLogger("silent");
const capture = () => {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    logger: new JsonLogger("debug", {}, (line) => lines.push(JSON.parse(line) as Record<string, unknown>)),
  };
};

let bedrockHttp: FakeBedrockHttp;
let pinecone: FakePinecone;
let dynalite: Emulator;

beforeAll(async () => {
  [bedrockHttp, pinecone, dynalite] = await Promise.all([
    startFakeBedrockHttp(),
    startFakePinecone("pc-key"),
    startDynalite(),
  ]);
});
afterAll(async () => {
  await Promise.all([bedrockHttp?.stop(), pinecone?.stop(), dynalite?.stop()]);
});

const httpBedrock = (maxAttempts = 3) =>
  new BedrockRuntimeClient({
    region: "us-east-1",
    endpoint: bedrockHttp.endpoint,
    credentials: creds,
    maxAttempts,
    retryMode: "standard",
  });

describe("BedrockEmbedder (Titan Text Embeddings v2)", () => {
  it("sends the documented Titan v2 body, one text per request, truncated to the model's limit", async () => {
    const bedrock = installBedrockMock({ dimensions: 512 });
    try {
      const embedder = new BedrockEmbedder(new BedrockRuntimeClient({ region: "us-east-1", credentials: creds }), {
        modelId: "amazon.titan-embed-text-v2:0",
        dimensions: 512,
        normalize: false,
      });
      const vectors = await embedder.embed(["first passage", "   ", "x".repeat(60_000)], "document");
      expect(vectors.map((v) => v.length)).toEqual([512, 512, 512]);
      expect(bedrock.calls.invoke).toHaveLength(3);
      expect(bedrock.calls.invoke[0]).toEqual({
        inputText: "first passage",
        dimensions: 512,
        normalize: false,
        embeddingTypes: ["float"],
      });
      expect(bedrock.calls.invoke[1]?.inputText).toBe(" ");
      expect(bedrock.calls.invoke[2]?.inputText).toHaveLength(50_000);
      const input = bedrock.mock.calls()[0]?.args[0].input as { modelId?: string };
      expect(input.modelId).toBe("amazon.titan-embed-text-v2:0");
    } finally {
      bedrock.restore();
    }
  });

  it("keeps at most `concurrency` requests in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const client = {
      send: async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 10));
        inFlight--;
        return { body: new TextEncoder().encode(JSON.stringify({ embedding: new Array(256).fill(0.1) })) };
      },
    } as unknown as BedrockRuntimeClient;
    const embedder = new BedrockEmbedder(client, {
      modelId: "m",
      dimensions: 256,
      normalize: true,
      concurrency: 3,
      maxBatchSize: 16,
    });
    expect(
      await embedder.embed(
        Array.from({ length: 16 }, (_, i) => `t${i}`),
        "document",
      ),
    ).toHaveLength(16);
    expect(most).toBe(3);
  });

  it("retries throttling with the SDK's backoff, then reports search as unavailable", async () => {
    const embedder = new BedrockEmbedder(httpBedrock(3), {
      modelId: "amazon.titan-embed-text-v2:0",
      dimensions: 256,
      normalize: true,
    });
    bedrockHttp.fail("invoke", "throttling", 2);
    let start = bedrockHttp.calls.length;
    expect(await embedder.embed(["hello"], "query")).toHaveLength(1);
    const tries = bedrockHttp.calls.slice(start);
    expect(tries).toHaveLength(3);
    expect((tries[2]?.at ?? 0) - (tries[0]?.at ?? 0)).toBeGreaterThan(0);
    bedrockHttp.fail("invoke", "throttling", 10);
    start = bedrockHttp.calls.length;
    const error = await embedder.embed(["hello"], "query").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({
      code: "dependency_unavailable",
      retryable: true,
      message: "Search is unavailable right now. Please try again in a few minutes.",
    });
    expect(bedrockHttp.calls.length - start).toBe(3);
    bedrockHttp.clearFaults();
  });
});

describe("BedrockChatModel (Converse)", () => {
  const conversation: ChatRequest = {
    system: "Answer from the documents only.",
    messages: [
      { role: "assistant", content: [{ type: "text", text: "(an earlier bot message)" }] },
      { role: "user", content: [{ type: "text", text: "Hello" }] },
      { role: "user", content: [{ type: "text", text: "How many vacation days?" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Searching." },
          { type: "tool_use", id: "tooluse_1", name: "search_documents", input: { query: "vacation days" } },
        ],
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            toolUseId: "tooluse_1",
            content: { passages: [{ n: 1, title: "Handbook", page: 2, text: "27 days." }] },
          },
        ],
      },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "tooluse_2", name: "search_documents", input: { query: "" } }],
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            toolUseId: "tooluse_2",
            content: { error: "unknown tool or bad input" },
            isError: true,
          },
        ],
      },
    ],
    tools: [SEARCH_TOOL],
  };

  it("maps the conversation to the documented Converse shape with toolConfig, toolUse and toolResult blocks", () => {
    const input = toConverseInput(conversation, { modelId: "amazon.nova-micro-v1:0", maxTokens: 700 });
    expect(converseRequest.safeParse(input).success).toBe(true);
    expect(input.system).toEqual([{ text: "Answer from the documents only." }]);
    expect(input.toolConfig).toEqual({
      tools: [
        {
          toolSpec: {
            name: "search_documents",
            description: SEARCH_TOOL.description,
            inputSchema: { json: SEARCH_TOOL.inputSchema },
          },
        },
      ],
    });
    expect(input.inferenceConfig).toMatchObject({ maxTokens: 700 });
    expect(input.messages?.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant", "user"]);
    expect(input.messages?.[0]?.content).toEqual([{ text: "Hello" }, { text: "How many vacation days?" }]);
    expect(input.messages?.[1]?.content?.[1]).toEqual({
      toolUse: { toolUseId: "tooluse_1", name: "search_documents", input: { query: "vacation days" } },
    });
    expect(input.messages?.[2]?.content?.[0]).toEqual({
      toolResult: {
        toolUseId: "tooluse_1",
        content: [{ json: { passages: [{ n: 1, title: "Handbook", page: 2, text: "27 days." }] } }],
        status: "success",
      },
    });
    expect(input.messages?.[4]?.content?.[0]).toMatchObject({
      toolResult: { toolUseId: "tooluse_2", status: "error" },
    });
  });

  it("replays earlier tool turns as text on a turn without tools (Converse needs toolConfig for tool blocks)", () => {
    const input = toConverseInput({ ...conversation, tools: [] }, { modelId: "amazon.nova-micro-v1:0" });
    const parsed = converseRequest.safeParse(input);
    expect(parsed.error?.issues ?? []).toEqual([]);
    expect(input.toolConfig).toBeUndefined();
    expect(JSON.stringify(input.messages)).not.toMatch(/toolUse|toolResult/);
    expect(JSON.stringify(input.messages)).toContain("27 days.");
  });

  it("maps the reply back: tool_use blocks with their ids, and stop reasons", async () => {
    const bedrock = installBedrockMock({ dimensions: 256 });
    try {
      const model = new BedrockChatModel(
        new BedrockRuntimeClient({ region: "us-east-1", credentials: creds }),
        { modelId: "amazon.nova-micro-v1:0" },
        silent,
      );
      const first = await model.converse({
        system: "s",
        messages: [{ role: "user", content: [{ type: "text", text: "vacation days?" }] }],
        tools: [SEARCH_TOOL],
      });
      expect(first.stopReason).toBe("tool_use");
      expect(first.message.content).toEqual([
        { type: "text", text: "Let me search the documents." },
        {
          type: "tool_use",
          id: expect.stringMatching(/^tooluse_/),
          name: "search_documents",
          input: { query: "vacation days?" },
        },
      ]);
      bedrock.mock.on((await import("@aws-sdk/client-bedrock-runtime")).ConverseCommand).resolves({
        output: { message: { role: "assistant", content: [{ text: "cut off" }] } },
        stopReason: "max_tokens",
      } as never);
      expect(
        (
          await model.converse({
            system: "s",
            messages: [{ role: "user", content: [{ type: "text", text: "x" }] }],
            tools: [],
          })
        ).stopReason,
      ).toBe("max_tokens");
    } finally {
      bedrock.restore();
    }
  });

  it("retries throttling and 5xx, then says the model is unavailable; a malformed request is not retried", async () => {
    const model = new BedrockChatModel(httpBedrock(3), { modelId: "amazon.nova-micro-v1:0" }, silent);
    const ask: ChatRequest = {
      system: "s",
      messages: [{ role: "user", content: [{ type: "text", text: "vacation days?" }] }],
      tools: [SEARCH_TOOL],
    };
    bedrockHttp.fail("converse", "throttling", 1);
    bedrockHttp.fail("converse", "unavailable", 1);
    expect((await model.converse(ask)).stopReason).toBe("tool_use");
    bedrockHttp.fail("converse", "throttling", 10);
    const start = bedrockHttp.calls.length;
    await expect(model.converse(ask)).rejects.toMatchObject({ code: "model_unavailable", retryable: true });
    expect(bedrockHttp.calls.length - start).toBe(3);
    bedrockHttp.clearFaults();
    bedrockHttp.fail("converse", "validation", 1);
    const before = bedrockHttp.calls.length;
    await expect(model.converse(ask)).rejects.toMatchObject({ code: "internal" });
    expect(bedrockHttp.calls.length - before).toBe(1);
    bedrockHttp.clearFaults();
  });

  it("runs the answer service's agent loop: a search_documents call, its result, then a cited answer", async () => {
    const bedrock = installBedrockMock({ dimensions: 256 });
    try {
      const tenant = newTenantId();
      const index: ChunkIndex = {
        upsert: async () => {},
        setAccess: async () => {},
        deleteDocument: async () => {},
        deleteTenant: async () => {},
        search: async () => [
          {
            tenantId: tenant,
            chunkId: "d1#0",
            documentId: "d1",
            title: "Handbook",
            page: 2,
            text: "Employees receive 27 vacation days per year.",
            score: 0.9,
          },
        ],
      };
      const audited: unknown[] = [];
      const audit = {
        append: async (r: unknown) => void audited.push(r),
        list: async () => ({ records: [] }),
        get: async () => undefined,
        setFeedback: async () => false,
        deleteBefore: async () => 0,
        deleteTenant: async () => {},
      };
      const model = new BedrockChatModel(
        new BedrockRuntimeClient({ region: "us-east-1", credentials: creds }),
        { modelId: "amazon.nova-micro-v1:0" },
        silent,
      );
      const answers = new AnswerService(
        { access: { readable: async () => ["org"] }, catalog: { get: async () => undefined }, index, model, audit },
        { topK: 5, maxSteps: 4, maxQuestionChars: 500 },
        silent,
      );
      const result = await answers.ask({
        actor: { tenantId: tenant, principal: "u", principals: ["u"], role: "member", surface: "api" },
        audience: { kind: "asker" },
        question: "How many vacation days do employees get per year?",
      });
      expect(result).toMatchObject({ outcome: "answered", model: "amazon.nova-micro-v1:0" });
      expect(result.answer).toBe("Employees receive 27 vacation days per year. [1]");
      expect(result.sources[0]).toMatchObject({ n: 1, documentId: "d1", page: 2 });
      expect(bedrock.calls.converse).toHaveLength(2);
      const second = bedrock.calls.converse[1];
      expect(JSON.stringify(second)).toContain('"toolResult"');
      expect(JSON.stringify(second)).not.toContain(tenant);
      expect(audited).toHaveLength(1);
    } finally {
      bedrock.restore();
    }
  });
});

describe("PineconeChunkIndex isolation", () => {
  const build = (logger = silent) => {
    const pc = new Pinecone({
      apiKey: "pc-key",
      maxRetries: 2,
      fetchApi: retryOn429({ maxRetries: 2, baseDelayMs: 10 }),
    });
    const client = new BedrockRuntimeClient({ region: "us-east-1", credentials: creds });
    const embedder = new BedrockEmbedder(client, {
      modelId: "amazon.titan-embed-text-v2:0",
      dimensions: 256,
      normalize: true,
    });
    return new PineconeChunkIndex(pc.index<ChunkMetadata>({ host: pinecone.endpoint }), embedder, logger);
  };

  it("writes to the tenant's namespace with its metadata, and queries namespace AND tenant filter", async () => {
    const bedrock = installBedrockMock({ dimensions: 256 });
    try {
      const index = build();
      const a = newTenantId();
      pinecone.requests.length = 0;
      await index.upsert(a, chunksOf(a, "doc-1", "Handbook", ["Employees receive 27 vacation days per year."]));
      await index.search(a, "vacation days", { k: 3, readable: ["org", "owner:u-1"] });
      const upsert = pinecone.requests.find((r) => r.path === "/vectors/upsert");
      const query = pinecone.requests.find((r) => r.path === "/query");
      expect(upsert?.namespace).toBe(a);
      expect(query).toEqual({
        method: "POST",
        path: "/query",
        namespace: a,
        filter: { tenant_id: { $eq: a }, access: { $in: ["org", "owner:u-1"] } },
      });
      expect(pinecone.vectors(a)[0]).toMatchObject({
        id: "doc-1#0",
        metadata: { tenant_id: a, document_id: "doc-1", title: "Handbook", page: 1, access: ["org"] },
      });
      pinecone.requests.length = 0;
      expect(await index.search(a, "vacation days", { k: 3, readable: [] })).toEqual([]);
      expect(pinecone.requests).toEqual([]);
    } finally {
      bedrock.restore();
    }
  });

  it("drops and logs a match whose tenant differs (the third lock), even when the backend leaks", async () => {
    const bedrock = installBedrockMock({ dimensions: 256 });
    const { lines, logger } = capture();
    try {
      const index = build(logger);
      const a = newTenantId();
      const b = newTenantId();
      await index.upsert(b, chunksOf(b, "doc-b", "B secrets", ["Tenant B's vacation policy grants 40 days."]));
      await index.upsert(a, chunksOf(a, "doc-a", "A handbook", ["Tenant A gets 27 vacation days."]));
      pinecone.leakAcrossNamespaces = true;
      const hits = await index.search(a, "vacation days policy", orgReader(10));
      pinecone.leakAcrossNamespaces = false;
      expect(hits.map((h) => h.documentId)).toEqual(["doc-a"]);
      const security = lines.filter((l) => String(l.msg).startsWith("SECURITY"));
      expect(security.length).toBeGreaterThan(0);
      expect(security[0]).toMatchObject({ level: "error", expectedTenant: a, returnedTenant: b });
    } finally {
      pinecone.leakAcrossNamespaces = false;
      bedrock.restore();
    }
  });

  it("drops and logs a match of the tenant whose access the reader does not hold, even when the backend leaks", async () => {
    const bedrock = installBedrockMock({ dimensions: 256 });
    const { lines, logger } = capture();
    try {
      const index = build(logger);
      const a = newTenantId();
      await index.upsert(a, chunksOf(a, "doc-open", "Handbook", ["Everyone gets 27 vacation days."]));
      await index.upsert(a, chunksOf(a, "doc-mine", "Notes", ["My vacation days plan."], ["owner:u-x"]));
      pinecone.leakAcrossNamespaces = true;
      const hits = await index.search(a, "vacation days plan", orgReader(50));
      pinecone.leakAcrossNamespaces = false;
      expect(hits.map((h) => h.documentId)).toEqual(["doc-open"]);
      const unreadable = lines.filter((l) => String(l.msg).startsWith("SECURITY") && l.id === "doc-mine#0");
      expect(unreadable).toHaveLength(1);
      expect(unreadable[0]).toMatchObject({ level: "error", tenantId: a });
    } finally {
      pinecone.leakAcrossNamespaces = false;
      bedrock.restore();
    }
  });

  it("setAccess rewrites the access metadata of each of the document's vectors, and nothing else", async () => {
    const bedrock = installBedrockMock({ dimensions: 256 });
    try {
      const index = build();
      const a = newTenantId();
      await index.upsert(a, chunksOf(a, "doc-1", "Handbook", ["One.", "Two.", "Three."]));
      await index.upsert(a, chunksOf(a, "doc-10", "Other", ["Ten."]));
      pinecone.requests.length = 0;
      await index.setAccess(a, "doc-1", ["owner:u-1", "conv:T1:C1", "owner:u-1"]);
      expect(pinecone.requests.filter((r) => r.path === "/vectors/update")).toHaveLength(3);
      expect(pinecone.requests.every((r) => r.namespace === a)).toBe(true);
      const byId = new Map(pinecone.vectors(a).map((v) => [v.id, v.metadata]));
      for (const id of ["doc-1#0", "doc-1#1", "doc-1#2"])
        expect(byId.get(id)).toMatchObject({
          title: "Handbook",
          document_id: "doc-1",
          access: ["conv:T1:C1", "owner:u-1"],
        });
      expect(byId.get("doc-10#0")).toMatchObject({ access: ["org"] });
    } finally {
      bedrock.restore();
    }
  });

  it("deleteTenant deletes the tenant's whole namespace, takes a missing one for done, and reports an outage", async () => {
    const bedrock = installBedrockMock({ dimensions: 256 });
    try {
      const index = build();
      const a = newTenantId();
      const b = newTenantId();
      await index.upsert(a, chunksOf(a, "doc-1", "Handbook", ["One.", "Two."]));
      await index.upsert(b, chunksOf(b, "doc-1", "Handbook", ["One."]));
      pinecone.requests.length = 0;
      await index.deleteTenant(a);
      expect(pinecone.requests).toEqual([{ method: "POST", path: "/vectors/delete", namespace: a }]);
      const listed = await new Pinecone({ apiKey: "pc-key" }).index({ host: pinecone.endpoint }).listNamespaces();
      const names = (listed.namespaces ?? []).map((n) => n.name);
      expect(names).toContain(b);
      expect(names).not.toContain(a);
      expect(pinecone.vectors(b)).toHaveLength(1);
      // Pinecone answers 404 "Namespace not found" now: nothing is left, which is what was asked.
      await index.deleteTenant(a);
      // One try and the client's two retries (maxRetries: 2), all answered 503.
      pinecone.fail(503, 3, "/vectors/delete");
      const tries = pinecone.requests.length;
      await expect(index.deleteTenant(b)).rejects.toMatchObject({ code: "dependency_unavailable", retryable: true });
      expect(pinecone.requests.length - tries).toBe(3);
      await index.deleteTenant(b);
      expect(pinecone.vectors(b)).toEqual([]);
    } finally {
      bedrock.restore();
    }
  });
});

describe("S3ObjectStore.deleteTenant", () => {
  async function mocked() {
    const s3 = await import("@aws-sdk/client-s3");
    const { S3ObjectStore } = await import("../../src/adapters/aws/s3-object-store.js");
    const { TenantClients } = await import("../../src/adapters/aws/tenant-credentials.js");
    const client = new s3.S3Client({ region: "us-east-1", credentials: creds });
    const mock = mockClient(client);
    const store = new S3ObjectStore(new TenantClients(client, () => client, undefined), { bucket: "docs" });
    return { s3, mock, store, client };
  }

  it("deletes every version and delete marker under the tenant's prefix, 1,000 to a request", async () => {
    const { s3, mock, store, client } = await mocked();
    const a = newTenantId();
    const prefix = `tenants/${a}/`;
    const versions = Array.from({ length: 998 }, (_, i) => ({
      Key: `${prefix}documents/d${i}/original`,
      VersionId: `v${i}`,
    }));
    mock
      .on(s3.ListObjectVersionsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: `${prefix}documents/d997/original`,
        NextVersionIdMarker: "v997",
        Versions: versions,
        DeleteMarkers: [
          { Key: `${prefix}documents/d0/original`, VersionId: "m0" },
          { Key: `${prefix}x.txt`, VersionId: "m1" },
          { Key: `${prefix}y.txt`, VersionId: "m2" },
        ],
      })
      .resolvesOnce({ IsTruncated: false, Versions: [{ Key: `${prefix}z.txt`, VersionId: "null" }] });
    mock.on(s3.DeleteObjectsCommand).resolves({});
    await store.deleteTenant(a);
    const lists = mock.commandCalls(s3.ListObjectVersionsCommand).map((c) => c.args[0].input);
    expect(lists.map((l) => [l.Prefix, l.KeyMarker, l.VersionIdMarker])).toEqual([
      [prefix, undefined, undefined],
      [prefix, `${prefix}documents/d997/original`, "v997"],
    ]);
    const deletes = mock.commandCalls(s3.DeleteObjectsCommand).map((c) => c.args[0].input.Delete?.Objects ?? []);
    expect(deletes.map((d) => d.length)).toEqual([1000, 1, 1]);
    expect(deletes.flat().every((o) => o.Key?.startsWith(prefix) && o.VersionId)).toBe(true);
    expect(deletes.flat().map((o) => o.VersionId)).toContain("m2");
    expect(mock.commandCalls(s3.ListObjectsV2Command)).toHaveLength(0);
    client.destroy();
  });

  it("falls back to the current objects only where versions cannot be listed, and fails on anything else", async () => {
    const { s3, mock, store, client } = await mocked();
    const a = newTenantId();
    const refuse = (name: string) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 403 } });
    mock.on(s3.ListObjectVersionsCommand).rejects(refuse("MethodNotAllowed"));
    mock.on(s3.ListObjectsV2Command).resolves({ Contents: [{ Key: `tenants/${a}/x.txt` }] });
    mock.on(s3.DeleteObjectsCommand).resolves({});
    await store.deleteTenant(a);
    expect(mock.commandCalls(s3.DeleteObjectsCommand)[0]?.args[0].input.Delete?.Objects).toEqual([
      { Key: `tenants/${a}/x.txt` },
    ]);

    mock.reset();
    mock.on(s3.ListObjectVersionsCommand).rejects(refuse("AccessDenied"));
    await expect(store.deleteTenant(a)).rejects.toMatchObject({ name: "AccessDenied" });
    expect(mock.commandCalls(s3.ListObjectsV2Command)).toHaveLength(0);

    mock.reset();
    mock.on(s3.ListObjectVersionsCommand).resolves({ Versions: [{ Key: `tenants/${a}/x.txt`, VersionId: "v1" }] });
    mock.on(s3.DeleteObjectsCommand).resolves({ Errors: [{ Key: `tenants/${a}/x.txt`, Code: "InternalError" }] });
    await expect(store.deleteTenant(a)).rejects.toMatchObject({ code: "dependency_unavailable", retryable: true });
    client.destroy();
  });
});

describe("deleteKeys (DynamoDB BatchWriteItem)", () => {
  it("sends at most 25 keys a request, each key once, and resends what DynamoDB left unprocessed", async () => {
    const { deleteKeys } = await import("../../src/adapters/aws/dynamo-batch.js");
    const sent: { Key: { pk: string; sk: string } }[][] = [];
    const db = {
      send: async (command: {
        input: { RequestItems: Record<string, { DeleteRequest: { Key: { pk: string; sk: string } } }[]> };
      }) => {
        const requests = command.input.RequestItems.t ?? [];
        sent.push(requests.map((r) => r.DeleteRequest));
        // The first request comes back with two of its deletes unprocessed (throttled), once.
        return sent.length === 1 ? { UnprocessedItems: { t: requests.slice(0, 2) } } : {};
      },
    } as unknown as DynamoDBDocumentClient;
    const keys = Array.from({ length: 30 }, (_, i) => ({ pk: "p", sk: `s${i % 27}` }));
    await deleteKeys(db, "t", keys);
    expect(sent.map((r) => r.length)).toEqual([25, 2, 2]);
    expect(sent[1]).toEqual(sent[0]?.slice(0, 2));
    expect(new Set(sent.flat().map((r) => r.Key.sk)).size).toBe(27);
  });
});

class FakeKms {
  readonly key = new TokenCipher(randomBytes(32));
  readonly calls: { op: string; context: Record<string, string> }[] = [];
  api(): KmsApi {
    const self = this;
    class EncryptCommand {
      constructor(
        readonly input: { KeyId: string; Plaintext: Uint8Array; EncryptionContext: Record<string, string> },
      ) {}
    }
    class DecryptCommand {
      constructor(
        readonly input: { KeyId: string; CiphertextBlob: Uint8Array; EncryptionContext: Record<string, string> },
      ) {}
    }
    return {
      EncryptCommand,
      DecryptCommand,
      client: {
        async send(command: unknown) {
          if (command instanceof EncryptCommand) {
            self.calls.push({ op: "encrypt", context: command.input.EncryptionContext });
            const sealed = self.key.encrypt(
              Buffer.from(command.input.Plaintext).toString("utf8"),
              JSON.stringify(command.input.EncryptionContext),
            );
            return { CiphertextBlob: Buffer.from(sealed) };
          }
          const c = command as InstanceType<typeof DecryptCommand>;
          self.calls.push({ op: "decrypt", context: c.input.EncryptionContext });
          return {
            Plaintext: Buffer.from(
              self.key.decrypt(
                Buffer.from(c.input.CiphertextBlob).toString("utf8"),
                JSON.stringify(c.input.EncryptionContext),
              ),
            ),
          };
        },
      },
    };
  }
}

const kms = new FakeKms();
describeTenantDirectoryContract("DynamoTenantDirectory with KMS-sealed bot tokens", async () => {
  const table = `directory-${randomBytes(4).toString("hex")}`;
  const config = loadConfig({
    AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
    AWS_ENDPOINT_URL_S3: "http://127.0.0.1:1",
    AWS_ENDPOINT_URL_SQS: "http://127.0.0.1:1",
    AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: "http://127.0.0.1:1",
    AWS_ACCESS_KEY_ID: "a",
    AWS_SECRET_ACCESS_KEY: "b",
    DIRECTORY_TABLE: table,
  });
  const raw = new DynamoDBClient({ region: "us-east-1", endpoint: dynalite.endpoint, credentials: creds });
  await raw.send(new CreateTableCommand(tableDefinition(config.DIRECTORY_TABLE)));
  const adapter = new DynamoTenantDirectory(
    DynamoDBDocumentClient.from(raw),
    table,
    new KmsTokenSealer(kms.api(), "arn:aws:kms:us-east-1:000000000000:key/test"),
  );
  return {
    adapter,
    rawInstallation: async (teamId) => {
      const item = (
        await raw.send(
          new GetItemCommand({ TableName: table, Key: { pk: { S: `install#${teamId}` }, sk: { S: "install" } } }),
        )
      ).Item;
      expect(item?.botToken?.S).toMatch(/^kms1\./);
      return JSON.stringify(item);
    },
    cleanup: async () => raw.destroy(),
  };
});

describe("KmsTokenSealer", () => {
  it("binds a sealed token to its row through the KMS encryption context", async () => {
    const sealer = new KmsTokenSealer(kms.api(), "key");
    const sealed = await sealer.seal("xoxb-secret", "slack-bot-token:T1");
    expect(sealed).toMatch(/^kms1\./);
    expect(await sealer.open(sealed, "slack-bot-token:T1")).toBe("xoxb-secret");
    await expect(sealer.open(sealed, "slack-bot-token:T2")).rejects.toThrow();
    expect(kms.calls.at(-2)?.context).toEqual({ purpose: "enclave-secret", binding: "slack-bot-token:T1" });
    const legacy = new TokenCipher(randomBytes(32));
    const withLegacy = new KmsTokenSealer(kms.api(), "key", {
      seal: async () => "",
      open: async (s, c) => legacy.decrypt(s, c),
    });
    expect(await withLegacy.open(legacy.encrypt("xoxb-old", "ctx"), "ctx")).toBe("xoxb-old");
  });
});

/** A loopback endpoint speaking the AWS JSON 1.1 protocol (KMS, Secrets Manager): `X-Amz-Target` in, JSON out. */
async function fakeAwsJson(answer: (target: string, input: Record<string, unknown>) => unknown) {
  const targets: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      targets.push(target);
      res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify(answer(target, JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}"))));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    targets,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("kmsSealerFromConfig", () => {
  it("seals and opens through @aws-sdk/client-kms at AWS_ENDPOINT_URL_KMS, with the row as encryption context", async () => {
    // Ciphertext = the context and the plaintext, so a context mismatch is visible.
    const kmsEndpoint = await fakeAwsJson((target, input) => {
      const context = JSON.stringify(input.EncryptionContext);
      if (target === "TrentService.Encrypt") {
        const blob = JSON.stringify({ context, plain: input.Plaintext });
        return { KeyId: input.KeyId, CiphertextBlob: Buffer.from(blob).toString("base64") };
      }
      const sealed = JSON.parse(Buffer.from(String(input.CiphertextBlob), "base64").toString("utf8"));
      expect(sealed.context).toBe(context);
      return { KeyId: input.KeyId, Plaintext: sealed.plain };
    });
    try {
      const sealer = await kmsSealerFromConfig(
        loadConfig({
          AWS_ENDPOINT_URL_KMS: kmsEndpoint.endpoint,
          AWS_ACCESS_KEY_ID: "a",
          AWS_SECRET_ACCESS_KEY: "b",
          KMS_KEY_ID: "arn:aws:kms:us-east-1:000000000000:key/test",
        }),
      );
      const sealed = await sealer.seal("xoxb-kms", "slack-bot-token:T9");
      expect(sealed).toMatch(/^kms1\./);
      expect(await sealer.open(sealed, "slack-bot-token:T9")).toBe("xoxb-kms");
      expect(kmsEndpoint.targets).toEqual(["TrentService.Encrypt", "TrentService.Decrypt"]);
    } finally {
      await kmsEndpoint.stop();
    }
  });
});

describe("aws-bootstrap", () => {
  it("adds the recovery sweep's index to a documents table made before it, on demand or provisioned", async () => {
    const sent = mockClient(DynamoDBClient);
    try {
      sent.on(DescribeTableCommand).resolves({
        Table: { TableName: "old-docs", TableStatus: "ACTIVE", GlobalSecondaryIndexes: [] },
      });
      sent.on(UpdateTableCommand).resolves({});
      const db = new DynamoDBClient({ region: "us-east-1", credentials: creds });
      const printed: string[] = [];
      const onDemand = { TableName: "old-docs", BillingModeSummary: { BillingMode: "PAY_PER_REQUEST" as const } };
      await ensureUnsettledIndex(db, "old-docs", onDemand, (l) => printed.push(l));
      const update = sent.commandCalls(UpdateTableCommand)[0]?.args[0].input;
      expect(update?.GlobalSecondaryIndexUpdates).toEqual([
        {
          Create: {
            IndexName: "unsettled",
            KeySchema: [
              { AttributeName: "unsettled", KeyType: "HASH" },
              { AttributeName: "updatedAt", KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "ALL" },
          },
        },
      ]);
      expect(printed).toEqual(["added index unsettled to table old-docs"]);
      const provisioned = {
        TableName: "old-docs",
        ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 2 },
      };
      await ensureUnsettledIndex(db, "old-docs", provisioned, () => {});
      expect(
        sent.commandCalls(UpdateTableCommand)[1]?.args[0].input.GlobalSecondaryIndexUpdates?.[0]?.Create,
      ).toMatchObject({
        ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 2 },
      });
      // Already there: nothing to do.
      await ensureUnsettledIndex(db, "old-docs", { GlobalSecondaryIndexes: [{ IndexName: "unsettled" }] }, () => {});
      expect(sent.commandCalls(UpdateTableCommand)).toHaveLength(2);
    } finally {
      sent.restore();
    }
  });

  it("creates the tables, bucket, queues and user pool through the CLI, and leaves them alone the second time", async () => {
    const { startS3rver, allowS3AccessKey } = await import("../support/emulators/s3rver.js");
    const { startFakeSqs } = await import("../support/emulators/fake-sqs.js");
    const { startCognitoLocal } = await import("../support/emulators/cognito-local.js");
    const [s3, sqs, cognito] = await Promise.all([startS3rver(), startFakeSqs(), startCognitoLocal()]);
    allowS3AccessKey("AKIDBOOT");
    try {
      const suffix = randomBytes(3).toString("hex");
      const env = {
        ...process.env,
        AWS_ACCESS_KEY_ID: "AKIDBOOT",
        AWS_SECRET_ACCESS_KEY: "secret",
        AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_SQS: sqs.endpoint,
        AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: cognito.endpoint,
        S3_BUCKET: `boot-${suffix}`,
        DOCUMENTS_TABLE: `boot-docs-${suffix}`,
        DIRECTORY_TABLE: `boot-dir-${suffix}`,
        AUDIT_TABLE: `boot-audit-${suffix}`,
        JOBS_TABLE: `boot-jobs-${suffix}`,
        SQS_QUEUE_URL: `${sqs.endpoint}/000000000000/boot-${suffix}`,
        BACKEND: "aws",
        NODE_NO_WARNINGS: "1",
      };
      const run = promisify(execFile);
      const first = await run("node_modules/.bin/tsx", ["src/entrypoints/cli.ts", "aws-bootstrap"], {
        env,
        timeout: 60_000,
      });
      expect(first.stdout).toContain(`created table boot-docs-${suffix}`);
      const raw = new DynamoDBClient({ region: "us-east-1", endpoint: dynalite.endpoint, credentials: creds });
      const described = await raw.send(new DescribeTableCommand({ TableName: env.DOCUMENTS_TABLE }));
      expect(described.Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(["unsettled"]);
      raw.destroy();
      expect(first.stdout).toContain(`created bucket boot-${suffix}`);
      expect(first.stdout).toMatch(/COGNITO_USER_POOL_ID=\S+/);
      expect(first.stdout).toMatch(/COGNITO_SIGNUP_CLIENT_SECRET=\S+/);
      expect(first.stdout).toContain(`SQS_QUEUE_URL=${sqs.endpoint}/000000000000/boot-${suffix}`);
      const poolId = /COGNITO_USER_POOL_ID=(\S+)/.exec(first.stdout)?.[1] ?? "";
      const second = await bootstrapAws(loadConfig({ ...env, BACKEND: "local", COGNITO_USER_POOL_ID: poolId }));
      expect(second.COGNITO_USER_POOL_ID).toBe(poolId);
    } finally {
      await Promise.all([s3.stop(), sqs.stop(), cognito.stop()]);
    }
  }, 90_000);
});

describe("Lambda entry points", () => {
  it("export `handler` and build nothing until the first invocation", async () => {
    const http = await import("../../src/entrypoints/lambda-http.js");
    const worker = await import("../../src/entrypoints/lambda-worker.js");
    expect(typeof http.handler).toBe("function");
    expect(typeof worker.handler).toBe("function");
  });

  it("resolve *_SECRET_ARN settings before configuration; a plain value wins", async () => {
    const { resolveSecretEnv } = await import("../../src/entrypoints/lambda-secrets.js");
    const asked: string[] = [];
    const env = await resolveSecretEnv(
      {
        SLACK_SIGNING_SECRET_ARN: "arn:slack",
        PINECONE_API_KEY_SECRET_ARN: "arn:pinecone",
        LINK_TOKEN_SECRET: "plain-wins",
        LINK_TOKEN_SECRET_ARN: "arn:link",
        COGNITO_SIGNUP_CLIENT_SECRET_ARN: "arn:cognito",
      },
      async (arn) => {
        asked.push(arn);
        return arn === "arn:pinecone" ? '{"value":"pc-json"}' : `${arn}-value\n`;
      },
    );
    expect(env).toMatchObject({
      SLACK_SIGNING_SECRET: "arn:slack-value",
      PINECONE_API_KEY: "pc-json",
      LINK_TOKEN_SECRET: "plain-wins",
      COGNITO_SIGNUP_CLIENT_SECRET: "arn:cognito-value",
    });
    expect(asked.sort()).toEqual(["arn:cognito", "arn:pinecone", "arn:slack"]);
  });

  it("read secrets with @aws-sdk/client-secrets-manager by default", async () => {
    const secrets = await fakeAwsJson((_target, input) => ({
      ARN: input.SecretId,
      SecretString: input.SecretId === "arn:link" ? '{"value":"link-from-sm"}' : "signing-from-sm",
    }));
    vi.stubEnv("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets.endpoint);
    vi.stubEnv("AWS_ACCESS_KEY_ID", "a");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "b");
    try {
      const { resolveSecretEnv } = await import("../../src/entrypoints/lambda-secrets.js");
      const env = await resolveSecretEnv({
        AWS_REGION: "us-east-1",
        SLACK_SIGNING_SECRET_ARN: "arn:slack",
        LINK_TOKEN_SECRET_ARN: "arn:link",
      });
      expect(env).toMatchObject({ SLACK_SIGNING_SECRET: "signing-from-sm", LINK_TOKEN_SECRET: "link-from-sm" });
      expect(secrets.targets).toEqual(["secretsmanager.GetSecretValue", "secretsmanager.GetSecretValue"]);
    } finally {
      vi.unstubAllEnvs();
      await secrets.stop();
    }
  });
});

describe("DynamoAuditLog retention", () => {
  it("sets the TTL attribute `expires_at` AUDIT_RETENTION_DAYS after the exchange, and none when retention is off", async () => {
    const { DynamoAuditLog } = await import("../../src/adapters/aws/dynamo-audit-log.js");
    const { TenantClients } = await import("../../src/adapters/aws/tenant-credentials.js");
    const { auditRecord } = await import("./audit-log.contract.js");
    const raw = new DynamoDBClient({ region: "us-east-1", endpoint: dynalite.endpoint, credentials: creds });
    const table = `audit-${randomBytes(4).toString("hex")}`;
    await raw.send(new CreateTableCommand(tableDefinition(table)));
    const clients = new TenantClients(
      DynamoDBDocumentClient.from(raw),
      () => DynamoDBDocumentClient.from(raw),
      undefined,
    );
    const tenant = newTenantId();
    const at = new Date("2025-06-01T12:00:00Z");
    const kept = auditRecord(tenant, at);
    const forever = auditRecord(tenant, at);
    await new DynamoAuditLog(clients, table, { retentionDays: 30 }).append(kept);
    await new DynamoAuditLog(clients, table, { retentionDays: 0 }).append(forever);
    const item = async (id: string) =>
      (await raw.send(new GetItemCommand({ TableName: table, Key: { pk: { S: `${tenant}#audit` }, sk: { S: id } } })))
        .Item;
    expect(Number((await item(kept.id))?.expires_at?.N)).toBe(Math.floor(at.getTime() / 1000) + 30 * 86_400);
    expect((await item(forever.id))?.expires_at).toBeUndefined();
    raw.destroy();
  });
});

describe("DynamoDocumentCatalog with records from before visibility", () => {
  it("reads them with the legacy rule, and dedupes new files against them only within their scope", async () => {
    const { PutCommand } = await import("@aws-sdk/lib-dynamodb");
    const { DynamoDocumentCatalog } = await import("../../src/adapters/aws/dynamo-document-catalog.js");
    const { TenantClients } = await import("../../src/adapters/aws/tenant-credentials.js");
    const { newDoc } = await import("./document-catalog.contract.js");
    const raw = new DynamoDBClient({ region: "us-east-1", endpoint: dynalite.endpoint, credentials: creds });
    const table = `docs-${randomBytes(4).toString("hex")}`;
    await raw.send(new CreateTableCommand(tableDefinition(table)));
    const db = DynamoDBDocumentClient.from(raw);
    const catalog = new DynamoDocumentCatalog(new TenantClients(db, () => db, undefined), table);
    const tenant = newTenantId();
    const now = new Date().toISOString();
    const old = [
      { id: "d-upload", sha: "1".repeat(64), source: { kind: "upload" } },
      { id: "d-channel", sha: "2".repeat(64), source: { kind: "slack", teamId: "T1", fileId: "F1", channelId: "C1" } },
      { id: "d-dm", sha: "3".repeat(64), source: { kind: "slack", teamId: "T1", fileId: "F2" } },
    ];
    for (const d of old) {
      const record = { tenantId: tenant, title: d.id, contentType: "text/plain", sizeBytes: 1, sha256: d.sha };
      const fields = { ...record, status: "ready", pages: 1, chunks: 1, source: d.source, uploadedBy: "u-old" };
      const item = { pk: `${tenant}#doc`, sk: d.id, ...fields, createdAt: now, updatedAt: now };
      await db.send(new PutCommand({ TableName: table, Item: item }));
      await db.send(new PutCommand({ TableName: table, Item: { pk: `${tenant}#hash`, sk: d.sha, docId: d.id } }));
    }
    expect((await catalog.get(tenant, "d-upload"))?.visibility).toEqual({ kind: "organisation" });
    expect((await catalog.get(tenant, "d-channel"))?.visibility).toEqual({
      kind: "slack_conversation",
      conversations: [{ teamId: "T1", channelId: "C1", public: false }],
    });
    expect((await catalog.get(tenant, "d-dm"))?.visibility).toEqual({ kind: "private", owner: "u-old" });

    const sameUpload = await catalog.create(tenant, newDoc({ sha256: "1".repeat(64) }));
    expect(sameUpload).toMatchObject({ created: false, document: { id: "d-upload" } });
    const overChannel = await catalog.create(tenant, newDoc({ sha256: "2".repeat(64) }));
    expect(overChannel.created).toBe(true);
    expect(await catalog.create(tenant, newDoc({ sha256: "2".repeat(64) }))).toMatchObject({
      created: false,
      document: { id: overChannel.document.id },
    });
    expect((await catalog.get(tenant, "d-channel"))?.title).toBe("d-channel");

    await catalog.setVisibility(tenant, "d-dm", { kind: "organisation" });
    expect((await catalog.get(tenant, "d-dm"))?.visibility).toEqual({ kind: "organisation" });
    expect(await catalog.delete(tenant, "d-upload")).toBe(true);
    expect((await catalog.create(tenant, newDoc({ sha256: "1".repeat(64) }))).created).toBe(true);
    raw.destroy();
  });
});
