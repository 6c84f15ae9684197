import { randomBytes } from 'node:crypto';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Where segments live: `<stateDir>/segments/<stream>/<segmentId>.open` while written, renamed to
 * `<segmentId>.seg` when closed. Segment ids sort in the order the segments were opened
 * (`20261126T101500123Z-3f9a1c`: the UTC time of opening to the millisecond, then random hex).
 */
export const OPEN_SUFFIX = '.open';
export const CLOSED_SUFFIX = '.seg';

export function segmentsRoot(stateDir: string): string {
  return join(stateDir, 'segments');
}

export function streamSegmentsDir(stateDir: string, stream: string): string {
  return join(segmentsRoot(stateDir), stream);
}

export interface SegmentFile {
  readonly segmentId: string;
  readonly path: string;
  readonly state: 'open' | 'closed';
}

/** The segments of a stream's folder, oldest first. Other files are ignored. */
export async function listSegments(dir: string): Promise<SegmentFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const segments: SegmentFile[] = [];
  for (const name of names) {
    if (name.endsWith(OPEN_SUFFIX)) segments.push({ segmentId: name.slice(0, -OPEN_SUFFIX.length), path: join(dir, name), state: 'open' });
    else if (name.endsWith(CLOSED_SUFFIX)) segments.push({ segmentId: name.slice(0, -CLOSED_SUFFIX.length), path: join(dir, name), state: 'closed' });
  }
  return segments.sort((a, b) => (a.segmentId < b.segmentId ? -1 : a.segmentId > b.segmentId ? 1 : 0));
}

/**
 * The closed segments of a stream, oldest first: what an ingestion sweep picks up after a restart
 * (a segment closed just before a crash may never have reached `onSegmentClosed`).
 */
export async function listClosedSegments(stateDir: string, stream: string): Promise<SegmentFile[]> {
  return (await listSegments(streamSegmentsDir(stateDir, stream))).filter((s) => s.state === 'closed');
}

/** Makes a folder's entries (files created, renamed or removed in it) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Milliseconds since the epoch encoded in a segment id, or undefined when the name is not one. */
export function segmentIdTime(segmentId: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-f]+$/.exec(segmentId);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, ms] = match.map(Number) as [number, number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s, ms);
}

/** Issues segment ids for one stream that sort after every earlier one, even if the clock stalls or steps back. */
export class SegmentIdClock {
  private last: number;
  constructor(after = 0) {
    this.last = after;
  }
  next(): string {
    this.last = Math.max(Date.now(), this.last + 1);
    const iso = new Date(this.last).toISOString(); // 2026-11-26T10:15:00.123Z
    const compact = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + 'T' + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + iso.slice(20, 23) + 'Z';
    return `${compact}-${randomBytes(3).toString('hex')}`;
  }
}
