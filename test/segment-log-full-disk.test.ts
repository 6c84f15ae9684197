import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeRecords, openSegmentLog, readSegment, SegmentWriteError, streamSegmentsDir, type ClosedSegment, type SegmentLog } from '../connectors/log-store/segment-log/index.ts';
import { openFullDisk, type FullDisk } from './support/full-disk.ts';

// The segment log itself on a disk that fills up and is freed (a tmpfs filled with a ballast file,
// in this process): what a refused append leaves behind, what is closed and handed to ingestion
// without a restart, and when the stream takes appends again. test/disk-full.test.ts checks the same
// through the log API as a child process, into the warehouse. Needs a tmpfs mount (root, a machine
// that permits mounts): the prlimit fallback would limit this test process itself, so without a
// mount this file is skipped, and says so.

let root: string;
let disk: FullDisk | undefined;
let log: SegmentLog | undefined;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'flywheel-segments-full-'));
});
afterEach(async () => {
  await log?.close().catch(() => undefined);
  log = undefined;
  disk?.close();
  disk = undefined;
  rmSync(root, { recursive: true, force: true });
});

const RETRY_AFTER_MS = 200;
const event = (i: number, pad = '') => ({ user_id: i, ts: '2026-11-26T10:00:00.000Z', _event_id: `e${i}`, _received_at: '2026-11-26T10:00:01.000Z', pad });
const append = (events: object[]) => log!.append('clicks', encodeRecords(events.map((e) => JSON.stringify(e))), events.length);
/** Ten events of about 1 KiB: more than the slack of the last tmpfs page, so a full disk refuses them. */
const big = (from: number) => Array.from({ length: 10 }, (_, i) => event(from + i, 'p'.repeat(1000)));
const files = () => readdirSync(streamSegmentsDir(disk!.dir, 'clicks')).sort();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function readAll(path: string): Promise<unknown[]> {
  const events: unknown[] = [];
  for await (const e of readSegment(path)) events.push(e);
  return events;
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > 5000) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const probeDir = mkdtempSync(join(tmpdir(), 'flywheel-tmpfs-probe-'));
const probe = openFullDisk(join(probeDir, 'disk'), 64 * 1024);
const tmpfs = probe.mechanism === 'tmpfs';
probe.close();
rmSync(probeDir, { recursive: true, force: true });
if (!tmpfs) console.log('test/segment-log-full-disk.test.ts skipped: no tmpfs mount here (root and a machine that permits mounts are needed); test/disk-full.test.ts covers the log API with prlimit instead');

describe.skipIf(!tmpfs)('segment log on a full disk (tmpfs)', () => {
  it('refuses, keeps nothing refused, closes the acknowledged records at once, and takes appends again once space is freed', async () => {
    disk = openFullDisk(join(root, 'disk'), 256 * 1024);
    const closed: ClosedSegment[] = [];
    log = await openSegmentLog({ stateDir: disk.dir, streams: ['clicks'], retryAfterMs: RETRY_AFTER_MS, onSegmentClosed: (s) => void closed.push(s) });
    await append([event(0), event(1)]);
    await append([event(2), event(3)]);

    disk.fill(process.pid);
    const refused = append(big(100));
    await expect(refused).rejects.toBeInstanceOf(SegmentWriteError);
    await expect(refused).rejects.toMatchObject({ stream: 'clicks', cause: { code: 'ENOSPC' } });
    // Refused at once during the retry delay, whatever the size.
    await expect(append([event(4)])).rejects.toThrow('cannot write the segment log of stream "clicks": ENOSPC: no space left on device, write');
    expect(log.failures()).toEqual({ clicks: { message: 'ENOSPC: no space left on device, write', untilRestart: false } });

    // The failed segment is cut back and closed with its 4 acknowledged records, no restart needed.
    await until('the failed segment to close', () => closed.length === 1);
    expect(closed[0]).toMatchObject({ stream: 'clicks', events: 4 });
    expect(files()).toEqual([`${closed[0]!.segmentId}.seg`]);
    expect(await readAll(closed[0]!.path)).toEqual([event(0), event(1), event(2), event(3)]);

    // After the delay the stream is ready again (so traffic comes to find out); still full, the next
    // append fails the same way and leaves no file behind.
    await sleep(RETRY_AFTER_MS + 50);
    expect(log.failures()).toEqual({});
    await expect(append(big(200))).rejects.toMatchObject({ cause: { code: 'ENOSPC' } });
    await sleep(RETRY_AFTER_MS + 50);
    expect(files()).toEqual([`${closed[0]!.segmentId}.seg`]);
    expect(closed).toHaveLength(1);

    // Space freed: the next append, after the delay, is stored in a new segment.
    disk.free(process.pid);
    await append(big(300));
    await append([event(5)]);
    expect(log.failures()).toEqual({});
    await log.close();
    log = undefined;
    expect(closed.map((s) => s.events)).toEqual([4, 11]);
    expect(files()).toEqual(closed.map((s) => `${s.segmentId}.seg`));
    expect(await readAll(closed[1]!.path)).toEqual([...big(300), event(5)]);
  });

  it('keeps refusing until restart after a failure that is not for want of space', async () => {
    disk = openFullDisk(join(root, 'disk'), 256 * 1024);
    log = await openSegmentLog({ stateDir: disk.dir, streams: ['clicks'], retryAfterMs: RETRY_AFTER_MS });
    await append([event(0)]);
    await log.close();
    log = await openSegmentLog({ stateDir: disk.dir, streams: ['clicks'], retryAfterMs: RETRY_AFTER_MS });
    rmSync(streamSegmentsDir(disk.dir, 'clicks'), { recursive: true }); // the next segment cannot be created: ENOENT
    await expect(append([event(1)])).rejects.toMatchObject({ cause: { code: 'ENOENT' } });
    await sleep(RETRY_AFTER_MS + 50);
    await expect(append([event(2)])).rejects.toBeInstanceOf(SegmentWriteError);
    expect(log.failures()).toEqual({ clicks: { message: expect.stringMatching(/^ENOENT: no such file or directory, open '/), untilRestart: true } });
  });
});
