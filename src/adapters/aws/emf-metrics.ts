import { MetricUnit, Metrics as Powertools } from "@aws-lambda-powertools/metrics";
import type { Logger } from "../../ports/logger.js";
import type { HttpRequestSample, IngestSample, Metrics, QuestionSample } from "../../ports/metrics.js";

export interface EmfMetricsOptions {
  /** The CloudWatch namespace ("Enclave"). */
  namespace: string;
  /** The `service` dimension every metric carries. */
  service: string;
}

/**
 * CloudWatch metrics in the embedded metric format: JSON lines on stdout that CloudWatch Logs turns into
 * metrics, with no API call on the request path. An EMF line gives one set of dimension values to all
 * its metrics, so samples are grouped by their dimensions (route+method+status, surface+outcome,
 * outcome), one Powertools buffer each, and `flush()` (once per invocation) writes one line per group.
 * Same figures as the Prometheus page, in CloudWatch's naming; no tenant dimension, ever.
 */
export class EmfMetrics implements Metrics {
  private readonly pending = new Map<string, Powertools>();

  constructor(
    private readonly options: EmfMetricsOptions,
    private readonly logger: Logger,
  ) {}

  httpRequest({ route, method, status, seconds }: HttpRequestSample): void {
    this.add({ route, method, status: String(status) }, "HttpRequests", "HttpRequestDuration", seconds);
  }

  question({ surface, outcome, seconds }: QuestionSample): void {
    this.add({ surface, outcome }, "Questions", "AnswerDuration", seconds);
  }

  ingest({ outcome, seconds }: IngestSample): void {
    this.add({ outcome }, "Ingests", "IngestDuration", seconds);
  }

  flush(): void {
    const groups = [...this.pending.values()];
    this.pending.clear();
    for (const group of groups) {
      try {
        // Powertools warns on stdout about an empty flush; a group is only ever made to hold samples.
        if (group.hasStoredMetrics()) group.publishStoredMetrics();
      } catch (error) {
        this.logger.warn("could not write metrics", { error });
      }
    }
  }

  private add(dimensions: Record<string, string>, counter: string, duration: string, seconds: number): void {
    try {
      const key = `${counter}\n${JSON.stringify(dimensions)}`;
      let group = this.pending.get(key);
      if (!group) {
        // Default dimensions survive the flush Powertools does by itself once a metric holds 100 values.
        group = new Powertools({
          namespace: this.options.namespace,
          serviceName: this.options.service,
          defaultDimensions: dimensions,
          logger: this.logger,
        });
        this.pending.set(key, group);
      }
      group.addMetric(counter, MetricUnit.Count, 1);
      group.addMetric(duration, MetricUnit.Seconds, seconds);
    } catch (error) {
      // A figure lost is better than a request failed over it.
      this.logger.warn("could not record a metric", { error, metric: counter });
    }
  }
}
