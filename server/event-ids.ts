import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 16 * 1024;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;
let lastMs = -1;
let sequence = 0;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by the time they
 * were assigned. Within one millisecond, the 12-bit `rand_a` field counts up from a random start
 * (RFC 9562 §6.2, method 1), keeping the ids of a batch in order.
 */
export function uuidv7(now = Date.now()): string {
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
  const ms = lastMs;
  const high = Math.floor(ms / 0x1000000); // top 24 bits of 48
  const low = ms % 0x1000000;
  return (
    HEX[(high >>> 16) & 0xff]! + HEX[(high >>> 8) & 0xff]! + HEX[high & 0xff]! +
    HEX[(low >>> 16) & 0xff]! + '-' + HEX[(low >>> 8) & 0xff]! + HEX[low & 0xff]! + '-' +
    HEX[0x70 | (sequence >>> 8)]! + HEX[sequence & 0xff]! + '-' +
    HEX[0x80 | (pool[r + 2]! & 0x3f)]! + HEX[pool[r + 3]!]! + '-' +
    HEX[pool[r + 4]!]! + HEX[pool[r + 5]!]! + HEX[pool[r + 6]!]! + HEX[pool[r + 7]!]! + HEX[pool[r + 8]!]! + HEX[pool[r + 9]!]!
  );
}
