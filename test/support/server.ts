import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ContainerOptions } from "../../src/composition/container.js";
import { startServer } from "../../src/entrypoints/server.js";

export interface TestServer {
  url: string;
  dataDir: string;
  /** The listening HTTP server (its request listener is the Express app). */
  server?: import("node:http").Server;
  stop: () => Promise<void>;
  container: Awaited<ReturnType<typeof startServer>>["container"];
}

/** The real embedded server on a loopback port with a fresh data folder. */
export async function startTestServer(
  env: Record<string, string> = {},
  options: ContainerOptions | ((dataDir: string) => ContainerOptions) = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "enclave-test-"));
  const containerOptions = typeof options === "function" ? options(dataDir) : options;
  const started = await startServer(
    {
      DATA_DIR: dataDir,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
      JOB_RETRY_BASE_MS: "10",
      // Suites sign up many organisations from one loopback address; the limit itself has its own tests.
      SIGNUP_RATE_LIMIT_PER_HOUR: "10000",
      ...env,
    },
    containerOptions,
  );
  return {
    url: started.url,
    dataDir,
    server: started.server,
    container: started.container,
    stop: async () => {
      await started.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiClient {
  token?: string;
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; json: any }>;
  /** Multipart upload; `fields` (e.g. visibility) go before the file part. */
  upload(
    fileName: string,
    data: Uint8Array | string,
    type?: string,
    fields?: Record<string, string>,
  ): Promise<{ status: number; json: any }>;
}

/** `transport` replaces the network (the AWS-shape tests call the Lambda handler in-process). */
export function apiClient(baseUrl: string, token?: string, transport: typeof fetch = fetch): ApiClient {
  const client: ApiClient = {
    token,
    async call(method, path, body, headers = {}) {
      const res = await transport(`${baseUrl}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : undefined };
    },
    async upload(fileName, data, type = "application/octet-stream", fields = {}) {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      form.append("file", new Blob([typeof data === "string" ? data : Buffer.from(data)], { type }), fileName);
      const res = await transport(`${baseUrl}/api/upload`, {
        method: "POST",
        headers: client.token ? { authorization: `Bearer ${client.token}` } : {},
        body: form,
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : undefined };
    },
  };
  return client;
}

let counter = 0;
export interface OrganisationOptions {
  transport?: typeof fetch;
  /** Where sign-ups are confirmed by code (Cognito): the code sent to this address. */
  confirmationCode?: (email: string) => Promise<string>;
}

/** Confirms a sign-up with the emailed code when the server asked for one. */
export async function confirmIfAsked(
  anon: ApiClient,
  signup: { json: any },
  email: string,
  options: OrganisationOptions,
) {
  if (!signup.json?.confirmation_required) return;
  if (!options.confirmationCode)
    throw new Error("sign-up needs a confirmation code, but the test has no way to read it");
  const confirm = await anon.call("POST", "/auth/confirm", { email, code: await options.confirmationCode(email) });
  if (confirm.status !== 204) throw new Error(`confirm failed: ${JSON.stringify(confirm.json)}`);
}

/** Signs up a new organisation and logs in its admin. */
export async function newOrganisation(baseUrl: string, organization: string, options: OrganisationOptions = {}) {
  counter++;
  const email = `admin${counter}-${Date.now()}@${organization.toLowerCase().replace(/[^a-z]/g, "")}.example`;
  const password = "Correct-horse-9";
  const anon = apiClient(baseUrl, undefined, options.transport);
  const signup = await anon.call("POST", "/auth/signup", { email, password, organization });
  if (signup.status !== 201) throw new Error(`signup failed: ${JSON.stringify(signup.json)}`);
  await confirmIfAsked(anon, signup, email, options);
  const login = await anon.call("POST", "/auth/login", { email, password });
  if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.json)}`);
  return {
    email,
    password,
    tenantId: signup.json.tenant.id as string,
    client: apiClient(baseUrl, login.json.id_token, options.transport),
  };
}

/** Joins the admin's organisation as a member through an invite, and logs in. */
export async function joinByInvite(
  baseUrl: string,
  admin: ApiClient,
  email: string,
  password: string,
  options: OrganisationOptions = {},
): Promise<ApiClient> {
  const invite = await admin.call("POST", "/api/invites", { role: "member" });
  if (invite.status !== 201) throw new Error(`invite failed: ${JSON.stringify(invite.json)}`);
  const anon = apiClient(baseUrl, undefined, options.transport);
  const signup = await anon.call("POST", "/auth/signup", { email, password, invite_code: invite.json.code });
  if (signup.status !== 201) throw new Error(`signup failed: ${JSON.stringify(signup.json)}`);
  await confirmIfAsked(anon, signup, email, options);
  const login = await anon.call("POST", "/auth/login", { email, password });
  if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.json)}`);
  return apiClient(baseUrl, login.json.id_token, options.transport);
}

/** Polls a document until it leaves queued/indexing. */
export async function waitForDocument(client: ApiClient, id: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await client.call("GET", `/api/documents/${id}`);
    if (res.status !== 200) throw new Error(`document ${id}: ${res.status}`);
    if (res.json.status === "ready" || res.json.status === "failed") return res.json;
    if (Date.now() > deadline) throw new Error(`document ${id} still ${res.json.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
