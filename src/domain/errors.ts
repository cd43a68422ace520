/**
 * One error type for the whole product. `code` is stable (clients and tests match on it), `message` is
 * safe to show to a user, `detail` is for logs only and never leaves the process.
 */
export type ErrorCode =
  | "bad_request"
  | "validation_failed"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "question_too_long"
  | "rate_limited"
  | "too_many_attempts"
  | "invalid_invite"
  | "invalid_link_token"
  | "email_taken"
  | "invalid_credentials"
  | "unsupported_type"
  | "file_too_large"
  | "too_many_pages"
  | "encrypted_pdf"
  | "no_text_layer"
  | "damaged_file"
  | "parse_timeout"
  | "parse_memory"
  | "empty_document"
  | "model_unavailable"
  /** The model server refused a request with tools; the agent loop retries by retrieving first. */
  | "tools_unsupported"
  | "dependency_unavailable"
  | "internal";

const DEFAULT_STATUS: Partial<Record<ErrorCode, number>> = {
  bad_request: 400,
  validation_failed: 400,
  question_too_long: 400,
  empty_document: 400,
  invalid_invite: 400,
  invalid_link_token: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  email_taken: 409,
  payload_too_large: 413,
  file_too_large: 413,
  unsupported_type: 415,
  rate_limited: 429,
  too_many_attempts: 429,
  model_unavailable: 503,
  dependency_unavailable: 503,
};

export interface AppErrorOptions {
  status?: number;
  retryable?: boolean;
  cause?: unknown;
  /** Log-only detail; never shown to users. */
  detail?: string;
  /** When a refused request may be tried again (sent as Retry-After). */
  retryAfterSeconds?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly detail: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, userMessage: string, options: AppErrorOptions = {}) {
    super(userMessage, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.status = options.status ?? DEFAULT_STATUS[code] ?? 500;
    this.retryable = options.retryable ?? false;
    this.detail = options.detail;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

/** Document-processing failures a user can act on; these are final (never retried). */
export const INGEST_FAILURE_CODES = [
  "unsupported_type",
  "file_too_large",
  "too_many_pages",
  "encrypted_pdf",
  "no_text_layer",
  "damaged_file",
  "parse_timeout",
  "parse_memory",
  "empty_document",
] as const satisfies readonly ErrorCode[];

export type IngestFailureCode = (typeof INGEST_FAILURE_CODES)[number];
