import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
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
  // A closed segment is bounded (64 MiB by default): read it whole, check every record, and write the
  // lines in one call; far faster than a stream write per record.
  const { lines, events } = checkedLinesOf(await readFile(segmentPath), segmentPath);
  await writeWhole(ndjsonPath, lines);
  return { events, bytes: lines.length };
}

/** A segment written out as JSON lines whose checksums are still to be checked (stageSegmentLines). */
export interface StagedSegmentLines {
  readonly events: number;
  readonly bytes: number;
  /**
   * Reads the lines back from the file and checks every record's checksum against them, first to
   * last, a few megabytes at a time (so it runs beside work started just before, such as the warehouse
   * reading the same file); rejects with the SegmentCorruptError segmentToNdjson would have thrown.
   * Started by the first call; later calls return the same promise. The file must be left as written
   * until it settles.
   */
  verify(): Promise<void>;
}

/**
 * segmentToNdjson with the checksums left for later: the segment is copied to `ndjsonPath` a few
 * megabytes at a time (reads and writes overlapping, no copy of the whole segment in memory), checking
 * only the records' framing (their lengths), and `verify()` then checks the checksums against the
 * file, to be awaited before anything read from it is kept (before the load's COMMIT, say). A segment
 * whose framing is bad is refused at once, with the error segmentToNdjson gives, and no file is left.
 */
export async function stageSegmentLines(segmentPath: string, ndjsonPath: string): Promise<StagedSegmentLines> {
  const partial = `${ndjsonPath}.partial`;
  const records = new RecordList();
  let bytes: number | undefined;
  try {
    bytes = await copyLines(segmentPath, partial, records);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  if (bytes === undefined) {
    await rm(partial, { force: true });
    throwFirstBadRecord(await readFile(segmentPath), segmentPath);
  }
  await rename(partial, ndjsonPath);
  let verified: Promise<void> | undefined;
  return { events: records.count, bytes, verify: () => (verified ??= verifyLines(ndjsonPath, segmentPath, records)) };
}

/** Bytes read (and written) at a time while staging and verifying; a longer record is read whole all the same. */
const STAGE_CHUNK_BYTES = 4 * 1024 * 1024;

/** Each record's payload length and stored checksum, in order, in arrays grown as records come. */
class RecordList {
  count = 0;
  lengths = new Uint32Array(1024);
  checksums = new Uint32Array(1024);

  push(length: number, checksum: number): void {
    if (this.count === this.lengths.length) {
      const lengths = new Uint32Array(this.count * 2);
      lengths.set(this.lengths);
      this.lengths = lengths;
      const checksums = new Uint32Array(this.count * 2);
      checksums.set(this.checksums);
      this.checksums = checksums;
    }
    this.lengths[this.count] = length;
    this.checksums[this.count++] = checksum;
  }
}

/**
 * Copies the payloads of the segment at `source` to `target` as JSON lines, a chunk at a time: each
 * chunk's whole records are moved down over their headers (an 8-byte header becomes a 1-byte newline),
 * then written while the next chunk is read into a second buffer. Returns the bytes written, or
 * undefined when a record's framing is bad (a length of 0 or over the maximum, a torn tail).
 */
async function copyLines(source: string, target: string, records: RecordList): Promise<number | undefined> {
  const input = await open(source, 'r');
  try {
    const output = await open(target, 'w');
    try {
      const { size } = await input.stat();
      let buffer = Buffer.allocUnsafe(STAGE_CHUNK_BYTES);
      let spare = Buffer.allocUnsafe(STAGE_CHUNK_BYTES);
      let filled = 0; // bytes at the front of `buffer`, not yet copied
      let read = 0; // bytes of the segment read
      let written = 0; // bytes of lines written
      let writing: Promise<unknown> = Promise.resolve();
      while (read < size) {
        const { bytesRead } = await input.read(buffer, filled, Math.min(buffer.length - filled, size - read), read);
        if (bytesRead === 0) return undefined; // shorter than it was: never for a closed segment
        read += bytesRead;
        filled += bytesRead;
        let offset = 0;
        let end = 0; // bytes of lines at the front of `buffer`
        while (filled - offset >= RECORD_HEADER_BYTES) {
          const length = buffer.readUInt32LE(offset);
          if (length === 0 || length > MAX_RECORD_PAYLOAD_BYTES) return undefined;
          const next = offset + RECORD_HEADER_BYTES + length;
          if (next > filled) break;
          records.push(length, buffer.readUInt32LE(offset + 4));
          buffer.copyWithin(end, offset + RECORD_HEADER_BYTES, next);
          end += length;
          buffer[end++] = NEWLINE;
          offset = next;
        }
        if (read === size && offset < filled) return undefined; // the last record is incomplete
        // The start of the next record moves to the other buffer (once its write is done), grown to
        // hold the whole record when it is longer; this buffer's lines are written meanwhile.
        await writing;
        const needed = filled - offset >= RECORD_HEADER_BYTES ? RECORD_HEADER_BYTES + buffer.readUInt32LE(offset) : 0;
        if (needed > spare.length) spare = Buffer.allocUnsafe(needed);
        buffer.copy(spare, 0, offset, filled);
        filled -= offset;
        writing = output.write(buffer, 0, end, written);
        written += end;
        [buffer, spare] = [spare, buffer];
      }
      await writing;
      return written;
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

/** Checks each record's checksum against its line in the staged file, first to last. */
async function verifyLines(ndjsonPath: string, segmentPath: string, records: RecordList): Promise<void> {
  const handle = await open(ndjsonPath, 'r');
  try {
    let buffer = Buffer.allocUnsafe(STAGE_CHUNK_BYTES);
    let filled = 0;
    let position = 0; // in the staged file
    let offset = 0; // of the next record in the segment file
    for (let record = 0; record < records.count; ) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, position);
      if (bytesRead === 0) throw new SegmentCorruptError(segmentPath, offset, `its staged lines ${ndjsonPath} end early`);
      position += bytesRead;
      filled += bytesRead;
      let start = 0;
      for (; record < records.count; record++) {
        const length = records.lengths[record]!;
        if (filled - start < length + 1) break;
        if (crc32Of(buffer, start, start + length) !== records.checksums[record]) throw new SegmentCorruptError(segmentPath, offset, 'checksum mismatch');
        start += length + 1;
        offset += RECORD_HEADER_BYTES + length;
      }
      filled -= start;
      const needed = record < records.count ? records.lengths[record]! + 1 : 0;
      if (needed > buffer.length) {
        const bigger = Buffer.allocUnsafe(needed);
        buffer.copy(bigger, 0, start, start + filled);
        buffer = bigger;
      } else {
        buffer.copyWithin(0, start, start + filled);
      }
    }
  } finally {
    await handle.close();
  }
}

/**
 * The lines of a segment read whole (`bytes` is reused: each payload is moved down over the headers
 * before it, and a record's 8-byte header becomes a 1-byte newline, so a line never reaches the record
 * after it; no copy of the segment), their checksums verified first to last.
 */
function checkedLinesOf(bytes: Buffer, path: string): { lines: Buffer; events: number } {
  let end = 0; // bytes of JSON lines at the front of `bytes`
  let events = 0;
  for (let offset = 0; offset < bytes.length; events++) {
    const record = decodeRecordAt(bytes, offset);
    if (record.kind !== 'record') throw new SegmentCorruptError(path, offset, record.kind === 'corrupt' ? record.reason : 'the last record is incomplete');
    const start = offset + RECORD_HEADER_BYTES;
    bytes.copyWithin(end, start, record.next);
    end += record.next - start;
    bytes[end++] = NEWLINE;
    offset = record.next;
  }
  return { lines: bytes.subarray(0, end), events };
}

/** Throws the SegmentCorruptError for the first record of `bytes` that is not whole and intact. */
function throwFirstBadRecord(bytes: Buffer, path: string): never {
  checkedLinesOf(bytes, path);
  throw new SegmentCorruptError(path, bytes.length, 'its records changed while it was read');
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
