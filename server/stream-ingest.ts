import { FlywheelError } from '../core/errors.ts';
import { uuidv7 } from './event-ids.ts';
import { RecentIds } from './recent-ids.ts';
import { listSegments, readSegmentPayloads, RecordBuilder, streamSegmentsDir, type SegmentLog } from './segment-log/index.ts';
import type { StreamSchema } from './stream-schema.ts';
import { addStoredEvent } from './stored-event.ts';
import { EventValidator, IssueSink, type EventIssue } from './validation/event-validator.ts';
import type { ParsedBatch } from './validation/parse-body.ts';

/** Thrown when any event of a batch is invalid; nothing of the batch was stored. */
export class InvalidEventsError extends FlywheelError {
  readonly stream: string;
  /** The first problems, in event order. */
  readonly issues: readonly EventIssue[];
  /** All problems found, listed or not. */
  readonly total: number;
  readonly invalidEvents: number;
  constructor(stream: string, issues: readonly EventIssue[], total: number, invalidEvents: number, batchSize: number) {
    super(`${invalidEvents} of ${batchSize} events are invalid (${total} problem${total === 1 ? '' : 's'}); nothing was stored`);
    this.stream = stream;
    this.issues = issues;
    this.total = total;
    this.invalidEvents = invalidEvents;
  }
}

/** A batch taken in: its ids, and the promise that it is durable. */
export interface AcceptedBatch {
  /** The id of each event of the batch, in order (duplicates included). */
  readonly ids: readonly string[];
  /** Events whose id was already stored (or sent twice in the batch): acknowledged, stored once. */
  readonly duplicates: number;
  /** Resolves once every event of the batch is durable (written and fsync'd, now or before). */
  readonly durable: Promise<void>;
}

export interface StreamIngestOptions {
  /** How many of the stream's latest ids are remembered to drop duplicates. */
  readonly recentIds: number;
  /** How many problems an InvalidEventsError lists. */
  readonly maxIssues: number;
  /** A collector per batch for what must see the stored events (the online push, server/push/); none by default. */
  readonly storedEvents?: () => StoredEventsBatch;
}

/**
 * Sees the events one batch stores: `add` for each event stored by this batch (not the duplicates),
 * in its stored form, during `accept`; then `stored` once they are all durable (never when the write
 * fails). It must keep only what it needs: the batch itself is not kept through the fsync.
 */
export interface StoredEventsBatch {
  add(event: Readonly<Record<string, unknown>>): void;
  stored(): void;
}

/**
 * Accepts batches of one stream: validates every event, drops ids already stored, appends the rest
 * to the segment log and resolves once they are durable. Knows nothing of HTTP.
 *
 * Duplicates are dropped by id against the ids this stream stored most recently (`recentIds` of
 * them, kept across restarts by reading the newest segments back). Ids the server assigns are new by
 * construction and skip the check. The warehouse load dedupes by id as well, so an id older than the
 * window is still stored once in the table.
 */
export class StreamIngest {
  private readonly validator: EventValidator;
  private readonly recent: RecentIds;

  constructor(
    readonly schema: StreamSchema,
    private readonly log: SegmentLog,
    private readonly options: StreamIngestOptions,
  ) {
    this.validator = new EventValidator(schema, () => uuidv7());
    this.recent = new RecentIds(options.recentIds);
  }

  /**
   * Validates a batch, drops ids already stored, and queues the rest for the segment log; throws
   * InvalidEventsError (nothing queued) when any event is invalid. Synchronous on purpose: the parsed
   * events are garbage by the time the caller awaits `durable`, so they are not kept through the
   * fsync (which would have them promoted to the old generation).
   */
  accept(batch: ParsedBatch, receivedAt: string): AcceptedBatch {
    const { events } = batch;
    const issues = new IssueSink(this.options.maxIssues);
    const ids = new Array<string>(events.length);
    const records = new RecordBuilder((batch.bytes?.length ?? 0) + events.length * 128);
    const fresh: string[] = [];
    const earlier: Promise<void>[] = [];
    const inBatch = new Set<string>();
    const idField = this.schema.eventIdField !== undefined;
    const seen = this.options.storedEvents?.();
    let invalid = 0;
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      const valid = this.validator.validate(event, i, issues);
      if (valid === undefined) {
        invalid++;
        continue;
      }
      ids[i] = valid.id;
      if (invalid > 0) continue; // the batch will be refused: only keep finding problems
      // An id assigned just now is new; one from the client or the event may have been stored before.
      const idFromServer = !idField && !valid.sentId;
      if (!idFromServer) {
        const stored = this.recent.get(valid.id);
        if (stored !== undefined) {
          earlier.push(stored);
          continue;
        }
        if (inBatch.has(valid.id)) continue;
        inBatch.add(valid.id);
        fresh.push(valid.id);
      }
      seen?.add(event as Record<string, unknown>);
      addStoredEvent(records, event as Record<string, unknown>, valid, { fromServer: idFromServer, replacesClientId: idField && valid.sentId }, receivedAt, batch, i);
    }
    if (invalid > 0) throw new InvalidEventsError(this.schema.name, issues.issues, issues.total, invalid, events.length);
    const writes = earlier;
    if (records.count > 0) {
      const write = this.log.append(this.schema.name, records.finish(), records.count);
      // Remembered before the write is durable, so a copy arriving meanwhile waits for this write.
      if (fresh.length > 0) this.recent.add(fresh, write);
      writes.push(write);
      // Registered before the caller awaits `durable`: it only queues, and the answer is sent right after.
      if (seen) void write.then(() => seen.stored(), () => undefined);
    }
    const durable = writes.length === 1 ? writes[0]! : Promise.all(writes).then(() => undefined);
    return { ids, duplicates: events.length - records.count, durable };
  }

  /** Remembers the ids of the stream's newest segments on disk (after a restart), newest first, up to capacity. */
  async rememberStoredIds(stateDir: string): Promise<number> {
    const segments = await listSegments(streamSegmentsDir(stateDir, this.schema.name));
    const done = Promise.resolve();
    const batches: string[][] = [];
    let count = 0;
    for (const segment of segments.reverse()) {
      if (count >= this.recent.capacity) break;
      const ids: string[] = [];
      try {
        for await (const payload of readSegmentPayloads(segment.path, { onBadTail: () => undefined })) {
          ids.push((JSON.parse(payload.toString('utf8')) as { _event_id: string })._event_id);
        }
      } catch (error) {
        // Ingestion may have moved the segment away meanwhile: its ids are in the warehouse then.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      batches.push(ids);
      count += ids.length;
    }
    // Oldest first, so eviction forgets the oldest.
    for (const ids of batches.reverse()) this.recent.add(ids, done);
    return Math.min(count, this.recent.capacity);
  }
}
