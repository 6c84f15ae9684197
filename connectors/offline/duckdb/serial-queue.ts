/**
 * Runs tasks one at a time, in the order they were queued. A DuckDB connection runs one statement at
 * a time and a transaction must own its connection from BEGIN to COMMIT, so the engine queues work here.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    // A failed task must not stop the ones queued after it.
    this.tail = result.catch(() => undefined);
    return result;
  }

  /**
   * Waits for the tasks queued before, then holds the queue until the returned `release` is called
   * (once is enough; later calls do nothing): for work whose steps the caller drives, such as a
   * result being read batch by batch. Tasks queued meanwhile wait for the release.
   */
  async hold(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const turn = new Promise<void>((resolve) => (started = resolve));
    void this.run(() => {
      started();
      return released;
    });
    await turn;
    return release;
  }
}
