import { AppError, isAppError } from "../../domain/errors.js";

interface SdkErrorShape {
  name?: string;
  code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "ThrottledException",
  "TooManyRequestsException",
  "ProvisionedThroughputExceededException",
  "RequestThrottled",
  "RequestThrottledException",
  "RequestLimitExceeded",
  "SlowDown",
  "LimitExceededException",
  "TransactionInProgressException",
]);
const TRANSIENT = new Set([
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "InternalServerError",
  "InternalServerException",
  "InternalFailure",
  "InternalError",
  "ModelNotReadyException",
  "ModelTimeoutException",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "AbortError",
]);
const NETWORK = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN"]);

/** Throttling, 5xx and network failures: worth retrying later (the SDK already retried them). */
export function isTransient(error: unknown): boolean {
  const e = (error ?? {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return (
    status >= 500 ||
    status === 429 ||
    THROTTLING.has(e.name ?? "") ||
    TRANSIENT.has(e.name ?? "") ||
    NETWORK.has(e.code ?? "") ||
    e.$retryable !== undefined
  );
}

export const errorName = (error: unknown): string => ((error ?? {}) as SdkErrorShape).name ?? "Error";

/**
 * Turns a failure that outlived the SDK's retries into an AppError the user can read: `what` names the
 * capability ("File storage", "The document catalogue"). Anything else is rethrown unchanged.
 */
export function unavailable(what: string, error: unknown): Error {
  if (isAppError(error)) return error;
  if (isTransient(error)) {
    return new AppError(
      "dependency_unavailable",
      `${what} is unavailable right now. Please try again in a few minutes.`,
      {
        retryable: true,
        cause: error,
        detail: errorName(error),
      },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** Runs an SDK call, mapping a lasting transient failure to `dependency_unavailable`. */
export async function guarded<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw unavailable(what, error);
  }
}
