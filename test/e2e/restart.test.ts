import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { newOrganisation } from "../support/server.js";
import { longPdf } from "../unit/ingest/pdf-fixtures.js";

/**
 * `kill -9` of the embedded server while it indexes, then a restart on the same data folder: the job
 * the dead process held is taken over at once (not after its two-minute lease), and every document
 * that was accepted ends `ready` within seconds.
 */
const repo = fileURLToPath(new URL("../..", import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), "enclave-restart-"));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

/** The server as `npm start` runs it (one node process), on this test's data folder. */
async function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/entrypoints/server.ts"], {
    cwd: repo,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      DATA_DIR: dataDir,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      SIGNUP_RATE_LIMIT_PER_HOUR: "10000",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 60_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const listening = /"msg":"Enclave is listening"[^\n]*"url":"([^"]+)"/.exec(out);
      if (listening?.[1]) {
        clearTimeout(timer);
        resolve(listening[1]);
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
    });
    child.once("exit", () => reject(new Error(`server exited at start:\n${out}`)));
  });
  return { child, url };
}

describe("kill -9 during ingest, then a restart", () => {
  it("resumes at once: every accepted document is ready within 20 s of the restart", async () => {
    const first = await startServer();
    const org = await newOrganisation(first.url, "Restarts Inc");
    // A long PDF keeps the worker busy for a while; small files queue up behind it.
    const big = await org.client.upload("long report.pdf", await longPdf(1500), "application/pdf");
    expect(big.status).toBe(202);
    const small: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const res = await org.client.upload(`note-${i}.txt`, `Note ${i}: the meeting room ${i} is booked on Fridays.`);
      expect(res.status).toBe(202);
      small.push(res.json.document.id);
    }
    // Wait until the big one is being indexed, then kill the server without warning.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const doc = (await org.client.call("GET", `/api/documents/${big.json.document.id}`)).json;
      if (doc.status === "indexing") break;
      if (doc.status === "ready" || doc.status === "failed" || Date.now() > deadline)
        throw new Error(`the long PDF was never caught indexing (${doc.status})`);
      await new Promise((r) => setTimeout(r, 50));
    }
    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.once("exit", r));

    const second = await startServer();
    const restartedAt = Date.now();
    const ids = [big.json.document.id, ...small];
    // The same session works against the restarted server (its keys live in the data folder).
    const statuses = async () =>
      Promise.all(
        ids.map(async (id) => {
          const res = await fetch(`${second.url}/api/documents/${id}`, {
            headers: { authorization: `Bearer ${org.client.token}` },
          });
          return ((await res.json()) as { status: string }).status;
        }),
      );
    let last: string[] = [];
    while (Date.now() - restartedAt < 20_000) {
      last = await statuses();
      if (last.every((s) => s === "ready")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(last).toEqual(ids.map(() => "ready"));
    expect(Date.now() - restartedAt).toBeLessThan(20_000);
    second.child.kill("SIGTERM");
    await new Promise((r) => second.child.once("exit", r));
  }, 180_000);
});
