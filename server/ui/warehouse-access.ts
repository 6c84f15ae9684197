import type { OfflineEngine } from '../../connectors/offline/offline-engine.ts';
import { FlywheelError } from '../../core/errors.ts';

/**
 * The UI's way into the warehouse: one engine at a time, opened for one request's reads and closed
 * right after. DuckDB lets one process hold its file; a worker opens it for each activity, so the UI
 * must never keep it open, and its own requests must not race each other for it. A busy warehouse
 * (a retryable error: another process holds the lock) is tried again for up to `busyWaitMs`.
 *
 * @example
 * const access = new WarehouseAccess(() => createOfflineEngine(config.profile.offline));
 * const rows = await access.read((engine) => engine.all(query));
 */
export class WarehouseAccess {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly open: () => Promise<OfflineEngine>,
    private readonly busyWaitMs = 5_000,
  ) {}

  /** Runs `work` with an open engine once the requests before it are done; closes the engine after. */
  read<T>(work: (engine: OfflineEngine) => Promise<T>): Promise<T> {
    const run = this.queue.then(() => this.withEngine(work));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async withEngine<T>(work: (engine: OfflineEngine) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.busyWaitMs;
    for (let attempt = 0; ; attempt++) {
      let engine: OfflineEngine;
      try {
        engine = await this.open();
      } catch (error) {
        if (!(error instanceof FlywheelError) || !error.retryable || Date.now() >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(500, 50 * 2 ** attempt)));
        continue;
      }
      try {
        return await work(engine);
      } finally {
        await engine.close();
      }
    }
  }
}
