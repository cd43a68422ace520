import type { z } from "zod";
import { AppError } from "../domain/errors.js";

/** Parses an inbound payload or fails with a message naming the offending field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join(".") || "body";
  throw new AppError("validation_failed", `Invalid ${field}: ${issue?.message ?? "bad value"}.`);
}
