import type { Outcome, Surface } from "../domain/audit.js";
import type { IngestFailureCode } from "../domain/errors.js";

/**
 * One answered HTTP request. `route` is the matched route PATTERN (`/api/documents/:id`), never the raw
 * path: a path carries ids, and each distinct label value is a new time series.
 */
export interface HttpRequestSample {
  route: string;
  method: string;
  status: number;
  seconds: number;
}

/** One finished question, as its audit record has it. */
export interface QuestionSample {
  surface: Surface;
  outcome: Outcome;
  seconds: number;
}

/** One document that settled: indexed (`ready`), or failed for good with the code its record shows. */
export interface IngestSample {
  outcome: "ready" | IngestFailureCode | "internal";
  seconds: number;
}

/** The scrape page of a pull-based backend (Prometheus text). */
export interface MetricsPage {
  contentType: string;
  body: string;
}

/**
 * Operational figures. Every label comes from a small fixed set (route pattern, method, status,
 * surface, outcome): never a tenant, user, document or any other id. Recording never throws.
 */
export interface Metrics {
  httpRequest(sample: HttpRequestSample): void;
  question(sample: QuestionSample): void;
  ingest(sample: IngestSample): void;
  /** Backends that are scraped (embedded: Prometheus) render their page; push-based ones have none. */
  render?(): Promise<MetricsPage>;
  /** Backends that buffer per invocation (Lambda: CloudWatch EMF) write what they hold. */
  flush?(): void;
}
