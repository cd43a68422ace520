import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChatCompletionRequest, type FakeOpenAi, startFakeOpenAi } from "../support/fake-openai.js";
import { newOrganisation, startTestServer, type TestServer, waitForDocument } from "../support/server.js";

/**
 * CHAT_MODEL=openai end to end: the real embedded server answering through an OpenAI-compatible
 * model server (a fake one that checks every request against the documented shape).
 */

const AURORA = {
  file: "Aurora Travel Policy.txt",
  title: "Aurora Travel Policy",
  text: "Travel policy for Aurora staff.\nHotel stays in capital cities are reimbursed up to 240 euros per night.\nEconomy class is required for flights shorter than six hours.",
  fact: "240 euros",
};
const GLOBEX = {
  file: "Globex Travel Rules.txt",
  title: "Globex Travel Rules",
  text: "Travel rules for Globex employees.\nHotel stays in capital cities are reimbursed up to 180 dollars per night.\nBusiness class needs a director's approval.",
  fact: "180 dollars",
};
const QUESTION = "How much is reimbursed for hotel stays in capital cities?";

const settings = (fake: FakeOpenAi) => ({
  CHAT_MODEL: "openai",
  OPENAI_BASE_URL: fake.baseUrl,
  OPENAI_MODEL: "tiny",
  OPENAI_TIMEOUT_MS: "2000",
  OPENAI_MAX_RETRIES: "1",
});

type Organisation = Awaited<ReturnType<typeof newOrganisation>>;

async function organisationWith(server: TestServer, name: string, doc: typeof AURORA) {
  const org = await newOrganisation(server.url, name);
  const upload = await org.client.upload(doc.file, doc.text, "text/plain");
  expect(upload.status).toBe(202);
  const ready = await waitForDocument(org.client, upload.json.document.id);
  expect(ready.status).toBe("ready");
  return { ...org, docId: upload.json.document.id as string };
}

/** The requests the fake saw while `run` ran. */
async function requestsDuring(fake: FakeOpenAi, run: () => Promise<unknown>): Promise<ChatCompletionRequest[]> {
  const before = fake.calls.length;
  await run();
  return fake.calls.slice(before) as ChatCompletionRequest[];
}

const toolPassages = (requests: ChatCompletionRequest[]) =>
  requests.flatMap((r) =>
    r.messages.flatMap((m) =>
      m.role === "tool" && typeof m.content === "string"
        ? (JSON.parse(m.content) as { passages: { title: string; text: string }[] }).passages
        : [],
    ),
  );

describe("answers through an OpenAI-compatible model server", () => {
  let fake: FakeOpenAi;
  let server: TestServer;
  let aurora: Organisation & { docId: string };
  let globex: Organisation & { docId: string };

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    server = await startTestServer(settings(fake));
    aurora = await organisationWith(server, "Aurora", AURORA);
    globex = await organisationWith(server, "Globex", GLOBEX);
  });
  afterAll(async () => {
    await server?.stop();
    await fake?.close();
  });

  it("answers with a citation of the organisation's document after a tool call round trip", async () => {
    let res: { status: number; json: any } = { status: 0, json: undefined };
    const requests = await requestsDuring(fake, async () => {
      res = await aurora.client.call("POST", "/api/ask", { question: QUESTION });
    });
    expect(res.status).toBe(200);
    expect(res.json.outcome).toBe("answered");
    expect(res.json.answer).toContain(AURORA.fact);
    expect(res.json.answer).toMatch(/\[1\]/);
    expect(res.json.answer).not.toMatch(/no language model/i);
    expect(res.json.sources[0]).toMatchObject({ n: 1, document_id: aurora.docId, title: AURORA.title });

    // The model asked to search, got the tenant's passages back as a tool result, then answered.
    expect(requests.length).toBe(2);
    expect(requests[0]?.model).toBe("tiny");
    expect(requests[0]?.tools?.map((t) => t.function.name)).toEqual(["search_documents"]);
    const passages = toolPassages(requests);
    expect(passages.length).toBeGreaterThan(0);
    expect(passages.every((p) => p.title === AURORA.title)).toBe(true);
    expect(JSON.stringify(requests)).not.toMatch(/Globex|180 dollars/);

    const record = await aurora.client.call("GET", `/api/audit/${res.json.audit_id}`);
    expect(record.json).toMatchObject({ outcome: "answered", model: "tiny", question: QUESTION });
  });

  it("never gives one organisation's passages to the model answering another", async () => {
    let res: { status: number; json: any } = { status: 0, json: undefined };
    const requests = await requestsDuring(fake, async () => {
      res = await globex.client.call("POST", "/api/ask", { question: QUESTION });
    });
    expect(res.json.outcome).toBe("answered");
    expect(res.json.answer).toContain(GLOBEX.fact);
    expect(res.json.sources.map((s: { document_id: string }) => s.document_id)).toEqual([globex.docId]);
    expect(toolPassages(requests).every((p) => p.title === GLOBEX.title)).toBe(true);
    // Not in a tool result, not in the prompt, not anywhere in what the model server saw.
    expect(JSON.stringify(requests)).not.toMatch(/Aurora|240 euros/);

    const newcomer = await newOrganisation(server.url, "Initech");
    const empty = await requestsDuring(fake, async () => {
      res = await newcomer.client.call("POST", "/api/ask", { question: QUESTION });
    });
    expect(res.json.outcome).toBe("no_context");
    expect(JSON.stringify(empty)).not.toMatch(/Aurora|240 euros|Globex|180 dollars/);
  });

  it("tells the user the model is unavailable when its server is down, and audits that", async () => {
    fake.down();
    try {
      const res = await aurora.client.call("POST", "/api/ask", { question: QUESTION });
      expect(res.status).toBe(200);
      expect(res.json.outcome).toBe("model_unavailable");
      expect(res.json.answer).toMatch(
        /language model is unavailable right now \(the model server failed with HTTP 503\)/,
      );
      const record = await aurora.client.call("GET", `/api/audit/${res.json.audit_id}`);
      expect(record.json).toMatchObject({ outcome: "model_unavailable", question: QUESTION, model: "tiny" });
    } finally {
      fake.up();
    }
    const again = await aurora.client.call("POST", "/api/ask", { question: QUESTION });
    expect(again.json.outcome).toBe("answered");
  });
});

describe("answers through a model server without tool support", () => {
  let fake: FakeOpenAi;
  let server: TestServer;
  let aurora: Organisation & { docId: string };

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    fake.noTools();
    server = await startTestServer(settings(fake));
    aurora = await organisationWith(server, "Aurora", AURORA);
  });
  afterAll(async () => {
    await server?.stop();
    await fake?.close();
  });

  it("searches first and quotes the passages, still citing them, and stops offering tools", async () => {
    let res: { status: number; json: any } = { status: 0, json: undefined };
    const first = await requestsDuring(fake, async () => {
      res = await aurora.client.call("POST", "/api/ask", { question: QUESTION });
    });
    expect(res.json.outcome).toBe("answered");
    expect(res.json.answer).toContain(AURORA.fact);
    expect(res.json.answer).toMatch(/\[1\]/);
    expect(res.json.sources[0]).toMatchObject({ document_id: aurora.docId, title: AURORA.title });
    // Refused with tools, then asked again with the passages quoted in the question's turn.
    expect(first.map((r) => Boolean(r.tools))).toEqual([true, false]);
    const prompt = first[1]?.messages.at(-1);
    expect(prompt?.role).toBe("user");
    expect(JSON.stringify(prompt?.content)).toContain(AURORA.fact);

    const second = await requestsDuring(fake, async () => {
      res = await aurora.client.call("POST", "/api/ask", { question: "Which flights require economy class?" });
    });
    expect(res.json.outcome).toBe("answered");
    expect(res.json.answer).toMatch(/six hours.*\[1\]/);
    expect(second.map((r) => Boolean(r.tools))).toEqual([false]);
  });
});
