import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Format, type Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AFTER_BUNDLING_SCRIPT,
  bundlingOptions,
  ENTRY_POINTS,
  PDF_CHILD,
  WEB_DIR,
} from "../../infra/lib/app-function.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PDF_PACKAGES = ["pdf-parse", "pdfjs-dist"];

interface FunctionPackage {
  dir: string;
  metafile: Metafile;
  bundleBytes: number;
  packageBytes: number;
}

function bytesUnder(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .reduce((sum, entry) => sum + statSync(join(entry.parentPath, entry.name)).size, 0);
}

/**
 * What `cdk synth` puts in a function's asset: esbuild with the app's own bundling options, passed the
 * way NodejsFunction passes them (`esbuild --bundle <entry> --platform=node --outfile=index.mjs ...`,
 * run from the project root), then the same after-bundling hook.
 */
async function packageFunction(entry: keyof typeof ENTRY_POINTS): Promise<FunctionPackage> {
  const options = bundlingOptions(entry);
  const dir = mkdtempSync(join(tmpdir(), `enclave-lambda-${entry}-`));
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [join(REPO_ROOT, ENTRY_POINTS[entry])],
    bundle: true,
    platform: "node",
    outfile: join(dir, "index.mjs"),
    format: String(options.format) as Format,
    target: options.target,
    mainFields: options.mainFields,
    minify: options.minify,
    keepNames: options.keepNames,
    sourcemap: options.sourceMap,
    sourcesContent: options.sourcesContent,
    banner: { js: options.banner },
    external: options.externalModules,
    metafile: true,
    logLevel: "silent",
  });
  execFileSync(process.execPath, [join(REPO_ROOT, AFTER_BUNDLING_SCRIPT), REPO_ROOT, dir, PDF_CHILD, WEB_DIR], {
    stdio: "pipe",
  });
  return {
    dir,
    metafile: result.metafile,
    bundleBytes: statSync(join(dir, "index.mjs")).size,
    packageBytes: bytesUnder(dir),
  };
}

const fromPdfPackages = (input: string) => PDF_PACKAGES.some((name) => input.includes(`node_modules/${name}/`));
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

describe("Lambda function packages", () => {
  let http: FunctionPackage;
  let worker: FunctionPackage;

  beforeAll(async () => {
    [http, worker] = await Promise.all([packageFunction("http"), packageFunction("worker")]);
    const row = (name: string, p: FunctionPackage) =>
      `${name.padEnd(7)} index.mjs ${p.bundleBytes} bytes (${mib(p.bundleBytes)}), package ${p.packageBytes} bytes (${mib(p.packageBytes)})`;
    console.log(`Lambda packages, unzipped:\n  ${row("http", http)}\n  ${row("worker", worker)}`);
  }, 180_000);

  afterAll(() => {
    for (const p of [http, worker]) if (p) rmSync(p.dir, { recursive: true, force: true });
  });

  it("leaves PDF parsing out of the HTTP function: no extractor, no PDF child, no pdf.js", () => {
    const inputs = Object.keys(http.metafile.inputs);
    expect(inputs).toContain("src/ingest/extract.ts");
    expect(inputs).not.toContain("src/ingest/pdf-extract.ts");
    expect(inputs.filter(fromPdfPackages)).toEqual([]);
    expect(readFileSync(join(http.dir, "index.mjs"), "utf8")).not.toContain("pdf-child.mjs");
    expect(existsSync(join(http.dir, "pdf-child.mjs"))).toBe(false);
    for (const name of PDF_PACKAGES) expect(existsSync(join(http.dir, "node_modules", name))).toBe(false);
    // What it does need is still there.
    expect(existsSync(join(http.dir, "web", "layout.html"))).toBe(true);
  });

  it("gives the worker function the extractor, the PDF child and the packages the child loads", () => {
    expect(Object.keys(worker.metafile.inputs)).toContain("src/ingest/pdf-extract.ts");
    expect(readFileSync(join(worker.dir, "index.mjs"), "utf8")).toContain("pdf-child.mjs");
    expect(existsSync(join(worker.dir, "pdf-child.mjs"))).toBe(true);
    for (const name of PDF_PACKAGES) {
      expect(existsSync(join(worker.dir, "node_modules", name, "package.json")), name).toBe(true);
    }
    expect(worker.packageBytes).toBeGreaterThan(http.packageBytes);
  });

  it("both bundles load and export a handler (the HTTP bundle never resolves the module it left out)", () => {
    // In plain Node, as on Lambda (vitest would transform the bundles first).
    const probe = "const m = await import(process.argv[1]); process.stdout.write(typeof m.handler);";
    for (const p of [http, worker]) {
      const url = pathToFileURL(join(p.dir, "index.mjs")).href;
      const loaded = execFileSync(process.execPath, ["--input-type=module", "-e", probe, url], {
        cwd: p.dir,
        env: { PATH: process.env.PATH },
        timeout: 30_000,
      });
      expect(loaded.toString()).toBe("function");
    }
  });
});

describe("after-bundling hook on a bundle that only names the PDF packages", () => {
  it("ships no PDF packages for a bundle that inlines package.json (dependency names as JSON keys)", () => {
    const out = mkdtempSync(join(tmpdir(), "enclave-hook-json-"));
    try {
      writeFileSync(
        join(out, "index.mjs"),
        'var p={dependencies:{"pdf-parse":"^2.4.5","pdfjs-dist":"5"}};export const handler=async()=>p;',
      );
      execFileSync(process.execPath, [join(REPO_ROOT, AFTER_BUNDLING_SCRIPT), REPO_ROOT, out, PDF_CHILD, WEB_DIR], {
        stdio: "pipe",
      });
      expect(existsSync(join(out, "node_modules"))).toBe(false);
      expect(existsSync(join(out, "pdf-child.mjs"))).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
