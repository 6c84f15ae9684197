import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { crc32CopyWords, crc32Finish, crc32Of, crc32Start, crc32Update, CrcOfConstant } from '../connectors/log-store/segment-log/crc32.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  encodeRecords,
  openSegmentLog,
  readSegment,
  readSegmentPayloads,
  SegmentCorruptError,
  segmentToNdjson,
  streamSegmentsDir,
  type ClosedSegment,
  type SegmentLog,
} from '../connectors/log-store/segment-log/index.ts';

// The segment log on real files: framing, group commit, roll-over, recovery of torn tails.
let stateDir: string;
let log: SegmentLog | undefined;
beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'flywheel-segments-'));
});
afterEach(async () => {
  await log?.close();
  log = undefined;
  rmSync(stateDir, { recursive: true, force: true });
});

const event = (i: number) => ({ user_id: i, ts: '2026-11-26T10:00:00.000Z', _event_id: `e${i}`, _received_at: '2026-11-26T10:00:01.000Z' });
const append = (l: SegmentLog, stream: string, events: object[]) => l.append(stream, encodeRecords(events.map((e) => JSON.stringify(e))), events.length);
const flip = (bytes: Buffer, at: number) => bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
const files = (stream: string) => readdirSync(streamSegmentsDir(stateDir, stream)).sort();

async function readAll(path: string): Promise<unknown[]> {
  const events: unknown[] = [];
  for await (const e of readSegment(path)) events.push(e);
  return events;
}

describe('segment log', () => {
  it('acknowledges concurrent appends with fewer fsyncs than appends, in order', async () => {
    const closed: ClosedSegment[] = [];
    log = await openSegmentLog({ stateDir, streams: ['clicks'], onSegmentClosed: (s) => void closed.push(s) });
    await Promise.all(Array.from({ length: 200 }, (_, i) => append(log!, 'clicks', [event(2 * i), event(2 * i + 1)])));
    const stats = log.stats().clicks!;
    expect(stats).toMatchObject({ appends: 200, records: 400 });
    expect(stats.syncs).toBeLessThan(200);
    expect(files('clicks')).toEqual([expect.stringMatching(/^\d{8}T\d{9}Z-[0-9a-f]{6}\.open$/)]);

    await log.close();
    log = undefined;
    expect(closed).toHaveLength(1);
    const [segment] = closed;
    expect(segment).toMatchObject({ stream: 'clicks', events: 400, path: join(streamSegmentsDir(stateDir, 'clicks'), `${segment!.segmentId}.seg`) });
    expect(files('clicks')).toEqual([`${segment!.segmentId}.seg`]);
    expect(await readAll(segment!.path)).toEqual(Array.from({ length: 400 }, (_, i) => event(i)));
  });

  it('acknowledges appends arriving over many event-loop turns, in order, each once (those made while a sync runs wait for its end)', async () => {
    log = await openSegmentLog({ stateDir, streams: ['clicks'] });
    const acknowledged: number[] = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      writes.push(append(log, 'clicks', [event(i)]).then(() => void acknowledged.push(i)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(writes);
    expect(acknowledged).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const stats = log.stats().clicks!;
    expect(stats).toMatchObject({ appends: 100, records: 100 });
    expect(stats.syncs).toBeLessThanOrEqual(100);
    await log.close();
    log = undefined;
    const [segment] = files('clicks');
    expect(await readAll(join(streamSegmentsDir(stateDir, 'clicks'), segment!))).toEqual(Array.from({ length: 100 }, (_, i) => event(i)));
  });

  it('acknowledges the appends of a sync before it writes what arrived while that sync ran (as the log floor answers first)', async () => {
    log = await openSegmentLog({ stateDir, streams: ['clicks'] });
    await append(log, 'clicks', [event(0)]); // the segment opened
    const path = join(streamSegmentsDir(stateDir, 'clicks'), files('clicks')[0]!);
    const before = statSync(path).size;
    let sizeWhenAcknowledged = -1;
    const first = append(log, 'clicks', [event(1)]).then(() => void (sizeWhenAcknowledged = statSync(path).size));
    // The writer's turn ran first (its immediate was queued before this one): the first append is written and its sync runs.
    await new Promise((resolve) => setImmediate(resolve));
    const second = append(log, 'clicks', [event(2)]);
    await Promise.all([first, second]);
    // When the first was acknowledged, the second (queued during its sync) was not written yet.
    expect(sizeWhenAcknowledged).toBe(before + encodeRecords([JSON.stringify(event(1))]).length);
    expect(statSync(path).size).toBe(sizeWhenAcknowledged + encodeRecords([JSON.stringify(event(2))]).length);
  });

  it('rolls over by size without splitting an append, and by age', async () => {
    const closed: ClosedSegment[] = [];
    const one = encodeRecords([JSON.stringify(event(0))]).length;
    log = await openSegmentLog({ stateDir, streams: ['clicks'], maxSegmentBytes: one * 5, maxSegmentAgeMs: 300, onSegmentClosed: (s) => void closed.push(s) });
    for (let i = 0; i < 4; i++) await append(log, 'clicks', [event(3 * i), event(3 * i + 1), event(3 * i + 2)]);
    // 3 records fit, 3 more would not: every segment holds whole appends. A full segment is closed
    // in the background while appends go on into the next one.
    for (let waited = 0; closed.length < 3 && waited < 2000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(closed.map((s) => s.events)).toEqual([3, 3, 3]);
    expect(files('clicks').filter((f) => f.endsWith('.open'))).toHaveLength(1);

    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(closed.map((s) => s.events)).toEqual([3, 3, 3, 3]);
    expect(files('clicks').every((f) => f.endsWith('.seg'))).toBe(true);
    const ids = closed.map((s) => s.segmentId);
    expect([...ids].sort()).toEqual(ids); // ids sort in the order segments were opened

    const all: unknown[] = [];
    for (const s of closed) all.push(...(await readAll(s.path)));
    expect(all).toEqual(Array.from({ length: 12 }, (_, i) => event(i)));
  });

  it('gives an append larger than a segment a segment of its own', async () => {
    const closed: ClosedSegment[] = [];
    log = await openSegmentLog({ stateDir, streams: ['clicks'], maxSegmentBytes: 100, onSegmentClosed: (s) => void closed.push(s) });
    await append(log, 'clicks', [event(1), event(2), event(3)]);
    await append(log, 'clicks', [event(4)]);
    await log.close();
    expect(closed.map((s) => s.events)).toEqual([3, 1]);
  });

  it('keeps streams apart and refuses appends after close', async () => {
    log = await openSegmentLog({ stateDir, streams: ['a', 'b'] });
    await Promise.all([append(log, 'a', [event(1)]), append(log, 'b', [event(2), event(3)])]);
    await log.close();
    const l = log;
    log = undefined;
    await expect(append(l, 'a', [event(4)])).rejects.toThrow('the segment log is closed');
    const [a] = files('a');
    const [b] = files('b');
    expect(await readAll(join(streamSegmentsDir(stateDir, 'a'), a!))).toEqual([event(1)]);
    expect(await readAll(join(streamSegmentsDir(stateDir, 'b'), b!))).toEqual([event(2), event(3)]);
  });

  it('checksums records exactly as zlib does', () => {
    const bytes = randomBytes(5000);
    for (const [start, end] of [[0, 0], [0, 1], [3, 11], [7, 4999], [0, 5000]] as const) {
      expect(crc32Of(bytes, start, end)).toBe(crc32(bytes.subarray(start, end)));
    }
  });

  it('copies a range and checksums it exactly as zlib does, at any offsets and lengths (crc32CopyWords)', () => {
    const bytes = randomBytes(300);
    const view = (b: Buffer) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    // Lengths 0 to 13 (each remainder of eight, with and without the four-byte step), 136, 300; offsets aligned and not.
    for (const [start, end, at] of [[0, 0, 0], [0, 1, 5], [3, 10, 1], [1, 9, 2], [5, 14, 3], [7, 143, 0], [0, 300, 11], [2, 6, 4], [1, 6, 7], [9, 20, 1], [0, 12, 3], [4, 14, 2], [6, 19, 5], [3, 5, 0], [8, 11, 6]] as const) {
      const target = Buffer.alloc(320, 0xee);
      const crc = crc32Finish(crc32CopyWords(crc32Start(), view(bytes), start, end, view(target), at));
      expect(crc).toBe(crc32(bytes.subarray(start, end)));
      expect(target.subarray(at, at + end - start)).toEqual(bytes.subarray(start, end));
      // Nothing written outside the range.
      expect([...target.subarray(0, at), ...target.subarray(at + end - start)].every((b) => b === 0xee)).toBe(true);
    }
    // Carried across parts, it is the checksum of the whole.
    const target = Buffer.alloc(300);
    const running = crc32CopyWords(crc32CopyWords(crc32Start(), view(bytes), 0, 13, view(target), 0), view(bytes), 13, 300, view(target), 13);
    expect(crc32Finish(running)).toBe(crc32(bytes));
  });

  it('writes a constant run of bytes at any offset, and carries a checksum over it as zlib does (CrcOfConstant)', () => {
    const view = (b: Buffer) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (const text of ['', 'a', 'ab', 'abc', 'abcd', 'abcde', ',"_event_id":"', '","_received_at":"2026-11-26T10:00:00.123Z"}', 'x'.repeat(64)]) {
      const constant = new CrcOfConstant(Buffer.from(text));
      for (const at of [0, 1, 2, 3, 5]) {
        const target = Buffer.alloc(80, 0xee);
        expect(constant.writeTo(view(target), at)).toBe(at + text.length);
        expect(target.toString('latin1', at, at + text.length)).toBe(text);
        // Nothing written outside the range.
        expect([...target.subarray(0, at), ...target.subarray(at + text.length)].every((b) => b === 0xee)).toBe(true);
      }
      const before = Buffer.from('{"user_id":1');
      expect(crc32Finish(constant.append(crc32Update(crc32Start(), before, 0, before.length)))).toBe(crc32(Buffer.concat([before, Buffer.from(text)])));
    }
  });

  it('reads records larger than its read buffer', async () => {
    const big = { ...event(1), text: 'x'.repeat(100_000) };
    const path = join(stateDir, 'big.seg');
    writeFileSync(path, encodeRecords([JSON.stringify(event(0)), JSON.stringify(big), JSON.stringify(event(2))]));
    const payloads: number[] = [];
    for await (const p of readSegmentPayloads(path, { chunkBytes: 64 })) payloads.push(p.length);
    expect(payloads).toEqual([JSON.stringify(event(0)).length, JSON.stringify(big).length, JSON.stringify(event(2)).length]);
  });

  it('refuses to read a closed segment with a bad record, naming the offset', async () => {
    const path = join(stateDir, 'bad.seg');
    const good = encodeRecords([JSON.stringify(event(0))]);
    const second = encodeRecords([JSON.stringify(event(1))]);
    flip(second, second.length - 2);
    writeFileSync(path, Buffer.concat([good, second]));
    const reading = readAll(path);
    await expect(reading).rejects.toBeInstanceOf(SegmentCorruptError);
    await expect(readAll(path)).rejects.toThrow(`segment ${path} is corrupt at byte ${good.length}: checksum mismatch`);
  });

  it('converts a segment to NDJSON that DuckDB reads with read_json', async () => {
    const events = [
      { ...event(1), amount: 1.5, big: '9223372036854775807' },
      { ...event(2), ts: '2026-11-26T10:00:00.123456Z', amount: null, big: 7 },
    ];
    const path = join(stateDir, 'x.seg');
    writeFileSync(path, encodeRecords(events.map((e) => JSON.stringify(e))));
    const ndjson = join(stateDir, 'x.ndjson');
    expect(await segmentToNdjson(path, ndjson)).toEqual({ events: 2, bytes: statSync(ndjson).size });
    expect(readFileSync(ndjson, 'utf8')).toBe(events.map((e) => `${JSON.stringify(e)}\n`).join(''));

    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    try {
      const reader = await connection.runAndReadAll(
        `SELECT _event_id, user_id, CAST(ts AS VARCHAR) AS ts, amount, CAST(big AS VARCHAR) AS big
         FROM read_json('${ndjson}', format = 'newline_delimited',
           columns = {_event_id: 'VARCHAR', _received_at: 'TIMESTAMPTZ', user_id: 'BIGINT', ts: 'TIMESTAMPTZ', amount: 'DOUBLE', big: 'BIGINT'})
         ORDER BY _event_id`,
      );
      expect(reader.getRowObjectsJson()).toEqual([
        { _event_id: 'e1', user_id: '1', ts: '2026-11-26 10:00:00+00', amount: 1.5, big: '9223372036854775807' },
        { _event_id: 'e2', user_id: '2', ts: '2026-11-26 10:00:00.123456+00', amount: null, big: '7' },
      ]);
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  });
});

describe('segment log recovery', () => {
  const dir = () => streamSegmentsDir(stateDir, 'clicks');
  const good = () => encodeRecords([event(1), event(2), event(3)].map((e) => JSON.stringify(e)));

  async function recover(): Promise<{ closed: ClosedSegment[]; lines: string[] }> {
    const closed: ClosedSegment[] = [];
    const lines: string[] = [];
    log = await openSegmentLog({ stateDir, streams: ['clicks'], onSegmentClosed: (s) => void closed.push(s), log: (line) => lines.push(line) });
    await log.close();
    log = undefined;
    return { closed, lines };
  }

  const cases: [string, (path: string) => void, string][] = [
    ['a record cut inside its payload', (path) => appendFileSync(path, encodeRecords([JSON.stringify(event(4))]).subarray(0, 20)), 'the last 20 bytes are an incomplete record'],
    ['a record cut inside its header', (path) => appendFileSync(path, Buffer.from([0x10, 0, 0])), 'the last 3 bytes are an incomplete record'],
    [
      'a last record whose checksum does not match',
      (path) => {
        const torn = encodeRecords([JSON.stringify(event(4))]);
        flip(torn, 12);
        appendFileSync(path, torn);
      },
      'checksum mismatch',
    ],
    ['a zero-filled tail', (path) => appendFileSync(path, Buffer.alloc(4096)), 'record of length 0'],
    ['a header claiming more bytes than the file holds', (path) => appendFileSync(path, Buffer.from([0x00, 0x00, 0x00, 0x0a, 1, 2, 3, 4, 5])), 'the last 9 bytes are an incomplete record'],
    ['a header claiming an impossible length', (path) => appendFileSync(path, Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2])), 'record length 4294967295 is over the 268435456-byte maximum'],
  ];

  for (const [name, tear, reason] of cases) {
    it(`cuts ${name} at the last good record and closes the segment`, async () => {
      mkdirSync(dir(), { recursive: true });
      const path = join(dir(), '20261126T100000000Z-abcdef.open');
      writeFileSync(path, good());
      tear(path);
      const cut = statSync(path).size - good().length;

      const { closed, lines } = await recover();
      expect(lines[0]).toBe(`segment log: ${path}: cut ${cut} bytes after the last good record (${reason}); kept 3 events, ${good().length} bytes`);
      expect(closed).toEqual([{ stream: 'clicks', segmentId: '20261126T100000000Z-abcdef', path: join(dir(), '20261126T100000000Z-abcdef.seg'), events: 3 }]);
      expect(existsSync(path)).toBe(false);
      expect(readFileSync(closed[0]!.path)).toEqual(good());
      expect(await readAll(closed[0]!.path)).toEqual([event(1), event(2), event(3)]);
    });
  }

  it('closes a segment that ended cleanly without cutting anything, and removes one with no good record', async () => {
    mkdirSync(dir(), { recursive: true });
    writeFileSync(join(dir(), '20261126T100000000Z-aaaaaa.open'), good());
    writeFileSync(join(dir(), '20261126T100001000Z-bbbbbb.open'), Buffer.from('garbage!garbage!'));
    const { closed, lines } = await recover();
    expect(closed.map((s) => [s.segmentId, s.events])).toEqual([['20261126T100000000Z-aaaaaa', 3]]);
    expect(lines.filter((l) => l.includes('cut'))).toEqual([
      `segment log: ${join(dir(), '20261126T100001000Z-bbbbbb.open')}: cut 16 bytes after the last good record (record length 1651663207 is over the 268435456-byte maximum); kept 0 events, 0 bytes`,
    ]);
    expect(files('clicks')).toEqual(['20261126T100000000Z-aaaaaa.seg']);
  });

  it('opens new segments after the recovered ones, even with a clock behind them', async () => {
    mkdirSync(dir(), { recursive: true });
    writeFileSync(join(dir(), '29990101T000000000Z-ffffff.open'), good());
    log = await openSegmentLog({ stateDir, streams: ['clicks'], log: () => undefined });
    await append(log, 'clicks', [event(9)]);
    await log.close();
    log = undefined;
    const names = files('clicks');
    expect(names).toHaveLength(2);
    expect(names[0]).toBe('29990101T000000000Z-ffffff.seg');
    expect(names[1]).toMatch(/^29990101T000000001Z-[0-9a-f]{6}\.seg$/);
  });

  it('recovers what a writer left open, after truncating it mid-record', async () => {
    log = await openSegmentLog({ stateDir, streams: ['clicks'] });
    await append(log, 'clicks', [event(1), event(2)]);
    await append(log, 'clicks', [event(3)]);
    // Simulate a crash: copy the open segment as it is on disk, then lose the last 5 bytes.
    const [open] = files('clicks');
    const bytes = readFileSync(join(dir(), open!));
    await log.close();
    log = undefined;
    rmSync(dir(), { recursive: true });
    mkdirSync(dir(), { recursive: true });
    writeFileSync(join(dir(), open!), bytes);
    truncateSync(join(dir(), open!), bytes.length - 5);

    const { closed, lines } = await recover();
    expect(lines[0]).toContain('cut ');
    expect(closed.map((s) => s.events)).toEqual([2]);
    expect(await readAll(closed[0]!.path)).toEqual([event(1), event(2)]);
  });
});
