import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import { crc32Of } from './crc32.ts';
import { decodeRecordAt, MAX_RECORD_PAYLOAD_BYTES, RECORD_HEADER_BYTES } from './record-framing.ts';
import { SegmentCorruptError } from './errors.ts';

/** One stored event: the validated event's fields plus the two the server adds. */
export type StoredEvent = Record<string, unknown> & { readonly _event_id: string; readonly _received_at: string };

/** Where a segment's last good record ends, when bytes after it do not form a record. */
export interface BadTail {
  /** Bytes from the start of the file up to the end of the last good record. */
  readonly goodBytes: number;
  readonly totalBytes: number;
  readonly reason: string;
}

export interface ReadPayloadsOptions {
  /**
   * Called instead of throwing when the bytes after the last good record are torn or corrupt (what
   * recovery of an `.open` segment wants). Without it a bad record throws SegmentCorruptError.
   */
  readonly onBadTail?: (tail: BadTail) => void;
  /** Read size; records larger than it are read whole all the same. */
  readonly chunkBytes?: number;
}

/**
 * The raw JSON payload of each record of a segment file, in order, checksums verified. Each
 * yielded buffer is only valid until the next one is requested (it is a view of the read buffer).
 */
export async function* readSegmentPayloads(path: string, options: ReadPayloadsOptions = {}): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    let buffer = Buffer.allocUnsafe(options.chunkBytes ?? 1024 * 1024);
    let start = 0; // first byte of `buffer` not yet decoded
    let end = 0; // bytes of `buffer` filled
    let fileOffset = 0; // file offset of buffer[0]
    let eof = false;
    for (;;) {
      const decoded = decodeRecordAt(buffer.subarray(0, end), start);
      if (decoded.kind === 'record') {
        yield decoded.payload;
        start = decoded.next;
        continue;
      }
      if (decoded.kind === 'incomplete' && !eof) {
        // Keep the undecoded bytes at the front, grow for a record larger than the buffer, read more.
        const pending = end - start;
        const needed = pending >= RECORD_HEADER_BYTES ? RECORD_HEADER_BYTES + buffer.readUInt32LE(start) : RECORD_HEADER_BYTES;
        if (fileOffset + start + needed > size) {
          eof = true; // the record runs past the end of the file: torn, whatever its length claims
          continue;
        }
        if (needed > buffer.length) {
          const bigger = Buffer.allocUnsafe(Math.max(needed, buffer.length * 2));
          buffer.copy(bigger, 0, start, end);
          buffer = bigger;
        } else if (start > 0) {
          buffer.copyWithin(0, start, end);
        }
        fileOffset += start;
        start = 0;
        end = pending;
        const { bytesRead } = await handle.read(buffer, end, buffer.length - end, fileOffset + end);
        if (bytesRead === 0) eof = true;
        end += bytesRead;
        continue;
      }
      if (decoded.kind === 'incomplete' && start === end) return; // clean end of file
      const goodBytes = fileOffset + start;
      const reason = decoded.kind === 'corrupt' ? decoded.reason : `the last ${size - goodBytes} bytes are an incomplete record`;
      if (!options.onBadTail) throw new SegmentCorruptError(path, goodBytes, reason);
      options.onBadTail({ goodBytes, totalBytes: size, reason });
      return;
    }
  } finally {
    await handle.close();
  }
}

/**
 * The events of a segment file, in the order they were acknowledged; every record's checksum is
 * verified, and a bad record throws SegmentCorruptError.
 *
 * @example
 * for await (const event of readSegment('.flywheel/segments/clicks/20261126T101500123Z-3f9a1c.seg')) {
 *   console.log(event._event_id, event._received_at);
 * }
 */
export async function* readSegment(path: string): AsyncGenerator<StoredEvent> {
  for await (const payload of readSegmentPayloads(path)) {
    yield JSON.parse(payload.toString('utf8')) as StoredEvent;
  }
}

const NEWLINE = 0x0a;

/**
 * Writes a segment's events as newline-delimited JSON (one payload per line, exactly as stored), for
 * DuckDB's `read_json(path, format = 'newline_delimited', columns = {...})`. Checksums are verified
 * first-to-last; the file appears at `ndjsonPath` only when complete (written beside it, then renamed).
 */
export async function segmentToNdjson(segmentPath: string, ndjsonPath: string): Promise<{ events: number; bytes: number }> {
  const lines = linesOf(await readFile(segmentPath), segmentPath);
  checkLines(lines, { record: 0, start: 0, offset: 0 });
  await writeWhole(ndjsonPath, lines.text);
  return { events: lines.lengths.length, bytes: lines.text.length };
}

/** A segment written out as JSON lines whose checksums are still to be checked (stageSegmentLines). */
export interface StagedSegmentLines {
  readonly events: number;
  readonly bytes: number;
  /**
   * Checks every record's checksum, first to last, a few megabytes at a time with a turn of the event
   * loop before each (so it runs beside work started just before, such as the warehouse reading the
   * lines); rejects with the SegmentCorruptError segmentToNdjson would have thrown. Started by the
   * first call; later calls return the same promise.
   */
  verify(): Promise<void>;
}

/**
 * segmentToNdjson with the checksums left for later: the records' framing (lengths) is checked and
 * the lines written first, and `verify()` checks the checksums, to be awaited before anything read
 * from the lines is kept (before the load's COMMIT, say). A segment whose framing is bad is refused
 * at once, with the same error segmentToNdjson gives, and no file is written.
 */
export async function stageSegmentLines(segmentPath: string, ndjsonPath: string): Promise<StagedSegmentLines> {
  const lines = linesOf(await readFile(segmentPath), segmentPath);
  await writeWhole(ndjsonPath, lines.text);
  let verified: Promise<void> | undefined;
  return {
    events: lines.lengths.length,
    bytes: lines.text.length,
    verify: () => (verified ??= verifySlices(lines)),
  };
}

/** A segment's payloads as JSON lines, with each record's payload length and stored checksum, in order. */
interface SegmentLines {
  readonly path: string;
  readonly text: Buffer;
  readonly lengths: Uint32Array;
  readonly checksums: Uint32Array;
}

/**
 * The lines of a segment read whole (`bytes` is reused: each payload is moved down over the headers
 * before it, and a record's 8-byte header becomes a 1-byte newline, so a line never reaches the record
 * after it; no copy of the segment). Checks the framing only; a segment with a record whose framing is
 * bad throws the error a first-to-last check of every record gives.
 */
function linesOf(bytes: Buffer, path: string): SegmentLines {
  let events = 0;
  for (let offset = 0; offset < bytes.length; events++) {
    const length = bytes.length - offset >= RECORD_HEADER_BYTES ? bytes.readUInt32LE(offset) : 0;
    const next = offset + RECORD_HEADER_BYTES + length;
    if (length === 0 || length > MAX_RECORD_PAYLOAD_BYTES || next > bytes.length) throwFirstBadRecord(bytes, path);
    offset = next;
  }
  const lengths = new Uint32Array(events);
  const checksums = new Uint32Array(events);
  let end = 0; // bytes of JSON lines at the front of `bytes`
  for (let i = 0, offset = 0; i < events; i++) {
    const length = bytes.readUInt32LE(offset);
    lengths[i] = length;
    checksums[i] = bytes.readUInt32LE(offset + 4);
    const start = offset + RECORD_HEADER_BYTES;
    bytes.copyWithin(end, start, start + length);
    end += length;
    bytes[end++] = NEWLINE;
    offset = start + length;
  }
  return { path, text: bytes.subarray(0, end), lengths, checksums };
}

/** Throws the SegmentCorruptError for the first record of `bytes` that is not whole and intact. */
function throwFirstBadRecord(bytes: Buffer, path: string): never {
  for (let offset = 0; ; ) {
    const record = decodeRecordAt(bytes, offset);
    if (record.kind !== 'record') throw new SegmentCorruptError(path, offset, record.kind === 'corrupt' ? record.reason : 'the last record is incomplete');
    offset = record.next;
  }
}

/** Bytes of payload checked between two turns of the event loop. */
const VERIFY_SLICE_BYTES = 8 * 1024 * 1024;

async function verifySlices(lines: SegmentLines): Promise<void> {
  const cursor = { record: 0, start: 0, offset: 0 };
  while (cursor.record < lines.lengths.length) {
    await setImmediate();
    checkLines(lines, cursor, VERIFY_SLICE_BYTES);
  }
}

/**
 * Checks the checksums of the records from the cursor's on (`start` in the lines, `offset` in the
 * segment file), until `maxBytes` of payload were checked (all of them without it), moving the cursor
 * past them. Throws for the first mismatch, naming the record's offset in the segment file.
 */
function checkLines(lines: SegmentLines, cursor: { record: number; start: number; offset: number }, maxBytes = Infinity): void {
  const { text, lengths, checksums } = lines;
  let { record, start, offset } = cursor;
  for (let checked = 0; record < lengths.length && checked < maxBytes; record++) {
    const length = lengths[record]!;
    if (crc32Of(text, start, start + length) !== checksums[record]) throw new SegmentCorruptError(lines.path, offset, 'checksum mismatch');
    start += length + 1;
    offset += RECORD_HEADER_BYTES + length;
    checked += length;
  }
  Object.assign(cursor, { record, start, offset });
}

/** Writes `bytes` to `path` whole: written beside it, then renamed into place. */
async function writeWhole(path: string, bytes: Buffer): Promise<void> {
  const partial = `${path}.partial`;
  try {
    await writeFile(partial, bytes);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  await rename(partial, path);
}
