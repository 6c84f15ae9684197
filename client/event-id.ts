/**
 * Event ids: UUIDv7 (RFC 9562), so ids sort by the time they were assigned. The 12 bits after the
 * version hold a counter that starts at a random value each millisecond (RFC 9562 §6.2, method 1),
 * so ids from one process also sort in the order they were made within a millisecond.
 */

/** The field that carries an event's id; the server dedupes on it. */
export const EVENT_ID_FIELD = '_event_id';

let lastMs = -1;
let counter = 0;

export function uuidv7(now: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let ms = now;
  if (ms > lastMs) {
    lastMs = ms;
    // Start in the lower quarter of the 12 bits: at least 3072 ids per millisecond before it rolls over.
    counter = ((bytes[6]! & 0x03) << 8) | bytes[7]!;
  } else {
    // Same millisecond, or the clock went back: keep the last timestamp and count on.
    ms = lastMs;
    counter += 1;
    if (counter > 0xfff) {
      lastMs = ms += 1;
      counter = 0;
    }
  }
  for (let i = 0; i < 6; i++) bytes[i] = Math.floor(ms / 2 ** (8 * (5 - i))) & 0xff;
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
