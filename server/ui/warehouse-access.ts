import type { OfflineEngine } from '../../connectors/offline/offline-engine.ts';
import { FlywheelError } from '../../core/errors.ts';

/**
 * The UI's way into the warehouse: one engine at a time, opened for the reads waiting for it and
 * closed as soon as none waits. DuckDB lets one process hold its file; a worker opens it for each
 * activity, so the UI must never keep it open, and its own requests must not race each other for it.
 * Reads that arrive together (a page's header and its content) share one opening, which costs tens of
 * milliseconds; at most READS_PER_OPENING do, so a busy UI still lets the file go between them. A
 * busy warehouse (a retryable error: another process holds the lock) is tried again for up to `busyWaitMs`.
 *
 * `readCached` answers from memory while the warehouse's change token (connectors/offline/
 * warehouse-change-token.ts: a DuckDB file's and its log's size and time) is the one taken before
 * the read it remembers: the same rows, without opening the file. Without a token, it reads.
 *
 * @example
 * const access = new WarehouseAccess(() => createOfflineEngine(config.profile.offline));
 * const rows = await access.read((engine) => engine.all(query));
 */
export const READS_PER_OPENING = 8;

interface WaitingRead {
  readonly work: (engine: OfflineEngine) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class WarehouseAccess {
  private readonly waiting: WaitingRead[] = [];
  private draining = false;
  private readonly remembered = new Map<string, { readonly token: string; readonly value: Promise<unknown> }>();

  constructor(
    private readonly open: () => Promise<OfflineEngine>,
    private readonly options: { readonly busyWaitMs?: number; readonly changeToken?: () => Promise<string> } = {},
  ) {}

  /**
   * As `read`, but the answer is kept under `key` and given again while the warehouse is unchanged.
   * `work` must depend on nothing but the warehouse (no clock: derive from its rows afterwards).
   */
  async readCached<T>(key: string, work: (engine: OfflineEngine) => Promise<T>): Promise<T> {
    if (!this.options.changeToken) return this.read(work);
    // Taken before the read: a write during it changes the token, so the next call reads again.
    const token = await this.options.changeToken();
    const kept = this.remembered.get(key);
    if (kept?.token === token) return kept.value as Promise<T>;
    const value = this.read(work);
    this.remembered.set(key, { token, value });
    value.catch(() => {
      if (this.remembered.get(key)?.value === value) this.remembered.delete(key);
    });
    return value;
  }

  /** Runs `work` with an open engine once the reads before it are done; the engine is closed when no read waits. */
  read<T>(work: (engine: OfflineEngine) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) void this.drain();
    });
  }

  /** Opens the engine for the waiting reads, runs them one after another (those arriving meanwhile too), and closes it. */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.waiting.length > 0) {
        let engine: OfflineEngine;
        try {
          engine = await this.openWhenFree();
        } catch (error) {
          for (const read of this.waiting.splice(0)) read.reject(error);
          continue;
        }
        try {
          for (let served = 0; served < READS_PER_OPENING && this.waiting.length > 0; served++) {
            const read = this.waiting.shift()!;
            try {
              read.resolve(await read.work(engine));
            } catch (error) {
              read.reject(error);
            }
          }
        } finally {
          // The reads have their answers; a failure to close is the server's to report, not theirs.
          await engine.close().catch((error: unknown) => process.stderr.write(`flywheel ui: closing the warehouse failed: ${error instanceof Error ? error.message : String(error)}\n`));
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async openWhenFree(): Promise<OfflineEngine> {
    const deadline = Date.now() + (this.options.busyWaitMs ?? 5_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.open();
      } catch (error) {
        if (!(error instanceof FlywheelError) || !error.retryable || Date.now() >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(500, 50 * 2 ** attempt)));
      }
    }
  }
}
