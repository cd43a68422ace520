import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ExtractiveChatModel } from "../src/adapters/local/extractive-chat-model.js";
import { JsonLogger } from "../src/adapters/local/json-logger.js";
import { SqliteAuditLog } from "../src/adapters/local/sqlite-audit-log.js";
import { SqliteChunkIndex } from "../src/adapters/local/sqlite-chunk-index.js";
import { TenantDatabases } from "../src/adapters/local/tenant-databases.js";
import { newTenantId, type TenantId } from "../src/domain/tenant.js";
import { extractPdf } from "../src/ingest/pdf-extract.js";
import { AnswerService } from "../src/services/answer-question.js";
import { decompressionBombPdf } from "../test/unit/ingest/pdf-fixtures.js";
import { indexSciFact, loadSciFact, MEMBER, sciFactAvailable } from "./scifact.js";

/**
 * Benchmarks of the embedded shape, reported as ratios measured in one run (the machine is shared
 * and noisy, so absolute numbers only give the order of magnitude):
 *  1. tenant scaling: search latency for one tenant alone vs the same tenant among N others, each
 *     holding a copy of BEIR SciFact (target: ratio under 1.5: per-tenant indexes do not slow down);
 *  2. the full ask path (search + relevance + extractive answer + audit write) vs a bare search;
 *  3. indexing throughput and the process's memory after loading N tenants (handle cache bounded);
 *  4. a PDF whose content inflates to 1.5 GiB: the parser's child process is stopped at its memory cap
 *     and the server process's own memory barely moves (target: under 64 MiB of growth).
 */
const TENANTS = Number(process.env.BENCH_TENANTS ?? 20);
const QUERIES = 300;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function timeQueries(
  run: (q: string) => Promise<unknown>,
  queries: string[],
): Promise<{ p50: number; p95: number }> {
  for (const q of queries.slice(0, 20)) await run(q); // warm the page cache
  const times: number[] = [];
  for (const q of queries) {
    const t = performance.now();
    await run(q);
    times.push(performance.now() - t);
  }
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

async function main(): Promise<number> {
  if (!sciFactAvailable()) {
    console.error("bench needs ../shared/data/beir-scifact (BEIR SciFact) as its corpus.");
    return 1;
  }
  const data = loadSciFact();
  const queries = data.queries.slice(0, QUERIES).map((q) => q.text);
  const dir = mkdtempSync(join(tmpdir(), "enclave-bench-"));
  const dbs = new TenantDatabases(dir, 16);
  const index = new SqliteChunkIndex(dbs);
  const load = (tenant: TenantId) => indexSciFact(index, tenant, data.corpus);
  try {
    const subject = newTenantId();
    let t = performance.now();
    await load(subject);
    const indexMs = performance.now() - t;
    const alone = await timeQueries((q) => index.search(subject, q, { k: 10, readable: MEMBER }), queries);

    for (let i = 1; i < TENANTS; i++) await load(newTenantId());
    const crowded = await timeQueries((q) => index.search(subject, q, { k: 10, readable: MEMBER }), queries);

    const answers = new AnswerService(
      {
        access: { readable: async () => [...MEMBER] },
        catalog: { get: async () => undefined },
        index,
        model: new ExtractiveChatModel(),
        audit: new SqliteAuditLog(dbs),
      },
      { topK: 8, maxSteps: 4, maxQuestionChars: 2000 },
      new JsonLogger("silent"),
    );
    const actor = {
      tenantId: subject,
      principal: "bench",
      principals: ["bench"],
      role: "member",
      surface: "api",
    } as const;
    t = performance.now();
    const ask = await timeQueries((q) => answers.ask({ actor, audience: { kind: "asker" }, question: q }), queries);
    const memory = process.memoryUsage();

    const bombPdf = decompressionBombPdf(); // built first: only the parse is measured
    const rssBefore = process.memoryUsage().rss;
    t = performance.now();
    const bomb = await extractPdf(bombPdf, { maxPages: 100, timeoutMs: 60_000, memoryMb: 256 }).then(
      () => "parsed (unexpected)",
      (error: { code?: string }) => error.code ?? "error",
    );
    const bombMs = performance.now() - t;
    const rssGrowth = (process.memoryUsage().rss - rssBefore) / 2 ** 20;

    const ratio = crowded.p95 / alone.p95;
    console.log(`Enclave embedded benchmarks (${data.corpus.length} abstracts a tenant, ${queries.length} queries)`);
    console.log(`indexing      ${(data.corpus.length / (indexMs / 1000)).toFixed(0)} passages/s`);
    console.log(`search alone  p50 ${alone.p50.toFixed(2)} ms  p95 ${alone.p95.toFixed(2)} ms  (1 tenant)`);
    console.log(
      `search among  p50 ${crowded.p50.toFixed(2)} ms  p95 ${crowded.p95.toFixed(2)} ms  (${TENANTS} tenants)`,
    );
    console.log(`  ratio p95 crowded/alone: ${ratio.toFixed(2)}x  (target < 1.5x)`);
    console.log(
      `ask (full)    p50 ${ask.p50.toFixed(2)} ms  p95 ${ask.p95.toFixed(2)} ms  (${(ask.p95 / alone.p95).toFixed(1)}x a bare search)`,
    );
    console.log(
      `memory        rss ${(memory.rss / 2 ** 20).toFixed(0)} MiB, heap ${(memory.heapUsed / 2 ** 20).toFixed(0)} MiB, open tenant files ${dbs.openCount()} (cap 16)`,
    );
    console.log(
      `PDF bomb      ${bomb} after ${(bombMs / 1000).toFixed(1)} s (1.5 GiB inflated, cap 256 MiB); server rss +${rssGrowth.toFixed(0)} MiB (target < 64)`,
    );
    return ratio < 1.5 && bomb === "parse_memory" && rssGrowth < 64 ? 0 : 1;
  } finally {
    dbs.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code));
