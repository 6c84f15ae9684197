/**
 * How many object-store writes of one run go out at once (staging a partition's files, publishing a
 * partition). Each write of a local store waits for two fsyncs (the file, then its folder) and each
 * write to S3 for a round trip; side by side they overlap: 90 daily partitions staged and published
 * one at a time took 0.7–1.0 s at load 7, eight at a time 0.12–0.2 s (docs/benchmarks.md, Training sets).
 */
export const OBJECT_WRITE_CONCURRENCY = 8;

/**
 * Runs `work` for every item, at most `limit` at a time, in item order as lanes free up. After the
 * first failure no item is started; the ones running finish, then the first error is thrown. Resolves
 * with the results in item order.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await work(items[index]!, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results;
}

/**
 * Which items of a resumable loop are done, as heartbeat details a retry can resume from: every index
 * below `next`, and those in `done` (finished out of order while earlier ones still ran). Small
 * whatever the item count: `done` holds fewer than the loop's concurrency.
 */
export interface ResumePoint {
  readonly next: number;
  readonly done?: readonly number[];
}

/** Tracks finished indices and gives the ResumePoint to heartbeat after each. */
export class ResumeTracker {
  private next: number;
  private readonly ahead: Set<number>;

  constructor(from: ResumePoint | undefined) {
    this.next = from?.next ?? 0;
    this.ahead = new Set((from?.done ?? []).filter((i) => i >= this.next));
    this.advance();
  }

  /** Whether a retry still has to do item `index`. */
  pending(index: number): boolean {
    return index >= this.next && !this.ahead.has(index);
  }

  finished(index: number): ResumePoint {
    this.ahead.add(index);
    this.advance();
    return this.point();
  }

  point(): ResumePoint {
    return this.ahead.size > 0 ? { next: this.next, done: [...this.ahead].sort((a, b) => a - b) } : { next: this.next };
  }

  private advance(): void {
    while (this.ahead.delete(this.next)) this.next += 1;
  }
}
