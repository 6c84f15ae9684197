import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createIngestActivities } from '../activities/ingest.ts';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { entity, eventStream } from '../index.ts';
import { openDuckDBEngine, type DuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import type { EventStreamSpec, ProjectSpec } from '../core/definitions/specs.ts';
import { EngineQueryError } from '../connectors/offline/engine-query-error.ts';
import { isPrimaryKeyViolation } from '../connectors/offline/primary-key-violation.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { duckdbDialect, type Dialect } from '../core/sql/dialect.ts';
import { compileIngestBatch, compileIngestFromTable, compileLastWatermark, type StagingRelation } from '../core/sql/ingest.ts';
import { snowflakeDialect } from '../core/sql/snowflake-dialect.ts';
import type { StagedFiles } from '../core/sql/staged-files.ts';
import { warehouseObjectStatements } from '../core/sql/warehouse-objects.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { encodeRecords, segmentToNdjson } from '../connectors/log-store/segment-log/index.ts';
import { stageSegmentLines, type StagedSegmentLines } from '../connectors/log-store/segment-log/read-segment.ts';
import { putSealedSegment, TEST_NODE } from './support/sealed-segments.ts';

/**
 * Ingest SQL (core/sql/ingest.ts) on real DuckDB files: a staged batch is stored exactly once per
 * event id and recorded in the ledger in the same transaction; a `from` stream reads its external
 * table again over the lookback without storing a row twice.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const clicks = eventStream({
  name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d',
  fields: { item_id: 'int64', dwell_ms: { type: 'int64', nullable: true }, page: 'string' },
});
// Loaded from a table another system fills, watermarked by event time, ids hashed from the row.
const appClicks = eventStream({
  name: 'app_clicks', entities: [user], timestampField: 'ts', retention: '30d',
  fields: { item_id: 'int64' },
  from: { table: 'raw.app_clicks', watermark: 'ts', lookback: '1h' },
});
// Watermarked by load time, ids from a field.
const appViews = eventStream({
  name: 'app_views', entities: [user], timestampField: 'ts', eventIdField: 'view_id', retention: '30d',
  fields: { view_id: 'string', item_id: 'int64' },
  from: { table: 'raw.app_views', watermark: { loadedAtColumn: 'loaded_at' }, lookback: '10m' },
});

const project: ProjectSpec = validateProject([user, clicks, appClicks, appViews].map((definition) => ({ definition })));
const streams = project.eventStreams as Record<'clicks' | 'app_clicks' | 'app_views', EventStreamSpec>;

let dir: string;
let engine: DuckDBEngine;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flywheel-ingest-'));
  engine = await openDuckDBEngine({ path: join(dir, 'warehouse.duckdb') });
  // What apply creates: the schema, the ledger and the stream tables.
  for (const statement of warehouseObjectStatements({ desired: project, dialect: engine.dialect, resolvePath: (p) => p })) await engine.run(statement);
});

afterEach(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

interface Event {
  _event_id: string;
  user_id: number | null;
  ts: string;
  item_id: number;
  dwell_ms?: number | null;
  page: string;
  _received_at: string;
}

/** Stages events as a file of JSON lines, as the log server's segments are. */
async function stage(name: string, events: readonly Event[]): Promise<StagingRelation> {
  const path = join(dir, `${name}.jsonl`);
  await writeFile(path, events.map((event) => JSON.stringify(event)).join('\n'));
  return { kind: 'staged', files: await engine.stageFiles([path], { name, format: 'jsonLines' }) };
}

async function ingest(batch: string, stagingRelation: StagingRelation): Promise<void> {
  await engine.transaction(async (tx) => {
    for (const statement of compileIngestBatch(streams.clicks, { batch, stagingRelation, loadedAt: '2024-05-01T12:00:00Z' }, engine.dialect)) await tx.run(statement);
  });
}

const stored = () => engine.all(sql('SELECT _event_id, user_id, ts, item_id, dwell_ms, page, _batch FROM flywheel.stream_clicks ORDER BY _event_id'));
const ledger = (stream = 'clicks') => engine.all(sql('SELECT batch, "rows", loaded_at, watermark FROM flywheel.ingest_ledger WHERE stream = ? ORDER BY loaded_at, batch', [stream]));

const event = (id: string, overrides: Partial<Event> = {}): Event => ({
  _event_id: id, user_id: 1, ts: '2024-05-01T10:00:00Z', item_id: 7, dwell_ms: 1200, page: 'home', _received_at: '2024-05-01T10:00:01Z', ...overrides,
});

describe('compileIngestBatch on DuckDB', () => {
  it('stores a batch once: running it again inserts nothing and the ledger keeps one row', async () => {
    const batch = await stage('seg-1', [event('a'), event('b', { user_id: 2, dwell_ms: null })]);
    await ingest('seg-1', batch);
    await ingest('seg-1', batch);
    expect(await stored()).toEqual([
      { _event_id: 'a', user_id: 1, ts: '2024-05-01T10:00:00.000Z', item_id: 7, dwell_ms: 1200, page: 'home', _batch: 'seg-1' },
      { _event_id: 'b', user_id: 2, ts: '2024-05-01T10:00:00.000Z', item_id: 7, dwell_ms: null, page: 'home', _batch: 'seg-1' },
    ]);
    expect(await ledger()).toEqual([{ batch: 'seg-1', rows: 2, loaded_at: '2024-05-01T12:00:00.000Z', watermark: null }]);
  });

  it('keeps the first occurrence of an id within a batch: the earliest received, then the first staged', async () => {
    await ingest('seg-1', await stage('seg-1', [
      event('a', { item_id: 1, _received_at: '2024-05-01T10:00:05Z' }),
      event('a', { item_id: 2, _received_at: '2024-05-01T10:00:01Z' }),   // received first: wins
      event('b', { item_id: 3 }),
      event('b', { item_id: 4 }),                                          // same time: the first staged wins
    ]));
    expect((await stored()).map((row) => [row._event_id, row.item_id])).toEqual([['a', 2], ['b', 3]]);
    expect(await ledger()).toMatchObject([{ batch: 'seg-1', rows: 2 }]);
  });

  it('skips ids stored by an earlier batch, keeping the stored row, and counts only new rows', async () => {
    await ingest('seg-1', await stage('seg-1', [event('a', { page: 'first' }), event('b')]));
    await ingest('seg-2', await stage('seg-2', [event('b', { page: 'retried' }), event('c')]));
    expect((await stored()).map((row) => [row._event_id, row.page, row._batch])).toEqual([['a', 'first', 'seg-1'], ['b', 'home', 'seg-1'], ['c', 'home', 'seg-2']]);
    expect((await ledger()).map((row) => [row.batch, row.rows])).toEqual([['seg-1', 2], ['seg-2', 1]]);
  });

  it('stores late and out-of-order events with their own event times, as UTC instants', async () => {
    await ingest('seg-1', await stage('seg-1', [event('new', { ts: '2024-05-01T10:00:00Z' })]));
    // Arrives later, happened earlier; one written with an offset.
    await ingest('seg-2', await stage('seg-2', [
      event('late', { ts: '2024-04-28T23:59:59.5Z', _received_at: '2024-05-01T11:00:00Z' }),
      event('offset', { ts: '2024-05-01T09:00:00+02:00', _received_at: '2024-05-01T11:00:00Z' }),
    ]));
    const rows = await engine.all(sql('SELECT _event_id, ts, _received_at FROM flywheel.stream_clicks ORDER BY ts'));
    expect(rows).toEqual([
      { _event_id: 'late', ts: '2024-04-28T23:59:59.500Z', _received_at: '2024-05-01T11:00:00.000Z' },
      { _event_id: 'offset', ts: '2024-05-01T07:00:00.000Z', _received_at: '2024-05-01T11:00:00.000Z' },
      { _event_id: 'new', ts: '2024-05-01T10:00:00.000Z', _received_at: '2024-05-01T10:00:01.000Z' },
    ]);
  });

  it('reads a staging table too, ignoring its other columns', async () => {
    await engine.run(sql(`CREATE TABLE staging AS SELECT * FROM (VALUES
      ('a', 1::BIGINT, TIMESTAMPTZ '2024-05-01 10:00:00+00', 5::BIGINT, NULL::BIGINT, 'home', TIMESTAMPTZ '2024-05-01 10:00:01+00', 'extra')
    ) AS t(_event_id, user_id, ts, item_id, dwell_ms, page, _received_at, note)`));
    await ingest('tmp-1', { kind: 'table', name: 'staging' });
    expect(await stored()).toEqual([{ _event_id: 'a', user_id: 1, ts: '2024-05-01T10:00:00.000Z', item_id: 5, dwell_ms: null, page: 'home', _batch: 'tmp-1' }]);
  });

  it('lands nothing when the batch fails: no rows and no ledger row, so it can be retried', async () => {
    const bad = await stage('seg-1', [event('a'), event('b', { user_id: null })]);
    await expect(ingest('seg-1', bad)).rejects.toThrow(/NOT NULL/i);
    expect(await stored()).toEqual([]);
    expect(await ledger()).toEqual([]);
    await ingest('seg-1', await stage('seg-1', [event('a'), event('b')]));
    expect(await ledger()).toMatchObject([{ batch: 'seg-1', rows: 2 }]);
  });
});

describe("compileIngestBatch with dedupe: 'primaryKey' on DuckDB", () => {
  async function ingestByKey(batch: string, stagingRelation: StagingRelation): Promise<void> {
    await engine.transaction(async (tx) => {
      for (const statement of compileIngestBatch(streams.clicks, { batch, stagingRelation, loadedAt: '2024-05-01T12:00:00Z', dedupe: 'primaryKey' }, engine.dialect)) await tx.run(statement);
    });
  }
  const refused = async (promise: Promise<unknown>) => {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(EngineQueryError);
    expect(isPrimaryKeyViolation(error)).toBe(true);
  };

  it('stores a batch of new ids as the statement does, with its ledger row', async () => {
    await ingestByKey('seg-1', await stage('seg-1', [event('a'), event('b', { user_id: 2, dwell_ms: null })]));
    expect(await stored()).toEqual([
      { _event_id: 'a', user_id: 1, ts: '2024-05-01T10:00:00.000Z', item_id: 7, dwell_ms: 1200, page: 'home', _batch: 'seg-1' },
      { _event_id: 'b', user_id: 2, ts: '2024-05-01T10:00:00.000Z', item_id: 7, dwell_ms: null, page: 'home', _batch: 'seg-1' },
    ]);
    expect(await ledger()).toEqual([{ batch: 'seg-1', rows: 2, loaded_at: '2024-05-01T12:00:00.000Z', watermark: null }]);
  });

  it('is refused by the primary key, changing nothing, when an id repeats within the batch, is stored already, or the batch was loaded', async () => {
    const first = await stage('seg-1', [event('a'), event('b')]);
    await ingestByKey('seg-1', first);
    await refused(ingestByKey('seg-1', first));
    await refused(ingestByKey('seg-2', await stage('seg-2', [event('c'), event('d'), event('c', { item_id: 2 })])));
    await refused(ingestByKey('seg-3', await stage('seg-3', [event('e'), event('b', { page: 'retried' })])));
    expect((await stored()).map((row) => [row._event_id, row.page, row._batch])).toEqual([['a', 'home', 'seg-1'], ['b', 'home', 'seg-1']]);
    expect((await ledger()).map((row) => [row.batch, row.rows])).toEqual([['seg-1', 2]]);
  });

  it('does not take other failures for a repeated id', async () => {
    const error = await ingestByKey('seg-1', await stage('seg-1', [event('a'), event('b', { user_id: null })])).then(() => undefined, (e: unknown) => e);
    expect(String(error)).toMatch(/NOT NULL/i);
    expect(isPrimaryKeyViolation(error)).toBe(false);
    expect(await stored()).toEqual([]);
  });
});

describe('the ingestSegment activity', () => {
  /** The activity over this test's warehouse and a state folder beside it, with the project applied. */
  async function activities() {
    await new WarehouseRegistry(engine).save('ingest_test', project);
    const stateDir = join(dir, 'state');
    await mkdir(join(dir, 'scratch'), { recursive: true });
    const path = engine.path;
    const objectStore = createObjectStore({ type: 'local', root: join(dir, 'objects') });
    const ingest = createIngestActivities({
      project: 'ingest_test', openEngine: () => openDuckDBEngine({ path }), registry: (e) => new WarehouseRegistry(e),
      objectStore, scratchDir: join(dir, 'scratch'), stateDir,
    });
    return {
      // Segments are read from the object store, where the log API node uploads them.
      segment: (segmentId: string, records: Buffer) => putSealedSegment(objectStore, { stream: 'clicks', segmentId }, records),
      load: (segmentId: string) => new MockActivityEnvironment().run(ingest.ingestSegment, { stream: 'clicks', node: TEST_NODE, segmentId }),
      scratch: () => readdir(join(dir, 'scratch')),
    };
  }
  const records = (events: readonly Event[]) => encodeRecords(events.map((e) => JSON.stringify(e)));

  it('loads new ids as they are, and a segment repeating ids (within it, or stored ones) as the statement does: first occurrence wins', async () => {
    const { segment, load, scratch } = await activities();
    await segment('seg-1', records([event('a', { page: 'first' }), event('b')]));
    expect(await load('seg-1')).toEqual({ stream: 'clicks', batch: 'node-1/seg-1', rows: 2, quarantined: 0, alreadyLoaded: false });
    await segment('seg-2', records([
      event('c', { item_id: 1, _received_at: '2024-05-01T10:00:05Z' }),
      event('b', { page: 'retried' }),                                     // stored by seg-1: kept as stored
      event('c', { item_id: 2, _received_at: '2024-05-01T10:00:01Z' }),   // received first: wins
      event('d', { item_id: 3 }),
      event('d', { item_id: 4 }),                                          // same time: the first in the segment wins
    ]));
    expect(await load('seg-2')).toEqual({ stream: 'clicks', batch: 'node-1/seg-2', rows: 2, quarantined: 0, alreadyLoaded: false });
    expect(await load('seg-2')).toEqual({ stream: 'clicks', batch: 'node-1/seg-2', rows: 2, quarantined: 0, alreadyLoaded: true });
    expect((await stored()).map((row) => [row._event_id, row.item_id, row.page, row._batch])).toEqual([
      ['a', 7, 'first', 'node-1/seg-1'], ['b', 7, 'home', 'node-1/seg-1'], ['c', 2, 'home', 'node-1/seg-2'], ['d', 3, 'home', 'node-1/seg-2'],
    ]);
    expect((await ledger()).map((row) => [row.batch, row.rows])).toEqual([['node-1/seg-1', 2], ['node-1/seg-2', 2]]);
    expect(await scratch()).toEqual([]);
  });

  it.each([
    ['in a value', 8 + 3],
    ['that makes its JSON unreadable', 8], // `{` becomes `z`: the insert fails too, and the checksum is what is reported
  ])('refuses a segment with a flipped bit %s, naming the record\'s byte offset, and stores nothing of it', async (_, at) => {
    const { segment, load, scratch } = await activities();
    const bytes = records([event('a'), event('b'), event('c')]);
    const second = 8 + bytes.readUInt32LE(0); // the second record's offset
    bytes.writeUInt8(bytes.readUInt8(second + at) ^ 0x01, second + at);
    await segment('seg-1', bytes);
    await expect(load('seg-1')).rejects.toThrow(`is corrupt at byte ${second}: checksum mismatch`);
    expect(await stored()).toEqual([]);
    expect(await ledger()).toEqual([]);
    expect(await scratch()).toEqual([]);
  });
});

describe('stageSegmentLines', () => {
  const records = (events: readonly Event[]) => encodeRecords(events.map((e) => JSON.stringify(e)));
  const flip = (bytes: Buffer, at: number) => bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
  /** What segmentToNdjson and stageSegmentLines (then verify) each make of the same segment bytes. */
  async function both(bytes: Buffer) {
    const segmentPath = join(dir, 'x.seg');
    await writeFile(segmentPath, bytes);
    let staged: StagedSegmentLines | undefined;
    let verified: string | undefined;
    const outcome = async (work: () => Promise<unknown>) => {
      const path = join(dir, 'x.ndjson');
      const error = await work().then(() => undefined, (e: unknown) => e);
      const text = await readFile(path, 'utf8').catch(() => undefined);
      // verify() reads the staged file back: before it is removed.
      if (staged) verified = await staged.verify().then(() => 'ok', (e: unknown) => String(e));
      await rm(path, { force: true });
      return { error: error === undefined ? undefined : String(error), text };
    };
    const whole = await outcome(() => segmentToNdjson(segmentPath, join(dir, 'x.ndjson')));
    return { whole, staged: await outcome(async () => { staged = await stageSegmentLines(segmentPath, join(dir, 'x.ndjson')); }), verified };
  }
  const events = [event('a'), event('b', { page: 'é ✓' }), event('c')];

  it('writes the same lines as segmentToNdjson, and verifies them', async () => {
    const text = events.map((e) => `${JSON.stringify(e)}\n`).join('');
    expect(await both(records(events))).toEqual({ whole: { error: undefined, text }, staged: { error: undefined, text }, verified: 'ok' });
  });

  it('stages segments larger than its 4 MiB chunks: records across chunk ends, one longer than a chunk', async () => {
    const many = Array.from({ length: 40_000 }, (_, i) => event(`e${i}`, { page: `/items/${i}` }));
    many.splice(20_000, 0, event('long', { page: 'x'.repeat(5 * 1024 * 1024) }));
    const bytes = records(many);
    const text = many.map((e) => `${JSON.stringify(e)}\n`).join('');
    expect(await both(Buffer.from(bytes))).toEqual({ whole: { error: undefined, text }, staged: { error: undefined, text }, verified: 'ok' });

    // A flipped bit in the last record, and in the long one: verify() names the same record as segmentToNdjson.
    for (const at of [bytes.length - 10, bytes.indexOf('xxxx') + 4096]) {
      const damaged = Buffer.from(bytes);
      flip(damaged, at);
      const result = await both(damaged);
      expect(result.whole.error).toMatch(/checksum mismatch$/);
      expect(result.verified).toBe(result.whole.error);
    }
  });

  it('leaves a bad checksum to verify(), which rejects with the error segmentToNdjson throws', async () => {
    const bytes = records(events);
    const second = 8 + bytes.readUInt32LE(0);
    flip(bytes, second + 20);
    const result = await both(bytes);
    expect(result.whole).toEqual({ error: `SegmentCorruptError: segment ${join(dir, 'x.seg')} is corrupt at byte ${second}: checksum mismatch`, text: undefined });
    expect(result.staged.error).toBeUndefined();
    expect(result.verified).toBe(result.whole.error);
  });

  it.each([
    ['a torn tail', (bytes: Buffer) => bytes.subarray(0, bytes.length - 5)],
    ['a zero-filled tail', (bytes: Buffer) => Buffer.concat([bytes, Buffer.alloc(64)])],
    ['a length over the maximum', (bytes: Buffer) => { bytes.writeUInt32LE(0xffffffff, 8 + bytes.readUInt32LE(0)); return bytes; }],
    ['a bad checksum before a torn tail', (bytes: Buffer) => { flip(bytes, 12); return bytes.subarray(0, bytes.length - 5); }],
  ])('refuses bad framing (%s) at once, with the error segmentToNdjson throws, and writes nothing', async (_, damage) => {
    const result = await both(damage(records(events)));
    expect(result.whole.error).toMatch(/^SegmentCorruptError: segment .* is corrupt at byte \d+: /);
    expect(result.staged).toEqual(result.whole);
    expect(result.verified).toBeUndefined();
  });
});

describe('compileIngestFromTable on DuckDB', () => {
  /** One load in one transaction, as the ingestion activity runs it; returns the batch, or undefined when there was nothing to read. */
  async function load(stream: EventStreamSpec, now: string): Promise<string | undefined> {
    return engine.transaction(async (tx) => {
      const [last] = await tx.all<{ watermark: string }>(compileLastWatermark(stream, engine.dialect));
      const ingest = compileIngestFromTable(stream, { watermark: last?.watermark, now }, engine.dialect);
      const [next] = await tx.all<{ watermark: string | null }>(ingest.nextWatermark);
      if (!next?.watermark) return undefined;
      const { batch, statements } = ingest.load(next.watermark);
      for (const statement of statements) await tx.run(statement);
      return batch;
    });
  }

  it('reads the lookback again without storing a row twice; a late row within it is picked up, one outside it is not', async () => {
    await engine.run(sql('CREATE SCHEMA raw'));
    await engine.run(sql(`CREATE TABLE raw.app_clicks AS SELECT * FROM (VALUES
      (1::BIGINT, TIMESTAMPTZ '2024-05-01 10:00:00+00', 100::BIGINT),
      (1::BIGINT, TIMESTAMPTZ '2024-05-01 10:30:00+00', 101::BIGINT),
      (2::BIGINT, TIMESTAMPTZ '2024-05-01 11:00:00+00', 102::BIGINT),
      (2::BIGINT, TIMESTAMPTZ '2024-05-01 13:00:00+00', 103::BIGINT)   -- after "now": waits for a later load
    ) AS t(user_id, ts, item_id)`));
    expect(await load(streams.app_clicks, '2024-05-01T12:00:00Z')).toBe('wm:2024-05-01T11:00:00.000Z');

    // Another system appends: a late row within the lookback (10:15 > 11:00 - 1h), one outside it (09:30), a new one,
    // and an exact copy of a stored row (the same hash: the same event).
    await engine.run(sql(`INSERT INTO raw.app_clicks VALUES
      (3, TIMESTAMPTZ '2024-05-01 10:15:00+00', 104), (3, TIMESTAMPTZ '2024-05-01 09:30:00+00', 105),
      (4, TIMESTAMPTZ '2024-05-01 11:30:00+00', 106), (1, TIMESTAMPTZ '2024-05-01 10:30:00+00', 101)`));
    expect(await load(streams.app_clicks, '2024-05-01T12:05:00Z')).toBe('wm:2024-05-01T11:30:00.000Z');
    // The same load again: the watermark does not move and nothing is new.
    expect(await load(streams.app_clicks, '2024-05-01T12:05:00Z')).toBe('wm:2024-05-01T11:30:00.000Z');

    const rows = await engine.all(sql('SELECT item_id, ts, _batch, length(_event_id) AS id_length FROM flywheel.stream_app_clicks ORDER BY item_id'));
    expect(rows).toEqual([
      { item_id: 100, ts: '2024-05-01T10:00:00.000Z', _batch: 'wm:2024-05-01T11:00:00.000Z', id_length: 32 },
      { item_id: 101, ts: '2024-05-01T10:30:00.000Z', _batch: 'wm:2024-05-01T11:00:00.000Z', id_length: 32 },
      { item_id: 102, ts: '2024-05-01T11:00:00.000Z', _batch: 'wm:2024-05-01T11:00:00.000Z', id_length: 32 },
      { item_id: 104, ts: '2024-05-01T10:15:00.000Z', _batch: 'wm:2024-05-01T11:30:00.000Z', id_length: 32 },   // late, within the lookback
      { item_id: 106, ts: '2024-05-01T11:30:00.000Z', _batch: 'wm:2024-05-01T11:30:00.000Z', id_length: 32 },
      // 103 is later than "now" until a later load; 105 landed later than the lookback covers and is never read.
    ]);
    expect(await ledger('app_clicks')).toEqual([
      { batch: 'wm:2024-05-01T11:00:00.000Z', rows: 3, loaded_at: '2024-05-01T12:00:00.000Z', watermark: '2024-05-01T11:00:00.000Z' },
      { batch: 'wm:2024-05-01T11:30:00.000Z', rows: 2, loaded_at: '2024-05-01T12:05:00.000Z', watermark: '2024-05-01T11:30:00.000Z' },
    ]);

    // Later, 13:00 is in the past: it is loaded, and 105 still is not.
    expect(await load(streams.app_clicks, '2024-05-01T14:00:00Z')).toBe('wm:2024-05-01T13:00:00.000Z');
    expect((await engine.all(sql('SELECT item_id FROM flywheel.stream_app_clicks ORDER BY item_id'))).map((r) => r.item_id)).toEqual([100, 101, 102, 103, 104, 106]);
  });

  it('with a load-time watermark: picks up old events when they land, keeps their event times, dedupes by the id field', async () => {
    await engine.run(sql('CREATE SCHEMA raw'));
    await engine.run(sql(`CREATE TABLE raw.app_views AS SELECT * FROM (VALUES
      ('v1', 1::BIGINT, TIMESTAMPTZ '2024-05-01 10:00:00+00', 1::BIGINT, TIMESTAMPTZ '2024-05-01 10:05:00+00'),
      ('v2', 1::BIGINT, TIMESTAMPTZ '2024-05-01 10:01:00+00', 2::BIGINT, TIMESTAMPTZ '2024-05-01 10:05:00+00'),
      ('v2', 1::BIGINT, TIMESTAMPTZ '2024-05-01 10:01:00+00', 9::BIGINT, TIMESTAMPTZ '2024-05-01 10:06:00+00')   -- delivered twice: the first load wins
    ) AS t(view_id, user_id, ts, item_id, loaded_at)`));
    expect(await load(streams.app_views, '2024-05-01T10:10:00Z')).toBe('wm:2024-05-01T10:06:00.000Z');

    // An event from two days ago lands now; another lands with a load time just before the watermark
    // (a loader committing late), so the watermark does not move and the load's row count grows.
    await engine.run(sql(`INSERT INTO raw.app_views VALUES
      ('v3', 2, TIMESTAMPTZ '2024-04-29 08:00:00+00', 3, TIMESTAMPTZ '2024-05-01 10:04:00+00'),
      ('v1', 1, TIMESTAMPTZ '2024-05-01 10:00:00+00', 1, TIMESTAMPTZ '2024-05-01 10:04:30+00')`));
    expect(await load(streams.app_views, '2024-05-01T10:20:00Z')).toBe('wm:2024-05-01T10:06:00.000Z');

    expect(await engine.all(sql('SELECT _event_id, ts, item_id FROM flywheel.stream_app_views ORDER BY _event_id'))).toEqual([
      { _event_id: 'v1', ts: '2024-05-01T10:00:00.000Z', item_id: 1 },
      { _event_id: 'v2', ts: '2024-05-01T10:01:00.000Z', item_id: 2 },
      { _event_id: 'v3', ts: '2024-04-29T08:00:00.000Z', item_id: 3 },
    ]);
    expect(await ledger('app_views')).toEqual([
      { batch: 'wm:2024-05-01T10:06:00.000Z', rows: 3, loaded_at: '2024-05-01T10:10:00.000Z', watermark: '2024-05-01T10:06:00.000Z' },
    ]);
  });

  it('has nothing to load from an empty table', async () => {
    await engine.run(sql('CREATE SCHEMA raw'));
    await engine.run(sql('CREATE TABLE raw.app_clicks (user_id BIGINT, ts TIMESTAMPTZ, item_id BIGINT)'));
    expect(await load(streams.app_clicks, '2024-05-01T12:00:00Z')).toBeUndefined();
    expect(await ledger('app_clicks')).toEqual([]);
  });
});

// Expected SQL keyed by dialect: a new dialect does not pass until it spells these too.
const dialects: Record<Dialect['name'], Dialect> = { duckdb: duckdbDialect, snowflake: snowflakeDialect };

const expectedBatch: Record<Dialect['name'], string[]> = {
  duckdb: [
    'INSERT INTO "flywheel"."stream_clicks" ("_event_id", "user_id", "ts", "item_id", "dwell_ms", "page", "_received_at", "_batch") ' +
      'SELECT "_event_id", "user_id", "ts", "item_id", "dwell_ms", "page", "_received_at", CAST(? AS VARCHAR) ' +
      'FROM (SELECT CAST("_event_id" AS VARCHAR) AS "_event_id", CAST("user_id" AS BIGINT) AS "user_id", CAST("ts" AS TIMESTAMPTZ) AS "ts", ' +
      'CAST("item_id" AS BIGINT) AS "item_id", CAST("dwell_ms" AS BIGINT) AS "dwell_ms", CAST("page" AS VARCHAR) AS "page", CAST("_received_at" AS TIMESTAMPTZ) AS "_received_at", ' +
      'row_number() OVER (PARTITION BY "_event_id" ORDER BY "_received_at", "_ordinal") AS "_occurrence" ' +
      'FROM (SELECT *, row_number() OVER () AS "_ordinal" FROM "staging"."batch_1") AS "staged") AS "incoming" ' +
      'WHERE "_occurrence" = 1 AND NOT EXISTS (SELECT 1 FROM "flywheel"."stream_clicks" AS "stored" WHERE "stored"."_event_id" = "incoming"."_event_id") ' +
      'AND NOT EXISTS (SELECT 1 FROM "flywheel"."ingest_ledger" WHERE "stream" = ? AND "batch" = ?)',
    'INSERT INTO "flywheel"."ingest_ledger" ("stream", "batch", "rows", "loaded_at", "watermark") ' +
      'SELECT CAST(? AS VARCHAR), CAST(? AS VARCHAR), (SELECT count(*) FROM "flywheel"."stream_clicks" WHERE "_batch" = ?), CURRENT_TIMESTAMP, NULL ' +
      'WHERE NOT EXISTS (SELECT 1 FROM "flywheel"."ingest_ledger" WHERE "stream" = ? AND "batch" = ?)',
  ],
  snowflake: [
    'INSERT INTO "flywheel"."stream_clicks" ("_event_id", "user_id", "ts", "item_id", "dwell_ms", "page", "_received_at", "_batch") ' +
      'SELECT "_event_id", "user_id", "ts", "item_id", "dwell_ms", "page", "_received_at", CAST(? AS VARCHAR) ' +
      'FROM (SELECT CAST("_event_id" AS VARCHAR) AS "_event_id", CAST("user_id" AS NUMBER(19,0)) AS "user_id", CAST("ts" AS TIMESTAMP_TZ) AS "ts", ' +
      'CAST("item_id" AS NUMBER(19,0)) AS "item_id", CAST("dwell_ms" AS NUMBER(19,0)) AS "dwell_ms", CAST("page" AS VARCHAR) AS "page", CAST("_received_at" AS TIMESTAMP_TZ) AS "_received_at", ' +
      'row_number() OVER (PARTITION BY "_event_id" ORDER BY "_received_at", "_ordinal") AS "_occurrence" ' +
      'FROM (SELECT *, SEQ8() AS "_ordinal" FROM "staging"."batch_1") AS "staged") AS "incoming" ' +
      'WHERE "_occurrence" = 1 AND NOT EXISTS (SELECT 1 FROM "flywheel"."stream_clicks" AS "stored" WHERE "stored"."_event_id" = "incoming"."_event_id") ' +
      'AND NOT EXISTS (SELECT 1 FROM "flywheel"."ingest_ledger" WHERE "stream" = ? AND "batch" = ?)',
    'INSERT INTO "flywheel"."ingest_ledger" ("stream", "batch", "rows", "loaded_at", "watermark") ' +
      'SELECT CAST(? AS VARCHAR), CAST(? AS VARCHAR), (SELECT count(*) FROM "flywheel"."stream_clicks" WHERE "_batch" = ?), CURRENT_TIMESTAMP, NULL ' +
      'WHERE NOT EXISTS (SELECT 1 FROM "flywheel"."ingest_ledger" WHERE "stream" = ? AND "batch" = ?)',
  ],
};

const expectedBatchByKey: Record<Dialect['name'], string> = {
  duckdb: 'INSERT INTO "flywheel"."stream_clicks" ("_event_id", "user_id", "ts", "item_id", "dwell_ms", "page", "_received_at", "_batch") ' +
    'SELECT CAST("_event_id" AS VARCHAR) AS "_event_id", CAST("user_id" AS BIGINT) AS "user_id", CAST("ts" AS TIMESTAMPTZ) AS "ts", ' +
    'CAST("item_id" AS BIGINT) AS "item_id", CAST("dwell_ms" AS BIGINT) AS "dwell_ms", CAST("page" AS VARCHAR) AS "page", CAST("_received_at" AS TIMESTAMPTZ) AS "_received_at", ' +
    'CAST(? AS VARCHAR) FROM "staging"."batch_1"',
  snowflake: 'INSERT INTO "flywheel"."stream_clicks" ("_event_id", "user_id", "ts", "item_id", "dwell_ms", "page", "_received_at", "_batch") ' +
    'SELECT CAST("_event_id" AS VARCHAR) AS "_event_id", CAST("user_id" AS NUMBER(19,0)) AS "user_id", CAST("ts" AS TIMESTAMP_TZ) AS "ts", ' +
    'CAST("item_id" AS NUMBER(19,0)) AS "item_id", CAST("dwell_ms" AS NUMBER(19,0)) AS "dwell_ms", CAST("page" AS VARCHAR) AS "page", CAST("_received_at" AS TIMESTAMP_TZ) AS "_received_at", ' +
    'CAST(? AS VARCHAR) FROM "staging"."batch_1"',
};

const expectedNextWatermark: Record<Dialect['name'], string> = {
  duckdb: 'SELECT max(CAST("ts" AS TIMESTAMPTZ)) AS "watermark" FROM "raw"."app_clicks" ' +
    'WHERE CAST("ts" AS TIMESTAMPTZ) > (CAST(? AS TIMESTAMPTZ) - INTERVAL 3600 SECOND) AND CAST("ts" AS TIMESTAMPTZ) <= CAST(? AS TIMESTAMPTZ)',
  // The external table and its columns named unquoted, as Snowflake resolves names created without quotes; read under their declared names.
  snowflake: 'SELECT max(CAST("ts" AS TIMESTAMP_TZ)) AS "watermark" FROM (SELECT user_id AS "user_id", ts AS "ts", item_id AS "item_id" FROM raw.app_clicks) ' +
    'WHERE CAST("ts" AS TIMESTAMP_TZ) > DATEADD(second, -3600, CAST(? AS TIMESTAMP_TZ)) AND CAST("ts" AS TIMESTAMP_TZ) <= CAST(? AS TIMESTAMP_TZ)',
};

const expectedHashedId: Record<Dialect['name'], string> = {
  duckdb: 'md5(' +
    'CASE WHEN "user_id" IS NULL THEN \'~\' ELSE CAST(length(CAST(CAST("user_id" AS BIGINT) AS VARCHAR)) AS VARCHAR) || \':\' || CAST(CAST("user_id" AS BIGINT) AS VARCHAR) END || ' +
    'CASE WHEN "ts" IS NULL THEN \'~\' ELSE CAST(length(CAST(epoch_us(CAST("ts" AS TIMESTAMPTZ)) AS VARCHAR)) AS VARCHAR) || \':\' || CAST(epoch_us(CAST("ts" AS TIMESTAMPTZ)) AS VARCHAR) END || ' +
    'CASE WHEN "item_id" IS NULL THEN \'~\' ELSE CAST(length(CAST(CAST("item_id" AS BIGINT) AS VARCHAR)) AS VARCHAR) || \':\' || CAST(CAST("item_id" AS BIGINT) AS VARCHAR) END)',
  snowflake: 'md5(' +
    'CASE WHEN "user_id" IS NULL THEN \'~\' ELSE CAST(length(CAST(CAST("user_id" AS NUMBER(19,0)) AS VARCHAR)) AS VARCHAR) || \':\' || CAST(CAST("user_id" AS NUMBER(19,0)) AS VARCHAR) END || ' +
    'CASE WHEN "ts" IS NULL THEN \'~\' ELSE CAST(length(CAST(DATE_PART(epoch_nanosecond, CAST("ts" AS TIMESTAMP_TZ)) AS VARCHAR)) AS VARCHAR) || \':\' || CAST(DATE_PART(epoch_nanosecond, CAST("ts" AS TIMESTAMP_TZ)) AS VARCHAR) END || ' +
    'CASE WHEN "item_id" IS NULL THEN \'~\' ELSE CAST(length(CAST(CAST("item_id" AS NUMBER(19,0)) AS VARCHAR)) AS VARCHAR) || \':\' || CAST(CAST("item_id" AS NUMBER(19,0)) AS VARCHAR) END)',
};

const expectedJsonLines: Record<Dialect['name'], string> = {
  duckdb: 'FROM (SELECT *, row_number() OVER () AS "_ordinal" FROM read_json(\'/data/seg-1.jsonl\', format = \'newline_delimited\', columns = {' +
    '\'_event_id\': \'VARCHAR\', \'user_id\': \'BIGINT\', \'ts\': \'TIMESTAMPTZ\', \'item_id\': \'BIGINT\', \'dwell_ms\': \'BIGINT\', \'page\': \'VARCHAR\', \'_received_at\': \'TIMESTAMPTZ\'})) AS "staged"',
  snowflake: 'FROM (SELECT *, SEQ8() AS "_ordinal" FROM (SELECT $1:"_event_id"::VARCHAR AS "_event_id", $1:"user_id"::NUMBER(19,0) AS "user_id", $1:"ts"::TIMESTAMP_TZ AS "ts", ' +
    '$1:"item_id"::NUMBER(19,0) AS "item_id", $1:"dwell_ms"::NUMBER(19,0) AS "dwell_ms", $1:"page"::VARCHAR AS "page", $1:"_received_at"::TIMESTAMP_TZ AS "_received_at" ' +
    'FROM @"flywheel"."fw_stage"/ingest/seg-1/ (FILE_FORMAT => \'"flywheel"."fw_json_lines"\'))) AS "staged"',
};

describe.each(Object.values(dialects))('ingest SQL ($name)', (dialect) => {
  it('reads a staged file of JSON lines with the declared types', () => {
    // What each engine's stageFiles gives for a segment's lines: the file where it is (DuckDB), a stage path and the file format that parses it (Snowflake).
    const files: Record<Dialect['name'], StagedFiles> = {
      duckdb: { locations: ['/data/seg-1.jsonl'], format: 'jsonLines' },
      snowflake: { locations: ['@"flywheel"."fw_stage"/ingest/seg-1/'], format: 'jsonLines', fileFormat: '"flywheel"."fw_json_lines"' },
    };
    const [rows] = compileIngestBatch(streams.clicks, { batch: 'seg-1', stagingRelation: { kind: 'staged', files: files[dialect.name] }, loadedAt: '2024-05-01T12:00:00Z' }, dialect);
    expect(rows!.sql).toContain(expectedJsonLines[dialect.name]);
  });

  it('compiles a batch: rows, then the ledger row, both guarded by the ledger', () => {
    const statements = compileIngestBatch(streams.clicks, { batch: 'seg-1', stagingRelation: { kind: 'table', name: 'staging.batch_1' } }, dialect);
    expect(statements.map((s) => s.sql)).toEqual(expectedBatch[dialect.name]);
    expect(statements.map((s) => s.parameters)).toEqual([['seg-1', 'clicks', 'seg-1'], ['clicks', 'seg-1', 'seg-1', 'clicks', 'seg-1']]);
  });

  it("compiles a batch left to the primary key: a plain insert, then the ledger row guarded by the ledger", () => {
    const statements = compileIngestBatch(streams.clicks, { batch: 'seg-1', stagingRelation: { kind: 'table', name: 'staging.batch_1' }, dedupe: 'primaryKey' }, dialect);
    expect(statements.map((s) => s.sql)).toEqual([expectedBatchByKey[dialect.name], expectedBatch[dialect.name][1]]);
    expect(statements.map((s) => s.parameters)).toEqual([['seg-1'], ['clicks', 'seg-1', 'seg-1', 'clicks', 'seg-1']]);
    // Only an engine that enforces primary keys may be left to refuse repeated ids.
    expect(dialect.enforcesPrimaryKeys).toBe(dialect.name === 'duckdb');
  });

  it('compiles a load from a table: the window, the hashed id, the ledger batch', () => {
    const ingest = compileIngestFromTable(streams.app_clicks, { watermark: '2024-05-01T11:00:00.000Z', now: '2024-05-01T12:00:00Z' }, dialect);
    expect(ingest.nextWatermark).toEqual({ sql: expectedNextWatermark[dialect.name], parameters: ['2024-05-01T11:00:00.000Z', '2024-05-01T12:00:00Z'] });
    const { batch, statements } = ingest.load('2024-05-01T11:30:00.000Z');
    expect(batch).toBe('wm:2024-05-01T11:30:00.000Z');
    expect(statements[0]!.sql).toContain(`SELECT ${expectedHashedId[dialect.name]} AS "_event_id"`);
    expect(statements[0]!.parameters).toEqual(['2024-05-01T12:00:00Z', batch, '2024-05-01T11:00:00.000Z', '2024-05-01T11:30:00.000Z']);
    expect(statements.map((s) => s.sql.split(' ').slice(0, 3).join(' '))).toEqual(['INSERT INTO "flywheel"."stream_app_clicks"', 'UPDATE "flywheel"."ingest_ledger" SET', 'INSERT INTO "flywheel"."ingest_ledger"']);
  });

  it('takes the id from the event id field when declared, and reads every row on the first load', () => {
    const ingest = compileIngestFromTable(streams.app_views, { watermark: undefined, now: '2024-05-01T12:00:00Z' }, dialect);
    expect(ingest.nextWatermark.parameters).toEqual(['2024-05-01T12:00:00Z']);
    expect(ingest.load('2024-05-01T11:00:00.000Z').statements[0]!.sql).toContain('SELECT CAST("view_id" AS VARCHAR) AS "_event_id"');
  });
});

describe('compileIngestFromTable', () => {
  it('refuses a stream without a table to load from', () => {
    expect(() => compileIngestFromTable(streams.clicks, { watermark: undefined, now: '2024-05-01T12:00:00Z' }, duckdbDialect)).toThrow(/no `from` table/);
  });
});
