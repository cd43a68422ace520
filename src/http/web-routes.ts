import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Response, Router } from "express";
import type { Logger } from "../ports/logger.js";

export interface WebOptions {
  /**
   * The folder holding `layout.html`, `pages/` and `public/`. Defaults to `web/` beside this module; in
   * the Lambda bundle this module is index.mjs and infra/lib/after-bundling.mjs copies the folder there.
   */
  root?: string;
  /** Told when the files are missing (a bundle shipped without them). */
  logger?: Logger;
}

type Nav = "ask" | "documents" | "audit" | "team" | "none";

interface PageSpec {
  file: string;
  title: string;
  nav: Nav;
  script: string;
  /** Pages for people who are not logged in get the header without the app navigation. */
  public?: boolean;
}

/** Each URL of the web app and the page fragment, navigation entry and module it uses. */
const PAGES: Record<string, PageSpec> = {
  "/": { file: "ask.html", title: "Ask", nav: "ask", script: "ask.js" },
  "/ask": { file: "ask.html", title: "Ask", nav: "ask", script: "ask.js" },
  "/documents": { file: "documents.html", title: "Documents", nav: "documents", script: "documents.js" },
  "/audit": { file: "audit.html", title: "Audit log", nav: "audit", script: "audit.js" },
  "/team": { file: "team.html", title: "Team", nav: "team", script: "team.js" },
  "/login": { file: "login.html", title: "Log in", nav: "none", script: "login.js", public: true },
  "/signup": { file: "signup.html", title: "Sign up", nav: "none", script: "signup.js", public: true },
  "/link": { file: "link.html", title: "Link a Slack workspace", nav: "none", script: "link.js", public: true },
};

const defaultRoot = () => fileURLToPath(new URL("./web/", import.meta.url));

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** One version for all assets: modules import each other relatively, so they must share a prefix. */
function assetVersion(publicDir: string): string {
  const hash = createHash("sha256");
  for (const file of listFiles(publicDir)) {
    hash.update(relative(publicDir, file).split(sep).join("/"));
    hash.update("\0");
    hash.update(readFileSync(file));
  }
  return hash.digest("hex").slice(0, 12);
}

/** Composes every page once at start-up. Only server constants are substituted: no request data. */
function renderPages(root: string, assets: string): Map<string, string> {
  const layout = readFileSync(join(root, "layout.html"), "utf8");
  const rendered = new Map<string, string>();
  for (const [path, spec] of Object.entries(PAGES)) {
    const main = readFileSync(join(root, "pages", spec.file), "utf8");
    let html = layout
      .replaceAll("{{title}}", spec.title)
      .replaceAll("{{kind}}", spec.public ? "public" : "app")
      .replaceAll("{{main}}", main.trim())
      .replaceAll("{{script}}", `${assets}/js/${spec.script}`)
      .replaceAll("{{assets}}", assets);
    if (spec.nav !== "none")
      html = html.replace(`data-nav="${spec.nav}"`, `data-nav="${spec.nav}" aria-current="page"`);
    rendered.set(path, html);
  }
  return rendered;
}

/**
 * The web app: server-composed HTML pages plus static ES modules and CSS, no build step. Assets live
 * under `/assets/<version>/` and are cached for a year (they hold no data). The HTML pages are never
 * stored (`no-store`): a new deployment is picked up at once, and after logging out no copy of an app
 * page is kept in the HTTP cache. The pages hold no data themselves: everything comes from the REST API
 * with the Bearer token kept in sessionStorage, and the page scripts re-check the session whenever the
 * browser shows a page again from its back/forward cache (see public/js/shell.js).
 */
export function webRoutes(options: WebOptions = {}): Router {
  const root = options.root ?? defaultRoot();
  const publicDir = join(root, "public");
  if (!existsSync(join(root, "layout.html")) || !existsSync(publicDir)) {
    // The API and Slack must keep working when a deployment forgot the page files: say so instead.
    options.logger?.error("web app files are missing; pages answer 503", { root });
    const missing = Router();
    missing.get(Object.keys(PAGES), (_req, res) => {
      res.status(503).type("text/plain").send("The Enclave web app is not installed on this server.");
    });
    return missing;
  }
  const version = assetVersion(publicDir);
  const assets = `/assets/${version}`;
  const pages = renderPages(root, assets);
  const router = Router();

  const sendPage = (res: Response, html: string) => {
    res.setHeader("Content-Type", "text/html; charset=utf-8");
    res.setHeader("Cache-Control", "no-store");
    res.send(html);
  };
  for (const [path, html] of pages) {
    router.get(path, (_req, res) => sendPage(res, html));
  }

  router.use(
    assets,
    express.static(publicDir, { index: false, redirect: false, immutable: true, maxAge: "365d", fallthrough: true }),
  );
  // A page from the previous deployment may still ask for its old version: serve today's file, uncached.
  router.use(
    "/assets/:version",
    express.static(publicDir, {
      index: false,
      redirect: false,
      fallthrough: true,
      setHeaders: (res) => res.setHeader("Cache-Control", "no-cache"),
    }),
  );
  router.get("/favicon.ico", (_req, res) => {
    res.setHeader("Cache-Control", "public, max-age=86400");
    res.redirect(301, `${assets}/favicon.svg`);
  });
  return router;
}
