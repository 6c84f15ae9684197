import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { recoverOpenSegment } from './recover-segment.ts';
import { CLOSED_SUFFIX, fsyncDir, listSegments, SegmentIdClock, segmentIdTime, segmentsRoot, streamSegmentsDir } from './segment-files.ts';
import { StreamSegmentWriter, type ClosedSegment, type StreamLogFailure, type StreamLogStats } from './stream-segment-writer.ts';

export type { ClosedSegment, StreamLogFailure, StreamLogStats } from './stream-segment-writer.ts';

/**
 * Called after a segment is closed (fsync'd, renamed to `.seg`, directory fsync'd), including the
 * segments closed by recovery at start-up. The log does not wait for it while writing; close() waits
 * for the calls in flight. A rejection is logged, and the `.seg` file stays where it is.
 */
export type OnSegmentClosed = (segment: ClosedSegment) => void | Promise<void>;

export interface SegmentLogOptions {
  /** Segments go to `<stateDir>/segments/<stream>/`. */
  readonly stateDir: string;
  readonly streams: readonly string[];
  /** A segment is closed once it reaches this size. Default 64 MiB. */
  readonly maxSegmentBytes?: number;
  /** ...or this long after it was opened, so events reach ingestion in good time. Default 10 s. */
  readonly maxSegmentAgeMs?: number;
  readonly onSegmentClosed?: OnSegmentClosed;
  /** After a write failed for want of space, how long a stream refuses appends before trying again. Default 1000 ms. */
  readonly retryAfterMs?: number;
  /** Where recovery and hook failures are reported. Default: stderr. */
  readonly log?: (line: string) => void;
}

export const DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_SEGMENT_AGE_MS = 10_000;

/** Durable append-only storage of each stream's events, in segment files. */
export interface SegmentLog {
  /**
   * Resolves once `records` (`count` records framed by `encodeRecords`) are written and fsync'd to the
   * stream's open segment: only then may they be acknowledged. Rejects with SegmentWriteError (the
   * stream then refuses appends: for `retryAfterMs` after a failure for want of space, else until
   * restart) or SegmentLogClosedError.
   */
  append(stream: string, records: Buffer, count: number): Promise<void>;
  /** Writes what is queued, closes every open segment, waits for the `onSegmentClosed` calls in flight. */
  close(): Promise<void>;
  /** Counters per stream since the log was opened. */
  stats(): Readonly<Record<string, StreamLogStats>>;
  /** Per stream that refuses appends now since a write or fsync failed: the failure (for readiness). */
  failures(): Readonly<Record<string, StreamLogFailure>>;
}

/**
 * Opens the log of each stream. First recovers what a crash left behind: each `.open` segment is
 * scanned, cut after its last good record, and closed (or removed when no record survived).
 *
 * @example
 * const log = await openSegmentLog({ stateDir: '.flywheel', streams: ['clicks'], onSegmentClosed: (s) => ingest(s.path) });
 * await log.append('clicks', encodeRecords([JSON.stringify(event)]), 1); // durable now
 * await log.close();
 */
export async function openSegmentLog(options: SegmentLogOptions): Promise<SegmentLog> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const hooksInFlight = new Set<Promise<void>>();
  const notify = (segment: ClosedSegment) => {
    if (!options.onSegmentClosed) return;
    const hook = options.onSegmentClosed;
    const call: Promise<void> = Promise.resolve()
      .then(() => hook(segment))
      .catch((error: unknown) => log(`onSegmentClosed failed for ${segment.path}: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => hooksInFlight.delete(call));
    hooksInFlight.add(call);
  };

  const root = segmentsRoot(options.stateDir);
  await mkdir(root, { recursive: true });
  await fsyncDir(dirname(root));
  const writers = new Map<string, StreamSegmentWriter>();
  for (const stream of options.streams) {
    const dir = streamSegmentsDir(options.stateDir, stream);
    await mkdir(dir, { recursive: true });
    await fsyncDir(root);
    const latest = await recoverStream(stream, dir, log, notify);
    writers.set(
      stream,
      new StreamSegmentWriter({
        stream,
        dir,
        ids: new SegmentIdClock(latest),
        maxSegmentBytes: options.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES,
        maxSegmentAgeMs: options.maxSegmentAgeMs ?? DEFAULT_MAX_SEGMENT_AGE_MS,
        onClosed: notify,
        ...(options.retryAfterMs !== undefined ? { retryAfterMs: options.retryAfterMs } : {}),
      }),
    );
  }

  return {
    append(stream, records, count) {
      const writer = writers.get(stream);
      if (!writer) return Promise.reject(new Error(`the segment log has no stream "${stream}"`));
      return writer.append(records, count);
    },
    stats() {
      return Object.fromEntries([...writers].map(([stream, writer]) => [stream, writer.stats()]));
    },
    failures() {
      const failed: Record<string, StreamLogFailure> = {};
      for (const [stream, writer] of writers) {
        const refusal = writer.refusal();
        if (refusal) failed[stream] = refusal;
      }
      return failed;
    },
    async close() {
      await Promise.all([...writers.values()].map((w) => w.close()));
      while (hooksInFlight.size > 0) await Promise.all([...hooksInFlight]);
    },
  };
}

/** Closes the `.open` segments of a stream's folder; returns the time of its newest segment id. */
async function recoverStream(stream: string, dir: string, log: (line: string) => void, notify: (segment: ClosedSegment) => void): Promise<number> {
  const segments = await listSegments(dir);
  for (const segment of segments.filter((s) => s.state === 'open')) {
    const recovered = await recoverOpenSegment(segment.path);
    if (recovered.cutBytes > 0) {
      log(`segment log: ${segment.path}: cut ${recovered.cutBytes} bytes after the last good record (${recovered.reason}); kept ${recovered.events} events, ${recovered.keptBytes} bytes`);
    }
    if (recovered.events === 0) {
      await rm(segment.path);
      await fsyncDir(dir);
      continue;
    }
    const closedPath = join(dir, segment.segmentId + CLOSED_SUFFIX);
    await rename(segment.path, closedPath);
    await fsyncDir(dir);
    log(`segment log: recovered ${stream} segment ${segment.segmentId} (${recovered.events} events) and closed it`);
    notify({ stream, segmentId: segment.segmentId, path: closedPath, events: recovered.events });
  }
  return Math.max(0, ...segments.map((s) => segmentIdTime(s.segmentId) ?? 0));
}
