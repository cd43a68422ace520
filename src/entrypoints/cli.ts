import { createWriteStream } from "node:fs";
import { readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { PRIVATE_FILE_MODE } from "../adapters/local/private-files.js";
import { buildContainer, type Container } from "../composition/container.js";
import { ConfigError, loadConfig } from "../config/config.js";
import { isAppError } from "../domain/errors.js";
import { isTenantId, type TenantId } from "../domain/tenant.js";

const USAGE = `Enclave operator commands (npm run cli -- <command> [options])

  create-tenant --name <organisation> --email <admin email> --password <password>
      Creates a new tenant and its first admin. Prints the tenant id.
  list-tenants
      Lists every tenant: id, name, members, created (and whether it is being deleted).
  ingest --tenant <tenant id> <file or folder> [...]
      Adds PDF, .txt and .md files (folders recursively) and waits until each is indexed.
  ask --tenant <tenant id> <question>
      Asks as the tenant (audited with surface "cli").
  export-audit --tenant <tenant id> [--out <file.csv>]
      Writes the tenant's audit log as CSV (to stdout without --out).
  export-tenant --tenant <tenant id> --out <file.tar.gz>
      Writes everything the tenant holds: organisation.json, documents.jsonl, files/, audit.jsonl.
  delete-tenant --tenant <tenant id> --confirm <organisation name>
      Deletes the tenant and everything it holds, in every store. Cannot be undone.
  refresh-access --tenant <tenant id>
      Writes who may read each document into the search index again (run once per tenant after
      upgrading a Pinecone deployment from before document visibility).
  aws-bootstrap
      Creates the configured DynamoDB tables, S3 bucket, SQS queues and Cognito pool (BACKEND=aws).
  backup --out <folder>
      Copies DATA_DIR (every database, online, plus document files and keys) into a new or empty
      folder; safe while the server runs.
  restore --from <backup folder>
      Puts a backup into an empty or new DATA_DIR, after checking it. Start the server afterwards.
`;

type Options = {
  name?: string;
  email?: string;
  password?: string;
  tenant?: string;
  out?: string;
  confirm?: string;
  from?: string;
  help?: boolean;
};

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: "string" },
      email: { type: "string" },
      password: { type: "string" },
      tenant: { type: "string" },
      out: { type: "string" },
      confirm: { type: "string" },
      from: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, ...rest] = positionals;
  if (!command || values.help) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const env: Record<string, string | undefined> = { LOG_LEVEL: "warn", ...process.env };
  if (command === "backup" || command === "restore") {
    // File operations on DATA_DIR: no container, so no worker and no migration touches the live data.
    const { runBackupCommand } = await import("./backup-commands.js");
    return runBackupCommand(command, values, loadConfig(env), (line) => process.stdout.write(`${line}\n`));
  }
  if (command === "aws-bootstrap") {
    if (env.BACKEND !== "aws")
      throw new UsageError("aws-bootstrap creates AWS resources: set BACKEND=aws and the AWS settings (.env.example).");
    // Bootstrapping creates the user pool and clients whose ids BACKEND=aws requires: check the rest only.
    const config = loadConfig({ ...env, BACKEND: "local" });
    const { bootstrapAws } = await import("../adapters/aws/bootstrap.js");
    try {
      await bootstrapAws(config, (line) => process.stdout.write(`${line}\n`));
    } catch (error) {
      // Missing credentials, an unreachable endpoint, a refused call: one line, not the SDK's stack.
      const name = error instanceof Error ? error.name : "Error";
      throw new CommandFailed(
        `AWS bootstrap stopped: ${name}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return 0;
  }
  const config = loadConfig(env);
  const container = await buildContainer(config);
  try {
    return await run(container, command, values as Options, rest);
  } finally {
    await container.runner.stop();
    await container.close();
  }
}

function requireTenant(values: Options): TenantId {
  if (!values.tenant || !isTenantId(values.tenant))
    throw new UsageError("--tenant <tenant id> is required (t_ followed by 20 characters).");
  return values.tenant;
}

/** A tenant that exists: nothing is read or created for an id that names no tenant. */
async function existingTenant(c: Container, values: Options): Promise<TenantId> {
  const tenant = requireTenant(values);
  if (!(await c.services.accounts.tenantExists(tenant)))
    throw new UsageError(`No tenant ${tenant} (npm run cli -- list-tenants shows them).`);
  return tenant;
}

class UsageError extends Error {}
/** A command that could not finish for a reason the operator can act on: its message, no stack. */
class CommandFailed extends Error {}

async function run(c: Container, command: string, values: Options, args: string[]): Promise<number> {
  switch (command) {
    case "create-tenant": {
      if (!values.name || !values.email || !values.password)
        throw new UsageError("create-tenant needs --name, --email and --password.");
      const result = await c.services.accounts.createTenant({
        email: values.email,
        password: values.password,
        organization: values.name,
      });
      process.stdout.write(
        `Created tenant ${result.tenant.id} (${result.tenant.name}) with admin ${result.user.email}\n`,
      );
      return 0;
    }
    case "list-tenants": {
      const rows = await c.services.accounts.tenants();
      if (rows.length === 0) process.stdout.write("No tenants yet (create-tenant makes one).\n");
      for (const { tenant, members } of rows) {
        const state = tenant.deletingSince ? `  (being deleted since ${tenant.deletingSince})` : "";
        process.stdout.write(`${tenant.id}  ${tenant.name}  ${members} members  created ${tenant.createdAt}${state}\n`);
      }
      return 0;
    }
    case "ingest": {
      const tenant = await existingTenant(c, values);
      const operator = c.services.access.operatorActor(tenant);
      if (args.length === 0) throw new UsageError("ingest needs at least one file or folder.");
      const files = (await Promise.all(args.map(listFiles))).flat();
      c.runner.start();
      const ids: string[] = [];
      for (const file of files) {
        try {
          // The operator adds documents for the whole organisation.
          const { document, created } = await c.services.documents.add(operator, {
            fileName: basename(file),
            data: await readFile(file),
            source: { kind: "cli" },
            visibility: { kind: "organisation" },
          });
          ids.push(document.id);
          if (!created) process.stdout.write(`= ${file}: already added as "${document.title}" (${document.status})\n`);
        } catch (error) {
          process.stdout.write(`✗ ${file}: ${isAppError(error) ? error.message : String(error)}\n`);
        }
      }
      await c.runner.drain(30 * 60_000);
      let failed = 0;
      for (const id of ids) {
        const doc = await c.services.documents.get(operator, id);
        if (doc.status === "ready")
          process.stdout.write(`✓ ${doc.title}: ${doc.pages} pages, ${doc.chunks} passages\n`);
        else {
          failed++;
          process.stdout.write(`✗ ${doc.title}: ${doc.error?.message ?? doc.status}\n`);
        }
      }
      return failed > 0 ? 1 : 0;
    }
    case "ask": {
      const tenant = await existingTenant(c, values);
      const question = args.join(" ");
      if (!question.trim()) throw new UsageError("ask needs a question.");
      // The operator reads what every member may read: the organisation's documents, no one's private files.
      // The answer is printed as it is written; sources and the note follow once it is complete.
      const result = await c.services.answers.ask(
        { actor: c.services.access.operatorActor(tenant), audience: { kind: "asker" }, question },
        { onText: (text) => process.stdout.write(text) },
      );
      process.stdout.write("\n");
      for (const s of result.sources) process.stdout.write(`  [${s.n}] ${s.title}, page ${s.page}\n`);
      if (result.note) process.stdout.write(`(${result.note})\n`);
      process.stdout.write(`(${result.outcome}, audit ${result.auditId})\n`);
      return 0;
    }
    case "export-audit": {
      const tenant = await existingTenant(c, values);
      // Every member's questions and answers: a new file is for the operator's user alone.
      const out = values.out ? createWriteStream(values.out, { mode: PRIVATE_FILE_MODE }) : process.stdout;
      for await (const chunk of c.services.audit.exportCsv(c.services.access.operatorActor(tenant))) out.write(chunk);
      if (values.out) await new Promise<void>((resolve) => (out as NodeJS.WritableStream).end(resolve));
      return 0;
    }
    case "export-tenant": {
      const tenant = await existingTenant(c, values);
      if (!values.out) throw new UsageError("export-tenant needs --out <file.tar.gz>.");
      const { stream } = await c.services.offboarding.exportArchive(c.services.access.operatorActor(tenant));
      // Written beside the target and renamed when complete: a failed export leaves no partial archive.
      const partial = `${values.out}.partial`;
      try {
        await pipeline(stream, createWriteStream(partial, { mode: PRIVATE_FILE_MODE }));
        await rename(partial, values.out);
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      }
      const { size } = await stat(values.out);
      process.stdout.write(`Exported ${tenant} to ${values.out} (${size} bytes)\n`);
      return 0;
    }
    case "delete-tenant": {
      const tenant = await existingTenant(c, values);
      if (!values.confirm) throw new UsageError("delete-tenant needs --confirm <organisation name>.");
      const done = await c.services.offboarding.deleteNow(c.services.access.operatorActor(tenant), values.confirm);
      process.stdout.write(
        `Deleted ${done.tenantId} (${done.name}): ${done.members} members, ${done.documents} documents, ${done.workspaces} linked workspaces\n`,
      );
      return 0;
    }
    case "refresh-access": {
      const tenant = await existingTenant(c, values);
      const count = await c.services.documents.refreshAccess(c.services.access.operatorActor(tenant));
      process.stdout.write(`Refreshed the readers of ${count} documents.\n`);
      return 0;
    }
    default:
      throw new UsageError(`Unknown command "${command}".\n\n${USAGE}`);
  }
}

async function listFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") throw new UsageError(`No such file or folder: ${path}`);
    throw error;
  });
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const nested = await Promise.all(
    entries
      .filter((e) => !e.name.startsWith("."))
      .map((e) => (e.isDirectory() ? listFiles(join(path, e.name)) : [join(path, e.name)])),
  );
  return nested.flat().filter((f) => /\.(pdf|txt|md|markdown)$/i.test(f));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof CommandFailed)
      process.stderr.write(`${error.message}\n`);
    else if (isAppError(error)) process.stderr.write(`${error.message}\n`);
    else process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
