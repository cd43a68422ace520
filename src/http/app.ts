import { randomUUID } from "node:crypto";
import type { Jwks } from "aws-jwt-verify/jwk";
import express, { type Express, type RequestHandler } from "express";
import { AppError } from "../domain/errors.js";
import type { Logger } from "../ports/logger.js";
import { type ApiServices, apiRoutes } from "./api-routes.js";
import { authRoutes } from "./auth-routes.js";
import { errorHandler } from "./errors.js";
import { linkRoutes } from "./link-routes.js";
import { openApiDocument } from "./openapi.js";
import { type HttpMetrics, metricsPage, requestMetrics } from "./request-metrics.js";

export interface HttpExtensions {
  /** Mounted before the JSON body parser: Slack's signature check needs the raw body. */
  beforeBodyParsing?: (app: Express) => void;
  /** Extra routes (link pages, web UI) mounted after the API. */
  afterApi?: (app: Express) => void;
}

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader(
    "Content-Security-Policy",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  );
  next();
};

/** Browsers that reached an https PUBLIC_URL keep to https for a year, subdomains included. */
const strictTransportSecurity: RequestHandler = (_req, res, next) => {
  res.setHeader("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  next();
};

/** What the HTTP surface is handed: the services it calls, its limits, and the health probe. */
export interface HttpDeps {
  services: ApiServices;
  logger: Logger;
  limits: { maxBodyBytes: number; maxFileBytes: number };
  /** Proxies in front whose X-Forwarded-For names the client (0: none, the peer is the client). */
  trustProxyHops: number;
  health: () => Promise<Record<string, string>>;
  /** The embedded pool's public keys, served at /.well-known/jwks.json. */
  jwks?: Jwks;
  /** Request figures, and GET /metrics where the backend has a page (embedded). */
  metrics?: HttpMetrics;
  /** Send Strict-Transport-Security on every response: the public address is https. */
  httpsOnly?: boolean;
}

export function createHttpApp(deps: HttpDeps, extensions: HttpExtensions = {}): Express {
  const { services, logger } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", deps.trustProxyHops);
  app.set("query parser", "simple");
  // First, so that every response is counted, whatever answered it.
  if (deps.metrics) app.use(requestMetrics(deps.metrics.record));
  app.use(securityHeaders);
  if (deps.httpsOnly) app.use(strictTransportSecurity);
  app.use((req, res, next) => {
    const requestId = (req.get("x-request-id") ?? "").slice(0, 64) || randomUUID();
    res.setHeader("X-Request-Id", requestId);
    res.locals.logger = logger.child({ requestId });
    next();
  });

  extensions.beforeBodyParsing?.(app);
  app.use(express.json({ limit: deps.limits.maxBodyBytes }));

  app.get("/health", async (_req, res) => {
    const checks = await deps.health();
    const ok = Object.values(checks).every((v) => v === "ok");
    res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "degraded", checks });
  });
  // The REST API's own description; test/e2e/openapi.test.ts keeps it and the routes below in step.
  app.get("/openapi.json", (_req, res) => {
    res.setHeader("Cache-Control", "public, max-age=300");
    res.json(openApiDocument);
  });
  if (deps.metrics?.render) app.get("/metrics", metricsPage(deps.metrics.render, deps.metrics.token));
  if (deps.jwks) {
    const jwks = deps.jwks;
    app.get("/.well-known/jwks.json", (_req, res) => {
      res.setHeader("Cache-Control", "public, max-age=300");
      res.json(jwks);
    });
  }
  app.use("/auth", authRoutes(services.accounts));
  // Before /api: the link preview is the one API call that needs no login.
  app.use("/api/links", linkRoutes(services));
  app.use("/api", apiRoutes(services, { maxFileBytes: deps.limits.maxFileBytes }));
  extensions.afterApi?.(app);

  app.use((req, _res, next) => {
    next(new AppError("not_found", `No route for ${req.method} ${req.path}.`));
  });
  app.use(errorHandler(logger));
  return app;
}
