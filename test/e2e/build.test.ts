import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * `npm run build` output run the way the container image runs it: plain `node`, no tsx, from another
 * working directory, with only the environment given here.
 */

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DOCKERFILE = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");

interface Run {
  code: number | null;
  output: string;
}

function run(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The exec-form array of a Dockerfile instruction in the final stage, e.g. CMD ["node", "x.js"]. */
function execForm(instruction: "CMD" | "HEALTHCHECK"): string[] {
  const finalStage = DOCKERFILE.slice(DOCKERFILE.lastIndexOf("\nFROM "));
  const joined = finalStage.replace(/\\\n\s*/g, " ");
  const line = joined.split("\n").find((l) => l.startsWith(`${instruction} `));
  const array = line?.slice(line.indexOf("[")) ?? "";
  return JSON.parse(array) as string[];
}

/** Starts the compiled server; resolves with its URL from the "Enclave is listening" log line. */
function startCompiledServer(serverJs: string, cwd: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [serverJs], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 30 s:\n${log}`)), 30_000);
    const onData = (chunk: Buffer) => {
      log += chunk;
      for (const line of log.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === "Enclave is listening" && entry.url) {
            clearTimeout(timer);
            resolve(entry.url);
          }
        } catch {
          // a line still being written
        }
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (code ${code}, signal ${signal}) before listening:\n${log}`));
    });
  });
  return { child, listening, log: () => log };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

async function onePagePdf(text: string): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  pdf.addPage([612, 792]).drawText(text, { x: 72, y: 700, size: 12, font });
  return pdf.save();
}

describe("npm run build", () => {
  let work: string;
  let out: string;
  let build: Run;
  let server: ReturnType<typeof startCompiledServer> | undefined;
  let url = "";
  const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    LOG_LEVEL: "info",
    ...extra,
  });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "enclave-build-"));
    // The compiled modules find their packages as in the image: a node_modules folder above them.
    symlinkSync(join(REPO_ROOT, "node_modules"), join(work, "node_modules"), "dir");
    out = join(work, "dist");
    build = await run(["scripts/build.mjs", "--out-dir", out], { cwd: REPO_ROOT, timeoutMs: 150_000 });
    const serverJs = join(out, "src/entrypoints/server.js");
    if (!existsSync(serverJs)) throw new Error(`the build wrote no ${serverJs}:\n${build.output}`);
    server = startCompiledServer(
      serverJs,
      work,
      cleanEnv({ DATA_DIR: join(work, "data"), HOST: "127.0.0.1", PORT: "0", SHUTDOWN_TIMEOUT_MS: "2000" }),
    );
    url = await server.listening;
  }, 180_000);

  afterAll(async () => {
    await stop(server?.child);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("compiles without type errors", () => {
    expect(build.code, build.output).toBe(0);
  });

  it("starts with plain node and reports healthy", async () => {
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok" });
  });

  it("serves the web app from the copied pages and assets", async () => {
    const page = await fetch(`${url}/login`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain("Log in");
    const css = /href="(\/assets\/[^"]+\/app\.css)"/.exec(html)?.[1];
    expect(css, html).toBeDefined();
    const asset = await fetch(`${url}${css}`);
    expect(asset.status).toBe(200);
    expect(await asset.text()).not.toBe("");
  });

  it("signs up, uploads a PDF and indexes it with the compiled PDF child", async () => {
    const json = { "content-type": "application/json" };
    const account = { email: "admin@build-test.example", password: "Correct-horse-9" };
    const signup = await fetch(`${url}/auth/signup`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ ...account, organization: "Build Test" }),
    });
    expect(signup.status, await signup.clone().text()).toBe(201);
    const login = await fetch(`${url}/auth/login`, { method: "POST", headers: json, body: JSON.stringify(account) });
    expect(login.status).toBe(200);
    const { id_token: token } = (await login.json()) as { id_token: string };
    const auth = { authorization: `Bearer ${token}` };

    const form = new FormData();
    const pdf = await onePagePdf("The compiled build reads this page through its PDF child process.");
    form.append("file", new Blob([Buffer.from(pdf)], { type: "application/pdf" }), "build-check.pdf");
    const upload = await fetch(`${url}/api/upload`, { method: "POST", headers: auth, body: form });
    expect(upload.status, await upload.clone().text()).toBe(202);
    const { document } = (await upload.json()) as { document: { id: string } };

    let status = "queued";
    let body: unknown;
    const deadline = Date.now() + 60_000;
    while ((status === "queued" || status === "indexing") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const res = await fetch(`${url}/api/documents/${document.id}`, { headers: auth });
      body = await res.json();
      status = (body as { status: string }).status;
    }
    expect(status, `${JSON.stringify(body)}\n${server?.log()}`).toBe("ready");
  });

  it("runs the operator CLI compiled too", async () => {
    const cli = await run(
      [
        join(out, "src/entrypoints/cli.js"),
        "create-tenant",
        "--name",
        "CLI Test",
        "--email",
        "ops@cli-test.example",
        "--password",
        "Ops-pass-12",
      ],
      { cwd: work, env: cleanEnv({ DATA_DIR: join(work, "cli-data"), LOG_LEVEL: "silent" }), timeoutMs: 60_000 },
    );
    expect(cli.code, cli.output).toBe(0);
    expect(cli.output).toMatch(/t_[a-z0-9]{20}/);
  });

  it("is what the Dockerfile runs: CMD names the compiled server, with plain node", () => {
    const [command, script, ...rest] = execForm("CMD");
    expect(command).toBe("node");
    expect(rest).toEqual([]);
    // The image copies the build's output (dist/ by default) to /app/dist and runs from /app.
    expect(DOCKERFILE).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(DOCKERFILE).toMatch(/^WORKDIR \/app$/m);
    expect(script).toMatch(/^dist\//);
    expect(existsSync(join(out, (script ?? "").replace(/^dist\//, "")))).toBe(true);
  });

  it("has a HEALTHCHECK that passes against the running server and fails when nothing answers", async () => {
    const [command, ...args] = execForm("HEALTHCHECK");
    expect(command).toBe("node"); // the slim image has no curl or wget
    const port = new URL(url).port;
    const healthy = await run(args, { cwd: work, env: cleanEnv({ PORT: port }), timeoutMs: 15_000 });
    expect(healthy.code, healthy.output).toBe(0);
    await stop(server?.child);
    const down = await run(args, { cwd: work, env: cleanEnv({ PORT: port }), timeoutMs: 15_000 });
    expect(down.code).toBe(1);
  });
});

describe("Dockerfile", () => {
  it("builds from files that exist and are in the build context", () => {
    const ignored = readFileSync(join(REPO_ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((line) => line.trim().replace(/\/$/, ""))
      .filter((line) => line !== "" && !line.startsWith("#") && !line.startsWith("!"));
    const sources = DOCKERFILE.split("\n")
      .filter((line) => line.startsWith("COPY ") && !line.includes("--from="))
      .flatMap((line) => line.split(/\s+/).slice(1, -1));
    expect(sources).toContain("src/");
    for (const source of sources) {
      expect(existsSync(join(REPO_ROOT, source)), source).toBe(true);
      expect(ignored, source).not.toContain(source.replace(/\/$/, ""));
    }
  });

  it("runs as the non-root node user with its data on the /data volume, listening on all interfaces", () => {
    const finalStage = DOCKERFILE.slice(DOCKERFILE.lastIndexOf("\nFROM "));
    expect(finalStage).toMatch(/^FROM node:\$\{NODE_VERSION\}-bookworm-slim$/m);
    expect(finalStage).toMatch(/^USER node$/m);
    expect(finalStage).toMatch(/^VOLUME \/data$/m);
    expect(finalStage).toMatch(/chown node:node \/data/);
    expect(finalStage).toMatch(/DATA_DIR=\/data/);
    expect(finalStage).toMatch(/HOST=0\.0\.0\.0/);
    expect(finalStage).toMatch(/PORT=3000/);
    expect(finalStage).toMatch(/^EXPOSE 3000$/m);
  });
});
