import { CancellationScope, isCancellation } from '@temporalio/workflow';

/**
 * What a partition runner needs from its workflow: what to start next, how to name it, and how to
 * run one. The workflow keeps its own state (what is pending, the outcomes); the runner only decides
 * when to start what, a few at a time.
 */
export interface PartitionRunnerOptions<T> {
  /** How many items run at once (at least 1). */
  readonly concurrency: number;
  /**
   * The next item ready to start, taken out of what is pending; undefined when none is ready now
   * (none left, or the rest wait for a running one, as the loop's stages wait for their dependencies).
   */
  readonly next: () => T | undefined;
  /** The item's key while it runs (a partition key, a stage id): what progress queries list. */
  readonly keyOf: (item: T) => string;
  /**
   * Runs one item and records its outcome in the workflow's state. It throws only when the workflow
   * is being cancelled; a failed item is an outcome, not an error.
   */
  readonly run: (item: T) => Promise<void>;
  /** Called after an item ended and left the running set (progress, search attributes). */
  readonly afterEach?: (item: T) => void;
  /** Items started by this run before it stops starting more, so the workflow can continue as new. */
  readonly startLimit?: number;
}

export interface PartitionRunOutcome {
  readonly started: number;
  /** True when the run stopped starting because it reached `startLimit`; the workflow continues as new if work is left. */
  readonly limitReached: boolean;
}

/**
 * Runs a workflow's items (partitions of a backfill or of labels, the loop's stages) with bounded
 * concurrency, the one copy of what the backfill, labels and loop workflows each had: start up to
 * `concurrency` items, wait for any to end, start more, until nothing is ready and nothing runs (or
 * `startLimit` items have started: the caller then continues as new with what is left, keeping its
 * history bounded). When the workflow is cancelled it waits for the running items to acknowledge
 * their cancellation before rethrowing, so nothing is left running behind a cancelled run.
 *
 * Workflow code: deterministic, no timers; items start in the order `next` gives them.
 *
 * @example
 * const runner = new PartitionRunner({ concurrency: 2, next: () => pending.shift(), keyOf: (p) => p.key, run: buildOne, startLimit: 100 });
 * setHandler(progressQuery, () => ({ running: runner.running() }));
 * const { limitReached } = await runner.run();
 * if (limitReached && pending.length > 0) await continueAsNew({ ...input, state });
 */
export class PartitionRunner<T> {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly options: PartitionRunnerOptions<T>;

  constructor(options: PartitionRunnerOptions<T>) {
    this.options = options;
  }

  /** Keys of the items running now, in the order they started. */
  running(): string[] {
    return [...this.inFlight.keys()];
  }

  async run(): Promise<PartitionRunOutcome> {
    const concurrency = Math.max(1, this.options.concurrency);
    const limit = this.options.startLimit;
    let started = 0;
    try {
      for (;;) {
        while (this.inFlight.size < concurrency && (limit === undefined || started < limit)) {
          const item = this.options.next();
          if (item === undefined) break;
          started++;
          this.start(item);
        }
        if (this.inFlight.size === 0) break;
        await Promise.race(this.inFlight.values());
      }
    } catch (error) {
      if (isCancellation(error)) {
        // Wait for the children to acknowledge their cancellation before ending, so nothing is left running.
        await CancellationScope.nonCancellable(() => Promise.allSettled(this.inFlight.values()));
      }
      throw error;
    }
    return { started, limitReached: limit !== undefined && started >= limit };
  }

  private start(item: T): void {
    const key = this.options.keyOf(item);
    const running = (async () => {
      try {
        await this.options.run(item);
      } finally {
        this.inFlight.delete(key);
      }
      this.options.afterEach?.(item);
    })();
    this.inFlight.set(key, running);
  }
}
