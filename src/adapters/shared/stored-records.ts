import { z } from "zod";
import type { AuditRecord, Outcome, Surface } from "../../domain/audit.js";
import type { DocumentRecord, DocumentSource, DocumentStatus } from "../../domain/documents.js";
import { AppError, INGEST_FAILURE_CODES } from "../../domain/errors.js";
import { isTenantId, type Role, type TenantId } from "../../domain/tenant.js";
import type { JobType } from "../../ports/job-queue.js";
import type { Logger } from "../../ports/logger.js";
import { JsonLogger } from "../local/json-logger.js";

/**
 * Stored records are read back through zod like any other inbound payload: a row damaged by hand, by a
 * bug or by a half-applied migration becomes one clear, logged error naming the store and the record's
 * key, instead of a TypeError far from its cause. The problem is described by field path and rule only:
 * a record may hold document text or tokens, so its content never reaches the error or the log.
 */
export class DamagedRecordError extends AppError {
  readonly store: string;
  readonly key: string;
  readonly problem: string;

  constructor(store: string, key: string, problem: string) {
    super("internal", "This record is damaged and can't be read.", { detail: `${store} ${key}: ${problem}` });
    this.name = "DamagedRecordError";
    this.store = store;
    this.key = key;
    this.problem = problem;
  }
}

export const isDamagedRecord = (error: unknown): error is DamagedRecordError => error instanceof DamagedRecordError;

/** Where a stored value lives: the store's name and the record's key (identifiers only, never content). */
export interface StoredAt {
  store: string;
  key: string;
}

const MAX_KEY = 200;
const MAX_ISSUES = 3;

/** The parsed value, or a DamagedRecordError saying which fields break which rule. */
export function parseStored<S extends z.ZodType>(schema: S, value: unknown, at: StoredAt): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const problem = issues
    .slice(0, MAX_ISSUES)
    .map((issue) => `${issue.path.map(String).join(".") || "(record)"}: ${issue.message}`)
    .concat(issues.length > MAX_ISSUES ? [`and ${issues.length - MAX_ISSUES} more`] : [])
    .join("; ");
  throw damaged(at, problem);
}

/** A record that parses but breaks a rule across fields (e.g. filed under another tenant). */
export function damaged(at: StoredAt, problem: string): DamagedRecordError {
  return new DamagedRecordError(at.store, at.key.slice(0, MAX_KEY), problem);
}

/**
 * Reads records for one adapter and reports the damaged ones: a single read fails with the clear error,
 * a list leaves the damaged record out and returns the others. Either way one error line is logged.
 */
export class StoredRecords {
  private readonly logger: Logger;

  /** Without a logger, damaged records are still reported, as JSON lines on stderr. */
  constructor(logger?: Logger) {
    this.logger = logger ?? new JsonLogger("warn");
  }

  one<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      if (isDamagedRecord(error)) this.report(error, "read failed");
      throw error;
    }
  }

  each<R, T>(rows: Iterable<R>, read: (row: R) => T): T[] {
    const records: T[] = [];
    for (const row of rows) {
      try {
        records.push(read(row));
      } catch (error) {
        if (!isDamagedRecord(error)) throw error;
        this.report(error, "left out of a list");
      }
    }
    return records;
  }

  private report(error: DamagedRecordError, outcome: string): void {
    this.logger.error("stored record is damaged", {
      store: error.store,
      key: error.key,
      problem: error.problem,
      outcome,
    });
  }
}

/** A text column or attribute holding JSON, parsed and then checked by `schema`. */
export function jsonText<S extends z.ZodType>(schema: S) {
  return z
    .string()
    .transform((text, ctx): unknown => {
      try {
        return JSON.parse(text);
      } catch {
        // Not the parser's message: V8 quotes the text around the fault, which may be document text.
        ctx.issues.push({ code: "custom", message: "not valid JSON", input: text });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

/** A z.enum over every member of a string union: the compiler rejects a list that misses one. */
const everyOf =
  <T extends string>() =>
  <const V extends readonly [T, ...T[]]>(values: V & ([Exclude<T, V[number]>] extends [never] ? unknown : never)) =>
    z.enum(values);

/** Every kind of background job, as a job queue stores it. */
export const jobTypeSchema = everyOf<JobType>()(["ingest", "answer", "slack_file", "slack_event", "delete_tenant"]);

export const tenantIdSchema = z.custom<TenantId>((value) => isTenantId(value), "not a valid tenant id");

export const roleSchema = everyOf<Role>()(["admin", "member"]);

export const documentStatusSchema = everyOf<DocumentStatus>()(["queued", "indexing", "ready", "failed"]);

export const documentErrorCodeSchema: z.ZodType<NonNullable<DocumentRecord["error"]>["code"]> = z.enum([
  ...INGEST_FAILURE_CODES,
  "internal",
]);

export const documentSourceSchema: z.ZodType<DocumentSource> = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("upload") }),
  z.object({ kind: z.literal("cli") }),
  z.object({
    kind: z.literal("slack"),
    teamId: z.string(),
    fileId: z.string(),
    channelId: z.string().optional(),
    messageTs: z.string().optional(),
    permalink: z.string().optional(),
  }),
]);

const surfaceSchema = everyOf<Surface>()(["api", "web", "cli", "slack_command", "slack_mention", "slack_dm"]);
const outcomeSchema = everyOf<Outcome>()(["answered", "no_context", "model_unavailable", "error"]);

export const feedbackSchema: z.ZodType<NonNullable<AuditRecord["feedback"]>> = z.object({
  value: z.enum(["up", "down"]),
  by: z.string(),
  at: z.string(),
});

export const auditRecordSchema: z.ZodType<AuditRecord> = z.object({
  id: z.string(),
  tenantId: tenantIdSchema,
  createdAt: z.string(),
  actor: z.object({ userId: z.string(), email: z.string().optional(), slackUserId: z.string().optional() }),
  surface: surfaceSchema,
  slack: z
    .object({
      teamId: z.string(),
      channelId: z.string().optional(),
      threadTs: z.string().optional(),
      enterpriseId: z.string().optional(),
    })
    .optional(),
  question: z.string(),
  answer: z.string(),
  sources: z.array(
    z.object({
      n: z.number(),
      documentId: z.string(),
      title: z.string(),
      page: z.number(),
      snippet: z.string(),
      score: z.number(),
      link: z.string().optional(),
    }),
  ),
  outcome: outcomeSchema,
  latencyMs: z.number(),
  model: z.string(),
  feedback: feedbackSchema.optional(),
});
