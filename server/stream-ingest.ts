import { FlywheelError } from '../core/errors.ts';
import { UUID_LENGTH, uuidv7, writeUuidv7Words } from './event-ids.ts';
import { RecentIds } from './recent-ids.ts';
import { listSegments, readSegmentPayloads, RECORD_HEADER_BYTES, RecordBuilder, streamSegmentsDir, type SegmentLog } from '../connectors/log-store/segment-log/index.ts';
import { crc32CopyWords, crc32Finish, crc32Start, CrcOfConstant } from '../connectors/log-store/segment-log/crc32.ts';
import type { StreamSchema } from './stream-schema.ts';
import { addStoredEvent } from './stored-event.ts';
import { BatchScanner } from './validation/batch-scanner.ts';
import { latestEventTimeOf } from './validation/event-time-bound.ts';
import { EVENT_ID, EventValidator, IssueSink, RECEIVED_AT, type EventIssue } from './validation/event-validator.ts';
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
  /** Events in the batch, duplicates included. */
  readonly events: number;
  /** The id of each event of the batch, in order (duplicates included), as the text of a JSON array. */
  idsJson(): string;
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
  private readonly scanner: BatchScanner;
  private readonly recent: RecentIds;

  constructor(
    readonly schema: StreamSchema,
    private readonly log: SegmentLog,
    private readonly options: StreamIngestOptions,
  ) {
    this.validator = new EventValidator(schema, () => uuidv7());
    this.scanner = new BatchScanner(schema);
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
    const latest = latestEventTimeOf(this.schema, receivedAt);
    let invalid = 0;
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      const valid = this.validator.validate(event, i, issues, latest);
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
    const durable = allDone(writes);
    return { events: events.length, idsJson: () => JSON.stringify(ids), duplicates: events.length - records.count, durable };
  }

  /**
   * The write that stored the event `id` already, if this stream remembers it: a caller building
   * records itself (`acceptStored`) leaves that event out and waits for this write instead.
   */
  storedBy(id: string): Promise<void> | undefined {
    return this.recent.get(id);
  }

  /**
   * Appends events the server wrote itself, already framed in their stored form: `records` holds
   * `ids.length` records, the JSON of the event whose `_event_id` is `ids[i]` with its `_received_at`
   * (the decision log's, server/serving/decision-records.ts, built from typed values: the checks meant
   * for client input are not run again). The caller left out the ids `storedBy` knows, and passes the
   * writes that stored them as `earlier`; the rest is done as `accept` does it after its checks: the
   * ids remembered, the online push shown each event, one append.
   */
  acceptStored(records: Buffer, ids: readonly string[], earlier: readonly Promise<void>[] = []): AcceptedBatch {
    const writes = [...earlier];
    if (ids.length > 0) {
      const seen = this.options.storedEvents?.();
      if (seen) {
        for (let at = 0; at < records.length; ) {
          const length = records.readUInt32LE(at);
          seen.add(JSON.parse(records.toString('utf8', at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length)) as Record<string, unknown>);
          at += RECORD_HEADER_BYTES + length;
        }
      }
      const write = this.log.append(this.schema.name, records, ids.length);
      this.recent.add([...ids], write);
      writes.push(write);
      if (seen) void write.then(() => seen.stored(), () => undefined);
    }
    const durable = allDone(writes);
    return { events: ids.length + earlier.length, idsJson: () => JSON.stringify(ids), duplicates: earlier.length, durable };
  }

  /**
   * The fast path for a JSON array body (UTF-8 checked), with what `accept` does: when the batch is
   * one the `BatchScanner` takes whole (every event valid and already in its stored form, at most
   * `maxEvents` of them), its events are stored from the body's bytes as they came, with no parse,
   * and their ids written straight into the records. Undefined otherwise (nothing done): the caller
   * then parses the body and calls `accept`, which names the problems, if any.
   */
  acceptJsonArray(body: Buffer, maxEvents: number, receivedAt: string): AcceptedBatch | undefined {
    if (this.options.storedEvents) return undefined; // the push wants the parsed events
    const scanned = this.scanner.scan(body, maxEvents, latestEventTimeOf(this.schema, receivedAt).iso);
    if (scanned === undefined) return undefined;
    const { count, starts, closes, idStarts, idEnds, idFromField } = scanned;
    const suffixes = suffixesOf(receivedAt);
    const records = new RecordBuilder(body.length + count * (RECORD_HEADER_BYTES + suffixes.maxBytes));
    // `["id","id",...]`: as long as the ids of the batch plus their quotes and commas.
    const ids = new ByteText(2 + count * (UUID_LENGTH + 3));
    ids.byte(OPEN_BRACKET);
    const fresh: string[] = [];
    const earlier: Promise<void>[] = [];
    const inBatch = new Set<string>();
    const now = Date.now();
    // Copies and checksums read and write four bytes at a time through views made once per request.
    const source = new DataView(body.buffer, body.byteOffset, body.byteLength);
    for (let n = 0; n < count; n++) {
      const start = starts[n]!;
      const close = closes[n]!;
      const idStart = idStarts[n]!;
      const idEnd = idEnds[n]!;
      if (n > 0) ids.byte(COMMA);
      if (idStart === -1) {
        // An id assigned now: new by construction. The record's CRC is carried along as it is written.
        const at = records.open(close - start + suffixes.maxBytes);
        const view = records.view;
        let crc = crc32CopyWords(crc32Start(), source, start, close, view, at);
        let end = suffixes.id.writeTo(view, at + (close - start));
        crc = suffixes.id.append(crc);
        writeUuidv7Words(view, end, now);
        // The id goes to the answer in the same pass that adds it to the record's checksum.
        crc = ids.quotedCrc(crc, view, end, end + UUID_LENGTH);
        end = suffixes.afterId.writeTo(view, end + UUID_LENGTH);
        crc = suffixes.afterId.append(crc);
        records.close(at, end, crc32Finish(crc));
        continue;
      }
      // The client's id (or the event's own): plain text, so its JSON is its bytes in quotes.
      ids.quoted(body, idStart, idEnd);
      const id = body.toString('utf8', idStart, idEnd);
      const stored = this.recent.get(id);
      if (stored !== undefined) {
        earlier.push(stored);
        continue;
      }
      if (inBatch.has(id)) continue;
      inBatch.add(id);
      fresh.push(id);
      const at = records.open(close - start + suffixes.maxBytes + (idFromField ? idEnd - idStart : 0));
      const view = records.view;
      let crc = crc32CopyWords(crc32Start(), source, start, close, view, at);
      let end = at + (close - start);
      if (idFromField) {
        end = suffixes.id.writeTo(view, end);
        crc = suffixes.id.append(crc);
        crc = crc32CopyWords(crc, source, idStart, idEnd, view, end);
        end += idEnd - idStart;
        end = suffixes.afterId.writeTo(view, end);
        crc = suffixes.afterId.append(crc);
      } else {
        end = suffixes.received.writeTo(view, end);
        crc = suffixes.received.append(crc);
      }
      records.close(at, end, crc32Finish(crc));
    }
    ids.byte(CLOSE_BRACKET);
    const writes = earlier;
    if (records.count > 0) {
      const write = this.log.append(this.schema.name, records.finish(), records.count);
      if (fresh.length > 0) this.recent.add(fresh, write);
      writes.push(write);
    }
    const durable = allDone(writes);
    return { events: count, idsJson: () => ids.text(), duplicates: count - records.count, durable };
  }

  /** Remembers the ids of the stream's newest segments on disk (after a restart), newest first, up to capacity. */
  async rememberStoredIds(stateDir: string): Promise<number> {
    const segments = await listSegments(streamSegmentsDir(stateDir, this.schema.name));
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
    return this.rememberIds(batches);
  }

  /**
   * Remembers ids stored before this process started (`batches`, newest segment first, as
   * NodeSegmentLog.recentIds gives them from the node's disk and its uploaded segments), up to capacity.
   */
  rememberIds(batches: readonly (readonly string[])[]): number {
    const done = Promise.resolve();
    let count = 0;
    const kept: (readonly string[])[] = [];
    for (const ids of batches) {
      if (count >= this.recent.capacity) break;
      kept.push(ids);
      count += ids.length;
    }
    // Oldest first, so eviction forgets the oldest.
    for (const ids of kept.reverse()) this.recent.add([...ids], done);
    return Math.min(count, this.recent.capacity);
  }
}

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const QUOTE = 0x22;

/** What follows an event's text (up to its closing brace) in its stored form, as bytes with their CRC step. */
interface Suffixes {
  /** `,"_event_id":"` */
  readonly id: CrcOfConstant;
  /** `","_received_at":"…"}`, after an id. */
  readonly afterId: CrcOfConstant;
  /** `,"_received_at":"…"}`, when the event has its `_event_id`. */
  readonly received: CrcOfConstant;
  /** The most bytes added to an event, its id aside when the id comes from the event. */
  readonly maxBytes: number;
}

let lastSuffixes: { receivedAt: string; suffixes: Suffixes } | undefined;

/** The suffixes of the events received at `receivedAt` (the same for every request of a millisecond). */
function suffixesOf(receivedAt: string): Suffixes {
  if (lastSuffixes?.receivedAt === receivedAt) return lastSuffixes.suffixes;
  const id = new CrcOfConstant(Buffer.from(`,"${EVENT_ID}":"`));
  const afterId = new CrcOfConstant(Buffer.from(`","${RECEIVED_AT}":${JSON.stringify(receivedAt)}}`));
  const received = new CrcOfConstant(Buffer.from(`,"${RECEIVED_AT}":${JSON.stringify(receivedAt)}}`));
  const suffixes = { id, afterId, received, maxBytes: id.bytes.length + UUID_LENGTH + afterId.bytes.length };
  lastSuffixes = { receivedAt, suffixes };
  return suffixes;
}

/** Copies `source[start, end)` (a few bytes) to `target` at `at`; returns the offset after it. */
function copyBytes(source: Uint8Array, start: number, end: number, target: Uint8Array, at: number): number {
  for (let i = start; i < end; i++) target[at++] = source[i]!;
  return at;
}

/** A growing buffer of UTF-8 text, written byte by byte or by ranges of other buffers. */
class ByteText {
  private buffer: Buffer;
  private words: DataView;
  private length = 0;
  constructor(expectedBytes: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(64, expectedBytes));
    this.words = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
  }
  byte(b: number): void {
    if (this.length === this.buffer.length) this.grow(1);
    this.buffer[this.length++] = b;
  }
  /** `"` + `source[start, end)` + `"` */
  quoted(source: Uint8Array, start: number, end: number): void {
    if (this.length + end - start + 2 > this.buffer.length) this.grow(end - start + 2);
    this.buffer[this.length++] = QUOTE;
    this.length = copyBytes(source, start, end, this.buffer, this.length);
    this.buffer[this.length++] = QUOTE;
  }
  /** `"` + `source[start, end)` + `"`; returns the CRC running value `running` carried over those bytes (crc32CopyWords). */
  quotedCrc(running: number, source: DataView, start: number, end: number): number {
    if (this.length + end - start + 2 > this.buffer.length) this.grow(end - start + 2);
    this.buffer[this.length++] = QUOTE;
    const crc = crc32CopyWords(running, source, start, end, this.words, this.length);
    this.length += end - start;
    this.buffer[this.length++] = QUOTE;
    return crc;
  }
  text(): string {
    return this.buffer.toString('utf8', 0, this.length);
  }
  private grow(bytes: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
    this.words = new DataView(bigger.buffer, bigger.byteOffset, bigger.byteLength);
  }
}

/** Resolves once every write of a batch is durable (a single write is returned as it is). */
function allDone(writes: readonly Promise<void>[]): Promise<void> {
  return writes.length === 1 ? writes[0]! : Promise.all(writes).then(() => undefined);
}
