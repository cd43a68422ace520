import { type ErrorCode, INGEST_FAILURE_CODES } from "../domain/errors.js";
import type { SchemaObject } from "./openapi-types.js";

/** Every code an error body may carry; a Record so that a code added to ErrorCode must be added here. */
const ERROR_CODES: Record<ErrorCode, true> = {
  bad_request: true,
  validation_failed: true,
  unauthorized: true,
  forbidden: true,
  not_found: true,
  conflict: true,
  payload_too_large: true,
  question_too_long: true,
  rate_limited: true,
  too_many_attempts: true,
  invalid_invite: true,
  invalid_link_token: true,
  email_taken: true,
  invalid_credentials: true,
  unsupported_type: true,
  file_too_large: true,
  too_many_pages: true,
  encrypted_pdf: true,
  no_text_layer: true,
  damaged_file: true,
  parse_timeout: true,
  parse_memory: true,
  empty_document: true,
  model_unavailable: true,
  tools_unsupported: true,
  dependency_unavailable: true,
  internal: true,
};

export const ref = (name: string): SchemaObject => ({ $ref: `#/components/schemas/${name}` });

const string = (description?: string): SchemaObject => ({ type: "string", ...(description ? { description } : {}) });
const nullable = (description: string): SchemaObject => ({ type: ["string", "null"], description });
const time = (description: string): SchemaObject => ({ type: "string", format: "date-time", description });
const count = (description: string): SchemaObject => ({ type: "integer", minimum: 0, description });

/** A response object: every key listed is always present, and nothing else is sent. */
const closed = (properties: Record<string, SchemaObject>, optional: string[] = []): SchemaObject => ({
  type: "object",
  required: Object.keys(properties).filter((k) => !optional.includes(k)),
  properties,
  additionalProperties: false,
});

const slackIdentity = closed({
  team_id: string("The Slack workspace (team) id."),
  user_id: string("The Slack user id."),
  linked_at: time("When the web account proved it is this Slack user."),
});

const conversation = closed({
  team_id: string(),
  channel_id: string(),
  public: { type: "boolean", description: "A public channel: every full member of its workspace may read." },
});

/** components.schemas: the JSON bodies of the REST API, named as the README's REST table names them. */
export const schemas: Record<string, SchemaObject> = {
  Error: {
    description: "Every error: a stable `code` to match on and a `message` written for the person using the product.",
    ...closed({
      error: closed({
        code: { type: "string", enum: Object.keys(ERROR_CODES) },
        message: string("Safe to show to the user; log detail never leaves the server."),
      }),
    }),
  },
  TenantId: { type: "string", pattern: "^t_[a-z0-9]{20}$", description: "An organisation (tenant) id." },
  Role: { type: "string", enum: ["admin", "member"] },
  SignupRequest: {
    description: "A new organisation (always a new tenant), or joining one with an admin's invite code.",
    oneOf: [
      {
        type: "object",
        required: ["email", "password", "organization"],
        properties: {
          email: { type: "string", format: "email", maxLength: 254 },
          password: ref("Password"),
          organization: { type: "string", minLength: 1, maxLength: 120 },
        },
      },
      {
        type: "object",
        required: ["email", "password", "invite_code"],
        properties: {
          email: { type: "string", format: "email", maxLength: 254 },
          password: ref("Password"),
          invite_code: { type: "string", minLength: 1, maxLength: 200 },
        },
      },
    ],
  },
  Password: {
    type: "string",
    minLength: 8,
    maxLength: 256,
    description: "At least 8 characters with an upper-case letter, a lower-case letter and a digit.",
  },
  SignupResult: closed(
    {
      user: closed({ email: string(), tenant_id: ref("TenantId"), role: ref("Role") }),
      tenant: closed({ id: ref("TenantId"), name: string() }),
      confirmation_required: {
        const: true,
        description:
          "Present when the account must be confirmed with the emailed code first (Cognito). Present in the same way for an email that already has an account, though no code is sent then.",
      },
    },
    ["confirmation_required"],
  ),
  ConfirmRequest: {
    type: "object",
    required: ["email", "code"],
    properties: { email: { type: "string", format: "email" }, code: { type: "string", minLength: 1, maxLength: 20 } },
  },
  LoginRequest: {
    type: "object",
    required: ["email", "password"],
    properties: { email: { type: "string", maxLength: 254 }, password: { type: "string", maxLength: 256 } },
  },
  Session: closed({
    id_token: string("An RS256 ID token: send it as `Authorization: Bearer <id_token>`."),
    expires_in: { type: "integer", minimum: 1, description: "Seconds until the token expires." },
    tenant_id: ref("TenantId"),
  }),
  SlackIdentity: slackIdentity,
  Me: closed({
    email: string(),
    tenant_id: ref("TenantId"),
    tenant_name: string(),
    role: ref("Role"),
    slack_identities: { type: "array", items: ref("SlackIdentity") },
  }),
  IdentityList: closed({ identities: { type: "array", items: ref("SlackIdentity") } }),
  InviteRequest: {
    type: "object",
    properties: { role: { ...ref("Role"), description: "The role the invitee gets; `member` by default." } },
  },
  Invite: closed({
    code: string("Single use; give it to the person joining (sign-up with `invite_code`)."),
    expires_at: time("Seven days after it was made."),
  }),
  Member: closed({ user_id: string(), email: string(), role: ref("Role"), created_at: time("When they joined.") }),
  MemberList: closed({ members: { type: "array", items: ref("Member") } }),
  Visibility: {
    description: "Who inside the organisation may read a document.",
    oneOf: [
      closed({ kind: { const: "organisation", description: "Every member of the organisation." } }),
      closed({ kind: { const: "private" }, owner: string("The only person who may read it.") }),
      closed({
        kind: { const: "slack_conversation", description: "Whoever can read one of these Slack conversations." },
        team_id: nullable("The first conversation's workspace."),
        channel_id: nullable("The first conversation's channel."),
        conversations: { type: "array", items: conversation },
      }),
    ],
  },
  DocumentStatus: { type: "string", enum: ["queued", "indexing", "ready", "failed"] },
  Document: closed(
    {
      id: string(),
      title: string(),
      status: ref("DocumentStatus"),
      pages: count("Pages read so far (0 until indexed)."),
      chunks: count("Passages indexed."),
      progress: {
        ...closed({ pages_done: count("Pages parsed."), pages_total: count("Pages in the file.") }),
        description: "Only while `indexing`, once the page count is known.",
      },
      error: {
        ...closed({
          code: { type: "string", enum: [...INGEST_FAILURE_CODES, "internal"] },
          message: string("What went wrong, for the person who can act on it."),
        }),
        description: "Only when `failed`.",
      },
      content_type: { type: "string", enum: ["application/pdf", "text/plain", "text/markdown"] },
      size_bytes: count("Size of the original file."),
      source: { type: "string", enum: ["upload", "cli", "slack"] },
      visibility: ref("Visibility"),
      uploaded_by: string("Who added it."),
      can_read: {
        type: "boolean",
        description: "Whether the caller may read it: admins see every document's record, not its text.",
      },
      created_at: time("When it was added."),
      updated_at: time("When its status last changed."),
    },
    ["progress", "error"],
  ),
  DocumentList: closed({ documents: { type: "array", items: ref("Document") } }),
  UploadResult: closed({
    document: closed({ id: string(), title: string(), status: ref("DocumentStatus"), visibility: ref("Visibility") }),
    duplicate: {
      type: "boolean",
      description: "The same bytes were already uploaded with this visibility: this is that document.",
    },
  }),
  Source: closed(
    {
      n: { type: "integer", minimum: 1, description: "The number cited as `[n]` in the answer." },
      document_id: string(),
      title: string(),
      page: { type: "integer", minimum: 1 },
      snippet: string("The passage the answer drew on."),
      score: { type: "number" },
      link: { type: "string", format: "uri", description: "Where to open the original (a Slack file permalink)." },
    },
    ["link"],
  ),
  HistoryTurn: {
    type: "object",
    required: ["role", "text"],
    properties: { role: { type: "string", enum: ["user", "assistant"] }, text: { type: "string" } },
  },
  AskRequest: {
    type: "object",
    required: ["question"],
    properties: {
      question: { type: "string", description: "At most `MAX_QUESTION_CHARS` characters (400 `question_too_long`)." },
      surface: { type: "string", enum: ["api", "web"], default: "api", description: "A label for the audit log." },
      history: {
        type: "array",
        items: ref("HistoryTurn"),
        description: "Earlier turns, oldest first; the 12 most recent are kept, 2,000 characters each.",
      },
    },
  },
  Outcome: {
    type: "string",
    enum: ["answered", "no_context", "model_unavailable", "error"],
    description:
      "`no_context`: nothing relevant in your documents; `model_unavailable`: a configured model stayed unavailable after retries.",
  },
  Answer: closed(
    {
      answer: string("The answer, citing sources as `[n]`."),
      note: string("A remark about how the answer was made, to show beside it."),
      sources: { type: "array", items: ref("Source") },
      outcome: ref("Outcome"),
      audit_id: string("The audit record of this exchange (for feedback)."),
    },
    ["note"],
  ),
  StreamStatus: closed({ status: { const: "searching" } }),
  StreamDelta: closed({ text: string("The next piece of the answer; joined, the pieces make `done.answer`.") }),
  FeedbackRequest: {
    type: "object",
    required: ["value"],
    properties: { value: { type: "string", enum: ["up", "down"] } },
  },
  AuditRecord: closed({
    id: string(),
    created_at: time("When the question was asked."),
    user_id: string("Who asked (a web user id, or a Slack principal)."),
    user_email: nullable("The asker's email, for web users."),
    slack_user_id: nullable("The asker's Slack user id, for questions from Slack."),
    surface: { type: "string", enum: ["api", "web", "cli", "slack_command", "slack_mention", "slack_dm"] },
    slack: {
      oneOf: [
        closed({ team_id: string(), channel_id: nullable("Slack channel"), thread_ts: nullable("Slack thread") }),
        { type: "null" },
      ],
    },
    question: string(),
    answer: string(),
    sources: { type: "array", items: ref("Source") },
    outcome: ref("Outcome"),
    latency_ms: count("How long the answer took."),
    model: string("What wrote the answer."),
    feedback: {
      oneOf: [
        closed({ value: { type: "string", enum: ["up", "down"] }, by: string(), at: time("When it was rated.") }),
        { type: "null" },
      ],
    },
  }),
  AuditPage: closed({
    records: { type: "array", items: ref("AuditRecord"), description: "Newest first." },
    next_cursor: nullable("Pass as `cursor` for the next page; null on the last page."),
  }),
  LinkTokenRequest: {
    type: "object",
    required: ["token"],
    properties: {
      token: { type: "string", minLength: 1, maxLength: 2000, description: "The one-time token Slack sent." },
    },
  },
  LinkPreview: closed(
    {
      purpose: { type: "string", enum: ["workspace", "identity"] },
      team_id: string(),
      team_name: string(),
      enterprise_id: string(),
      slack_user_id: string("Who asked for the link in Slack."),
      expires_at: time("When the token stops working."),
      already_linked: { type: "boolean", description: "The workspace is linked to an organisation already." },
    },
    ["team_name", "enterprise_id"],
  ),
  LinkCreated: closed({
    team_id: string(),
    tenant_id: ref("TenantId"),
    enterprise_id: nullable("Enterprise Grid org"),
  }),
  WorkspaceLink: closed({
    team_id: string(),
    enterprise_id: nullable("Enterprise Grid org"),
    tenant_id: ref("TenantId"),
    linked_by: string("The admin who linked it."),
    linked_at: time("When it was linked."),
  }),
  LinkList: closed({ links: { type: "array", items: ref("WorkspaceLink") } }),
  DeleteOrganisationRequest: {
    type: "object",
    required: ["confirm"],
    properties: { confirm: { type: "string", description: "The organisation's exact name, as a safety check." } },
  },
  OrganisationDeletion: closed({
    status: { const: "deleting" },
    tenant_id: ref("TenantId"),
    requested_at: time("When the deletion was accepted."),
  }),
  Health: closed({
    status: { type: "string", enum: ["ok", "degraded"] },
    checks: { type: "object", additionalProperties: { type: "string" }, description: '"ok", or what is wrong.' },
  }),
  Jwks: {
    type: "object",
    required: ["keys"],
    properties: {
      keys: {
        type: "array",
        items: {
          type: "object",
          required: ["kty", "kid"],
          properties: { kty: { const: "RSA" }, kid: string(), alg: { const: "RS256" }, use: { const: "sig" } },
        },
      },
    },
  },
};
