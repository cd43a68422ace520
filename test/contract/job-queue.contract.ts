import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../../src/domain/errors.js";
import { newTenantId } from "../../src/domain/tenant.js";
import type { Job, JobQueue, JobRunner } from "../../src/ports/job-queue.js";
import { eventually, sleep } from "./support.js";

export interface DeadJob {
  type: string;
  lastError: string | null;
  attempt: number;
}

/**
 * A queue and its worker side. The factory configures `maxAttempts` attempts per job and a lease
 * (visibility timeout) of about `leaseMs`, short enough for the lease test.
 */
export interface JobQueueFixture {
  queue: JobQueue;
  runner: JobRunner;
  maxAttempts: number;
  leaseMs: number;
  /** Jobs in the dead-letter state, with their reasons. */
  deadJobs(): Promise<DeadJob[]>;
  cleanup(): Promise<void>;
}

export function describeJobQueueContract(name: string, factory: () => Promise<JobQueueFixture>, timeoutMs = 30_000) {
  describe(`JobQueue contract: ${name}`, () => {
    let fx: JobQueueFixture;
    beforeEach(async () => {
      fx = await factory();
    });
    afterEach(async () => {
      await fx.runner.stop();
      await fx.cleanup();
    });

    it(
      "runs a job once with its type, tenant and payload, and ignores a second enqueue with the same key",
      async () => {
        const seen: Job[] = [];
        fx.runner.register("ingest", async (job) => {
          seen.push(job);
        });
        fx.runner.start();
        const tenantId = newTenantId();
        const key = `ingest:${randomUUID()}`;
        expect(
          await fx.queue.enqueue({
            type: "ingest",
            tenantId,
            payload: { documentId: "d1", n: [1, 2] },
            idempotencyKey: key,
          }),
        ).toBe(true);
        expect(
          await fx.queue.enqueue({
            type: "ingest",
            tenantId,
            payload: { documentId: "d1", n: [1, 2] },
            idempotencyKey: key,
          }),
        ).toBe(false);
        await eventually(() => (seen.length > 0 ? true : undefined), timeoutMs, "the job to run");
        await fx.runner.drain(timeoutMs);
        await sleep(200);
        expect(seen).toHaveLength(1);
        expect(seen[0]).toMatchObject({
          type: "ingest",
          tenantId,
          payload: { documentId: "d1", n: [1, 2] },
          idempotencyKey: key,
          attempt: 1,
        });
        expect(seen[0]?.maxAttempts).toBe(fx.maxAttempts);
        expect(seen[0]?.id).toEqual(expect.any(String));
        expect(await fx.queue.enqueue({ type: "ingest", tenantId, payload: {}, idempotencyKey: key })).toBe(false);
      },
      timeoutMs * 2,
    );

    it(
      "retries a failing job with backoff until it succeeds",
      async () => {
        const attempts: { attempt: number; at: number }[] = [];
        fx.runner.register("answer", async (job) => {
          attempts.push({ attempt: job.attempt, at: Date.now() });
          if (job.attempt < 3) throw new Error(`transient failure ${job.attempt}`);
        });
        fx.runner.start();
        await fx.queue.enqueue({ type: "answer", payload: { q: 1 }, idempotencyKey: `answer:${randomUUID()}` });
        await eventually(() => (attempts.length >= 3 ? true : undefined), timeoutMs, "three attempts");
        await fx.runner.drain(timeoutMs);
        expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
        expect(await fx.deadJobs()).toEqual([]);
      },
      timeoutMs * 2,
    );

    it(
      "moves a job that keeps failing to the dead-letter state with its reason after the last attempt",
      async () => {
        let runs = 0;
        fx.runner.register("slack_event", async () => {
          runs++;
          throw new Error("Slack API unreachable");
        });
        fx.runner.start();
        await fx.queue.enqueue({
          type: "slack_event",
          tenantId: newTenantId(),
          payload: {},
          idempotencyKey: `ev:${randomUUID()}`,
        });
        const dead = await eventually(
          async () => (await fx.deadJobs()).find((j) => j.type === "slack_event"),
          timeoutMs,
          "a dead job",
        );
        expect(dead.lastError).toContain("Slack API unreachable");
        expect(dead.attempt).toBe(fx.maxAttempts);
        await sleep(300);
        expect(runs).toBe(fx.maxAttempts);
      },
      timeoutMs * 2,
    );

    it(
      "gives up at once on a non-retryable AppError",
      async () => {
        let runs = 0;
        fx.runner.register("slack_file", async () => {
          runs++;
          throw new AppError("bad_request", "This job's payload is not valid.");
        });
        fx.runner.start();
        await fx.queue.enqueue({ type: "slack_file", payload: { bad: true }, idempotencyKey: `file:${randomUUID()}` });
        const dead = await eventually(
          async () => (await fx.deadJobs()).find((j) => j.type === "slack_file"),
          timeoutMs,
          "a dead job",
        );
        expect(dead.lastError).toContain("This job's payload is not valid.");
        expect(dead.attempt).toBe(1);
        await sleep(300);
        expect(runs).toBe(1);
      },
      timeoutMs * 2,
    );

    it(
      "delivers a job again when a worker holds it past its lease without finishing",
      async () => {
        let release: () => void = () => {};
        const stuck = new Promise<void>((resolve) => {
          release = resolve;
        });
        const attempts: number[] = [];
        fx.runner.register("ingest", async (job) => {
          attempts.push(job.attempt);
          if (job.attempt === 1) await stuck; // a worker that hangs (or died) holding the job
        });
        fx.runner.start();
        await fx.queue.enqueue({
          type: "ingest",
          tenantId: newTenantId(),
          payload: {},
          idempotencyKey: `lease:${randomUUID()}`,
        });
        await eventually(
          () => (attempts.length >= 2 ? true : undefined),
          fx.leaseMs * 10 + timeoutMs,
          "a second delivery",
        );
        expect(attempts.slice(0, 2)).toEqual([1, 2]);
        release();
      },
      timeoutMs * 3,
    );

    it(
      "revives a finished or dead job with the same key, and leaves a live one alone",
      async () => {
        const runs: string[] = [];
        fx.runner.register("ingest", async (job) => {
          const { name } = job.payload as { name: string };
          runs.push(name);
          if (name === "dies") throw new AppError("bad_request", "never works");
        });
        const tenantId = newTenantId();
        const done = {
          type: "ingest" as const,
          tenantId,
          payload: { name: "done" },
          idempotencyKey: `r:${randomUUID()}`,
        };
        const dies = {
          type: "ingest" as const,
          tenantId,
          payload: { name: "dies" },
          idempotencyKey: `r:${randomUUID()}`,
        };
        // Queued but not run yet (no worker): alive, so reviving it does not queue a second copy.
        expect(await fx.queue.enqueue(done)).toBe(true);
        expect(await fx.queue.enqueue(done, { revive: true })).toBe(false);
        expect(await fx.queue.enqueue(dies)).toBe(true);
        fx.runner.start();
        await fx.runner.drain(timeoutMs);
        expect(runs.sort()).toEqual(["dies", "done"]);
        // Finished and dead: a plain enqueue is still a duplicate; reviving queues each once more.
        expect(await fx.queue.enqueue(done)).toBe(false);
        expect(await fx.queue.enqueue(done, { revive: true })).toBe(true);
        expect(await fx.queue.enqueue(dies, { revive: true })).toBe(true);
        await fx.runner.drain(timeoutMs);
        expect(runs.sort()).toEqual(["dies", "dies", "done", "done"]);
      },
      timeoutMs * 2,
    );

    it(
      "deleteTenant forgets every job of the tenant, the running erasure job's own included, and no other's",
      async () => {
        const a = newTenantId();
        const b = newTenantId();
        const marker = `dies for good ${randomUUID()}`;
        const runs: string[] = [];
        fx.runner.register("ingest", async (job) => {
          const { name } = job.payload as { name: string };
          runs.push(name);
          if (name === "dies") throw new AppError("bad_request", marker);
        });
        fx.runner.register("delete_tenant", async (job) => {
          runs.push("erase");
          if (job.tenantId) await fx.queue.deleteTenant(job.tenantId);
        });
        const job = (tenantId: typeof a, name: string) => ({
          type: "ingest" as const,
          tenantId,
          payload: { name },
          idempotencyKey: `forget:${name}:${randomUUID()}`,
        });
        const doneA = job(a, "done");
        const deadA = job(a, "dies");
        const doneB = job(b, "done in B");
        for (const j of [doneA, deadA, doneB]) expect(await fx.queue.enqueue(j)).toBe(true);
        fx.runner.start();
        await fx.runner.drain(timeoutMs);
        expect((await fx.deadJobs()).some((d) => d.lastError?.includes(marker))).toBe(true);

        const erase = { type: "delete_tenant" as const, tenantId: a, payload: {}, idempotencyKey: `erase:${a}` };
        expect(await fx.queue.enqueue(erase)).toBe(true);
        await eventually(() => (runs.includes("erase") ? true : undefined), timeoutMs, "the erasure job to run");
        await fx.runner.drain(timeoutMs);
        await sleep(100);

        expect((await fx.deadJobs()).some((d) => d.lastError?.includes(marker))).toBe(false);
        // Forgotten: the same keys queue again, the erasure job's too (finishing it recorded nothing).
        expect(await fx.queue.enqueue(erase)).toBe(true);
        expect(await fx.queue.enqueue(doneA)).toBe(true);
        expect(await fx.queue.enqueue(doneB)).toBe(false);
        await fx.runner.drain(timeoutMs);
        await fx.queue.deleteTenant(a);
        await fx.queue.deleteTenant(newTenantId());
      },
      timeoutMs * 3,
    );

    it(
      "stop(timeout) returns within the timeout and hands a job still running back to the queue",
      async () => {
        let release: () => void = () => {};
        const hung = new Promise<void>((resolve) => {
          release = resolve;
        });
        let calls = 0;
        let finished = 0;
        fx.runner.register("answer", async () => {
          calls++;
          if (calls === 1) await hung; // still running when the process is told to stop
          finished++;
        });
        fx.runner.start();
        await fx.queue.enqueue({ type: "answer", payload: {}, idempotencyKey: `stop:${randomUUID()}` });
        await eventually(() => (calls === 1 ? true : undefined), timeoutMs, "the job to start");
        const stopping = fx.runner.stop(200);
        const outcome = await Promise.race([
          stopping.then(() => "stopped" as const),
          sleep(timeoutMs / 2).then(() => "hung" as const),
        ]);
        expect(outcome).toBe("stopped");
        // The next start (here: the same worker again) runs it to the end.
        fx.runner.start();
        await eventually(() => (finished === 1 ? true : undefined), timeoutMs, "the job to run again");
        release();
        await fx.runner.drain(timeoutMs);
        expect(calls).toBe(2);
        expect(await fx.deadJobs()).toEqual([]);
      },
      timeoutMs * 3,
    );
  });
}
