import { crc32Of } from './crc32.ts';

/**
 * How records sit in a segment file: `[u32 length][u32 crc32][payload]`, both numbers little-endian,
 * `length` counting the payload bytes only and `crc32` (IEEE, as zlib computes it) covering the
 * payload. A record cut short or with a wrong checksum is how a torn tail shows itself.
 */
export const RECORD_HEADER_BYTES = 8;

/** No payload is larger; a header claiming more is corruption, not a record. */
export const MAX_RECORD_PAYLOAD_BYTES = 256 * 1024 * 1024;

/** What is found at an offset of a segment's bytes. */
export type DecodedRecord =
  | { readonly kind: 'record'; readonly payload: Buffer; readonly next: number }
  /** The bytes end inside the record: its header or payload is incomplete. */
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'corrupt'; readonly reason: string };

/** Decodes the record starting at `offset` of `bytes`, checking its length and checksum. */
export function decodeRecordAt(bytes: Buffer, offset: number): DecodedRecord {
  if (bytes.length - offset < RECORD_HEADER_BYTES) return { kind: 'incomplete' };
  const length = bytes.readUInt32LE(offset);
  if (length > MAX_RECORD_PAYLOAD_BYTES) return { kind: 'corrupt', reason: `record length ${length} is over the ${MAX_RECORD_PAYLOAD_BYTES}-byte maximum` };
  // Payloads are JSON objects, never empty; a zero length is what a zero-filled tail looks like.
  if (length === 0) return { kind: 'corrupt', reason: 'record of length 0' };
  const start = offset + RECORD_HEADER_BYTES;
  if (bytes.length - start < length) return { kind: 'incomplete' };
  const payload = bytes.subarray(start, start + length);
  const expected = bytes.readUInt32LE(offset + 4);
  if (crc32Of(bytes, start, start + length) !== expected) return { kind: 'corrupt', reason: 'checksum mismatch' };
  return { kind: 'record', payload, next: start + length };
}
