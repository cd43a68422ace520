import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { untarGz } from "../support/archive.js";

const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), "enclave-cli-"));
type Ran = { stdout: string; stderr: string; code?: number };
const cliWith = (env: Record<string, string>, ...args: string[]): Promise<Ran> =>
  run(process.execPath, ["--import", "tsx", "src/entrypoints/cli.ts", ...args], {
    env: { PATH: process.env.PATH, DATA_DIR: dataDir, LOG_LEVEL: "silent", ...env },
    timeout: 120_000,
  }).catch((error: Ran) => error);
const cli = (...args: string[]) => cliWith({}, ...args);

const tenantIn = (created: Ran): string => {
  const tenant = /t_[a-z0-9]{20}/.exec(created.stdout)?.[0];
  if (!tenant) throw new Error(`no tenant id in ${created.stdout}${created.stderr}`);
  return tenant;
};

/** Names and contents of the files in a .tar.gz, as text. */
async function untar(file: string): Promise<Map<string, string>> {
  const files = await untarGz(readFileSync(file));
  return new Map([...files].map(([name, data]) => [name, data.toString("utf8")]));
}

const tenantFolders = () => (existsSync(join(dataDir, "tenants")) ? readdirSync(join(dataDir, "tenants")) : []);

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
    // Every member's questions and answers: for the operator's user alone, under the usual umask.
    expect((statSync(out).mode & 0o777).toString(8)).toBe("600");
  }, 180_000);

  it("lists tenants, exports one as a .tar.gz, and deletes it only with its exact name", async () => {
    const kept = tenantIn(
      await cli("create-tenant", "--name", "Keeper Co", "--email", "ops@keeper.example", "--password", "Ops-pass-12"),
    );
    const gone = tenantIn(
      await cli("create-tenant", "--name", "Leaver Ltd", "--email", "ops@leaver.example", "--password", "Ops-pass-12"),
    );
    await cli("ingest", "--tenant", gone, "examples/documents/northwind-employee-handbook.md");
    await cli("ask", "--tenant", gone, "How many vacation days do full-time employees get?");

    const listed = await cli("list-tenants");
    expect(listed.stdout).toMatch(new RegExp(`${kept}  Keeper Co  1 members`));
    expect(listed.stdout).toMatch(new RegExp(`${gone}  Leaver Ltd  1 members`));

    const archive = join(dataDir, "leaver.tar.gz");
    const exported = await cli("export-tenant", "--tenant", gone, "--out", archive);
    expect(exported.stdout).toMatch(/Exported .* bytes/);
    expect((statSync(archive).mode & 0o777).toString(8)).toBe("600");
    const files = await untar(archive);
    expect(JSON.parse(files.get("organisation.json") ?? "{}").organisation.name).toBe("Leaver Ltd");
    expect(files.get("documents.jsonl")).toContain("northwind-employee-handbook");
    expect([...files.keys()].some((n) => /^files\/.+\/northwind-employee-handbook\.md$/.test(n))).toBe(true);
    expect(files.get("audit.jsonl")).toContain("How many vacation days");
    expect(files.get("organisation.json")).not.toContain("Keeper");

    const wrong = await cli("delete-tenant", "--tenant", gone, "--confirm", "Leaver");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/type its name exactly/);
    expect(tenantFolders()).toContain(gone);

    const deleted = await cli("delete-tenant", "--tenant", gone, "--confirm", "Leaver Ltd");
    expect(deleted.stdout).toMatch(new RegExp(`Deleted ${gone} \\(Leaver Ltd\\): 1 members, 1 documents`));
    expect(tenantFolders()).not.toContain(gone);
    expect((await cli("list-tenants")).stdout).not.toContain(gone);
    const after = await cli("ask", "--tenant", gone, "anything");
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/No tenant/);
    expect(readFileSync(join(dataDir, "directory.db")).includes("ops@leaver.example")).toBe(false);
  }, 180_000);

  it("explains bad usage instead of failing obscurely", async () => {
    const noTenant = await cli("ask", "anything");
    expect(noTenant.code).toBe(2);
    expect(noTenant.stderr).toMatch(/--tenant/);
    const unknown = await cli("frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown command/);

    const none = await cli();
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/Enclave operator commands/);

    // An id that names no tenant: an error, and no folder made for it.
    const before = tenantFolders();
    const stranger = await cli("ask", "--tenant", "t_aaaaaaaaaaaaaaaaaaaa", "anything");
    expect(stranger.code).toBe(2);
    expect(stranger.stderr).toMatch(/No tenant t_aaaaaaaaaaaaaaaaaaaa/);
    expect(tenantFolders()).toEqual(before);

    const tenant = tenantIn(
      await cli("create-tenant", "--name", "Typo Inc", "--email", "ops@typo.example", "--password", "Ops-pass-12"),
    );
    const missing = await cli("ingest", "--tenant", tenant, "no/such/folder");
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe("No such file or folder: no/such/folder");

    const bootstrap = await cliWith({ BACKEND: "local" }, "aws-bootstrap");
    expect(bootstrap.code).toBe(2);
    expect(bootstrap.stderr.trim()).toBe(
      "aws-bootstrap creates AWS resources: set BACKEND=aws and the AWS settings (.env.example).",
    );
  }, 120_000);
});
