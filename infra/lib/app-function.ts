import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Duration } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { type BundlingOptions, NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import type * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";

/** Source files the bundles need, relative to the repository root. */
export const ENTRY_POINTS = {
  http: "src/entrypoints/lambda-http.ts",
  worker: "src/entrypoints/lambda-worker.ts",
} as const;
/** Plain JS run in a child process by the PDF extractor; shipped beside the worker bundle (see after-bundling.mjs). */
export const PDF_CHILD = "src/ingest/pdf-child.mjs";
/** The web app's files (layout, pages, assets), read at run time by http/web-routes.ts from `./web/` beside it. */
export const WEB_DIR = "src/http/web";
export const AFTER_BUNDLING_SCRIPT = "infra/lib/after-bundling.mjs";

export interface AppFunctionProps {
  readonly entry: keyof typeof ENTRY_POINTS;
  readonly description: string;
  readonly role: iam.IRole;
  readonly logGroup: logs.ILogGroup;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
  readonly reservedConcurrentExecutions?: number;
  /** Repository root; with `bundle` false nothing is read from it. */
  readonly projectRoot: string;
  /** Bundle the entry point with esbuild (synth, deploy) or use a placeholder handler (template tests). */
  readonly bundle: boolean;
}

/** Fails synth up front, naming every missing source file, instead of a bundler error per function. */
export function assertSourcesExist(projectRoot: string): void {
  const required = [
    ...Object.values(ENTRY_POINTS),
    PDF_CHILD,
    `${WEB_DIR}/layout.html`,
    AFTER_BUNDLING_SCRIPT,
    "package-lock.json",
  ];
  const missing = required.filter((file) => !existsSync(join(projectRoot, file)));
  if (missing.length > 0) {
    throw new Error(
      `Cannot bundle the Lambda functions: missing ${missing.join(", ")} (under ${projectRoot}). ` +
        "The CDK app bundles the real entry points; tests build the stack with bundle: false instead.",
    );
  }
}

/**
 * The HTTP function only enqueues ingest jobs; the worker runs them. esbuild leaves the PDF extractor
 * out of the HTTP bundle (ingest/extract.ts imports it lazily, so the HTTP process never asks for it),
 * and with it the name of pdf-child.mjs, so after-bundling.mjs ships neither the child nor pdf.js there.
 * A pattern with `*` is matched against the import as written (`./pdf-extract.js`), which holds for
 * local and Docker bundling alike, whatever the working directory.
 */
const HTTP_ONLY_EXTERNALS = ["*/pdf-extract.js"];

/**
 * How esbuild bundles a function (NodejsFunction `bundling`, less the hooks). Exported so that
 * test/infra/lambda-bundles.test.ts bundles with exactly these options and checks what each bundle holds.
 */
export function bundlingOptions(entry: keyof typeof ENTRY_POINTS) {
  return {
    format: OutputFormat.ESM,
    target: "node22",
    mainFields: ["module", "main"],
    minify: true,
    keepNames: true, // error class names survive in logs
    sourceMap: true,
    sourcesContent: false,
    // An ESM bundle has no `require` for the CommonJS packages inside it that call it at run time.
    // The alias keeps the banner's import from colliding with an app module importing createRequire.
    banner:
      'import { createRequire as __enclaveCreateRequire } from "node:module"; const require = __enclaveCreateRequire(import.meta.url);',
    // Replaces the default externals, so the AWS SDK v3 is bundled at the versions in package-lock.json
    // rather than whatever the runtime ships.
    externalModules: [
      // Native, used only by the embedded (local) backend; after-bundling.mjs puts a stub in its place.
      "better-sqlite3",
      // Run in the PDF child process from node_modules copied next to the bundle; pdfjs loads its
      // worker module by a path relative to itself, which bundling would break.
      "pdf-parse",
      "pdfjs-dist",
      // Native, per-platform helper pdf.js loads for its DOMMatrix/ImageData/Path2D polyfills; not shipped
      // (no linux-arm64 binary is installed here). Text extraction needs only a DOMMatrix global, which
      // the PDF child must define when this package is absent.
      "@napi-rs/canvas",
      ...(entry === "http" ? HTTP_ONLY_EXTERNALS : []),
    ],
  } satisfies BundlingOptions;
}

/**
 * One application Lambda: Node.js 22 on arm64 (Graviton: cheaper per GB-second, and the code has no
 * x86-only native module on this path), ESM bundle built locally by esbuild.
 */
export function createAppFunction(scope: Construct, id: string, props: AppFunctionProps): lambda.Function {
  const common = {
    description: props.description,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    role: props.role,
    logGroup: props.logGroup,
    memorySize: props.memorySize,
    timeout: props.timeout,
    environment: props.environment,
    reservedConcurrentExecutions: props.reservedConcurrentExecutions,
  } satisfies lambda.FunctionOptions & { runtime: lambda.Runtime };

  if (!props.bundle) {
    return new lambda.Function(scope, id, {
      ...common,
      handler: "index.handler",
      code: lambda.Code.fromInline("exports.handler = async () => ({ statusCode: 503 });"),
    });
  }

  const root = props.projectRoot;
  return new NodejsFunction(scope, id, {
    ...common,
    environment: { ...props.environment, NODE_OPTIONS: "--enable-source-maps" },
    entry: join(root, ENTRY_POINTS[props.entry]),
    handler: "handler",
    projectRoot: root,
    depsLockFilePath: join(root, "package-lock.json"),
    bundling: {
      forceDockerBundling: false,
      ...bundlingOptions(props.entry),
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        afterBundling: (inputDir: string, outputDir: string) => [
          `node "${join(inputDir, AFTER_BUNDLING_SCRIPT)}" "${inputDir}" "${outputDir}" "${PDF_CHILD}" "${WEB_DIR}"`,
        ],
      },
    },
  });
}
