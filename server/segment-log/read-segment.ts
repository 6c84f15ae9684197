import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { decodeRecordAt, RECORD_HEADER_BYTES } from './record-framing.ts';
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
  // payloads with their newlines in one call; far faster than a stream write per record. The lines are
  // built in place, each payload moved down over the headers before it (a record's 8-byte header
  // becomes a 1-byte newline, so a line never reaches the record after it): no copy of the segment.
  const bytes = await readFile(segmentPath);
  let events = 0;
  let end = 0; // bytes of JSON lines at the front of `bytes`
  for (let offset = 0; offset < bytes.length; ) {
    const record = decodeRecordAt(bytes, offset);
    if (record.kind !== 'record') throw new SegmentCorruptError(segmentPath, offset, record.kind === 'corrupt' ? record.reason : 'the last record is incomplete');
    const start = offset + RECORD_HEADER_BYTES;
    bytes.copyWithin(end, start, record.next);
    end += record.next - start;
    bytes[end++] = NEWLINE;
    events++;
    offset = record.next;
  }
  const ndjson = bytes.subarray(0, end);
  const partial = `${ndjsonPath}.partial`;
  try {
    await writeFile(partial, ndjson);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  await rename(partial, ndjsonPath);
  return { events, bytes: ndjson.length };
}
