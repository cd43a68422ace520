// `npm run build`: compiles src/ for plain `node` (the container image runs it; `npm start` keeps tsx).
//
//   node scripts/build.mjs [--out-dir <dir>]   (default dist/, relative to the repository root)
//
// 1. tsc -p tsconfig.build.json. The root directory is the repository, not src/, because a module imports
//    ../../package.json (openapi.ts, for the version): the output mirrors the repository, dist/src/...,
//    so that relative path still lands inside the output.
// 2. Copies every file under src/ that is not TypeScript to the same place under <dir>/src/: modules read
//    them relative to import.meta.url at run time (http/web/ by web-routes.ts, ingest/pdf-child.mjs
//    started by pdf-extract.ts), and tsc copies none of them.
// 3. Copies package.json to <dir>/package.json: its "type": "module" makes the compiled .js files ES
//    modules wherever the output is put, and it is the file openapi.ts imports.
// Type errors fail the build (exit 1), after the output is written.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { "out-dir": { type: "string" } } });
const outDir = resolve(root, values["out-dir"] ?? "dist");
/** Read at run time relative to the compiled modules; a build without them is broken. */
const REQUIRED = [
  "src/entrypoints/server.js",
  "src/entrypoints/cli.js",
  "src/http/web/layout.html",
  "src/ingest/pdf-child.mjs",
];

const rel = relative(outDir, root);
if (rel === "" || !rel.startsWith("..") || relative(root, outDir).split(sep)[0] === "src") {
  // rm -rf of the repository, or of a folder the build reads from, is never what was meant.
  process.stderr.write(`build: refusing to write to ${outDir}\n`);
  process.exit(2);
}
rmSync(outDir, { recursive: true, force: true });

const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const compiled = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", outDir], {
  cwd: root,
  stdio: "inherit",
});

let copied = 0;
for (const entry of readdirSync(join(root, "src"), { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || /\.tsx?$/.test(entry.name)) continue;
  const source = join(entry.parentPath, entry.name);
  cpSync(source, join(outDir, relative(root, source)));
  copied++;
}
cpSync(join(root, "package.json"), join(outDir, "package.json"));

const missing = REQUIRED.filter((file) => !existsSync(join(outDir, file)));
if (missing.length > 0) {
  process.stderr.write(`build: ${outDir} is missing ${missing.join(", ")}\n`);
  process.exit(1);
}
if (compiled.status !== 0) {
  process.stderr.write(`build: tsc failed (exit ${compiled.status ?? compiled.signal}); see the errors above\n`);
  process.exit(1);
}
process.stdout.write(`build: compiled src/ and copied ${copied} run-time files to ${relative(root, outDir) || "."}\n`);
