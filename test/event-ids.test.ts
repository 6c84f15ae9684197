import { describe, expect, it } from 'vitest';
import { UUID_LENGTH, uuidv7, writeUuidv7Words } from '../server/event-ids.ts';

// The server's event ids: UUIDv7 text, written as a string or straight into a buffer (the log API's fast path).
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('event ids', () => {
  it('writes UUIDv7 text into a buffer at any offset, in sequence with uuidv7, leaving the bytes around it', () => {
    const now = Date.UTC(2026, 11, 5, 8, 30, 0, 123); // 0x01a245530bbb
    const target = Buffer.alloc(3 + 3 * UUID_LENGTH + 2, 0x2e);
    const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
    const first = uuidv7(now);
    for (let k = 0; k < 3; k++) writeUuidv7Words(view, 3 + k * UUID_LENGTH, now);
    const last = uuidv7(now);
    const written = [0, 1, 2].map((k) => target.toString('latin1', 3 + k * UUID_LENGTH, 3 + (k + 1) * UUID_LENGTH));
    expect(target.toString('latin1', 0, 3)).toBe('...');
    expect(target.toString('latin1', 3 + 3 * UUID_LENGTH)).toBe('..');
    const ids = [first, ...written, last];
    for (const id of ids) {
      expect(id).toMatch(UUID_V7);
      expect(id.slice(0, 13)).toBe('01a24553-0bbb'); // the millisecond, in the first 48 bits
    }
    // One millisecond: rand_a counts up, so the ids sort in the order they were made.
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(5);
    // The next millisecond: its own text, written into the buffer as uuidv7 spells it, and still in order.
    writeUuidv7Words(view, 3, now + 1);
    const next = target.toString('latin1', 3, 3 + UUID_LENGTH);
    const after = uuidv7(now + 1);
    expect([next.slice(0, 13), after.slice(0, 13)]).toEqual(['01a24553-0bbc', '01a24553-0bbc']);
    expect(next).toMatch(UUID_V7);
    expect([last, next, after].sort()).toEqual([last, next, after]);
    // An earlier clock reading (the clock stepped back) keeps the ids in order: the latest millisecond goes on.
    writeUuidv7Words(view, 3, now);
    const back = target.toString('latin1', 3, 3 + UUID_LENGTH);
    expect(back.slice(0, 13)).toBe('01a24553-0bbc');
    expect(back > after).toBe(true);
  });
});
