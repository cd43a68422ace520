import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentDisposition } from "../../src/http/api-routes.js";
import { webRoutes } from "../../src/http/web-routes.js";
import type { Logger } from "../../src/ports/logger.js";
import { apiClient, newOrganisation, startTestServer, type TestServer, waitForDocument } from "../support/server.js";

let server: TestServer;
let a: Awaited<ReturnType<typeof newOrganisation>>;
let b: Awaited<ReturnType<typeof newOrganisation>>;

const PAGES = ["/", "/ask", "/login", "/signup", "/link", "/documents", "/audit", "/team"];

beforeAll(async () => {
  server = await startTestServer();
  a = await newOrganisation(server.url, "Northwind");
  b = await newOrganisation(server.url, "Globex");
});

afterAll(async () => {
  await server?.stop();
});

describe("web pages", () => {
  it("serves every page as HTML that is never stored, under the strict CSP, with no inline script or style", async () => {
    for (const path of PAGES) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toMatch(/^text\/html; charset=utf-8/);
      // Not even revalidated copies: after logging out, no app page may be kept in the browser's cache.
      expect(res.headers.get("cache-control"), path).toBe("no-store");
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).toContain("style-src 'self'");
      expect(csp, path).not.toContain("unsafe-inline");
      const html = await res.text();
      expect(html, path).toMatch(/^<!doctype html>/);
      expect(html, path).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
      expect(html, path).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i);
      expect(html, path).not.toContain("{{");
      expect(html, path).toContain('<main id="main"');
      expect(html, path).toContain('href="#main"');
    }
  });

  it("serves versioned assets with a long cache and old versions without one", async () => {
    const html = await (await fetch(`${server.url}/documents`)).text();
    const css = /href="(\/assets\/[0-9a-f]{12}\/app\.css)"/.exec(html)?.[1];
    const js = /src="(\/assets\/[0-9a-f]{12}\/js\/documents\.js)"/.exec(html)?.[1];
    expect(css).toBeDefined();
    expect(js).toBeDefined();
    const cssRes = await fetch(`${server.url}${css}`);
    expect(cssRes.status).toBe(200);
    expect(cssRes.headers.get("content-type")).toMatch(/^text\/css/);
    expect(cssRes.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const jsRes = await fetch(`${server.url}${js}`);
    expect(jsRes.headers.get("content-type")).toMatch(/^(text|application)\/javascript/);
    const stale = await fetch(`${server.url}/assets/000000000000/app.css`);
    expect(stale.status).toBe(200);
    expect(stale.headers.get("cache-control")).toBe("no-cache");
    expect((await fetch(`${server.url}/assets/000000000000/nope.js`)).status).toBe(404);
    const traversal = await fetch(`${server.url}/assets/000000000000/%2e%2e/%2e%2e/web-routes.ts`);
    expect(traversal.status).toBe(404);
    expect(await traversal.text()).not.toContain("import");
  });

  it("answers unknown paths and the API with JSON errors, not pages", async () => {
    const res = await fetch(`${server.url}/no-such-page`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
    expect((await fetch(`${server.url}/api/documents`)).status).toBe(401);
  });

  it("keeps the rest of the server up and says so when the page files were not shipped", async () => {
    const errors: string[] = [];
    const logger = { error: (message: string) => errors.push(message) } as unknown as Logger;
    const app = express().use(webRoutes({ root: "/nonexistent/web", logger }));
    const listener = app.listen(0, "127.0.0.1");
    await new Promise((r) => listener.once("listening", r));
    try {
      const res = await fetch(`http://127.0.0.1:${(listener.address() as AddressInfo).port}/documents`);
      expect(res.status).toBe(503);
      expect(await res.text()).toMatch(/not installed/);
      expect(errors).toEqual(["web app files are missing; pages answer 503"]);
    } finally {
      listener.close();
    }
  });
});

describe("GET /api/documents/:id/file", () => {
  it("streams the original inline with its type, only to its own tenant", async () => {
    const text = "Fire drills happen on the first Monday of every quarter.\n";
    const upload = await a.client.upload('Safety "rules" – Q1.txt', text, "text/plain");
    const id = upload.json.document.id;
    await waitForDocument(a.client, id);
    const res = await fetch(`${server.url}/api/documents/${id}/file`, {
      headers: { authorization: `Bearer ${a.client.token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe(
      `inline; filename="Safety _rules_ _ Q1.txt"; filename*=UTF-8''Safety%20_rules_%20%E2%80%93%20Q1.txt`,
    );
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await res.text()).toBe(text);

    expect((await fetch(`${server.url}/api/documents/${id}/file`)).status).toBe(401);
    const other = await fetch(`${server.url}/api/documents/${id}/file`, {
      headers: { authorization: `Bearer ${b.client.token}` },
    });
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  it("serves PDFs as application/pdf", async () => {
    const pdf = Buffer.from("%PDF-1.4\n% not really a PDF, but stored as one\n");
    const upload = await a.client.upload("scan.pdf", pdf, "application/pdf");
    const id = upload.json.document.id;
    const res = await fetch(`${server.url}/api/documents/${id}/file`, {
      headers: { authorization: `Bearer ${a.client.token}` },
    });
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(res.headers.get("content-disposition")).toMatch(/^inline; filename="scan\.pdf"/);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(pdf);
  });

  it("builds safe Content-Disposition values", () => {
    expect(contentDisposition("attachment", 'a\r\nb/c\\d".csv')).toBe(
      `attachment; filename="a__b_c_d_.csv"; filename*=UTF-8''a__b_c_d_.csv`,
    );
    expect(contentDisposition("inline", "Über (v2)*.pdf")).toBe(
      `inline; filename="_ber (v2)*.pdf"; filename*=UTF-8''%C3%9Cber%20%28v2%29%2A.pdf`,
    );
  });
});

describe("GET /api/audit/export.csv", () => {
  it("exports the tenant's exchanges as CSV for admins only", async () => {
    await a.client.call("POST", "/api/ask", { question: "=When are fire drills?", surface: "web" });
    await b.client.call("POST", "/api/ask", { question: "Globex-only question about badges?" });
    const res = await fetch(`${server.url}/api/audit/export.csv`, {
      headers: { authorization: `Bearer ${a.client.token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(
      /^attachment; filename="enclave-audit-\d{4}-\d{2}-\d{2}\.csv"/,
    );
    const csv = await res.text();
    const lines = csv.replace(/^\uFEFF/, "").split("\r\n");
    expect(lines[0]).toBe(
      "id,created_at,surface,user_id,user_email,slack_team,slack_channel,question,answer,sources,outcome,latency_ms,model,feedback",
    );
    expect(csv).toContain(",web,");
    expect(csv).toContain("'=When are fire drills?");
    expect(csv).not.toContain("Globex-only");

    const invite = await a.client.call("POST", "/api/invites");
    const email = `member-${Date.now()}@northwind.example`;
    await apiClient(server.url).call("POST", "/auth/signup", {
      email,
      password: "Member-pass-1",
      invite_code: invite.json.code,
    });
    const login = await apiClient(server.url).call("POST", "/auth/login", { email, password: "Member-pass-1" });
    const member = await fetch(`${server.url}/api/audit/export.csv`, {
      headers: { authorization: `Bearer ${login.json.id_token}` },
    });
    expect(member.status).toBe(403);
    expect((await fetch(`${server.url}/api/audit/export.csv`)).status).toBe(401);
  });

  it("records asks from the web app with the web surface, and others as api", async () => {
    const page = await a.client.call("GET", "/api/audit?surface=web");
    expect(page.json.records.map((r: { question: string }) => r.question)).toEqual(["=When are fire drills?"]);
    const bad = await a.client.call("POST", "/api/ask", { question: "Hello there?", surface: "slack_dm" });
    expect(bad.status).toBe(400);
  });
});
