// Runs after esbuild has written a function's bundle (NodejsFunction commandHooks.afterBundling), on the
// machine that synthesizes, offline:
//
//   node infra/lib/after-bundling.mjs <projectRoot> <outputDir> <pdfChild> [<webDir>]   (paths relative to projectRoot)
//
// 1. better-sqlite3 (native, embedded backend only) is external and not shipped. esbuild hoists an external
//    import to the top of an ESM bundle even when the module importing it is only reached by a dynamic
//    import() (composition/local.ts), so the bundle would fail to load. A stub package that throws when
//    used satisfies the import; the AWS backend never calls it.
// 2. When the bundle starts the PDF child process (it names pdf-child.mjs) or imports pdf-parse or
//    pdfjs-dist, copies the child next to index.mjs and those packages, with their dependencies, from the
//    project's node_modules into the bundle's node_modules. Copying instead of `nodeModules` (npm ci in
//    the bundle) keeps synth offline.
// 3. When the bundle serves the web app (http/web-routes.ts: it reads `layout.html` from `./web/` relative to
//    its own module, i.e. import.meta.url), copies the web folder (layout.html, pages/, public/) next to
//    index.mjs under the same name, so the bundled module finds it exactly where the source module does.
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";

/** What the PDF child imports; the rest of its closure is read from package.json files. */
const CHILD_PACKAGES = ["pdf-parse", "pdfjs-dist"];
/** Native packages never shipped (see externalModules in app-function.ts). */
const NOT_SHIPPED = new Set(["@napi-rs/canvas", "better-sqlite3"]);
/** Browser-only builds inside the shipped packages; the child runs on Node. */
const BROWSER_ONLY = { "pdf-parse": ["dist/pdf-parse/web"], "pdfjs-dist": ["web", "types"] };

function fail(message) {
  process.stderr.write(`after-bundling: ${message}\n`);
  process.exit(1);
}

const [projectRootArg, outputDirArg, pdfChildArg, webDirArg] = process.argv.slice(2);
if (!projectRootArg || !outputDirArg || !pdfChildArg) {
  fail("usage: node after-bundling.mjs <projectRoot> <outputDir> <pdfChild> [<webDir>] (relative to projectRoot)");
}
const projectRoot = resolve(projectRootArg);
const outputDir = resolve(outputDirArg);
const bundlePath = join(outputDir, "index.mjs");
if (!existsSync(bundlePath)) fail(`no bundle at ${bundlePath}`);
const bundle = readFileSync(bundlePath, "utf8");

if (/["']better-sqlite3["']/.test(bundle)) {
  const stubDir = join(outputDir, "node_modules", "better-sqlite3");
  mkdirSync(stubDir, { recursive: true });
  writeFileSync(join(stubDir, "package.json"), `${JSON.stringify({ name: "better-sqlite3", main: "index.cjs" })}\n`);
  writeFileSync(
    join(stubDir, "index.cjs"),
    [
      '"use strict";',
      "// Stub written by infra/lib/after-bundling.mjs: the embedded SQLite backend does not run on Lambda.",
      "module.exports = function Database() {",
      '  throw new Error("better-sqlite3 is not available on Lambda: the embedded backend cannot run here (BACKEND=aws)");',
      "};",
      "",
    ].join("\n"),
  );
  process.stderr.write("after-bundling: stubbed better-sqlite3 (embedded backend only)\n");
}

if (webDirArg && bundle.includes("layout.html")) {
  const webSource = join(projectRoot, webDirArg);
  if (!existsSync(join(webSource, "layout.html")))
    fail(`the bundle serves the web app but ${webSource} has no layout.html`);
  cpSync(webSource, join(outputDir, basename(webSource)), { recursive: true });
  process.stderr.write(`after-bundling: shipped the web app (${webDirArg})\n`);
}

const childName = basename(pdfChildArg);
const startsChild = bundle.includes(childName);
// An import or require of the package, not any mention of its name: a bundle that inlines package.json
// (for its version) lists every dependency as a JSON key.
const importsPdfPackages = /(?:\bfrom|\bimport|\brequire)\s*\(?\s*["'](?:pdf-parse|pdfjs-dist)(?:\/[^"']*)?["']/.test(
  bundle,
);
if (!startsChild && !importsPdfPackages) process.exit(0);

if (startsChild) {
  const childSource = join(projectRoot, pdfChildArg);
  if (!existsSync(childSource)) fail(`the bundle starts ${childName} but ${childSource} does not exist`);
  cpSync(childSource, join(outputDir, childName));
}

/** Finds `name` the way Node would from a package in `fromDir`: nearest node_modules upwards. */
function locate(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dir === projectRoot || dirname(dir) === dir) return undefined;
  }
}

function keep(packageDir, name, source) {
  if (statSync(source).isDirectory()) {
    const rel = relative(packageDir, source).split("\\").join("/");
    if (rel === "node_modules") return false; // nested dependencies come through the closure below
    return !(BROWSER_ONLY[name] ?? []).includes(rel);
  }
  return !/\.(?:map|d\.ts|d\.mts|d\.cts)$/.test(source);
}

const copied = new Set();
const pending = CHILD_PACKAGES.map((name) => ({ name, from: projectRoot, optional: false }));
while (pending.length > 0) {
  const { name, from, optional } = pending.shift();
  if (NOT_SHIPPED.has(name)) continue;
  const packageDir = locate(name, from);
  if (packageDir === undefined) {
    if (optional) continue;
    fail(`cannot find ${name} in node_modules (run npm ci)`);
  }
  if (copied.has(packageDir)) continue;
  copied.add(packageDir);
  const rel = relative(projectRoot, packageDir);
  const target = rel.startsWith("..") ? join(outputDir, "node_modules", name) : join(outputDir, rel);
  cpSync(packageDir, target, { recursive: true, filter: (source) => keep(packageDir, name, source) });
  const manifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
  for (const dep of Object.keys(manifest.dependencies ?? {}))
    pending.push({ name: dep, from: packageDir, optional: false });
  for (const dep of Object.keys(manifest.optionalDependencies ?? {})) {
    pending.push({ name: dep, from: packageDir, optional: true });
  }
}
process.stderr.write(
  `after-bundling: shipped ${startsChild ? `${childName} and ` : ""}${[...copied].map((d) => relative(projectRoot, d)).join(", ")}\n`,
);
