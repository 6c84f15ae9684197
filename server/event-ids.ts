import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 16 * 1024;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;
let lastMs = -1;
let sequence = 0;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** The two ASCII codes of each byte's hex digits as one little-endian 16-bit value (first digit first). */
const HEX_PAIRS = new Uint16Array(256);
for (let i = 0; i < 256; i++) HEX_PAIRS[i] = HEX[i]!.charCodeAt(0) | (HEX[i]!.charCodeAt(1) << 8);
/** The 16 bytes of the latest id, laid out as in the UUID. */
const bytes = new Uint8Array(16);
/** The millisecond `bytes[0, 6)` holds (the same for every id of a millisecond). */
let bytesMs = -1;

/** Length of a UUID's text. */
export const UUID_LENGTH = 36;

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by the time they
 * were assigned. Within one millisecond, the 12-bit `rand_a` field counts up from a random start
 * (RFC 9562 §6.2, method 1), keeping the ids of a batch in order.
 */
export function uuidv7(now = Date.now()): string {
  next(now);
  const b = bytes;
  return (
    HEX[b[0]!]! + HEX[b[1]!]! + HEX[b[2]!]! + HEX[b[3]!]! + '-' + HEX[b[4]!]! + HEX[b[5]!]! + '-' +
    HEX[b[6]!]! + HEX[b[7]!]! + '-' + HEX[b[8]!]! + HEX[b[9]!]! + '-' +
    HEX[b[10]!]! + HEX[b[11]!]! + HEX[b[12]!]! + HEX[b[13]!]! + HEX[b[14]!]! + HEX[b[15]!]!
  );
}

/**
 * Writes the text of a new UUIDv7 (as `uuidv7` makes them, in the same sequence) at `offset` of the
 * buffer `target` views: 36 ASCII bytes, with no string made, four characters per store (the log
 * API's fast path writes one per event; a byte-wise loop cost about twice as much).
 */
export function writeUuidv7Words(target: DataView, offset: number, now = Date.now()): void {
  next(now);
  const b = bytes;
  const h = HEX_PAIRS;
  // The millisecond's text (`xxxxxxxx-xxxx`) is the same for every id of that millisecond: spelt once.
  if (millisecondTextOf !== lastMs) {
    millisecondText0 = h[b[0]!]! | (h[b[1]!]! << 16);
    millisecondText1 = h[b[2]!]! | (h[b[3]!]! << 16);
    millisecondText2 = h[b[4]!]! | (h[b[5]!]! << 16);
    millisecondTextOf = lastMs;
  }
  target.setUint32(offset, millisecondText0, true);
  target.setUint32(offset + 4, millisecondText1, true);
  target.setUint8(offset + 8, 0x2d); // -
  target.setUint32(offset + 9, millisecondText2, true);
  target.setUint8(offset + 13, 0x2d);
  target.setUint32(offset + 14, h[b[6]!]! | (h[b[7]!]! << 16), true);
  target.setUint8(offset + 18, 0x2d);
  target.setUint32(offset + 19, h[b[8]!]! | (h[b[9]!]! << 16), true);
  target.setUint8(offset + 23, 0x2d);
  target.setUint32(offset + 24, h[b[10]!]! | (h[b[11]!]! << 16), true);
  target.setUint32(offset + 28, h[b[12]!]! | (h[b[13]!]! << 16), true);
  target.setUint32(offset + 32, h[b[14]!]! | (h[b[15]!]! << 16), true);
}

/** The text of `bytes[0, 6)` (the millisecond `millisecondTextOf`) as `writeUuidv7Words` writes it, four characters per word. */
let millisecondTextOf = -1;
let millisecondText0 = 0;
let millisecondText1 = 0;
let millisecondText2 = 0;

/** Sets `bytes` to the next id. */
function next(now: number): void {
  if (poolOffset + 10 > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const r = poolOffset;
  poolOffset += 10;
  if (now > lastMs) {
    lastMs = now;
    sequence = ((pool[r]! << 8) | pool[r + 1]!) & 0x7ff; // start in the lower half, leaving room to count
  } else {
    sequence++;
    if (sequence > 0xfff) {
      lastMs++; // borrow the next millisecond rather than repeat
      sequence = 0;
    }
  }
  const b = bytes;
  if (bytesMs !== lastMs) {
    const ms = lastMs;
    const high = Math.floor(ms / 0x1000000); // top 24 bits of 48
    const low = ms % 0x1000000;
    b[0] = (high >>> 16) & 0xff;
    b[1] = (high >>> 8) & 0xff;
    b[2] = high & 0xff;
    b[3] = (low >>> 16) & 0xff;
    b[4] = (low >>> 8) & 0xff;
    b[5] = low & 0xff;
    bytesMs = ms;
  }
  b[6] = 0x70 | (sequence >>> 8);
  b[7] = sequence & 0xff;
  b[8] = 0x80 | (pool[r + 2]! & 0x3f);
  for (let k = 3; k < 10; k++) b[k + 6] = pool[r + k]!;
}
