import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), "enclave-cli-"));
const cli = (...args: string[]) =>
  run(process.execPath, ["--import", "tsx", "src/entrypoints/cli.ts", ...args], {
    env: { PATH: process.env.PATH, DATA_DIR: dataDir, LOG_LEVEL: "silent" },
    timeout: 120_000,
  }).catch((error: { stdout: string; stderr: string; code: number }) => error);

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("operator CLI", () => {
  it("creates a tenant, ingests a folder, asks, and exports the audit as CSV", async () => {
    const created = await cli(
      "create-tenant",
      "--name",
      "Northwind",
      "--email",
      "ops@northwind.example",
      "--password",
      "Ops-pass-12",
    );
    const tenant = /t_[a-z0-9]{20}/.exec(created.stdout)?.[0];
    expect(tenant, created.stdout + created.stderr).toBeDefined();

    const ingested = await cli("ingest", "--tenant", tenant ?? "", "examples/documents");
    expect(ingested.stdout).toMatch(/✓ northwind-employee-handbook: 1 pages?, \d+ passages/);

    const asked = await cli("ask", "--tenant", tenant ?? "", "How many vacation days do full-time employees get?");
    expect(asked.stdout).toContain("27 days");
    expect(asked.stdout).toMatch(/\[1\] northwind-employee-handbook, page 1/);
    expect(asked.stdout).toMatch(/\(answered, audit /);

    const refreshed = await cli("refresh-access", "--tenant", tenant ?? "");
    expect(refreshed.stdout).toMatch(/Refreshed the readers of \d+ documents/);
    expect(
      (await cli("ask", "--tenant", tenant ?? "", "How many vacation days do full-time employees get?")).stdout,
    ).toContain("27 days");

    const out = join(dataDir, "audit.csv");
    await cli("export-audit", "--tenant", tenant ?? "", "--out", out);
    const csv = readFileSync(out, "utf8").split("\r\n");
    expect(csv[0]).toMatch(/^id,created_at,surface,user_id/);
    expect(csv[1]).toContain("How many vacation days do full-time employees get?");
    expect(csv[1]).toContain(",cli,");
  }, 180_000);

  it("explains bad usage instead of failing obscurely", async () => {
    const noTenant = (await cli("ask", "anything")) as { stderr: string; code: number };
    expect(noTenant.code).toBe(2);
    expect(noTenant.stderr).toMatch(/--tenant/);
    const unknown = (await cli("frobnicate")) as { stderr: string; code: number };
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown command/);
  }, 60_000);
});
