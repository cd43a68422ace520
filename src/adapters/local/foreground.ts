import type { Foreground } from "../../ports/job-queue.js";

/**
 * Counts the requests in flight that background work gives way to (see `Foreground`). Idle listeners
 * are called from `setImmediate`, after the event loop has read every request already waiting on a
 * socket: a burst of deliveries is taken in whole before the worker goes on.
 */
export class ForegroundTracker implements Foreground {
  private active = 0;
  private listeners: (() => void)[] = [];
  private notifying = false;

  get busy(): boolean {
    return this.active > 0;
  }

  begin(): () => void {
    this.active++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
      if (this.active === 0) this.notifySoon();
    };
  }

  whenIdle(listener: () => void): void {
    this.listeners.push(listener);
    if (!this.busy) this.notifySoon();
  }

  private notifySoon(): void {
    if (this.notifying || this.listeners.length === 0) return;
    this.notifying = true;
    setImmediate(() => {
      this.notifying = false;
      if (this.busy) return; // another request came in meanwhile: its end notifies
      for (const listener of this.listeners.splice(0)) listener();
    });
  }
}
