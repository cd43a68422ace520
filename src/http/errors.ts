import type { ErrorRequestHandler, Response } from "express";
import { AppError, isAppError } from "../domain/errors.js";
import type { Logger } from "../ports/logger.js";

export function sendError(res: Response, error: AppError): void {
  if (error.retryAfterSeconds !== undefined) res.setHeader("Retry-After", String(error.retryAfterSeconds));
  res.status(error.status).json({ error: { code: error.code, message: error.message } });
}

/** Maps anything thrown to `{"error": {"code", "message"}}`; details go to the log only. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const error = toAppError(err);
    const log = (res.locals.logger as Logger | undefined) ?? logger;
    if (error.status >= 500) log.error("request failed", { error: err, path: req.path });
    else log.info("request rejected", { code: error.code, status: error.status, path: req.path });
    if (res.headersSent) return;
    sendError(res, error);
  };
}

/** How long a client should wait before trying again after the database was busy. */
export const BUSY_RETRY_AFTER_SECONDS = 2;

/**
 * The server's own storage refused the request: a database another process keeps locked past the
 * busy timeout (SQLITE_BUSY; SQLITE_LOCKED within one connection), or a full disk (SQLITE_FULL, and
 * ENOSPC/EDQUOT from any other write). The statement that fails so changes nothing (SQLite rolls it
 * back). This is the one place those driver errors become a reason for the user.
 */
function storageRefusal(e: { code?: string; name?: string } | undefined, err: unknown): AppError | undefined {
  const code = typeof e?.code === "string" ? e.code : "";
  if (e?.name === "SqliteError" && /^SQLITE_(BUSY|LOCKED)(_|$)/.test(code)) {
    return new AppError(
      "dependency_unavailable",
      "The database is busy right now, so your request could not be completed. Try again in a moment.",
      { retryable: true, retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS, cause: err, detail: code },
    );
  }
  if ((e?.name === "SqliteError" && /^SQLITE_FULL(_|$)/.test(code)) || code === "ENOSPC" || code === "EDQUOT") {
    return new AppError(
      "dependency_unavailable",
      "The server has run out of disk space, so your request could not be completed. Try again later.",
      { retryable: true, cause: err, detail: code },
    );
  }
  return undefined;
}

/**
 * What went wrong reading a multipart upload. multer reports its limits as MulterError (mapped by
 * `toAppError`); anything else it hands on is busboy or the request stream failing on the body the
 * client sent: a form that ends before its closing boundary ("Unexpected end of form/file"), a client
 * that went away mid-upload, or a body that is not multipart at all. All are the client's to fix.
 */
export function uploadReadError(err: unknown): AppError {
  const e = err as { name?: string; type?: string; code?: string; message?: unknown } | undefined;
  if (isAppError(err) || e?.name === "MulterError" || e?.type !== undefined || storageRefusal(e, err))
    return toAppError(err);
  const message = typeof e?.message === "string" ? e.message : "";
  if (/^Unexpected end of (form|file)$|^Request (aborted|closed)$|^aborted$/.test(message) || e?.code === "ECONNRESET")
    return new AppError("bad_request", "The upload was cut off before the file ended. Send it again.", {
      cause: err,
      detail: message,
    });
  return new AppError(
    "bad_request",
    'The upload is not valid multipart form data. Send the file in a form field named "file".',
    { cause: err, detail: message },
  );
}

export function toAppError(err: unknown): AppError {
  if (isAppError(err)) return err;
  const e = err as { type?: string; status?: number; code?: string; name?: string } | undefined;
  const refusal = storageRefusal(e, err);
  if (refusal) return refusal;
  // body-parser and multer report limits and syntax errors with these markers.
  if (e?.type === "entity.too.large")
    return new AppError("payload_too_large", "The request body is too large.", { cause: err });
  if (e?.type === "entity.parse.failed")
    return new AppError("bad_request", "The request body is not valid JSON.", { cause: err });
  if (e?.name === "MulterError") {
    if (e.code === "LIMIT_FILE_SIZE")
      return new AppError("file_too_large", "This file is larger than the upload limit.", { cause: err });
    return new AppError("bad_request", 'Send one file in the form field named "file".', { cause: err });
  }
  if (typeof e?.status === "number" && e.status >= 400 && e.status < 500) {
    return new AppError("bad_request", "The request could not be read.", { status: e.status, cause: err });
  }
  return new AppError("internal", "Something went wrong on our side. Please try again.", { cause: err });
}
