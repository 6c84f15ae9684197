import { crc32Of } from './crc32.ts';
import { RECORD_HEADER_BYTES } from './record-framing.ts';

/**
 * Frames records one after another into one growing buffer (`[u32 length][u32 crc32][payload]`,
 * little-endian), ready for a single write. A payload is either a string, or a range of bytes copied
 * from another buffer followed by a short string: how an event already in its stored form is stored
 * from the request body without decoding and encoding it again.
 */
export class RecordBuilder {
  private buffer: Buffer;
  /** A view of `buffer`, for writers that copy words (crc32CopyWords). */
  private words: DataView;
  private length = 0;
  /** Records added so far. */
  count = 0;

  constructor(expectedBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(Math.max(1024, expectedBytes));
    this.words = viewOf(this.buffer);
  }

  /** Adds a record whose payload is `text` (UTF-8). */
  addText(text: string): void {
    this.reserve(RECORD_HEADER_BYTES + text.length * 3);
    const start = this.length + RECORD_HEADER_BYTES;
    this.seal(start, this.buffer.write(text, start, 'utf8'));
  }

  /** Adds a record whose payload is `source[start, end)` followed by `suffix` (UTF-8). */
  addSpliced(source: Buffer, start: number, end: number, suffix: string): void {
    this.reserve(RECORD_HEADER_BYTES + (end - start) + suffix.length * 3);
    const at = this.length + RECORD_HEADER_BYTES;
    source.copy(this.buffer, at, start, end);
    const suffixBytes = this.buffer.write(suffix, at + (end - start), 'utf8');
    this.seal(at, end - start + suffixBytes);
  }

  /**
   * Starts a record of at most `maxPayloadBytes` bytes, to be written by the caller into `bytes` from
   * the offset returned, then sealed with `seal(payloadStart, payloadEnd)`.
   */
  open(maxPayloadBytes: number): number {
    this.reserve(RECORD_HEADER_BYTES + maxPayloadBytes);
    return this.length + RECORD_HEADER_BYTES;
  }

  /** The buffer records are written into (replaced when it grows: read it after `open`). */
  get bytes(): Buffer {
    return this.buffer;
  }

  /** A DataView of `bytes` (replaced with it). */
  get view(): DataView {
    return this.words;
  }

  /**
   * Ends the record opened at `payloadStart` (from `open`), its payload ending at `payloadEnd`; `crc`
   * is its payload's CRC-32 when the caller computed it while writing it.
   */
  close(payloadStart: number, payloadEnd: number, crc?: number): void {
    this.seal(payloadStart, payloadEnd - payloadStart, crc);
  }

  /** The framed records (a view of the builder's buffer). */
  finish(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  private seal(payloadStart: number, payloadLength: number, crc = crc32Of(this.buffer, payloadStart, payloadStart + payloadLength)): void {
    const header = payloadStart - RECORD_HEADER_BYTES;
    this.words.setUint32(header, payloadLength, true);
    this.words.setUint32(header + 4, crc, true);
    this.length = payloadStart + payloadLength;
    this.count++;
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
    this.words = viewOf(bigger);
  }
}

function viewOf(bytes: Buffer): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Frames `payloads` (one JSON text each) into one buffer, ready for a single write. */
export function encodeRecords(payloads: readonly string[]): Buffer {
  const builder = new RecordBuilder(payloads.reduce((sum, p) => sum + p.length + RECORD_HEADER_BYTES, 0));
  for (const payload of payloads) builder.addText(payload);
  return builder.finish();
}
