import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiClient, apiClient, confirmIfAsked, newOrganisation, waitForDocument } from "../support/server.js";

const handbook = readFileSync(
  new URL("../../examples/documents/northwind-employee-handbook.md", import.meta.url),
  "utf8",
);
const runbook = readFileSync(new URL("../../examples/documents/globex-security-runbook.txt", import.meta.url), "utf8");

/** A one-page PDF with compressed (binary) content streams. */
async function pdfOf(lines: string[]): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const page = pdf.addPage([595, 842]);
  lines.forEach((line, i) => {
    page.drawText(line, { x: 50, y: 780 - i * 18, size: 12, font });
  });
  return pdf.save();
}

/** The keys of a sign-up answer, top level and nested: what a client could tell two answers apart by. */
const shapeOf = (json: any) => ({
  keys: Object.keys(json).sort(),
  user: Object.keys(json.user ?? {}).sort(),
  tenant: Object.keys(json.tenant ?? {}).sort(),
});

/** One running shape of the product, reached over HTTP or through the Lambda handler. */
export interface RestTarget {
  baseUrl: string;
  fetch: typeof fetch;
  /** The code a sign-up's confirmation email carried (Cognito); absent where accounts need no confirmation. */
  confirmationCode?: (email: string) => Promise<string>;
  /** The key the identity provider signs ID tokens with (for forged-token checks). */
  signingKey: () => KeyObject | string;
  /** Whether the app serves /.well-known/jwks.json itself (the embedded pool does; Cognito serves its own). */
  servesJwks: boolean;
  stop(): Promise<void>;
}

/** Settings every target starts with: the small limits the suite tests against. */
export const REST_SUITE_SETTINGS = { MAX_FILE_BYTES: "200000", MAX_QUESTION_CHARS: "500", MAX_BODY_BYTES: "4096" };

/**
 * The REST API suite, run unchanged against each shape: the embedded server over HTTP
 * (rest-api.test.ts) and the AWS shape through its Lambda handlers (rest-api.aws.test.ts).
 */
export function describeRestApi(name: string, start: () => Promise<RestTarget>) {
  const t = {
    target: undefined as unknown as RestTarget,
    api: (token?: string): ApiClient => apiClient(t.target.baseUrl, token, t.target.fetch),
  };
  let a: Awaited<ReturnType<typeof newOrganisation>>;
  let b: Awaited<ReturnType<typeof newOrganisation>>;
  let aDocId: string;

  describe(`REST API: ${name}`, () => {
    beforeAll(async () => {
      t.target = await start();
      // Same organisation name on purpose: sign-up must still create two separate tenants.
      const options = {
        transport: t.target.fetch,
        ...(t.target.confirmationCode ? { confirmationCode: t.target.confirmationCode } : {}),
      };
      a = await newOrganisation(t.target.baseUrl, "Northwind", options);
      b = await newOrganisation(t.target.baseUrl, "Northwind", options);
      const upload = await a.client.upload("Employee Handbook.md", handbook, "text/markdown");
      expect(upload.status).toBe(202);
      aDocId = upload.json.document.id;
      expect(upload.json.document).toMatchObject({ title: "Employee Handbook", status: "queued" });
      const ready = await waitForDocument(a.client, aDocId);
      expect(ready).toMatchObject({ status: "ready", pages: 1 });
      expect(ready.chunks).toBeGreaterThan(1);
      const other = await b.client.upload("runbook.txt", runbook, "text/plain");
      await waitForDocument(b.client, other.json.document.id);
    });

    afterAll(async () => {
      await t.target?.stop();
    });

    describe("sign-up and identity", () => {
      it("creates a new tenant for every sign-up, even with the same organisation name", async () => {
        expect(a.tenantId).not.toBe(b.tenantId);
        const me = await a.client.call("GET", "/api/me");
        expect(me.json).toEqual({
          email: a.email,
          tenant_id: a.tenantId,
          tenant_name: "Northwind",
          role: "admin",
          slack_identities: [],
        });
      });

      it("answers a sign-up with a taken email like a new one but creates nothing; refuses a weak password", async () => {
        const anon = t.api();
        const fresh = await anon.call("POST", "/auth/signup", {
          email: `fresh-${Date.now()}@x.example`,
          password: "Another-pass-1",
          organization: "X",
        });
        expect(fresh.status).toBe(201);
        const membersBefore = (await a.client.call("GET", "/api/members")).json.members;

        const dup = await anon.call("POST", "/auth/signup", {
          email: a.email,
          password: "Another-pass-1",
          organization: "X",
        });
        // Nothing in the answer tells a taken email from a new one.
        expect(dup.status).toBe(201);
        expect(shapeOf(dup.json)).toEqual(shapeOf(fresh.json));
        expect(dup.json.confirmation_required).toBe(fresh.json.confirmation_required);
        expect(dup.json.user).toEqual({ email: a.email, tenant_id: dup.json.tenant.id, role: "admin" });
        expect(dup.json.tenant.name).toBe("X");
        expect(dup.json.tenant.id).toMatch(/^t_/);
        expect(dup.json.tenant.id).not.toBe(a.tenantId);

        // No second account: the new password does not log in, the original one still does, into its tenant.
        const withNew = await anon.call("POST", "/auth/login", { email: a.email, password: "Another-pass-1" });
        expect(withNew.status).toBe(401);
        expect(withNew.json.error.code).toBe("invalid_credentials");
        const withOriginal = await anon.call("POST", "/auth/login", { email: a.email, password: a.password });
        expect(withOriginal.status).toBe(200);
        expect(withOriginal.json.tenant_id).toBe(a.tenantId);
        const me = await t.api(withOriginal.json.id_token).call("GET", "/api/me");
        expect(me.json).toMatchObject({ tenant_id: a.tenantId, tenant_name: "Northwind", role: "admin" });
        // The original organisation is as it was: the same members, the admin still its admin.
        expect((await a.client.call("GET", "/api/members")).json.members).toEqual(membersBefore);

        const weak = await anon.call("POST", "/auth/signup", {
          email: "weak@x.example",
          password: "short",
          organization: "X",
        });
        expect(weak.status).toBe(400);
        expect(weak.json.error.message).toMatch(/password/);
      });

      it("joins an existing tenant as a member with an invite, once", async () => {
        const invite = await a.client.call("POST", "/api/invites");
        expect(invite.status).toBe(201);
        expect(Date.parse(invite.json.expires_at)).toBeGreaterThan(Date.now());
        const anon = t.api();
        const email = `member-${Date.now()}@northwind.example`;
        const joined = await anon.call("POST", "/auth/signup", {
          email,
          password: "Member-pass-1",
          invite_code: invite.json.code,
        });
        expect(joined.status).toBe(201);
        expect(joined.json.user).toEqual({ email, tenant_id: a.tenantId, role: "member" });
        await confirmIfAsked(anon, joined, email, t.target);
        const again = await anon.call("POST", "/auth/signup", {
          email: `x${email}`,
          password: "Member-pass-1",
          invite_code: invite.json.code,
        });
        expect(again.status).toBe(400);
        expect(again.json.error.code).toBe("invalid_invite");

        const login = await anon.call("POST", "/auth/login", { email, password: "Member-pass-1" });
        const member = t.api(login.json.id_token);
        // A member reads only their own exchanges (none yet), never the organisation's log or its export.
        const own = await member.call("GET", "/api/audit");
        expect(own.status).toBe(200);
        expect(own.json.records).toEqual([]);
        expect((await member.call("GET", "/api/audit/export.csv")).status).toBe(403);
        expect((await member.call("POST", "/api/invites")).status).toBe(403);
        // Members read and ask in their own tenant.
        expect((await member.call("GET", `/api/documents/${aDocId}`)).status).toBe(200);
      });

      it("answers an invite sign-up with a taken email like a new one and leaves the invite for a newcomer", async () => {
        const invite = await a.client.call("POST", "/api/invites");
        expect(invite.status).toBe(201);
        const anon = t.api();
        const membersBefore = (await a.client.call("GET", "/api/members")).json.members;
        // B's admin already has an account (in another tenant): the answer is a member's of A, as for anyone.
        const taken = await anon.call("POST", "/auth/signup", {
          email: b.email,
          password: "Member-pass-1",
          invite_code: invite.json.code,
        });
        expect(taken.status).toBe(201);
        expect(taken.json.user).toEqual({ email: b.email, tenant_id: a.tenantId, role: "member" });
        expect(taken.json.tenant).toEqual({ id: a.tenantId, name: "Northwind" });
        expect((await a.client.call("GET", "/api/members")).json.members).toEqual(membersBefore);
        const withNew = await anon.call("POST", "/auth/login", { email: b.email, password: "Member-pass-1" });
        expect(withNew.status).toBe(401);
        expect(withNew.json.error.code).toBe("invalid_credentials");
        const withOriginal = await anon.call("POST", "/auth/login", { email: b.email, password: b.password });
        expect(withOriginal.json.tenant_id).toBe(b.tenantId);

        // The invite was not used up: a real newcomer joins with it, and the answers look alike.
        const email = `newcomer-${Date.now()}@northwind.example`;
        const joined = await anon.call("POST", "/auth/signup", {
          email,
          password: "Member-pass-1",
          invite_code: invite.json.code,
        });
        expect(joined.status).toBe(201);
        expect(shapeOf(taken.json)).toEqual(shapeOf(joined.json));
        expect(taken.json.confirmation_required).toBe(joined.json.confirmation_required);
        await confirmIfAsked(anon, joined, email, t.target);
        const login = await anon.call("POST", "/auth/login", { email, password: "Member-pass-1" });
        expect(login.json.tenant_id).toBe(a.tenantId);
        const members = (await a.client.call("GET", "/api/members")).json.members;
        expect(members.map((m: { email: string }) => m.email).sort()).toEqual(
          [...membersBefore.map((m: { email: string }) => m.email), email].sort(),
        );
      });

      it("rejects a wrong password without saying which part was wrong", async () => {
        const res = await t.api().call("POST", "/auth/login", {
          email: a.email,
          password: "Wrong-pass-1",
        });
        expect(res.status).toBe(401);
        expect(res.json.error).toEqual({
          code: "invalid_credentials",
          message: "Email or password is incorrect.",
        });
      });
    });

    describe("tokens", () => {
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
      const realKey = () => t.target.signingKey();
      const parts = () => {
        const [h, p] = (a.client.token ?? "").split(".");
        return {
          header: JSON.parse(Buffer.from(h ?? "", "base64url").toString()),
          payload: JSON.parse(Buffer.from(p ?? "", "base64url").toString()),
        };
      };
      const signWith = (key: Parameters<typeof sign>[2], header: object, payload: object) => {
        const input = `${b64(header)}.${b64(payload)}`;
        return `${input}.${sign("RSA-SHA256", Buffer.from(input), key).toString("base64url")}`;
      };
      const status = async (token: string | undefined) => (await t.api(token).call("GET", "/api/me")).status;

      it("rejects missing, malformed, forged, expired, foreign-key, alg:none and wrong-audience tokens", async () => {
        const { header, payload } = parts();
        expect(await status(a.client.token)).toBe(200);
        expect(await status(undefined)).toBe(401);
        expect(await status("not-a-jwt")).toBe(401);
        // Forged: B's tenant put into A's token, original signature kept.
        const [h, , s] = (a.client.token ?? "").split(".");
        expect(await status(`${h}.${b64({ ...payload, "custom:tenant_id": b.tenantId })}.${s}`)).toBe(401);
        expect(await status(signWith(realKey(), header, { ...payload, exp: Math.floor(Date.now() / 1000) - 60 }))).toBe(
          401,
        );
        const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
        expect(await status(signWith(other, header, payload))).toBe(401);
        expect(await status(signWith(other, { ...header, kid: "someone-else" }, payload))).toBe(401);
        expect(await status(`${b64({ alg: "none", typ: "JWT" })}.${b64(payload)}.`)).toBe(401);
        expect(await status(signWith(realKey(), header, { ...payload, aud: "another-app" }))).toBe(401);
        expect(await status(signWith(realKey(), header, { ...payload, token_use: "access" }))).toBe(401);
        // Properly signed but naming another tenant than the account's membership: no such member there.
        expect(await status(signWith(realKey(), header, { ...payload, "custom:tenant_id": b.tenantId }))).toBe(401);
        const res = await t.api("x.y.z").call("GET", "/api/documents");
        expect(res.json.error.code).toBe("unauthorized");
      });

      it("serves the public keys as a JWKS where it is the identity provider (Cognito serves its own)", async () => {
        const res = await t.target.fetch(`${t.target.baseUrl}/.well-known/jwks.json`);
        if (!t.target.servesJwks) {
          expect(res.status).toBe(404);
          return;
        }
        const jwks = (await res.json()) as { keys: { kty: string; alg: string; kid: string; d?: string }[] };
        expect(jwks.keys[0]).toMatchObject({ kty: "RSA", alg: "RS256" });
        expect(jwks.keys[0]?.d).toBeUndefined();
      });
    });

    describe("asking", () => {
      it("answers from the tenant's documents with numbered sources and an audit id", async () => {
        const res = await a.client.call("POST", "/api/ask", {
          question: "How many vacation days do employees get per year?",
        });
        expect(res.status).toBe(200);
        expect(res.json.outcome).toBe("answered");
        expect(res.json.answer).toContain("27 days");
        expect(res.json.answer).toMatch(/\[1\]/);
        // The extractive answerer's remark comes beside the answer, not as part of it.
        expect(res.json.note).toMatch(/no language model is configured/i);
        expect(res.json.answer).not.toMatch(/language model/i);
        expect(res.json.sources[0]).toMatchObject({
          n: 1,
          document_id: aDocId,
          title: "Employee Handbook",
          page: 1,
        });
        expect(res.json.sources[0].snippet.length).toBeGreaterThan(10);
        expect(typeof res.json.sources[0].score).toBe("number");
        expect(res.json.audit_id).toEqual(expect.any(String));
      });

      it("says so instead of inventing when nothing relevant exists, even if a common word matches", async () => {
        for (const question of [
          "Explain the quantum chromodynamics policy",
          "What is the policy on bringing pets to the office?",
          "???",
          'vacation" OR NEAR(a b) AND * ^ : -- ;',
        ]) {
          const res = await a.client.call("POST", "/api/ask", { question });
          expect(res.status, question).toBe(200);
          if (question.startsWith("vacation")) continue; // has a real term: may answer, must not fail
          expect(res.json.outcome, question).toBe("no_context");
          expect(res.json.sources, question).toEqual([]);
          expect(res.json.answer).toMatch(/couldn't find/);
        }
      });

      it("rejects empty and over-long questions and oversized bodies", async () => {
        expect((await a.client.call("POST", "/api/ask", { question: "  " })).status).toBe(400);
        const long = await a.client.call("POST", "/api/ask", { question: "why ".repeat(200) });
        expect(long.status).toBe(400);
        expect(long.json.error.code).toBe("question_too_long");
        const huge = await a.client.call("POST", "/api/ask", { question: "x".repeat(10_000) });
        expect(huge.status).toBe(413);
        expect(huge.json.error.code).toBe("payload_too_large");
        const bad = await a.client.call("POST", "/api/ask", "{not json");
        expect(bad.status).toBe(400);
      });
    });

    describe("tenant isolation", () => {
      it("never lets B reach A's document, title, chunks or audit rows", async () => {
        expect((await b.client.call("GET", `/api/documents/${aDocId}`)).status).toBe(404);
        expect((await b.client.call("DELETE", `/api/documents/${aDocId}`)).status).toBe(404);
        const list = await b.client.call("GET", "/api/documents");
        expect(JSON.stringify(list.json)).not.toContain("Handbook");
        const ask = await b.client.call("POST", "/api/ask", {
          question: "How many vacation days do employees get per year?",
        });
        expect(ask.json.outcome).toBe("no_context");
        expect(JSON.stringify(ask.json)).not.toMatch(/27 days|Handbook/);
        const audit = await b.client.call("GET", "/api/audit?limit=200");
        expect(audit.status).toBe(200);
        expect(JSON.stringify(audit.json)).not.toMatch(
          /27 days|Handbook|vacation days do employees get per year\?"[^}]*answered/,
        );
        for (const record of audit.json.records)
          expect(record.sources.every((s: { document_id: string }) => s.document_id !== aDocId)).toBe(true);
        // And A's document is still there for A.
        expect((await a.client.call("GET", `/api/documents/${aDocId}`)).status).toBe(200);
      });

      it("keeps audit rows per tenant, newest first, with paging", async () => {
        for (const q of [
          "Who approves long vacations?",
          "What is the hotel limit in capital cities?",
          "When do laptops get replaced?",
        ]) {
          await a.client.call("POST", "/api/ask", { question: q });
        }
        const first = await a.client.call("GET", "/api/audit?limit=2");
        expect(first.json.records).toHaveLength(2);
        expect(first.json.records[0].question).toBe("When do laptops get replaced?");
        expect(first.json.records[0]).toMatchObject({
          surface: "api",
          outcome: "answered",
          model: "extractive",
          user_email: a.email,
        });
        expect(first.json.records[0].latency_ms).toEqual(expect.any(Number));
        expect(first.json.next_cursor).toEqual(expect.any(String));
        const second = await a.client.call(
          "GET",
          `/api/audit?limit=2&cursor=${encodeURIComponent(first.json.next_cursor)}`,
        );
        expect(first.json.records[1].question).toBe("What is the hotel limit in capital cities?");
        expect(second.json.records[0].question).toBe("Who approves long vacations?");
        const bAudit = await b.client.call("GET", "/api/audit?limit=200");
        expect(bAudit.json.records.some((r: { question: string }) => r.question.includes("laptops"))).toBe(false);
      });
    });

    describe("documents", () => {
      it("treats the same file twice as one document", async () => {
        const again = await a.client.upload("copy of handbook.md", handbook, "text/markdown");
        expect(again.status).toBe(202);
        expect(again.json.document.id).toBe(aDocId);
        const list = await a.client.call("GET", "/api/documents");
        expect(list.json.documents.filter((d: { id: string }) => d.id === aDocId)).toHaveLength(1);
      });

      it("refuses unsupported types and files over the size limit with clear errors", async () => {
        const png = await a.client.upload("photo.png", new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]), "image/png");
        expect(png.status).toBe(415);
        expect(png.json.error.message).toMatch(/PDF, .txt or .md/);
        const big = await a.client.upload("big.txt", "word ".repeat(50_000), "text/plain");
        expect(big.status).toBe(413);
        expect(big.json.error.code).toBe("file_too_large");
        const none = await a.client.call("POST", "/api/upload", {});
        expect(none.status).toBe(400);
      });

      it("answers an upload cut off mid-form with 400 and a reason, and stores nothing", async () => {
        const before = await a.client.call("GET", "/api/documents");
        const head =
          '--cut-off\r\nContent-Disposition: form-data; name="file"; filename="cut.txt"\r\nContent-Type: text/plain\r\n\r\n';
        // The body ends mid-file, right after the part's headers, and inside them: never the closing boundary.
        for (const body of [`${head}Walruses in the Northwind aquarium are`, head, head.slice(0, 40)]) {
          const res = await t.target.fetch(`${t.target.baseUrl}/api/upload`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${a.client.token}`,
              "content-type": "multipart/form-data; boundary=cut-off",
            },
            body,
          });
          const json = (await res.json()) as { error?: unknown };
          expect(res.status, JSON.stringify(json)).toBe(400);
          expect(json.error).toEqual({
            code: "bad_request",
            message: "The upload was cut off before the file ended. Send it again.",
          });
        }
        const after = await a.client.call("GET", "/api/documents");
        expect(after.json.documents).toEqual(before.json.documents);
      });

      it("indexes a binary PDF upload and serves every original back byte for byte", async () => {
        const pdf = await pdfOf(["Kiwi birds in the Northwind aviary are weighed every Thursday morning."]);
        expect(Buffer.from(pdf).toString("utf8")).toContain("\uFFFD"); // not valid UTF-8: a text path would corrupt it
        const utf16 = Buffer.concat([
          Buffer.from([0xff, 0xfe]),
          Buffer.from("Penguins in the Northwind aviary are fed sardines at dawn.", "utf16le"),
        ]);
        const files = [
          { name: "aviary.pdf", data: pdf, type: "application/pdf", question: "When are the kiwi birds weighed?" },
          {
            name: "penguins.txt",
            data: new Uint8Array(utf16),
            type: "text/plain",
            question: "What are the penguins fed at dawn?",
          },
        ];
        for (const file of files) {
          const upload = await a.client.upload(file.name, file.data, file.type);
          expect(upload.status, JSON.stringify(upload.json)).toBe(202);
          const id = upload.json.document.id;
          expect((await waitForDocument(a.client, id)).status).toBe("ready");
          // Indexed from the bytes sent: the text is found.
          const asked = await a.client.call("POST", "/api/ask", { question: file.question });
          expect(asked.json.outcome, file.name).toBe("answered");
          expect(asked.json.sources[0].document_id).toBe(id);
          const res = await t.target.fetch(`${t.target.baseUrl}/api/documents/${id}/file`, {
            headers: { authorization: `Bearer ${a.client.token}` },
          });
          expect(res.status).toBe(200);
          expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(file.data)), file.name).toBe(true);
          expect((await a.client.call("DELETE", `/api/documents/${id}`)).status).toBe(204);
        }
      });

      it("deleting a document removes it from answers", async () => {
        const upload = await a.client.upload(
          "zebra-care.txt",
          "Zebras in the Northwind petting zoo are fed striped hay every Tuesday at noon.",
        );
        const id = upload.json.document.id;
        await waitForDocument(a.client, id);
        const before = await a.client.call("POST", "/api/ask", {
          question: "When are the zebras fed striped hay?",
        });
        expect(before.json.outcome).toBe("answered");
        expect(before.json.sources[0].document_id).toBe(id);
        expect((await a.client.call("DELETE", `/api/documents/${id}`)).status).toBe(204);
        expect((await a.client.call("GET", `/api/documents/${id}`)).status).toBe(404);
        const after = await a.client.call("POST", "/api/ask", {
          question: "When are the zebras fed striped hay?",
        });
        expect(after.json.outcome).toBe("no_context");
      });
    });

    describe("health", () => {
      it("reports ok with its checks", async () => {
        const res = await t.target.fetch(`${t.target.baseUrl}/health`);
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ status: "ok", checks: { database: "ok" } });
      });
    });
  });
}
