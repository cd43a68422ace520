import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { TenantId } from "../../src/domain/tenant.js";
import { startServer } from "../../src/entrypoints/server.js";
import { auditRecord } from "../contract/audit-log.contract.js";
import { apiClient, newOrganisation } from "../support/server.js";

const dataDir = mkdtempSync(join(tmpdir(), "enclave-retention-e2e-"));
const env = (extra: Record<string, string>) => ({
  DATA_DIR: dataDir,
  PORT: "0",
  HOST: "127.0.0.1",
  LOG_LEVEL: "silent",
  ...extra,
});
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops) await stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("AUDIT_RETENTION_DAYS on the embedded server", () => {
  it("removes exchanges past retention when the server starts, and keeps the newer ones", async () => {
    const first = await startServer(env({}));
    stops.push(first.stop);
    const org = await newOrganisation(first.url, "Retained");
    const tenant = org.tenantId as TenantId;
    const old = auditRecord(tenant, new Date(Date.now() - 3 * 86_400_000), { question: "An old question?" });
    const recent = auditRecord(tenant, new Date(Date.now() - 3_600_000), { question: "A recent question?" });
    await first.container.audit.append(old);
    await first.container.audit.append(recent);
    // Retention off (the default): both are listed.
    const before = await org.client.call("GET", "/api/audit");
    expect(before.json.records.map((r: { id: string }) => r.id)).toEqual([recent.id, old.id]);
    await first.stop();

    const second = await startServer(env({ AUDIT_RETENTION_DAYS: "1" }));
    stops.push(second.stop);
    const login = await apiClient(second.url).call("POST", "/auth/login", { email: org.email, password: org.password });
    const admin = apiClient(second.url, login.json.id_token);
    // The sweep runs as the server starts, beside requests: wait for it to have removed the old one.
    let ids: string[] = [];
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      ids = (await admin.call("GET", "/api/audit")).json.records.map((r: { id: string }) => r.id);
      if (!ids.includes(old.id)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(ids).toEqual([recent.id]);
    expect((await admin.call("GET", `/api/audit/${old.id}`)).status).toBe(404);
  }, 60_000);
});
