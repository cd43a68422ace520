import type { HttpDeps } from "../http/app.js";
import type { HttpMetrics } from "../http/request-metrics.js";
import type { Metrics } from "../ports/metrics.js";
import type { SlackDeps } from "../slack/surface.js";
import type { Container } from "./container.js";

/** What the HTTP surface is handed: its services and limits, never the container. */
export function httpDeps(c: Container): HttpDeps {
  const { access, accounts, documents, answers, audit, feedback, links, offboarding } = c.services;
  return {
    services: { access, accounts, documents, answers, audit, feedback, links, offboarding },
    logger: c.logger,
    limits: { maxBodyBytes: c.config.MAX_BODY_BYTES, maxFileBytes: c.config.MAX_FILE_BYTES },
    trustProxyHops: c.config.TRUST_PROXY_HOPS,
    httpsOnly: /^https:/i.test(c.config.PUBLIC_URL),
    health: () => c.health(),
    ...(c.jwks ? { jwks: c.jwks } : {}),
    ...(c.metrics ? { metrics: httpMetrics(c.metrics, c.config.METRICS_TOKEN) } : {}),
  };
}

/** The HTTP surface records requests and serves the page; it is handed functions, not the port. */
function httpMetrics(metrics: Metrics, token: string | undefined): HttpMetrics {
  const render = metrics.render?.bind(metrics);
  return {
    record: (sample) => metrics.httpRequest(sample),
    ...(render ? { render } : {}),
    ...(token ? { token } : {}),
  };
}

/** What the Slack surface is handed, when Slack is configured. */
export function slackDeps(c: Container): SlackDeps | undefined {
  if (!c.slack) return undefined;
  const { access, answers, audit, documents, feedback, links, installations, jobs } = c.services;
  return {
    services: { access, answers, audit, documents, feedback, links, installations, jobs },
    settings: c.slack.settings,
    workspaces: c.slack.workspaces,
    logger: c.logger,
    logLevel: c.config.LOG_LEVEL,
    limits: { maxFileBytes: c.config.MAX_FILE_BYTES },
    ...(c.foreground ? { foreground: c.foreground } : {}),
  };
}
