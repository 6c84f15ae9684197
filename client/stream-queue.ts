/**
 * The events of one stream waiting to be sent, in the order they were logged, and the bookkeeping
 * `flush()` needs: each event gets a sequence number, and batches settle (delivered or failed) in
 * sequence order, so "everything up to N has settled" is one number.
 */

export interface QueuedEvent {
  readonly seq: number;
  /** The event as JSON, `_event_id` included: retries send exactly these bytes. */
  readonly json: string;
  /** UTF-8 size of `json`. */
  readonly bytes: number;
  /** When it was logged (performance.now()), for the flush interval. */
  readonly queuedAt: number;
}

export interface BatchLimits {
  readonly maxBatchSize: number;
  readonly maxBatchBytes: number;
  readonly flushIntervalMs: number;
}

export class StreamQueue {
  readonly name: string;
  /** A batch of this stream is being sent (one at a time, to keep the stream's order). */
  inFlight = false;
  /** The flush-interval timer, armed while events wait and no batch is due. */
  timer: ReturnType<typeof setTimeout> | undefined;

  private events: QueuedEvent[] = [];
  private queuedBytes = 0;
  private nextSeq = 0;
  private settledThrough = -1;
  /** Events up to this sequence number go out without waiting for the interval (asked by flush). */
  private flushThrough = -1;
  private waiters: { seq: number; resolve: () => void }[] = [];

  constructor(name: string) {
    this.name = name;
  }

  get length(): number {
    return this.events.length;
  }

  /** Nothing queued, in flight or awaited: the queue can be forgotten. */
  get idle(): boolean {
    return this.events.length === 0 && !this.inFlight && this.waiters.length === 0;
  }

  push(json: string, bytes: number, queuedAt: number): void {
    this.events.push({ seq: this.nextSeq++, json, bytes, queuedAt });
    this.queuedBytes += bytes;
  }

  /** Whether the next batch should go now: full by count or size, asked for by flush, or the oldest event waited long enough. */
  isDue(now: number, limits: BatchLimits): boolean {
    const oldest = this.events[0];
    if (oldest === undefined) return false;
    return (
      this.events.length >= limits.maxBatchSize ||
      this.queuedBytes >= limits.maxBatchBytes ||
      oldest.seq <= this.flushThrough ||
      now - oldest.queuedAt >= limits.flushIntervalMs
    );
  }

  /** Milliseconds until the oldest queued event has waited the flush interval. */
  msUntilDue(now: number, limits: BatchLimits): number {
    const oldest = this.events[0];
    return oldest === undefined ? Infinity : Math.max(0, oldest.queuedAt + limits.flushIntervalMs - now);
  }

  /**
   * Takes the next batch off the queue: at most maxBatchSize events and a body (`[a,b]`) of at most
   * maxBatchBytes, but at least one event.
   */
  takeBatch(limits: BatchLimits): QueuedEvent[] {
    let count = 0;
    let eventBytes = 0;
    for (const event of this.events) {
      // The body: '[' + events joined by ',' + ']', so one more byte per event, plus one.
      if (count >= limits.maxBatchSize || (count > 0 && 1 + eventBytes + count + event.bytes + 1 > limits.maxBatchBytes)) break;
      count += 1;
      eventBytes += event.bytes;
    }
    this.queuedBytes -= eventBytes;
    return this.events.splice(0, count);
  }

  /** Records that a batch was delivered or failed; resolves the flushes waiting for it. */
  settle(batch: readonly QueuedEvent[]): void {
    const last = batch.at(-1);
    if (last === undefined) return;
    this.settledThrough = last.seq;
    const ready = this.waiters.filter((w) => w.seq <= this.settledThrough);
    this.waiters = this.waiters.filter((w) => w.seq > this.settledThrough);
    for (const waiter of ready) waiter.resolve();
  }

  /**
   * Asks for every event queued so far to go out now; resolves once they have all settled.
   * Undefined when they already have.
   */
  flush(): Promise<void> | undefined {
    const seq = this.nextSeq - 1;
    if (seq <= this.settledThrough) return undefined;
    this.flushThrough = Math.max(this.flushThrough, seq);
    return new Promise((resolve) => this.waiters.push({ seq, resolve }));
  }
}
