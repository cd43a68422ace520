import type { Logger } from "../ports/logger.js";
import type { DocumentService } from "./documents.js";
import type { OffboardingService } from "./offboarding.js";

export interface RecoveryOptions {
  /** A document unchanged for this long while queued or indexing is looked at. */
  staleMs: number;
  /** Embedded: time between sweeps (on AWS a schedule calls `run`). */
  intervalMs: number;
}

/**
 * Finds documents whose ingest job was lost (the queue refused it, the process died between the record
 * and the job, the job died for good) and queues them again, so nothing accepted stays stranded; so
 * too organisations whose deletion was asked for but has not finished. On
 * the embedded server it runs at start and then periodically; on AWS an EventBridge schedule invokes
 * the worker function, which calls `run`.
 */
export class RecoverySweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly documents: DocumentService,
    private readonly options: RecoveryOptions,
    private readonly logger: Logger,
    private readonly offboarding?: OffboardingService,
  ) {}

  /** One sweep; concurrent calls share it. Resolves to how many documents were queued again. */
  run(): Promise<number> {
    this.running ??= (async () => {
      const documents = await this.documents.recoverStranded(this.options.staleMs);
      await this.offboarding?.resumeDeletions();
      return documents;
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.run().catch((error: unknown) => this.logger.warn("recovery sweep failed", { error }));
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
