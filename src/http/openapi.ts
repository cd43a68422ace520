import pkg from "../../package.json" with { type: "json" };
import type { ErrorCode } from "../domain/errors.js";
import { ref, schemas } from "./openapi-schemas.js";
import type {
  HeaderObject,
  OpenApiDocument,
  OperationObject,
  ParameterObject,
  RequestBodyObject,
  ResponseObject,
  SchemaObject,
  SecurityRequirement,
} from "./openapi-types.js";

const BEARER: SecurityRequirement[] = [{ bearer: [] }];
const PUBLIC: SecurityRequirement[] = [];

const json = (schema: SchemaObject) => ({ "application/json": { schema } });
const ok = (description: string, schema?: SchemaObject): ResponseObject => ({
  description,
  ...(schema ? { content: json(schema) } : {}),
});
const noContent = (description: string): ResponseObject => ({ description });
const jsonBody = (schema: SchemaObject, required = true): RequestBodyObject => ({ required, content: json(schema) });
const pathParam = (name: string, description: string): ParameterObject => ({
  name,
  in: "path",
  required: true,
  description,
  schema: { type: "string" },
});
const attachment = (description: string): Record<string, HeaderObject> => ({
  "Content-Disposition": { description, required: true, schema: { type: "string" } },
});

type Failures = Partial<Record<number, ErrorCode[]>>;

/**
 * Statuses every route can answer: the server's own storage refusing (database locked past the busy
 * timeout, disk full: 503 `dependency_unavailable`) and anything unexpected (500 `internal`).
 */
const ANY: Failures = { 500: ["internal"], 503: ["dependency_unavailable"] };
/** A JSON body is parsed before any route: unreadable JSON, or more than MAX_BODY_BYTES. */
const BODY: Failures = { 400: ["bad_request"], 413: ["payload_too_large"] };
/** Every /api route but the link preview. */
const AUTH: Failures = { 401: ["unauthorized"] };
const ADMIN: Failures = { ...AUTH, 403: ["forbidden"] };

const STATUS_TEXT: Record<number, string> = {
  400: "The request is not valid",
  401: "No valid credentials",
  403: "Not allowed for this member",
  404: "Not found, or not readable by this member",
  409: "Conflicts with what exists",
  413: "Too large",
  415: "File type not supported",
  429: "Too many requests: wait for `Retry-After` seconds",
  500: "Something went wrong on the server",
  503: "A dependency is unavailable: try again later",
};

/** The error responses of one operation: the Error body, its `code` narrowed to those this route can send. */
function failures(...sets: Failures[]): Record<string, ResponseObject> {
  const merged = new Map<number, Set<ErrorCode>>();
  for (const set of sets) {
    for (const [status, codes] of Object.entries(set)) {
      const into = merged.get(Number(status)) ?? new Set<ErrorCode>();
      for (const code of codes ?? []) into.add(code);
      merged.set(Number(status), into);
    }
  }
  const out: Record<string, ResponseObject> = {};
  for (const [status, codes] of [...merged].sort(([a], [b]) => a - b)) {
    const list = [...codes];
    out[String(status)] = {
      description: `${STATUS_TEXT[status] ?? "Error"}: ${list.map((c) => `\`${c}\``).join(", ")}.`,
      ...(status === 429 || status === 503
        ? {
            headers: {
              "Retry-After": { $ref: `#/components/headers/${status === 429 ? "RetryAfter" : "RetryAfterMaybe"}` },
            },
          }
        : {}),
      content: json({
        allOf: [ref("Error"), { properties: { error: { properties: { code: { enum: list } } } } }],
      }),
    };
  }
  return out;
}

function operation(
  o: Omit<OperationObject, "responses"> & { responses: Record<string, ResponseObject>; errors: Failures[] },
): OperationObject {
  const { errors, responses, ...rest } = o;
  return { ...rest, responses: { ...responses, ...failures(...errors) } };
}

const SSE_DESCRIPTION =
  "With `Accept: text/event-stream`: Server-Sent Events as the answer is written. `status` while the documents are searched, `delta` for each piece of text, then one `done` whose data is the Answer JSON body. A failure after the stream started ends it with an `error` event shaped like the Error body. Each event is one `event:` line and one `data:` line of JSON.";

/**
 * The REST API as OpenAPI 3.1, served at GET /openapi.json. test/e2e/openapi.test.ts checks every
 * route of the app against it and validates real responses against its schemas.
 */
export const openApiDocument: OpenApiDocument = {
  openapi: "3.1.0",
  jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
  info: {
    title: "Enclave REST API",
    version: pkg.version,
    description:
      'Multi-tenant Slack knowledge bot. JSON in snake_case; every error is `{"error": {"code", "message"}}` with the matching status. The organisation (tenant) always comes from the Bearer ID token, never from a request. Another tenant\'s document id, and a document the reader may not read, answer 404, never 403.',
  },
  tags: [
    { name: "auth", description: "Sign-up, confirmation and log-in (no token)." },
    { name: "account", description: "The caller, their organisation's members and invites, their Slack identities." },
    { name: "documents", description: "Upload, list, read and delete documents." },
    { name: "answers", description: "Ask the organisation's documents." },
    { name: "audit", description: "Every exchange, its feedback and the CSV export." },
    { name: "links", description: "Slack workspaces linked to the organisation." },
    { name: "organisation", description: "Export or delete the whole organisation (admins)." },
    { name: "operations", description: "Health, keys, metrics and this document." },
    {
      name: "slack",
      description:
        "Slack's own endpoints, called by Slack and signed by it (not for API clients). Present only when Slack is configured: events over HTTP (not Socket Mode), install and OAuth redirect with multi-workspace OAuth.",
    },
  ],
  paths: {
    "/auth/signup": {
      post: operation({
        operationId: "signUp",
        tags: ["auth"],
        summary: "Create an organisation (always a new tenant) and its admin, or join one with an invite code",
        description:
          "Does not say whether an email is registered (log-in does not either). An email that already has an account gets the same 201 answer as a new one, but nothing is created: no organisation (the tenant id in the answer is stored nowhere), no membership, no account, and the existing account and its password stay as they were; an invite code is left unused. The client then logs in: with the password just chosen that fails (401 `invalid_credentials`), and the person should log in with their account's own password. Sign-ups are limited per client address, taken emails included.",
        security: PUBLIC,
        requestBody: jsonBody(ref("SignupRequest")),
        responses: {
          "201": ok(
            "Signed up; the admin of a new organisation, or a member of the inviting one. The same answer for an email that already has an account, with nothing created.",
            ref("SignupResult"),
          ),
        },
        errors: [ANY, BODY, { 400: ["validation_failed", "invalid_invite"], 429: ["rate_limited"] }],
      }),
    },
    "/auth/confirm": {
      post: operation({
        operationId: "confirmSignUp",
        tags: ["auth"],
        summary: "Confirm a sign-up with the emailed code (Cognito; the embedded pool needs none)",
        security: PUBLIC,
        requestBody: jsonBody(ref("ConfirmRequest")),
        responses: { "204": noContent("Confirmed: log in now.") },
        errors: [ANY, BODY, { 400: ["validation_failed"] }],
      }),
    },
    "/auth/login": {
      post: operation({
        operationId: "logIn",
        tags: ["auth"],
        summary: "Log in and get an ID token",
        security: PUBLIC,
        requestBody: jsonBody(ref("LoginRequest")),
        responses: { "200": ok("A session.", ref("Session")) },
        errors: [
          ANY,
          BODY,
          { 400: ["validation_failed"], 401: ["invalid_credentials", "unauthorized"], 429: ["too_many_attempts"] },
        ],
      }),
    },
    "/api/me": {
      get: operation({
        operationId: "getMe",
        tags: ["account"],
        summary: "The caller, their organisation and role, and their connected Slack accounts",
        security: BEARER,
        responses: { "200": ok("The caller.", ref("Me")) },
        errors: [ANY, AUTH],
      }),
    },
    "/api/invites": {
      post: operation({
        operationId: "createInvite",
        tags: ["account"],
        summary: "Create a single-use invite code, valid for 7 days (admins)",
        security: BEARER,
        requestBody: jsonBody(ref("InviteRequest"), false),
        responses: { "201": ok("The invite.", ref("Invite")) },
        errors: [ANY, BODY, ADMIN, { 400: ["validation_failed"] }],
      }),
    },
    "/api/members": {
      get: operation({
        operationId: "listMembers",
        tags: ["account"],
        summary: "The organisation's web members (admins)",
        security: BEARER,
        responses: { "200": ok("The members.", ref("MemberList")) },
        errors: [ANY, ADMIN],
      }),
    },
    "/api/identities": {
      get: operation({
        operationId: "listIdentities",
        tags: ["account"],
        summary: "The Slack accounts this web account has proved it is",
        security: BEARER,
        responses: { "200": ok("The connected Slack accounts.", ref("IdentityList")) },
        errors: [ANY, AUTH],
      }),
      post: operation({
        operationId: "connectIdentity",
        tags: ["account"],
        summary: "Prove this web account is a Slack user, with the one-time token from `/ask connect`",
        security: BEARER,
        requestBody: jsonBody(ref("LinkTokenRequest")),
        responses: { "201": ok("Connected.", ref("SlackIdentity")) },
        errors: [
          ANY,
          BODY,
          AUTH,
          {
            400: ["validation_failed", "invalid_link_token"],
            403: ["forbidden"],
            503: ["dependency_unavailable"],
          },
        ],
      }),
    },
    "/api/identities/{team_id}/{user_id}": {
      delete: operation({
        operationId: "disconnectIdentity",
        tags: ["account"],
        summary: "Disconnect a Slack account from this web account",
        security: BEARER,
        parameters: [pathParam("team_id", "The Slack workspace id."), pathParam("user_id", "The Slack user id.")],
        responses: { "204": noContent("Disconnected.") },
        errors: [ANY, AUTH, { 404: ["not_found"] }],
      }),
    },
    "/api/upload": {
      post: operation({
        operationId: "uploadDocument",
        tags: ["documents"],
        summary: "Upload a PDF, .txt or .md file to index; the same bytes twice give the same document",
        security: BEARER,
        requestBody: {
          required: true,
          content: {
            "multipart/form-data": {
              schema: {
                type: "object",
                required: ["file"],
                properties: {
                  visibility: {
                    type: "string",
                    enum: ["organisation", "private"],
                    default: "organisation",
                    description: "Before the file part: `organisation` (every member) or `private` (only you).",
                  },
                  file: { type: "string", contentMediaType: "application/octet-stream", description: "One file." },
                },
              },
            },
          },
        },
        responses: {
          "202": ok("Accepted: indexing goes on in the background (poll the document's status).", ref("UploadResult")),
        },
        errors: [
          ANY,
          AUTH,
          {
            400: ["bad_request", "validation_failed", "empty_document"],
            413: ["file_too_large"],
            415: ["unsupported_type"],
          },
        ],
      }),
    },
    "/api/documents": {
      get: operation({
        operationId: "listDocuments",
        tags: ["documents"],
        summary: "The documents the caller may read; admins get every document's record",
        security: BEARER,
        responses: { "200": ok("The documents.", ref("DocumentList")) },
        errors: [ANY, AUTH],
      }),
    },
    "/api/documents/{id}": {
      get: operation({
        operationId: "getDocument",
        tags: ["documents"],
        summary: "One document and its status (`progress` only while indexing)",
        security: BEARER,
        parameters: [pathParam("id", "The document id.")],
        responses: { "200": ok("The document.", ref("Document")) },
        errors: [ANY, AUTH, { 404: ["not_found"] }],
      }),
      delete: operation({
        operationId: "deleteDocument",
        tags: ["documents"],
        summary: "Delete a document: its file, passages and record (whoever added it, or an admin)",
        security: BEARER,
        parameters: [pathParam("id", "The document id.")],
        responses: { "204": noContent("Deleted.") },
        errors: [ANY, AUTH, { 403: ["forbidden"], 404: ["not_found"] }],
      }),
    },
    "/api/documents/{id}/file": {
      get: operation({
        operationId: "getDocumentFile",
        tags: ["documents"],
        summary: "The original file, to view (`Content-Disposition: inline`)",
        security: BEARER,
        parameters: [pathParam("id", "The document id.")],
        responses: {
          "200": {
            description: "The original bytes, as uploaded.",
            headers: attachment("`inline`, with the file name."),
            content: {
              "application/pdf": {},
              "text/plain": { schema: { type: "string" } },
              "text/markdown": { schema: { type: "string" } },
            },
          },
        },
        errors: [ANY, AUTH, { 403: ["forbidden"], 404: ["not_found"] }],
      }),
    },
    "/api/ask": {
      post: operation({
        operationId: "ask",
        tags: ["answers"],
        summary: "Ask a question of the organisation's documents; JSON, or streamed as Server-Sent Events",
        security: BEARER,
        requestBody: jsonBody(ref("AskRequest")),
        responses: {
          "200": {
            description: `The answer with its sources. ${SSE_DESCRIPTION}`,
            content: {
              "application/json": { schema: ref("Answer") },
              "text/event-stream": {
                schema: { type: "string" },
                "x-sse-events": {
                  status: ref("StreamStatus"),
                  delta: ref("StreamDelta"),
                  done: ref("Answer"),
                  error: ref("Error"),
                },
              },
            },
          },
        },
        errors: [
          ANY,
          BODY,
          AUTH,
          { 400: ["validation_failed", "question_too_long"], 429: ["rate_limited"], 503: ["model_unavailable"] },
        ],
      }),
    },
    "/api/audit": {
      get: operation({
        operationId: "listAudit",
        tags: ["audit"],
        summary: "Exchanges, newest first: every exchange for admins, their own for members",
        security: BEARER,
        parameters: [
          {
            name: "limit",
            in: "query",
            description: "Page size.",
            schema: { type: "integer", minimum: 1, maximum: 200, default: 50 },
          },
          {
            name: "cursor",
            in: "query",
            description: "`next_cursor` of the previous page.",
            schema: { type: "string", maxLength: 200 },
          },
          {
            name: "surface",
            in: "query",
            description: "Only exchanges from this surface.",
            schema: { type: "string", maxLength: 40 },
          },
          {
            name: "user_id",
            in: "query",
            description: "Only this asker's exchanges.",
            schema: { type: "string", maxLength: 200 },
          },
          {
            name: "from",
            in: "query",
            description: "From this time or date (ISO 8601).",
            schema: { type: "string", maxLength: 40 },
          },
          {
            name: "to",
            in: "query",
            description: "Up to this time or date (ISO 8601).",
            schema: { type: "string", maxLength: 40 },
          },
        ],
        responses: { "200": ok("One page of the audit log.", ref("AuditPage")) },
        errors: [ANY, AUTH, { 400: ["validation_failed"] }],
      }),
    },
    "/api/audit/export.csv": {
      get: operation({
        operationId: "exportAuditCsv",
        tags: ["audit"],
        summary: "The whole audit log as CSV, newest first (admins)",
        security: BEARER,
        responses: {
          "200": {
            description: "UTF-8 CSV with a byte-order mark, streamed.",
            headers: attachment('`attachment; filename="enclave-audit-<date>.csv"`.'),
            content: { "text/csv": { schema: { type: "string" } } },
          },
        },
        errors: [ANY, ADMIN],
      }),
    },
    "/api/audit/{id}": {
      get: operation({
        operationId: "getAuditRecord",
        tags: ["audit"],
        summary: "One exchange (admins any, members their own)",
        security: BEARER,
        parameters: [pathParam("id", "The audit record id (`audit_id` of an answer).")],
        responses: { "200": ok("The exchange.", ref("AuditRecord")) },
        errors: [ANY, AUTH, { 404: ["not_found"] }],
      }),
    },
    "/api/audit/{id}/feedback": {
      post: operation({
        operationId: "recordFeedback",
        tags: ["audit"],
        summary: "Rate an answer (only the person who asked)",
        security: BEARER,
        parameters: [pathParam("id", "The audit record id (`audit_id` of an answer).")],
        requestBody: jsonBody(ref("FeedbackRequest")),
        responses: { "204": noContent("Recorded.") },
        errors: [ANY, BODY, AUTH, { 400: ["validation_failed"], 403: ["forbidden"], 404: ["not_found"] }],
      }),
    },
    "/api/links/preview": {
      post: operation({
        operationId: "previewLink",
        tags: ["links"],
        summary: "What a one-time link token from Slack would link (no login: the link page shows it first)",
        security: PUBLIC,
        requestBody: jsonBody(ref("LinkTokenRequest")),
        responses: { "200": ok("The token's workspace and Slack user.", ref("LinkPreview")) },
        errors: [ANY, BODY, { 400: ["validation_failed", "invalid_link_token"] }],
      }),
    },
    "/api/links": {
      get: operation({
        operationId: "listLinks",
        tags: ["links"],
        summary: "The Slack workspaces linked to the organisation",
        security: BEARER,
        responses: { "200": ok("The links.", ref("LinkList")) },
        errors: [ANY, AUTH],
      }),
      post: operation({
        operationId: "linkWorkspace",
        tags: ["links"],
        summary: "Link the token's Slack workspace to the caller's organisation (admins)",
        security: BEARER,
        requestBody: jsonBody(ref("LinkTokenRequest")),
        responses: { "201": ok("Linked.", ref("LinkCreated")) },
        errors: [
          ANY,
          BODY,
          ADMIN,
          { 400: ["validation_failed", "invalid_link_token"], 503: ["dependency_unavailable"] },
        ],
      }),
    },
    "/api/links/{team_id}": {
      delete: operation({
        operationId: "unlinkWorkspace",
        tags: ["links"],
        summary: "Unlink a Slack workspace (admins)",
        security: BEARER,
        parameters: [pathParam("team_id", "The Slack workspace id.")],
        responses: { "204": noContent("Unlinked.") },
        errors: [ANY, ADMIN, { 404: ["not_found"] }],
      }),
    },
    "/api/organisation": {
      delete: operation({
        operationId: "deleteOrganisation",
        tags: ["organisation"],
        summary: "Delete the whole organisation: documents, audit, links, members (admins)",
        security: BEARER,
        requestBody: jsonBody(ref("DeleteOrganisationRequest")),
        responses: { "202": ok("Accepted: the deletion goes on in the background.", ref("OrganisationDeletion")) },
        errors: [ANY, BODY, ADMIN, { 400: ["validation_failed"] }],
      }),
    },
    "/api/organisation/export": {
      get: operation({
        operationId: "exportOrganisation",
        tags: ["organisation"],
        summary: "Everything the organisation holds, as one .tar.gz (admins)",
        description:
          "The archive holds `organisation.json`, `documents.jsonl`, `audit.jsonl` and the original files under `files/`.",
        security: BEARER,
        responses: {
          "200": {
            description: "A gzip-compressed tar archive.",
            headers: attachment('`attachment; filename="enclave-export-<date>.tar.gz"`.'),
            content: { "application/gzip": {} },
          },
        },
        errors: [ANY, ADMIN],
      }),
    },
    "/health": {
      get: operation({
        operationId: "health",
        tags: ["operations"],
        summary: "Whether the server and its dependencies answer",
        security: PUBLIC,
        responses: {
          "200": ok("Every check is ok.", ref("Health")),
          "503": ok("At least one check failed (`status: degraded`).", ref("Health")),
        },
        errors: [{ 500: ["internal"] }],
      }),
    },
    "/.well-known/jwks.json": {
      get: operation({
        operationId: "jwks",
        tags: ["operations"],
        summary: "The public keys of the embedded user pool (embedded identity only; Cognito publishes its own)",
        security: PUBLIC,
        responses: { "200": ok("A JSON Web Key Set.", ref("Jwks")) },
        errors: [],
      }),
    },
    "/openapi.json": {
      get: operation({
        operationId: "openApi",
        tags: ["operations"],
        summary: "This document",
        security: PUBLIC,
        responses: { "200": ok("The OpenAPI 3.1 document.", { type: "object", required: ["openapi", "paths"] }) },
        errors: [],
      }),
    },
    "/metrics": {
      get: operation({
        operationId: "metrics",
        tags: ["operations"],
        summary: "Prometheus metrics (embedded shape only; AWS publishes to CloudWatch)",
        description: "Open unless METRICS_TOKEN is set; then it needs `Authorization: Bearer <METRICS_TOKEN>`.",
        security: [{ metricsToken: [] }, {}],
        responses: {
          "200": {
            description: "The Prometheus text exposition format (`text/plain; version=0.0.4`).",
            content: { "text/plain": { schema: { type: "string" } } },
          },
        },
        errors: [{ 401: ["unauthorized"], 500: ["internal"] }],
      }),
    },
    "/slack/events": {
      post: {
        operationId: "slackEvents",
        tags: ["slack"],
        summary: "Slack's Events API, slash commands and interactivity (signed by Slack)",
        description:
          "Bolt checks `X-Slack-Signature` over the raw body; a timestamp more than 5 minutes from now, in either direction, is refused. Slack is answered once the work is queued; a 500 makes Slack deliver again.",
        security: [{ slackSignature: [] }],
        parameters: [
          {
            name: "X-Slack-Request-Timestamp",
            in: "header",
            required: true,
            description: "Signed with the body.",
            schema: { type: "string" },
          },
        ],
        requestBody: {
          required: true,
          content: {
            "application/json": { schema: { type: "object", description: "An Events API envelope." } },
            "application/x-www-form-urlencoded": {
              schema: { type: "object", description: "A slash command, or an interaction (`payload`)." },
            },
          },
        },
        responses: {
          "200": {
            description: "Acknowledged (the body is Slack's: empty, a URL-verification challenge, or a reply).",
          },
          "400": { description: "The body could not be read." },
          "401": { description: "The signature is missing or wrong, or the timestamp is over 5 minutes off." },
          "500": { description: "The delivery was not taken in; Slack delivers it again." },
        },
      },
    },
    "/slack/install": {
      get: {
        operationId: "slackInstall",
        tags: ["slack"],
        summary: "Start adding Enclave to a Slack workspace (multi-workspace OAuth)",
        security: PUBLIC,
        responses: {
          "302": {
            description: "To Slack's authorize page, with the OAuth state in a signed cookie.",
            headers: {
              Location: { description: "Slack's authorize URL.", required: true, schema: { type: "string" } },
            },
          },
        },
      },
    },
    "/slack/oauth_redirect": {
      get: {
        operationId: "slackOAuthRedirect",
        tags: ["slack"],
        summary: "Where Slack sends the browser back after authorizing (stores the bot token)",
        security: PUBLIC,
        parameters: [
          { name: "code", in: "query", description: "Slack's authorization code.", schema: { type: "string" } },
          { name: "state", in: "query", description: "The state from /slack/install.", schema: { type: "string" } },
        ],
        responses: {
          "200": { description: "Installed: an HTML page.", content: { "text/html": { schema: { type: "string" } } } },
          "400": {
            description: "Not installed (bad state, denied, failed exchange): an HTML page.",
            content: { "text/html": { schema: { type: "string" } } },
          },
        },
      },
    },
  },
  components: {
    schemas,
    headers: {
      RetryAfter: {
        description: "Seconds to wait before trying again.",
        required: true,
        schema: { type: "string", pattern: "^[0-9]+$" },
      },
      RetryAfterMaybe: {
        description: "Seconds to wait before trying again, when the server knows (a busy database).",
        schema: { type: "string", pattern: "^[0-9]+$" },
      },
    },
    securitySchemes: {
      bearer: {
        type: "http",
        scheme: "bearer",
        bearerFormat: "JWT",
        description:
          "The `id_token` from POST /auth/login (RS256, Cognito-shaped claims; the tenant is `custom:tenant_id`).",
      },
      metricsToken: { type: "http", scheme: "bearer", description: "METRICS_TOKEN, when the operator set one." },
      slackSignature: {
        type: "apiKey",
        in: "header",
        name: "X-Slack-Signature",
        description: "Slack's HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the app's signing secret.",
      },
    },
  },
};
