/**
 * CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320: the same value as zlib's `crc32`) of a byte
 * range, computed eight bytes at a time from eight tables ("slicing-by-8"). For the short payloads of
 * records this is faster than calling zlib once per record, whose per-call overhead dominates.
 *
 * The CRC of a payload can also be carried along as it is built: `crc32Start`, then `crc32Update` or
 * `crc32CopyWords` for each part, `CrcOfConstant.append` for a part known in advance (in a few steps
 * whatever its length), then `crc32Finish`.
 */
const TABLES = new Int32Array(256 * 8);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLES[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = TABLES[n]!;
  for (let t = 1; t < 8; t++) {
    c = TABLES[c & 0xff]! ^ (c >>> 8);
    TABLES[t * 256 + n] = c;
  }
}

export function crc32Of(bytes: Uint8Array, start: number, end: number): number {
  return crc32Finish(crc32Update(crc32Start(), bytes, start, end));
}

/** The running value before any byte. */
export function crc32Start(): number {
  return -1;
}

/** The CRC from a running value. */
export function crc32Finish(running: number): number {
  return (running ^ -1) >>> 0;
}

/** The running value after `bytes[start, end)`. */
export function crc32Update(running: number, bytes: Uint8Array, start: number, end: number): number {
  const t = TABLES;
  let c = running;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      t[1792 + (a & 0xff)]! ^ t[1536 + ((a >>> 8) & 0xff)]! ^ t[1280 + ((a >>> 16) & 0xff)]! ^ t[1024 + (a >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^ t[512 + bytes[i + 5]!]! ^ t[256 + bytes[i + 6]!]! ^ t[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c;
}

/**
 * Copies `source[start, end)` to `target` at `at` and returns the running value after those bytes (one
 * pass for both), reading and writing through DataViews four bytes per load and store: about half the
 * CPU of a byte-wise copy on events of about 140 bytes. The views are the caller's, made once per
 * buffer: a DataView made per call cost more than the loads it saves.
 */
export function crc32CopyWords(running: number, source: DataView, start: number, end: number, target: DataView, at: number): number {
  const t = TABLES;
  let c = running;
  let i = start;
  let o = at;
  for (; i + 8 <= end; i += 8, o += 8) {
    const w0 = source.getInt32(i, true);
    const w1 = source.getInt32(i + 4, true);
    target.setInt32(o, w0, true);
    target.setInt32(o + 4, w1, true);
    const a = c ^ w0;
    c =
      t[1792 + (a & 0xff)]! ^ t[1536 + ((a >>> 8) & 0xff)]! ^ t[1280 + ((a >>> 16) & 0xff)]! ^ t[1024 + (a >>> 24)]! ^
      t[768 + (w1 & 0xff)]! ^ t[512 + ((w1 >>> 8) & 0xff)]! ^ t[256 + ((w1 >>> 16) & 0xff)]! ^ t[w1 >>> 24]!;
  }
  // Four more bytes in one step (slicing-by-4, the last four tables): a record's length is rarely a multiple of eight.
  if (i + 4 <= end) {
    const w = source.getInt32(i, true);
    target.setInt32(o, w, true);
    const a = c ^ w;
    c = t[768 + (a & 0xff)]! ^ t[512 + ((a >>> 8) & 0xff)]! ^ t[256 + ((a >>> 16) & 0xff)]! ^ t[a >>> 24]!;
    i += 4;
    o += 4;
  }
  for (; i < end; i++, o++) {
    const b = source.getUint8(i);
    target.setUint8(o, b);
    c = t[(c ^ b) & 0xff]! ^ (c >>> 8);
  }
  return c;
}

/** Per length: the four tables that advance a running value over that many zero bytes. */
const zeroRuns = new Map<number, Int32Array>();

function zeroRunTables(length: number): Int32Array {
  let tables = zeroRuns.get(length);
  if (tables === undefined) {
    tables = new Int32Array(4 * 256);
    const zeros = new Uint8Array(length);
    for (let k = 0; k < 4; k++) for (let b = 0; b < 256; b++) tables[k * 256 + b] = crc32Update(b << (8 * k), zeros, 0, length);
    zeroRuns.set(length, tables);
  }
  return tables;
}

/**
 * A run of bytes known in advance (the end of every record of a batch): appending it to a running
 * value takes four table lookups, whatever its length. The CRC is linear: the running value after
 * `c` then the bytes is (c advanced over as many zero bytes) XOR (0 advanced over the bytes), and the
 * first part is linear in `c`, so a table per byte of `c` gives it.
 */
export class CrcOfConstant {
  private readonly tables: Int32Array;
  private readonly ofBytes: number;
  /** The bytes as little-endian words at offsets 0, 4, 8, ..., then the last four (overlapping the one before); empty below four bytes. */
  private readonly words: Int32Array;
  constructor(readonly bytes: Uint8Array) {
    this.tables = zeroRunTables(bytes.length);
    this.ofBytes = crc32Update(0, bytes, 0, bytes.length);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const count = bytes.length < 4 ? 0 : Math.ceil(bytes.length / 4);
    this.words = new Int32Array(count);
    for (let w = 0; w < count - 1; w++) this.words[w] = view.getInt32(4 * w, true);
    if (count > 0) this.words[count - 1] = view.getInt32(bytes.length - 4, true);
  }

  /**
   * Writes the bytes at `at` of the buffer `target` views, four per store; returns the offset after
   * them. (`Uint8Array.set` is a call into the runtime: for the 14 to 45 bytes of a record's end, it
   * cost more than the stores.)
   */
  writeTo(target: DataView, at: number): number {
    const bytes = this.bytes;
    const words = this.words;
    const last = words.length - 1;
    if (last < 0) {
      for (let k = 0; k < bytes.length; k++) target.setUint8(at + k, bytes[k]!);
      return at + bytes.length;
    }
    for (let w = 0; w < last; w++) target.setInt32(at + 4 * w, words[w]!, true);
    target.setInt32(at + bytes.length - 4, words[last]!, true);
    return at + bytes.length;
  }

  /** The running value after `running` then these bytes. */
  append(running: number): number {
    const t = this.tables;
    return t[running & 0xff]! ^ t[256 + ((running >>> 8) & 0xff)]! ^ t[512 + ((running >>> 16) & 0xff)]! ^ t[768 + (running >>> 24)]! ^ this.ofBytes;
  }
}
