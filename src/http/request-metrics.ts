import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { AppError } from "../domain/errors.js";
import type { HttpRequestSample, MetricsPage } from "../ports/metrics.js";

/** What the HTTP surface is handed for metrics: where request figures go, and the page when there is one. */
export interface HttpMetrics {
  record(sample: HttpRequestSample): void;
  /** The scrape page (embedded); without it there is no GET /metrics. */
  render?: () => Promise<MetricsPage>;
  /** GET /metrics then needs `Authorization: Bearer <token>`; open when absent. */
  token?: string;
}

/** What a request that matched no route is counted as (a raw path would make a series per URL). */
export const UNMATCHED_ROUTE = "unmatched";

/**
 * Counts every response by route PATTERN, method and status. The pattern is taken when Express matches a
 * route (it assigns `req.route` while `req.baseUrl` is that router's mount path): by the time the response
 * finishes, an error passed on to the app's error handler has left the router, which resets `baseUrl`.
 */
export function requestMetrics(record: HttpMetrics["record"]): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    let matched: unknown;
    let route: string | undefined;
    Object.defineProperty(req, "route", {
      configurable: true,
      enumerable: true,
      get: () => matched,
      set: (value: { path?: unknown } | undefined) => {
        matched = value;
        // A router's own root ("/" under /api/links) is named by its mount path: "/api/links", not "/api/links/".
        if (value?.path !== undefined) route = `${req.baseUrl}${String(value.path)}`.replace(/(.)\/$/, "$1");
      },
    });
    let done = false;
    const finished = () => {
      if (done) return;
      done = true;
      record({
        route: route ?? UNMATCHED_ROUTE,
        method: req.method,
        status: res.statusCode,
        seconds: (performance.now() - started) / 1000,
      });
    };
    res.once("finish", finished);
    // A client that went away before the end (a stream it stopped reading) is counted too.
    res.once("close", finished);
    next();
  };
}

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/**
 * GET /metrics. The token is compared in constant time over hashes of equal length, so neither its
 * characters nor its length leak through response times.
 */
export function metricsPage(render: NonNullable<HttpMetrics["render"]>, token: string | undefined): RequestHandler {
  const expected = token === undefined ? undefined : digest(token);
  return async (req, res) => {
    if (expected) {
      const given = /^Bearer\s+(.+)$/i.exec(req.get("authorization") ?? "")?.[1]?.trim() ?? "";
      if (!timingSafeEqual(digest(given), expected)) {
        res.setHeader("WWW-Authenticate", 'Bearer realm="metrics"');
        throw new AppError("unauthorized", "The metrics page needs its token: send Authorization: Bearer <token>.");
      }
    }
    const page = await render();
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("Content-Type", page.contentType);
    res.send(page.body);
  };
}
