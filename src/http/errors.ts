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

export function toAppError(err: unknown): AppError {
  if (isAppError(err)) return err;
  const e = err as { type?: string; status?: number; code?: string; name?: string } | undefined;
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
