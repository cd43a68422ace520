import { createHmac } from "node:crypto";
import { Ajv2020, type AnySchema, type ValidateFunction } from "ajv/dist/2020.js";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, type ErrorCode } from "../../src/domain/errors.js";
import { openApiDocument as doc } from "../../src/http/openapi.js";
import {
  type HeaderObject,
  HTTP_METHODS,
  type HttpMethod,
  type OperationObject,
  type Reference,
  type ResponseObject,
} from "../../src/http/openapi-types.js";
import { webRoutes } from "../../src/http/web-routes.js";
import { FakeSlack } from "../support/fake-slack.js";
import { workspaceLinkToken } from "../support/link-tokens.js";
import { startTestServer, type TestServer } from "../support/server.js";

/**
 * The OpenAPI document against the app: (a) it is a well-formed OpenAPI 3.1 document whose references
 * resolve; (b) the routes of the real embedded app (Slack on, over HTTP with OAuth) and the documented
 * operations are the same set; (c) real responses have a documented status, media type, headers and a
 * body that validates against the documented schema, and every documented operation is exercised.
 */

const SIGNING_SECRET = "openapi-signing-secret-0123456789abcdef";
const METRICS_TOKEN = "openapi-metrics-token";
const MAX_FILE_BYTES = 4096;
const QUESTIONS_PER_MINUTE = 4;
const DOC_ID = "https://enclave.test/openapi.json";

type Method = Uppercase<HttpMethod>;

// ---------------------------------------------------------------------------------------------------
// (a) The document's structure: the parts of OpenAPI 3.1 it uses, each closed to unknown keys (bar x-).

const jsonSchema = { $ref: "https://json-schema.org/draft/2020-12/schema" };
const closedObject = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: "object",
  required,
  properties,
  patternProperties: { "^x-": {} },
  additionalProperties: false,
});
const text = { type: "string", minLength: 1 };
const openApi31 = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $defs: {
    reference: closedObject({ $ref: { type: "string", pattern: "^#/" }, summary: text, description: text }, ["$ref"]),
    header: closedObject({ description: text, required: { type: "boolean" }, schema: jsonSchema }, ["schema"]),
    content: {
      type: "object",
      minProperties: 1,
      propertyNames: { pattern: "^[a-z]+/[a-z0-9.+-]+$" },
      additionalProperties: closedObject({ schema: jsonSchema }),
    },
    response: closedObject(
      {
        description: text,
        headers: {
          type: "object",
          additionalProperties: { anyOf: [{ $ref: "#/$defs/header" }, { $ref: "#/$defs/reference" }] },
        },
        content: { $ref: "#/$defs/content" },
      },
      ["description"],
    ),
    parameter: {
      ...closedObject(
        {
          name: text,
          in: { enum: ["path", "query", "header", "cookie"] },
          description: text,
          required: { type: "boolean" },
          schema: jsonSchema,
        },
        ["name", "in", "schema"],
      ),
      // OpenAPI: a path parameter must say it is required.
      anyOf: [
        { properties: { in: { not: { const: "path" } } } },
        { required: ["required"], properties: { required: { const: true } } },
      ],
    },
    operation: closedObject(
      {
        operationId: { type: "string", pattern: "^[A-Za-z][A-Za-z0-9]*$" },
        tags: { type: "array", items: text, minItems: 1 },
        summary: text,
        description: text,
        security: { type: "array", items: { type: "object", additionalProperties: { type: "array", items: text } } },
        parameters: { type: "array", items: { $ref: "#/$defs/parameter" } },
        requestBody: closedObject(
          { description: text, required: { type: "boolean" }, content: { $ref: "#/$defs/content" } },
          ["content"],
        ),
        responses: {
          type: "object",
          minProperties: 1,
          propertyNames: { pattern: "^[1-5][0-9]{2}$" },
          additionalProperties: { $ref: "#/$defs/response" },
        },
      },
      ["operationId", "tags", "summary", "security", "responses"],
    ),
    securityScheme: {
      oneOf: [
        closedObject({ type: { const: "http" }, scheme: { const: "bearer" }, bearerFormat: text, description: text }, [
          "type",
          "scheme",
        ]),
        closedObject(
          { type: { const: "apiKey" }, in: { enum: ["header", "query", "cookie"] }, name: text, description: text },
          ["type", "in", "name"],
        ),
      ],
    },
  },
  ...closedObject(
    {
      openapi: { type: "string", pattern: "^3\\.1\\.[0-9]+$" },
      jsonSchemaDialect: { type: "string", format: "uri" },
      info: closedObject(
        {
          title: text,
          version: { type: "string", pattern: "^[0-9]+\\.[0-9]+\\.[0-9]+" },
          description: text,
          summary: text,
        },
        ["title", "version"],
      ),
      tags: { type: "array", items: closedObject({ name: text, description: text }, ["name"]) },
      paths: {
        type: "object",
        propertyNames: { pattern: "^/" },
        additionalProperties: closedObject(
          Object.fromEntries(HTTP_METHODS.map((m) => [m, { $ref: "#/$defs/operation" }])),
        ),
      },
      components: closedObject({
        schemas: { type: "object", additionalProperties: jsonSchema },
        headers: { type: "object", additionalProperties: { $ref: "#/$defs/header" } },
        securitySchemes: { type: "object", additionalProperties: { $ref: "#/$defs/securityScheme" } },
      }),
    },
    ["openapi", "info", "paths"],
  ),
};

/**
 * Only the formats the document uses; ajv knows none of its own. Not strict for the document itself:
 * ajv compiles its root (`openapi`, `paths`… are no JSON Schema keywords) to resolve a pointer into it.
 * The keywords of its schemas are held to JSON Schema by their TypeScript type (openapi-types.ts).
 */
function newAjv(strict: boolean): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict, strictTypes: false });
  ajv.addFormat("date-time", (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s));
  ajv.addFormat("email", (s: string) => /^[^\s@]+@[^\s@]+$/.test(s));
  ajv.addFormat("uri", (s: string) => URL.canParse(s));
  return ajv;
}

const ajv = newAjv(false);
// The whole document under one id, so that a schema at any pointer compiles with its `#/components` refs.
ajv.addSchema(doc as unknown as AnySchema, DOC_ID, undefined, false);

const pointer = (...segments: string[]) =>
  `#/${segments.map((s) => encodeURIComponent(s.replaceAll("~", "~0").replaceAll("/", "~1"))).join("/")}`;

const validators = new Map<string, ValidateFunction>();
function validatorAt(at: string): ValidateFunction {
  let validate = validators.get(at);
  if (!validate) {
    validate = ajv.compile({ $ref: `${DOC_ID}${at}` });
    validators.set(at, validate);
  }
  return validate;
}

function expectValid(at: string, value: unknown, what: string): void {
  const validate = validatorAt(at);
  const valid = validate(value);
  expect(
    valid,
    `${what} does not match ${at}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 600)}`,
  ).toBe(true);
}

function resolvePointer(ref: string): unknown {
  let node: unknown = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    if (!node || typeof node !== "object" || !(key in node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function* refsIn(node: unknown, at = "#"): Generator<{ ref: string; at: string }> {
  if (Array.isArray(node)) for (const [i, v] of node.entries()) yield* refsIn(v, `${at}/${i}`);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") yield { ref: v, at };
      else yield* refsIn(v, `${at}/${k}`);
    }
  }
}

function* operations(): Generator<{ path: string; method: HttpMethod; op: OperationObject }> {
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (op) yield { path, method, op };
    }
  }
}

const deref = <T>(value: T | Reference): T =>
  "$ref" in (value as object) ? (resolvePointer((value as Reference).$ref) as T) : (value as T);

describe("the OpenAPI document", () => {
  it("is a well-formed OpenAPI 3.1 document whose schemas are JSON Schema 2020-12", () => {
    const structure = newAjv(true);
    const validate = structure.compile(openApi31);
    expect(validate(doc), structure.errorsText(validate.errors)).toBe(true);
    // What GET /openapi.json sends is JSON: nothing (undefined, functions) is lost on the way.
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });

  it("has every $ref resolve inside the document", () => {
    const refs = [...refsIn(doc)];
    expect(refs.length).toBeGreaterThan(50);
    const broken = refs.filter(({ ref }) => !ref.startsWith("#/") || resolvePointer(ref) === undefined);
    expect(broken).toEqual([]);
  });

  it("declares exactly the parameters of each path template, unique operation ids, known tags and schemes", () => {
    const ids = new Set<string>();
    const tags = new Set(doc.tags.map((t) => t.name));
    for (const { path, method, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = (op.parameters ?? [])
        .filter((p) => p.in === "path")
        .map((p) => p.name)
        .sort();
      expect(declared, where).toEqual(templated);
      expect(ids.has(op.operationId), `${where}: operationId ${op.operationId} twice`).toBe(false);
      ids.add(op.operationId);
      for (const tag of op.tags) expect(tags.has(tag), `${where}: tag ${tag}`).toBe(true);
      for (const requirement of op.security)
        for (const scheme of Object.keys(requirement))
          expect(doc.components.securitySchemes[scheme], `${where}: scheme ${scheme}`).toBeDefined();
    }
  });

  it("lists each error code under the status the server sends it with, and compiles every schema", () => {
    for (const { path, method, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        for (const [type, media] of Object.entries(response.content ?? {})) {
          if (media.schema) validatorAt(pointer("paths", path, method, "responses", status, "content", type, "schema"));
          const narrowed = media.schema?.allOf?.[1]?.properties?.error?.properties?.code?.enum;
          if (!narrowed) continue;
          expect(Number(status), `${method} ${path} ${status}`).toBeGreaterThanOrEqual(400);
          for (const code of narrowed as ErrorCode[]) {
            expect(
              new AppError(code, "").status,
              `${method.toUpperCase()} ${path}: ${code} listed under ${status}`,
            ).toBe(Number(status));
          }
        }
        for (const [type, media] of Object.entries(response.content ?? {}))
          for (const event of Object.keys(media["x-sse-events"] ?? {}))
            validatorAt(pointer("paths", path, method, "responses", status, "content", type, "x-sse-events", event));
      }
      const body = op.requestBody?.content["application/json"];
      if (body?.schema)
        validatorAt(pointer("paths", path, method, "requestBody", "content", "application/json", "schema"));
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// The real embedded server: Slack on (Events over HTTP, multi-workspace OAuth) so that its routes exist.

let fake: FakeSlack;
let started: TestServer;
let base: string;

beforeAll(async () => {
  fake = await FakeSlack.start();
  started = await startTestServer({
    MAX_FILE_BYTES: String(MAX_FILE_BYTES),
    RATE_LIMIT_USER_PER_MINUTE: String(QUESTIONS_PER_MINUTE),
    METRICS_TOKEN,
    PUBLIC_URL: "https://enclave.test",
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
    SLACK_CLIENT_ID: fake.clientId,
    SLACK_CLIENT_SECRET: fake.clientSecret,
    SLACK_STATE_SECRET: "openapi-state-secret-0123456789abcdef",
  });
  base = started.url;
});

afterAll(async () => {
  await started?.stop();
  await fake?.stop();
});

// ---------------------------------------------------------------------------------------------------
// (b) The app's routes. Express 5 (router 2.x): each layer of a router's stack is a route (`layer.route`:
// its path and methods) or middleware; middleware that is itself a router (`layer.handle.stack`) is
// mounted at `layer.rawPath`. Other middleware (static files, parsers) answers no route of its own.

interface RouterLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: RouterLayer[] };
  rawPath?: unknown;
}

const joinPath = (prefix: string, path: string) => `${prefix.replace(/\/$/, "")}${path === "/" ? "" : path}` || "/";

function routesOf(stack: RouterLayer[], prefix = ""): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const path of paths) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on) out.push(`${method === "_all" ? "ALL" : method.toUpperCase()} ${toTemplate(joinPath(prefix, path))}`);
        }
      }
    } else if (layer.handle?.stack) {
      if (typeof layer.rawPath !== "string")
        throw new Error(`a router mounted at ${String(layer.rawPath)}: this walk knows only string mount paths`);
      out.push(...routesOf(layer.handle.stack, joinPath(prefix, layer.rawPath)));
    }
  }
  return out;
}

/** Express `:param` to OpenAPI `{param}`; Express 5's optional `{…}` and wildcard `*` have no OpenAPI form. */
function toTemplate(path: string): string {
  if (/[{}*()?+]/.test(path)) throw new Error(`route ${path}: describe this pattern in the OpenAPI document by hand`);
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

describe("the app's routes and the document", () => {
  it("are the same set: every REST route is documented and every documented operation is served", () => {
    // The server's own request handler is the Express app it runs, with every surface mounted.
    const app = started.server?.listeners("request")[0] as Express;
    const served = routesOf((app as unknown as { router: { stack: RouterLayer[] } }).router.stack);
    // Excluded: the web app's HTML pages and assets (web-routes.ts), which are for browsers, not REST.
    const web = new Set(routesOf((webRoutes() as unknown as { stack: RouterLayer[] }).stack));
    expect(web.has("GET /documents")).toBe(true);
    const rest = new Set(served.filter((r) => !web.has(r)));
    const documented = new Set([...operations()].map(({ path, method }) => `${method.toUpperCase()} ${path}`));

    expect([...rest].filter((r) => !documented.has(r)).sort(), "served but not documented").toEqual([]);
    expect([...documented].filter((r) => !rest.has(r)).sort(), "documented but not served").toEqual([]);
    // The walk reached every mount: the API's routers and Slack's (Bolt's receiver and the OAuth routes).
    for (const route of [
      "GET /api/documents/{id}/file",
      "POST /api/links/preview",
      "POST /slack/events",
      "GET /slack/install",
    ])
      expect(rest.has(route), route).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------
// (c) Real requests, each checked against the document.

interface Exchange {
  status: number;
  type: string;
  headers: Headers;
  text: string;
  /** Read freely once it validated against the document. */
  json: any;
}

interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, string>;
  token?: string;
  /** JSON (serialised here), a raw string (sent as JSON), or a multipart form. */
  body?: unknown;
  headers?: Record<string, string>;
}

const exercised = new Map<string, Set<number>>();

async function call(method: Method, path: keyof typeof doc.paths, options: CallOptions = {}): Promise<Exchange> {
  const url = new URL(
    path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(options.params?.[name] ?? "")),
    base,
  );
  for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) };
  let body: string | FormData | undefined;
  if (options.body instanceof FormData) body = options.body;
  else if (typeof options.body === "string") body = options.body;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (typeof body === "string") headers["content-type"] = "application/json";
  const res = await fetch(url, { method, headers: { ...headers, ...options.headers }, body, redirect: "manual" });
  const raw = await res.text();
  const type = (res.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const exchange: Exchange = {
    status: res.status,
    type,
    headers: res.headers,
    text: raw,
    json: type === "application/json" && raw ? JSON.parse(raw) : undefined,
  };
  conforms(method, path, exchange, options.body);
  return exchange;
}

/** The exchange is one the document describes: status, required headers, media type and body. */
function conforms(method: Method, path: string, ex: Exchange, sent: unknown): void {
  const m = method.toLowerCase() as HttpMethod;
  const op = doc.paths[path]?.[m];
  const where = `${method} ${path}`;
  if (!op) throw new Error(`${where} is not in the document`);
  const response: ResponseObject | undefined = op.responses[String(ex.status)];
  expect(response, `${where} answered ${ex.status}, which is not documented: ${ex.text.slice(0, 300)}`).toBeDefined();
  if (!response) return;
  const seen = exercised.get(`${method} ${path}`) ?? new Set<number>();
  seen.add(ex.status);
  exercised.set(`${method} ${path}`, seen);

  // What a client sent that the server took is what the document says a client may send.
  if (ex.status < 300 && sent !== undefined && typeof sent !== "string" && !(sent instanceof FormData)) {
    expectValid(
      pointer("paths", path, m, "requestBody", "content", "application/json", "schema"),
      sent,
      `${where} request`,
    );
  }
  for (const [name, header] of Object.entries(response.headers ?? {})) {
    const h = deref<HeaderObject>(header);
    const value = ex.headers.get(name);
    if (h.required) expect(value, `${where} ${ex.status}: header ${name}`).not.toBeNull();
  }
  if (!response.content) {
    if (ex.status === 204) expect(ex.text, `${where} 204 has a body`).toBe("");
    return;
  }
  const media = response.content[ex.type];
  expect(
    media,
    `${where} ${ex.status} answered ${ex.type}; documented: ${Object.keys(response.content)}`,
  ).toBeDefined();
  const at = (...rest: string[]) =>
    pointer("paths", path, m, "responses", String(ex.status), "content", ex.type, ...rest);
  if (ex.type === "application/json") expectValid(at("schema"), ex.json, `${where} ${ex.status}`);
  if (ex.type === "text/event-stream") {
    for (const event of parseEvents(ex.text)) {
      expect(media?.["x-sse-events"]?.[event.event], `${where}: event ${event.event}`).toBeDefined();
      expectValid(at("x-sse-events", event.event), event.data, `${where} event ${event.event}`);
    }
  }
}

function parseEvents(stream: string): { event: string; data: unknown }[] {
  return stream
    .split("\n\n")
    .filter((block) => block.trim())
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? "null";
      return { event, data: JSON.parse(data) };
    });
}

const form = (fields: Record<string, string>, file?: { name: string; data: string }) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  if (file) f.append("file", new Blob([file.data], { type: "text/plain" }), file.name);
  return f;
};

let n = 0;
async function organisation(name: string) {
  const email = `admin${++n}-${Date.now()}@openapi.example`;
  const password = "Correct-horse-9";
  const signup = await call("POST", "/auth/signup", { body: { email, password, organization: name } });
  expect(signup.status).toBe(201);
  const login = await call("POST", "/auth/login", { body: { email, password } });
  expect(login.status).toBe(200);
  return { email, password, token: login.json.id_token as string, tenantId: signup.json.tenant.id as string };
}

describe("real responses against the document", () => {
  let admin: Awaited<ReturnType<typeof organisation>>;
  let member: string;
  let documentId: string;
  let auditId: string;

  it("operations: health, keys, this document and metrics", async () => {
    expect((await call("GET", "/health")).status).toBe(200);
    expect((await call("GET", "/.well-known/jwks.json")).status).toBe(200);
    const self = await call("GET", "/openapi.json");
    expect(self.status).toBe(200);
    expect(self.json).toEqual(JSON.parse(JSON.stringify(doc)));
    expect((await call("GET", "/metrics", { token: "wrong" })).status).toBe(401);
    const metrics = await call("GET", "/metrics", { token: METRICS_TOKEN });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toContain("version=0.0.4");
  });

  it("auth: sign-up, confirmation, log-in and their refusals", async () => {
    admin = await organisation("Northwind");
    // A taken email gets the same 201 answer as a new one (validated against the document), nothing created.
    expect(
      (
        await call("POST", "/auth/signup", {
          body: { email: admin.email, password: admin.password, organization: "Again" },
        })
      ).status,
    ).toBe(201);
    expect((await call("POST", "/auth/signup", { body: { email: "not-an-email", password: "x" } })).status).toBe(400);
    expect((await call("POST", "/auth/signup", { body: "{not json" })).json.error.code).toBe("bad_request");
    const invalidInvite = await call("POST", "/auth/signup", {
      body: { email: "joiner@openapi.example", password: "Correct-horse-9", invite_code: "nope" },
    });
    expect(invalidInvite.json.error.code).toBe("invalid_invite");
    expect((await call("POST", "/auth/confirm", { body: { email: admin.email, code: "123456" } })).status).toBe(204);
    const wrong = await call("POST", "/auth/login", { body: { email: admin.email, password: "Wrong-horse-9" } });
    expect(wrong.json.error.code).toBe("invalid_credentials");
  });

  it("account: me, invites, members, Slack identities", async () => {
    expect((await call("GET", "/api/me")).status).toBe(401);
    expect((await call("GET", "/api/me", { token: "not.a.jwt" })).status).toBe(401);
    expect((await call("GET", "/api/me", { token: admin.token })).json.tenant_id).toBe(admin.tenantId);
    const invite = await call("POST", "/api/invites", { token: admin.token, body: { role: "member" } });
    expect(invite.status).toBe(201);
    const email = `member-${Date.now()}@openapi.example`;
    const joined = await call("POST", "/auth/signup", {
      body: { email, password: "Correct-horse-9", invite_code: invite.json.code },
    });
    expect(joined.json.user.role).toBe("member");
    member = (await call("POST", "/auth/login", { body: { email, password: "Correct-horse-9" } })).json.id_token;
    expect((await call("POST", "/api/invites", { token: member, body: {} })).status).toBe(403);
    expect((await call("GET", "/api/members", { token: admin.token })).json.members).toHaveLength(2);
    expect((await call("GET", "/api/members", { token: member })).status).toBe(403);
    expect((await call("GET", "/api/identities", { token: admin.token })).json.identities).toEqual([]);
    const badTie = await call("POST", "/api/identities", { token: admin.token, body: { token: "bogus" } });
    expect(badTie.json.error.code).toBe("invalid_link_token");
    const params = { team_id: "T0NOTHERE", user_id: "U0NOTHERE" };
    expect((await call("DELETE", "/api/identities/{team_id}/{user_id}", { token: admin.token, params })).status).toBe(
      404,
    );
  });

  it("documents: upload, status, file, and the refusals of each", async () => {
    const uploaded = await call("POST", "/api/upload", {
      token: admin.token,
      body: form(
        {},
        { name: "travel.txt", data: "Hotel costs are reimbursed up to 180 euros per night in capital cities." },
      ),
    });
    expect(uploaded.status).toBe(202);
    documentId = uploaded.json.document.id;
    const noFile = await call("POST", "/api/upload", { token: admin.token, body: form({ visibility: "private" }) });
    expect(noFile.json.error.code).toBe("bad_request");
    const badVisibility = await call("POST", "/api/upload", {
      token: admin.token,
      body: form({ visibility: "everyone" }, { name: "a.txt", data: "text" }),
    });
    expect(badVisibility.json.error.code).toBe("validation_failed");
    const big = await call("POST", "/api/upload", {
      token: admin.token,
      body: form({}, { name: "big.txt", data: "x".repeat(MAX_FILE_BYTES + 1) }),
    });
    expect(big.json.error.code).toBe("file_too_large");
    const exe = await call("POST", "/api/upload", {
      token: admin.token,
      body: form({}, { name: "tool.exe", data: "MZ" }),
    });
    expect(exe.status).toBe(415);

    const deadline = Date.now() + 30_000;
    let status = "queued";
    while (status !== "ready" && status !== "failed" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await call("GET", "/api/documents/{id}", { token: admin.token, params: { id: documentId } })).json
        .status;
    }
    expect(status).toBe("ready");
    expect((await call("GET", "/api/documents", { token: member })).json.documents).toHaveLength(1);
    const file = await call("GET", "/api/documents/{id}/file", { token: admin.token, params: { id: documentId } });
    expect(file.type).toBe("text/plain");
    expect((await call("GET", "/api/documents/{id}", { token: admin.token, params: { id: "nope" } })).status).toBe(404);
    expect((await call("GET", "/api/documents/{id}/file", { token: admin.token, params: { id: "nope" } })).status).toBe(
      404,
    );
    expect((await call("DELETE", "/api/documents/{id}", { token: member, params: { id: documentId } })).status).toBe(
      403,
    );
  });

  it("answers: JSON, Server-Sent Events, limits and rate limiting", async () => {
    const question = { question: "What is the hotel limit in capital cities?" };
    const answer = await call("POST", "/api/ask", { token: admin.token, body: question });
    expect(answer.json.sources.length).toBeGreaterThan(0);
    auditId = answer.json.audit_id;
    const streamed = await call("POST", "/api/ask", {
      token: admin.token,
      body: { ...question, surface: "web", history: [{ role: "user", text: "Hello" }] },
      headers: { accept: "text/event-stream" },
    });
    expect(streamed.type).toBe("text/event-stream");
    expect(parseEvents(streamed.text).map((e) => e.event)).toContain("done");
    const long = await call("POST", "/api/ask", { token: admin.token, body: { question: "why ".repeat(600) } });
    expect(long.json.error.code).toBe("question_too_long");
    expect((await call("POST", "/api/ask", { token: admin.token, body: { question: "  " } })).status).toBe(400);
    const huge = await call("POST", "/api/ask", { token: admin.token, body: { question: "x".repeat(70 * 1024) } });
    expect(huge.json.error.code).toBe("payload_too_large");
    expect((await call("POST", "/api/ask", { body: question })).status).toBe(401);
    let limited: Exchange | undefined;
    for (let i = 0; i <= QUESTIONS_PER_MINUTE && !limited; i++) {
      const res = await call("POST", "/api/ask", { token: member, body: question });
      if (res.status === 429) limited = res;
    }
    expect(limited?.json.error.code).toBe("rate_limited");
  });

  it("audit: list, one record, feedback and the CSV export", async () => {
    const page = await call("GET", "/api/audit", { token: admin.token, query: { limit: "10" } });
    expect(page.json.records.length).toBeGreaterThan(0);
    expect((await call("GET", "/api/audit", { token: admin.token, query: { limit: "0" } })).status).toBe(400);
    expect((await call("GET", "/api/audit/{id}", { token: admin.token, params: { id: auditId } })).json.id).toBe(
      auditId,
    );
    expect((await call("GET", "/api/audit/{id}", { token: admin.token, params: { id: "nope" } })).status).toBe(404);
    const params = { id: auditId };
    expect(
      (await call("POST", "/api/audit/{id}/feedback", { token: admin.token, params, body: { value: "up" } })).status,
    ).toBe(204);
    expect(
      (await call("POST", "/api/audit/{id}/feedback", { token: admin.token, params, body: { value: "meh" } })).status,
    ).toBe(400);
    expect([403, 404]).toContain(
      (await call("POST", "/api/audit/{id}/feedback", { token: member, params, body: { value: "down" } })).status,
    );
    const csv = await call("GET", "/api/audit/export.csv", { token: admin.token });
    expect(csv.type).toBe("text/csv");
    expect((await call("GET", "/api/audit/export.csv", { token: member })).status).toBe(403);
  });

  it("links: preview, link, list and unlink", async () => {
    const { token } = await workspaceLinkToken(started.container, {
      teamId: "T0OPENAPI",
      teamName: "Open API",
      slackUserId: "U0ADMIN",
    });
    const preview = await call("POST", "/api/links/preview", { body: { token } });
    expect(preview.json.team_id).toBe("T0OPENAPI");
    expect((await call("POST", "/api/links/preview", { body: { token: "bogus" } })).json.error.code).toBe(
      "invalid_link_token",
    );
    expect((await call("POST", "/api/links", { token: admin.token, body: { token: "bogus" } })).status).toBe(400);
    expect((await call("POST", "/api/links", { token: member, body: { token } })).status).toBe(403);
    expect((await call("GET", "/api/links", { token: admin.token })).json.links).toEqual([]);
    expect(
      (await call("DELETE", "/api/links/{team_id}", { token: admin.token, params: { team_id: "T0NOPE" } })).status,
    ).toBe(404);
    expect(
      (await call("DELETE", "/api/links/{team_id}", { token: member, params: { team_id: "T0NOPE" } })).status,
    ).toBe(403);
  });

  it("organisation: export, and deletion with its confirmation", async () => {
    expect((await call("GET", "/api/organisation/export")).status).toBe(401);
    expect((await call("GET", "/api/organisation/export", { token: member })).status).toBe(403);
    const archive = await call("GET", "/api/organisation/export", { token: admin.token });
    expect(archive.status).toBe(200);
    expect(archive.headers.get("content-disposition")).toMatch(
      /attachment; filename="enclave-export-\d{4}-\d{2}-\d{2}\.tar\.gz"/,
    );
    expect((await call("DELETE", "/api/organisation", { token: member, body: { confirm: "Northwind" } })).status).toBe(
      403,
    );
    const doomed = await organisation("Doomed Ltd");
    const wrong = await call("DELETE", "/api/organisation", { token: doomed.token, body: { confirm: "Doomed" } });
    expect(wrong.json.error.code).toBe("validation_failed");
    expect((await call("DELETE", "/api/organisation", { token: doomed.token, body: {} })).status).toBe(400);
    const deleting = await call("DELETE", "/api/organisation", {
      token: doomed.token,
      body: { confirm: "Doomed Ltd" },
    });
    expect(deleting.json).toMatchObject({ status: "deleting", tenant_id: doomed.tenantId });
  });

  it("documents: deletion by the admin", async () => {
    expect(
      (await call("DELETE", "/api/documents/{id}", { token: admin.token, params: { id: documentId } })).status,
    ).toBe(204);
    expect((await call("GET", "/api/documents/{id}", { token: admin.token, params: { id: documentId } })).status).toBe(
      404,
    );
  });

  it("slack: signed events, install and the OAuth redirect", async () => {
    const body = JSON.stringify({ type: "url_verification", challenge: "openapi-challenge", token: "x" });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = `v0=${createHmac("sha256", SIGNING_SECRET).update(`v0:${timestamp}:${body}`).digest("hex")}`;
    const slackHeaders = { "content-type": "application/json", "x-slack-request-timestamp": timestamp };
    const signed = await call("POST", "/slack/events", {
      body,
      headers: { ...slackHeaders, "x-slack-signature": signature },
    });
    expect(signed.text).toContain("openapi-challenge");
    const forged = await call("POST", "/slack/events", {
      body,
      headers: { ...slackHeaders, "x-slack-signature": "v0=00" },
    });
    expect(forged.status).toBe(401);
    const install = await call("GET", "/slack/install");
    expect(install.headers.get("location")).toContain("/oauth/v2/authorize");
    expect((await call("GET", "/slack/oauth_redirect", { query: { code: "x", state: "forged" } })).status).toBe(400);
  });

  it("answers an unknown route with the documented Error body", async () => {
    const res = await fetch(new URL("/api/nowhere", base), { headers: { authorization: `Bearer ${admin.token}` } });
    expect(res.status).toBe(404);
    expectValid(pointer("components", "schemas", "Error"), await res.json(), "GET /api/nowhere");
  });

  it("exercised every documented operation", () => {
    const missed = [...operations()]
      .map(({ path, method }) => `${method.toUpperCase()} ${path}`)
      .filter((op) => !exercised.has(op));
    expect(missed).toEqual([]);
  });
});
