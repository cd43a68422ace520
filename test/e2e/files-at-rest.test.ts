import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, newOrganisation, startTestServer, type TestServer, waitForDocument } from "../support/server.js";

/**
 * What the embedded server leaves on disk is for its own user alone, even in a DATA_DIR the operator
 * made 0755 and under the usual umask (022, left as it is here): files 0600, folders 0700.
 */
const parent = mkdtempSync(join(tmpdir(), "enclave-at-rest-"));
const dataDir = join(parent, "data");
let server: TestServer | undefined;

/** Every path below `root` (not `root` itself) that group or others may read, write or enter. */
function openToOthers(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const mode = statSync(path).mode;
      if ((mode & 0o077) !== 0) found.push(`${relative(root, path)} ${(mode & 0o777).toString(8)}`);
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(root);
  return found;
}

function allPaths(root: string): string[] {
  return readdirSync(root, { recursive: true }).map(String);
}

const modeOf = (path: string) => statSync(path).mode & 0o777;

beforeAll(() => {
  // As an operator would: `mkdir data` under the default umask.
  mkdirSync(dataDir, { mode: 0o755 });
  chmodSync(dataDir, 0o755);
});

afterAll(async () => {
  await server?.stop();
  rmSync(parent, { recursive: true, force: true });
});

describe("files at rest in an operator's DATA_DIR", () => {
  let org: Awaited<ReturnType<typeof newOrganisation>>;

  it("creates every database, log, document file, key and folder for the server's user alone", async () => {
    server = await startTestServer({ DATA_DIR: dataDir });
    org = await newOrganisation(server.url, "Northwind");
    const upload = await org.client.upload(
      "otters.txt",
      "Otters in the Northwind river are counted every spring by the rangers.",
      "text/plain",
    );
    expect(upload.status).toBe(202);
    expect((await waitForDocument(org.client, upload.json.document.id)).status).toBe("ready");
    const asked = await org.client.call("POST", "/api/ask", { question: "When are the otters counted?" });
    expect(asked.json.outcome).toBe("answered");

    // While the server runs: the write-ahead logs and shared-memory files are there too.
    const paths = allPaths(dataDir);
    expect(paths).toContain("directory.db-wal");
    expect(paths).toContain(join("tenants", org.tenantId, "tenant.db-wal"));
    expect(paths.some((p) => p.startsWith(join("tenants", org.tenantId, "files")))).toBe(true);
    expect(paths.some((p) => p.startsWith("keys"))).toBe(true);
    const open = openToOthers(dataDir);
    expect(open, `readable by others:\n${open.join("\n")}`).toEqual([]);
    // The operator's own folder keeps the mode they gave it.
    expect(modeOf(dataDir)).toBe(0o755);
  });

  it("closes databases and folders an older version left readable by others when it next opens them", async () => {
    await server?.stop();
    server = undefined;
    const tenantFolder = join(dataDir, "tenants", org.tenantId);
    // What an older version left behind: files 0644, folders 0755.
    for (const path of [join(dataDir, "directory.db"), join(tenantFolder, "tenant.db")]) {
      expect(existsSync(path)).toBe(true);
      chmodSync(path, 0o644);
    }
    chmodSync(join(dataDir, "tenants"), 0o755);
    chmodSync(tenantFolder, 0o755);

    server = await startTestServer({ DATA_DIR: dataDir });
    const login = await apiClient(server.url).call("POST", "/auth/login", { email: org.email, password: org.password });
    expect(login.status).toBe(200);
    // Reading the organisation's documents opens its database again.
    const docs = await apiClient(server.url, login.json.id_token).call("GET", "/api/documents");
    expect(docs.status).toBe(200);
    expect(docs.json.documents).toHaveLength(1);

    const open = openToOthers(dataDir);
    expect(open, `readable by others:\n${open.join("\n")}`).toEqual([]);
    expect(modeOf(dataDir)).toBe(0o755);
  });
});
