import { open } from 'node:fs/promises';
import { readSegmentPayloads, type BadTail } from './read-segment.ts';

export interface RecoveredSegment {
  /** Good records kept. */
  readonly events: number;
  /** Bytes kept: the end of the last good record. */
  readonly keptBytes: number;
  /** Bytes cut from the end (a torn or corrupt tail), 0 when the segment ended cleanly. */
  readonly cutBytes: number;
  readonly reason?: string;
}

/**
 * Scans a segment left `.open` by a crash and truncates it after its last good record (fsync'd).
 * Every acknowledged record lies before any torn bytes: a group of records is acknowledged only after
 * its fsync, and the next group is written only after that.
 */
export async function recoverOpenSegment(path: string): Promise<RecoveredSegment> {
  let events = 0;
  let tail: BadTail | undefined;
  for await (const _payload of readSegmentPayloads(path, { onBadTail: (bad) => (tail = bad) })) events++;
  if (!tail) {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      return { events, keptBytes: size, cutBytes: 0 };
    } finally {
      await handle.close();
    }
  }
  const bad: BadTail = tail;
  const handle = await open(path, 'r+');
  try {
    await handle.truncate(bad.goodBytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { events, keptBytes: bad.goodBytes, cutBytes: bad.totalBytes - bad.goodBytes, reason: bad.reason };
}
