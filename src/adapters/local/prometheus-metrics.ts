import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { HttpRequestSample, IngestSample, Metrics, MetricsPage, QuestionSample } from "../../ports/metrics.js";

/** Figures read when the page is scraped, not kept up to date as they change. */
export interface ScrapedFigures {
  /** Jobs by state in the queue (one query for all three). */
  jobs?: () => { queued: number; running: number; dead: number };
  /** Tenant database files open in the handle cache. */
  openTenantDatabases?: () => number;
}

export interface PrometheusMetricsOptions {
  /** Node's own figures (heap, event-loop lag, GC, CPU, file descriptors) on the page too. */
  processMetrics?: boolean;
}

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ANSWER_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];
const INGEST_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * The process figures are the process's, whichever container asks: one registry for them, built on the
 * first scrape (collectDefaultMetrics starts observers that are never stopped, so once, and never for a
 * process that is not scraped, such as the CLI).
 */
let processRegistry: Registry | undefined;
function processFigures(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * Prometheus over prom-client, in a registry of its own rather than the library's global one: two
 * containers in one process (the tests) must not collide over metric names, nor count each other.
 */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<"route" | "method" | "status">;
  private readonly httpDuration: Histogram<"route" | "method">;
  private readonly questions: Counter<"surface" | "outcome">;
  private readonly answerDuration: Histogram<"surface">;
  private readonly ingestDuration: Histogram<"outcome">;

  constructor(
    figures: ScrapedFigures = {},
    private readonly options: PrometheusMetricsOptions = {},
  ) {
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: "enclave_http_requests_total",
      help: "HTTP requests answered, by route pattern, method and status.",
      labelNames: ["route", "method", "status"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "enclave_http_request_duration_seconds",
      help: "Time to answer an HTTP request, by route pattern and method.",
      labelNames: ["route", "method"],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.questions = new Counter({
      name: "enclave_questions_total",
      help: "Questions answered and audited, by surface and outcome.",
      labelNames: ["surface", "outcome"],
      registers,
    });
    this.answerDuration = new Histogram({
      name: "enclave_answer_duration_seconds",
      help: "Time from a question to its audited answer, by surface.",
      labelNames: ["surface"],
      buckets: ANSWER_BUCKETS,
      registers,
    });
    this.ingestDuration = new Histogram({
      name: "enclave_ingest_duration_seconds",
      help: "Time to index a document on the attempt that settled it, by outcome (ready or the failure code).",
      labelNames: ["outcome"],
      buckets: INGEST_BUCKETS,
      registers,
    });
    const { jobs, openTenantDatabases } = figures;
    if (jobs) {
      scraped(registers, "enclave_job_queue_depth", "Jobs waiting or running.", () => {
        const c = jobs();
        return c.queued + c.running;
      });
      scraped(registers, "enclave_jobs_dead", "Jobs that failed for good and wait for an operator.", () => jobs().dead);
    }
    if (openTenantDatabases)
      scraped(registers, "enclave_tenant_databases_open", "Tenant database files open now.", openTenantDatabases);
  }

  httpRequest({ route, method, status, seconds }: HttpRequestSample): void {
    this.httpRequests.inc({ route, method, status: String(status) });
    this.httpDuration.observe({ route, method }, seconds);
  }

  question({ surface, outcome, seconds }: QuestionSample): void {
    this.questions.inc({ surface, outcome });
    this.answerDuration.observe({ surface }, seconds);
  }

  ingest({ outcome, seconds }: IngestSample): void {
    this.ingestDuration.observe({ outcome }, seconds);
  }

  async render(): Promise<MetricsPage> {
    const registry = this.options.processMetrics ? Registry.merge([this.registry, processFigures()]) : this.registry;
    return { contentType: registry.contentType, body: await registry.metrics() };
  }
}

/**
 * A gauge read at scrape time. A figure that cannot be read now (the database is busy) keeps its last
 * value rather than failing the whole page: the other figures matter most exactly then.
 */
function scraped(registers: Registry[], name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      try {
        this.set(read());
      } catch {
        // Kept: see above.
      }
    },
  });
}
