import { constants, writevSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SegmentLogClosedError, SegmentWriteError } from './errors.ts';
import { CLOSED_SUFFIX, fsyncDir, OPEN_SUFFIX, type SegmentIdClock } from './segment-files.ts';

/** What `onSegmentClosed` receives: a closed, fsync'd segment, renamed to `.seg`, with its directory entry durable. */
export interface ClosedSegment {
  readonly stream: string;
  readonly segmentId: string;
  /** Absolute path of the `.seg` file. */
  readonly path: string;
  /** Records (events) in it. */
  readonly events: number;
}

export interface StreamSegmentWriterOptions {
  readonly stream: string;
  readonly dir: string;
  readonly ids: SegmentIdClock;
  readonly maxSegmentBytes: number;
  readonly maxSegmentAgeMs: number;
  /** Called once a segment is closed; the writer does not wait for it. */
  readonly onClosed: (segment: ClosedSegment) => void;
  /**
   * After a write failed for want of space (a full disk or quota, a file size limit), how long appends
   * are refused before the next one tries again. Default 1000 ms.
   */
  readonly retryAfterMs?: number;
}

/** Why a stream refuses appends, and whether that lasts until the process restarts. */
export interface StreamLogFailure {
  readonly message: string;
  /** False when the stream tries again on its own (the failure was for want of space). */
  readonly untilRestart: boolean;
}

export const DEFAULT_RETRY_AFTER_MS = 1000;

/** errno codes of a write refused for want of space: the disk or quota is full, or the file size limit reached. */
const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

function isOutOfSpace(error: unknown): boolean {
  return OUT_OF_SPACE.has((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

interface PendingAppend {
  readonly records: Buffer;
  readonly count: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface OpenSegment {
  readonly segmentId: string;
  readonly path: string;
  readonly handle: FileHandle;
  readonly timer: NodeJS.Timeout;
  bytes: number;
  events: number;
  /** The end of the last group acknowledged: what the segment is cut back to when a write or sync fails. */
  ackedBytes: number;
  /** Records up to `ackedBytes`. */
  ackedEvents: number;
  /** Settles once every group handed to an fdatasync in this segment has been acknowledged or refused. */
  settled: Promise<void>;
  /** The cut back to `ackedBytes`, once a failure began it; refusals are answered after it. */
  cut: Promise<void> | undefined;
  /** The segment given up after a failure (cut back, then closed); refusals wait for it when there is one. */
  given: Promise<void> | undefined;
}

/** Counters of one stream's writer: `syncs` below `appends` is group commit at work. */
export interface StreamLogStats {
  readonly appends: number;
  readonly records: number;
  /** Group writes, each followed by one fdatasync. */
  readonly syncs: number;
  readonly segmentsClosed: number;
}

/**
 * Queued appends of this many bytes are written at once; smaller ones wait for the others of the same
 * event-loop turn (a write's fixed cost matters below about this size, and waiting longer would only
 * delay the fdatasync).
 */
const WRITE_AT_ONCE_BYTES = 128 * 1024;

/**
 * While an fdatasync runs, appends wait in memory until this many bytes are queued; more are written
 * then (synced after it), so the memory held is bounded. At batches of 1,000 events (240 KB of
 * records each) waiting for the sync cost more system CPU than it saved.
 */
const WRITE_DURING_SYNC_BYTES = 1024 * 1024;

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND;

/**
 * Appends one stream's records to its open segment with group commit, as the log floor
 * (bench/floors/log-floor.ts) does: one fdatasync at a time, each acknowledging every append written
 * before it started. While none runs, appends are written (into the page cache) at the end of the
 * event-loop turn they arrived in, or at once when 128 KiB are queued, all of them in one write, and
 * synced at once; while one runs, they wait in memory, and its end writes all that arrived meanwhile
 * in one write and starts the next sync for them (a write into the file being synced waited for the
 * sync in the kernel, blocking the event loop; and with two syncs in flight each was shared by about
 * 8 requests instead of 14 at batches of 100, for more CPU per event: docs/benchmarks.md#log-api).
 * While a segment is being opened appends queue up for its first write. A group is acknowledged only when its
 * own fdatasync and every earlier one succeeded, so acknowledgements come in order and every
 * acknowledged record lies before any byte that may be torn.
 *
 * A segment is created on the first append after the last one closed, and closed when it reaches
 * `maxSegmentBytes` or `maxSegmentAgeMs` after it was opened. One append's records never span two
 * segments.
 *
 * All or nothing: when a write or an fdatasync fails, every append not acknowledged yet is refused,
 * and only after its segment was cut back (truncated and fsync'd) to the end of the last group
 * acknowledged, so no record of a refused append (a torn group's whole records, say) is found by
 * recovery after a restart. The segment is then closed with its acknowledged records, before the
 * refusals are answered. A failure for want of space (ENOSPC, EDQUOT, EFBIG) is tried again by the
 * first append `retryAfterMs` later, in a new segment, so the stream takes events again once space is
 * freed, without a restart; any other failure stops the stream until the process restarts.
 */
export class StreamSegmentWriter {
  private readonly queue: PendingAppend[] = [];
  private current: OpenSegment | undefined;
  /** The segment whose age ran out; closed by the drain loop unless it is already closed. */
  private expired: OpenSegment | undefined;
  private draining: Promise<void> | undefined;
  private wakeScheduled = false;
  /** Bytes of the appends queued. */
  private queuedBytes = 0;
  /** Settles once every segment whose close began is closed (a failure is recorded by `fail`). */
  private closes: Promise<void> = Promise.resolve();
  private closing = false;
  private failure: Error | undefined;
  /** When `failure` happened (Date.now()). */
  private failedAt = 0;
  /** Set by a failure other than for want of space, or when a segment could not be cut back and closed. */
  private untilRestart = false;
  /** Segments given up after a failure whose cut back and close have not ended yet. */
  private abandoning = 0;
  /** Settles once every group written so far is durable (or rejects with the first failure). */
  private allDurable: Promise<void> = Promise.resolve();
  /** Groups written whose fdatasync has not started yet (all in the current segment). */
  private unsynced: PendingAppend[] = [];
  /** fdatasyncs running now. */
  private syncsInFlight = 0;
  private counters = { appends: 0, records: 0, syncs: 0, segmentsClosed: 0 };
  /** Settles once the segments given up after a failure are cut back and closed. */
  private abandoned: Promise<void> = Promise.resolve();

  constructor(private readonly options: StreamSegmentWriterOptions) {}

  /** Resolves once `records` (`count` framed records) are written and fsync'd. */
  append(records: Buffer, count: number): Promise<void> {
    if (this.closing) return Promise.reject(new SegmentLogClosedError());
    if (this.failure) {
      if (!this.mayTryAgain()) return Promise.reject(new SegmentWriteError(this.options.stream, { cause: this.failure }));
      this.tryAgain();
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, count, resolve, reject });
      this.queuedBytes += records.length;
      // While an fdatasync runs, appends wait in memory (up to WRITE_DURING_SYNC_BYTES): its end writes them, all at once, and syncs them.
      if (this.syncsInFlight > 0 && this.queuedBytes < WRITE_DURING_SYNC_BYTES) return;
      if (this.queuedBytes >= WRITE_AT_ONCE_BYTES) this.wake();
      else this.wakeSoon();
    });
  }

  /**
   * Wakes the writer once the event loop has run the callbacks it is running (`setImmediate`), so the
   * small appends of the requests that arrived together go out in one write.
   */
  private wakeSoon(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wake();
    });
  }

  stats(): StreamLogStats {
    return { ...this.counters };
  }

  /**
   * Why this stream refuses appends now, if it does: after a failure for want of space, only until
   * `retryAfterMs` has passed (the next append then tries again, so a probe sees the stream ready and
   * traffic comes back to find out); after any other failure, until the process restarts.
   */
  refusal(): StreamLogFailure | undefined {
    if (!this.failure || this.mayTryAgain()) return undefined;
    return { message: this.failure.message, untilRestart: this.untilRestart };
  }

  /**
   * A failure for want of space is tried again once `retryAfterMs` has passed and the segments given
   * up were cut back and closed (their acknowledged records are then in `.seg` files, for ingestion):
   * the next write goes to a new segment, and nothing of the refused appends is left anywhere. Any
   * other failure (an I/O error, a failed fsync, after which the kernel may have dropped unsynced
   * pages) keeps the stream refusing until the process restarts and recovery reads what is on disk.
   */
  private mayTryAgain(): boolean {
    return !this.untilRestart && this.abandoning === 0 && Date.now() - this.failedAt >= (this.options.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS);
  }

  private tryAgain(): void {
    // Nothing is in flight: every segment was closed or given up, every fdatasync on them settled.
    this.failure = undefined;
    this.allDurable = Promise.resolve();
  }

  /** Writes what is queued, closes the open segment, and takes no more appends. */
  async close(): Promise<void> {
    this.closing = true;
    this.wake();
    // A drain that was finishing as close() began starts another one; wait for all of them.
    while (this.draining) await this.draining;
    await this.closes;
    await this.abandoned;
  }

  private wake(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      // Work may have arrived between the loop's last check and now (an append, close(), an expiry).
      if (this.hasWork()) this.wake();
    });
  }

  private hasWork(): boolean {
    if (this.failure) return false;
    return this.mayWrite() || (this.expired !== undefined && this.expired === this.current) || (this.closing && this.current !== undefined);
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        if (this.failure) throw this.failure;
        if (this.expired) {
          const expired = this.expired;
          this.expired = undefined;
          if (expired === this.current) this.closeCurrent();
        }
        if (this.mayWrite()) {
          await this.writeGroup();
          continue;
        }
        if (this.closing && this.current) this.closeCurrent();
        return;
      }
    } catch (error) {
      this.fail(error as Error);
    }
  }

  /**
   * Appends are written only while no fdatasync runs (as the log floor does), unless the writer is
   * closing: a write into the page cache of the file being synced waited for the sync in the kernel,
   * blocking the event loop (a sixth of the main thread's time at batches of 10, bench/log-api.ts
   * under `--cpu-prof`), and what arrives meanwhile is written, and synced, together when it ends.
   */
  private mayWrite(): boolean {
    return this.queue.length > 0 && (this.syncsInFlight === 0 || this.closing || this.queuedBytes >= WRITE_DURING_SYNC_BYTES);
  }

  /**
   * From the first failure on, every append queued or to come is refused (until it is tried again,
   * see `mayTryAgain`). Those queued were never written: refused at once. Those written to the current
   * segment but not acknowledged are refused once it is cut back; it is then given up (`abandon`).
   */
  private fail(error: Error): void {
    if (!this.failure) {
      this.failure = error;
      this.failedAt = Date.now();
    }
    if (!isOutOfSpace(error)) this.untilRestart = true;
    const wrapped = new SegmentWriteError(this.options.stream, { cause: this.failure });
    for (const pending of this.queue.splice(0)) pending.reject(wrapped);
    this.queuedBytes = 0;
    const written = this.unsynced.splice(0);
    const segment = this.current;
    if (!segment) {
      for (const pending of written) pending.reject(wrapped); // none: the written ones are in the current segment
      return;
    }
    this.current = undefined;
    clearTimeout(segment.timer);
    this.abandoning++; // counted now, so no append tries again before the close below has run
    const given = this.closes.then(() => this.abandon(segment)).finally(() => this.abandoning--);
    segment.given = given;
    this.abandoned = Promise.all([this.abandoned, given]).then(() => undefined);
    this.refuseAfterCut(segment, written, this.failure);
  }

  /**
   * Gives up a segment after a failure: cuts it back to its last acknowledged group, then closes it
   * (renamed to `.seg` and handed to `onClosed` with its acknowledged records, or removed when it has
   * none), so what it holds is ingested without waiting for a restart. Never throws: when any step
   * fails, the segment stays `.open` for recovery at the next start and the stream refuses appends
   * until then.
   */
  private async abandon(segment: OpenSegment): Promise<void> {
    const { dir, stream } = this.options;
    try {
      await this.cutBack(segment);
      await segment.handle.close();
      if (segment.ackedEvents === 0) {
        await rm(segment.path);
        await fsyncDir(dir);
        return;
      }
      const path = join(dir, segment.segmentId + CLOSED_SUFFIX);
      await rename(segment.path, path);
      await fsyncDir(dir);
      this.counters.segmentsClosed++;
      this.options.onClosed({ stream, segmentId: segment.segmentId, path, events: segment.ackedEvents });
    } catch {
      this.untilRestart = true;
      await segment.handle.close().catch(() => undefined);
    }
  }

  /**
   * Refuses `pendings` (written to `segment`) once the segment is cut back, or the cut failed; when the
   * segment is being given up, once it is closed too, so a refused client finds the acknowledged
   * records already handed on for ingestion (abandon never throws).
   */
  private refuseAfterCut(segment: OpenSegment, pendings: readonly PendingAppend[], cause: unknown): void {
    if (pendings.length === 0) return;
    const wrapped = new SegmentWriteError(this.options.stream, { cause });
    const refuse = () => {
      for (const pending of pendings) pending.reject(wrapped);
    };
    void (segment.given ?? this.cutBack(segment)).then(refuse, refuse);
  }

  /**
   * Truncates `segment` to the end of its last acknowledged group and fsyncs it, once every fdatasync
   * started on it has settled (so no group is acknowledged after the cut). Begun once per segment. If
   * the process dies before it ends, or it fails, recovery may find records of refused appends.
   */
  private cutBack(segment: OpenSegment): Promise<void> {
    segment.cut ??= segment.settled.then(async () => {
      await segment.handle.truncate(segment.ackedBytes);
      await segment.handle.datasync();
    });
    return segment.cut;
  }

  private async writeGroup(): Promise<void> {
    const { maxSegmentBytes } = this.options;
    const first = this.queue[0]!;
    if (this.current && this.current.bytes > 0 && this.current.bytes + first.records.length > maxSegmentBytes) this.closeCurrent();
    const segment = this.current ?? (await this.openSegment());
    let bytes = 0;
    let taken = 0;
    while (taken < this.queue.length) {
      const next = this.queue[taken]!;
      if (taken > 0 && segment.bytes + bytes + next.records.length > maxSegmentBytes) break;
      bytes += next.records.length;
      taken++;
    }
    const group = this.queue.splice(0, taken);
    this.queuedBytes -= bytes;
    try {
      writeAll(segment.handle, group.map((g) => g.records));
    } catch (error) {
      // Part of the group may be in the file: refused with the unsynced ones, after the cut.
      for (const pending of group) this.unsynced.push(pending);
      throw error;
    }
    segment.bytes += bytes;
    for (const pending of group) segment.events += pending.count;
    for (const pending of group) this.unsynced.push(pending);
    this.syncUnsynced(segment, false);
    if (segment.bytes >= maxSegmentBytes) this.closeCurrent();
  }

  /**
   * Starts the fdatasync that makes the groups written so far durable, unless one runs already
   * (`force` aside, to close a segment): then its end starts it.
   * The groups are acknowledged once it and all earlier ones succeed.
   */
  private syncUnsynced(segment: OpenSegment, force: boolean): void {
    if (this.unsynced.length === 0 || this.failure) return;
    if (!force && this.syncsInFlight > 0) return;
    const group = this.unsynced;
    this.unsynced = [];
    const end = segment.bytes;
    this.counters.syncs++;
    this.syncsInFlight++;
    const sync = segment.handle.datasync();
    void sync.then(
      () => {
        this.syncsInFlight--;
        // What was written meanwhile is in the current segment (a segment is closed only once synced).
        if (this.current) this.syncUnsynced(this.current, false);
        // What arrived meanwhile waited for this sync to end (mayWrite). It is written once the
        // acknowledgements of this sync have gone out (they are promise callbacks, run before the
        // immediate), as the log floor answers before it writes the next group: written first, its
        // copy into the page cache delayed every answer, and fewer requests joined each sync (11.9-15.0
        // against 15.5-15.6 at batches of 100, docs/benchmarks.md#log-api).
        if (this.mayWrite()) this.wakeSoon();
      },
      () => {
        this.syncsInFlight--; // the failure is reported through `durable` below
      },
    );
    const durable = Promise.all([this.allDurable, sync]).then(() => undefined);
    this.allDurable = durable;
    const answered = durable.then(
      () => {
        segment.ackedBytes = end;
        this.counters.appends += group.length;
        for (const pending of group) {
          this.counters.records += pending.count;
          segment.ackedEvents += pending.count;
          pending.resolve();
        }
      },
      (error: unknown) => {
        this.fail(error as Error);
        this.refuseAfterCut(segment, group, error);
      },
    );
    segment.settled = Promise.all([segment.settled, answered]).then(() => undefined);
  }

  private async openSegment(): Promise<OpenSegment> {
    const segmentId = this.options.ids.next();
    const path = join(this.options.dir, segmentId + OPEN_SUFFIX);
    const handle = await open(path, CREATE_FLAGS, 0o644);
    try {
      // The new file's directory entry must be durable before any record in it is acknowledged.
      await fsyncDir(this.options.dir);
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(path).catch(() => undefined); // empty: recovery would remove it anyway
      throw error;
    }
    const timer = setTimeout(() => {
      this.expired = segment;
      this.wake();
    }, this.options.maxSegmentAgeMs);
    timer.unref();
    const segment: OpenSegment = { segmentId, path, handle, timer, bytes: 0, events: 0, ackedBytes: 0, ackedEvents: 0, settled: Promise.resolve(), cut: undefined, given: undefined };
    this.current = segment;
    return segment;
  }

  /**
   * Stops writing to the current segment and closes it in the background, after the closes begun
   * before (so segments close in order): appends go on into the next segment meanwhile.
   */
  private closeCurrent(): void {
    const segment = this.current!;
    clearTimeout(segment.timer);
    this.syncUnsynced(segment, true);
    this.current = undefined;
    const durable = this.allDurable; // every group of the segment
    const closed = this.closes.then(() => this.finishClosing(segment, durable));
    this.closes = closed.catch((error: unknown) => this.fail(error as Error));
  }

  private async finishClosing(segment: OpenSegment, durable: Promise<void>): Promise<void> {
    try {
      await durable;
      await segment.handle.sync();
    } catch (error) {
      // Cut back (its refused groups are answered after that) and closed with what was acknowledged.
      this.abandoning++;
      await this.abandon(segment).finally(() => this.abandoning--);
      throw error;
    }
    await segment.handle.close();
    const path = join(this.options.dir, segment.segmentId + CLOSED_SUFFIX);
    await rename(segment.path, path);
    await fsyncDir(this.options.dir);
    this.counters.segmentsClosed++;
    this.options.onClosed({ stream: this.options.stream, segmentId: segment.segmentId, path, events: segment.events });
  }
}

/**
 * writev that finishes short writes (a full disk or a signal can cut one). Synchronous: it only copies
 * into the page cache (the fdatasync after it is what waits for the disk), and a round trip through
 * the thread pool per group cost more, in latency and CPU, than the copy.
 */
function writeAll(handle: FileHandle, buffers: Buffer[]): void {
  let rest = buffers;
  while (rest.length > 0) {
    const bytesWritten = writevSync(handle.fd, rest);
    let skip = bytesWritten;
    let i = 0;
    while (i < rest.length && skip >= rest[i]!.length) skip -= rest[i++]!.length;
    rest = rest.slice(i);
    if (rest.length > 0 && skip > 0) rest = [rest[0]!.subarray(skip), ...rest.slice(1)];
  }
}
