import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import type { MaterializeDeps } from '../activities/materialize.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import type { EncodedOnlineBatch, OnlineKeyPart, OnlineStore } from '../connectors/online-store/online-store.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { WarehouseMaterializationState } from '../connectors/registry/materialization-state.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { duckdbDialect } from '../core/sql/dialect.ts';
import { compileEncodedLatestValues, compileLatestValues } from '../core/sql/latest-values.ts';
import { materializeFeatureView, materializeProgressQuery, type MaterializeFeatureViewInput, type MaterializeFeatureViewResult } from '../workflows/materialize.ts';
import { deleteTestKeys, redisUrl, testKeyPrefix } from './setup/redis.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * Materialization end to end: a project applied with the real CLI, a real DuckDB file, the workflow
 * on the shared Temporal dev server, and a real SQLite online store read back. Every expected value
 * is computed by hand in the comments.
 */

const PROJECT = 'mat_test';

const definitions = (paymentsTtl = '') => `
import { entity, featureView, source } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const thing = entity({ name: 'thing', joinKeys: { thing_id: 'int64', region: 'string' } });

export const spend = source({ name: 'spend_src', table: 'spend', timestampField: 'ts', createdTimestampField: 'created',
  columns: { user_id: 'int64', ts: 'timestamp', created: 'timestamp', amount: 'float64' } });
export const spendView = featureView({ name: 'user_spend', entities: [user], source: spend, ttl: '1d', online: true, features: { amount: 'float64' } });
export const windows = featureView({ name: 'user_spend_windows', entities: [user], source: spend, online: true,
  aggregations: [{ function: 'count', windows: ['1d'] }, { column: 'amount', function: 'sum', windows: ['1d'] }] });
export const offlineOnly = featureView({ name: 'user_spend_offline', entities: [user], source: spend, online: false, features: { amount: 'float64' } });

export const events = source({ name: 'events_src', table: 'events', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
export const activity = featureView({ name: 'user_activity', entities: [user], source: events,
  aggregations: [{ function: 'count', windows: ['1h', '2h'] }, { column: 'amount', function: 'sum', windows: ['1h'] }] });

export const payments = source({ name: 'payments_src', table: 'payments', timestampField: 'ts', createdTimestampField: 'created',
  columns: { user_id: 'int64', ts: 'timestamp', created: 'timestamp', amount: 'float64' } });
export const lastPayment = featureView({ name: 'last_payment', entities: [user], source: payments, features: { amount: 'float64' }${paymentsTtl} });

export const things = source({ name: 'things_src', table: 'things', timestampField: 'ts',
  columns: { thing_id: 'int64', region: 'string', ts: 'timestamp', i32: 'int32', i64: 'int64', small: 'float32', ratio: 'float64', label: 'string', flag: 'bool', seen_at: 'timestamp', day: 'date' } });
export const thingValues = featureView({ name: 'thing_values', entities: [thing], source: things,
  features: { i32: 'int32', i64: 'int64', small: 'float32', ratio: 'float64', label: 'string', flag: 'bool', seen_at: 'timestamp', day: 'date' } });

export const many = source({ name: 'many_src', table: 'many', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
export const manyValues = featureView({ name: 'many_values', entities: [user], source: many, features: { amount: 'float64' } });
`;

const AS_OF = '2024-03-03T00:00:00.000Z';
const DAY = 86_400;
/** 2024-05-01 at hh:mm UTC. */
const at = (hhmm: string) => `2024-05-01T${hhmm}:00.000Z`;
const sqlAt = (hhmm: string) => `TIMESTAMPTZ '2024-05-01 ${hhmm}:00+00'`;

/** The latest value of each user as of AS_OF (rules 1-4 of docs/point-in-time.md). */
const EXPECTED_LATEST = [
  { user_id: 1, __fw_event_time: '2024-03-02T12:00:00.000Z', amount: 30 }, // the 03-03 00:00:00.000001 row is in the future
  { user_id: 2, __fw_event_time: '2024-03-02T00:00:00.000Z', amount: 7 }, // exactly ttl old: kept
  // user 3: 1 s past the ttl, no row
  { user_id: 4, __fw_event_time: '2024-03-02T06:00:00.000Z', amount: 3 }, // tie: later created time, then the smallest amount
  { user_id: 5, __fw_event_time: '2024-03-02T08:00:00.000Z', amount: 2 }, // tie without created times: nulls last
];

let project: TempProject;
let warehouse: string;
let store: SqliteOnlineStore;
let client: Client;
const taskQueue = testTaskQueue();
let runCount = 0;

function deps(onlineStore?: OnlineStore): MaterializeDeps {
  return {
    project: PROJECT,
    openEngine: () => openDuckDBEngine({ path: warehouse }),
    registry: (engine) => new WarehouseRegistry(engine),
    materializationState: (engine) => new WarehouseMaterializationState(engine),
    objectStore: new LocalObjectStore(join(project.dir, '.flywheel', 'objects')),
    scratchDir: join(project.dir, '.flywheel', 'scratch'),
    ...(onlineStore ? { onlineStore } : {}),
  };
}

async function sqlRun(text: string): Promise<void> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    await engine.run({ sql: text, parameters: [] });
  } finally {
    await engine.close();
  }
}

async function applied(): Promise<{ version: number; spec: ProjectSpec }> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    return (await new WarehouseRegistry(engine).latest(PROJECT))!;
  } finally {
    await engine.close();
  }
}

/** Runs the workflow (a worker must be running on taskQueue). */
function materialize(input: Omit<MaterializeFeatureViewInput, 'project'>): Promise<MaterializeFeatureViewResult> {
  return client.workflow.execute(materializeFeatureView, { taskQueue, workflowId: `mat-${++runCount}-${taskQueue}`, args: [{ project: PROJECT, ...input }] });
}

const withWorker = <T>(fn: () => Promise<T>, onlineStore: OnlineStore = store) => runWorker({ taskQueue, activities: createActivities(deps(onlineStore)) }, fn);

/** The stored records of `view` for these users, as { key, values, eventTime } (missing ones as null). */
async function stored(view: string, users: readonly OnlineKeyPart[]) {
  const values = await store.read(users.map((user) => ({ view, key: [user], ttlSeconds: null })), new Date(at('23:59')));
  return values.map((v) => (v.status === 'missing' ? null : { key: v.key, values: v.values, eventTime: v.eventTime }));
}

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': definitions(),
  });
  warehouse = join(project.dir, '.flywheel', 'warehouse.duckdb');
  await sqlRun(`
    CREATE TABLE spend (user_id BIGINT, ts TIMESTAMPTZ, created TIMESTAMPTZ, amount DOUBLE);
    INSERT INTO spend VALUES
      (1, '2024-03-01 00:00:00+00', '2024-03-01 00:00:00+00', 10.0),
      (1, '2024-03-01 00:00:00+00', '2024-03-01 05:00:00+00', 12.5),
      (1, '2024-03-02 12:00:00+00', NULL, 30.0),
      (1, '2024-03-03 00:00:00.000001+00', NULL, 99.0),
      (2, '2024-03-02 00:00:00+00', NULL, 7.0),
      (3, '2024-03-01 23:59:59+00', NULL, 5.0),
      (4, '2024-03-02 06:00:00+00', '2024-03-02 07:00:00+00', 4.0),
      (4, '2024-03-02 06:00:00+00', '2024-03-02 07:00:00+00', 3.0),
      (4, '2024-03-02 06:00:00+00', NULL, 1.0),
      (5, '2024-03-02 08:00:00+00', NULL, NULL),
      (5, '2024-03-02 08:00:00+00', NULL, 2.0),
      (NULL, '2024-03-02 09:00:00+00', NULL, 50.0);
    CREATE TABLE events (user_id BIGINT, ts TIMESTAMPTZ, amount DOUBLE);
    INSERT INTO events VALUES (1, ${sqlAt('09:30')}, 10), (1, ${sqlAt('10:15')}, 5), (2, ${sqlAt('08:00')}, 7), (3, ${sqlAt('06:00')}, 1);
    CREATE TABLE payments (user_id BIGINT, ts TIMESTAMPTZ, created TIMESTAMPTZ, amount DOUBLE);
    INSERT INTO payments VALUES (1, ${sqlAt('09:00')}, ${sqlAt('09:00')}, 1), (2, ${sqlAt('10:00')}, ${sqlAt('10:00')}, 2);
    CREATE TABLE things (thing_id BIGINT, region VARCHAR, ts TIMESTAMPTZ, i32 INTEGER, i64 BIGINT, small FLOAT, ratio DOUBLE, label VARCHAR, flag BOOLEAN, seen_at TIMESTAMPTZ, day DATE);
    INSERT INTO things VALUES
      (1, 'eu', ${sqlAt('10:00')}, 7, 9007199254740993, 0.1, 0.1, 'say "hi"\\ back' || chr(10) || 'slash ✓ é 😀', true, '2024-03-01 08:00:00.123456+00', '2024-02-29'),
      (9007199254740993, 'us', '2024-05-01 10:00:00.000001+00', -1, -9007199254740991, -2.25, -0.0, '', false, '1969-07-20 20:17:40.5+00', '0001-01-01'),
      (2, 'eu', ${sqlAt('10:00')}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (3, 'eu', ${sqlAt('10:00')}, 2147483647, -9223372036854775808, 'inf', 'nan', 'tab' || chr(9) || 'here', NULL, '2024-03-01 08:00:00+00', NULL),
      (4, 'eu', ${sqlAt('10:00')}, 0, 9007199254740991, 1.5, 1e300, 'x', true, '2024-03-01 08:00:00.001+00', '2024-01-01');
    CREATE TABLE many AS SELECT range AS user_id, TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_microseconds(range) AS ts, range * 1.5 AS amount FROM range(5000);
  `);
  const applied = project.cli('apply');
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  store = new SqliteOnlineStore({ path: join(project.dir, '.flywheel', 'online.sqlite') });
  client = await connectClient();
});

afterAll(async () => {
  await client?.connection.close();
  await store?.close();
  project?.remove();
});

describe('compileLatestValues on DuckDB', () => {
  it('gives each entity its latest row as of an instant, and buckets that split the entities', async () => {
    const engine = await openDuckDBEngine({ path: warehouse });
    try {
      const { spec } = (await new WarehouseRegistry(engine).latest(PROJECT))!;
      const view = spec.featureViews.user_spend!;
      expect(await engine.all(compileLatestValues(view, spec, engine.dialect, { asOf: AS_OF }))).toEqual(EXPECTED_LATEST);

      // One microsecond later, user 2's value is past its ttl and user 1's future row is the latest.
      expect(await engine.all(compileLatestValues(view, spec, engine.dialect, { asOf: '2024-03-03T00:00:00.000001Z' }))).toEqual([
        { user_id: 1, __fw_event_time: '2024-03-03T00:00:00.000001Z', amount: 99 },
        EXPECTED_LATEST[2],
        EXPECTED_LATEST[3],
      ]);

      const buckets = [];
      for (let chunk = 0; chunk < 3; chunk++) buckets.push(await engine.all(compileLatestValues(view, spec, engine.dialect, { asOf: AS_OF, bucket: { chunk, chunks: 3 } })));
      expect(buckets.flat().sort((a, b) => Number(a.user_id) - Number(b.user_id))).toEqual(EXPECTED_LATEST);

      // Resuming after a key: only the users after it.
      expect(await engine.all(compileLatestValues(view, spec, engine.dialect, { asOf: AS_OF, afterKey: [2] }))).toEqual(EXPECTED_LATEST.slice(2));

      // An aggregation view: its aggregates as of the instant, which is their event time, for every
      // user with an event at or before it. Window (03-02 00:00, 03-03 00:00]: users 2 and 3 have
      // events, but none in the window, so they get the empty values (count 0, sum null).
      const aggregates = await engine.all(compileLatestValues(spec.featureViews.user_spend_windows!, spec, engine.dialect, { asOf: AS_OF, bucket: { chunk: 0, chunks: 1 } }));
      expect(aggregates).toEqual([
        { user_id: 1, __fw_event_time: AS_OF, count_1d: 1, amount_sum_1d: 30 },
        { user_id: 2, __fw_event_time: AS_OF, count_1d: 0, amount_sum_1d: null },
        { user_id: 3, __fw_event_time: AS_OF, count_1d: 0, amount_sum_1d: null },
        { user_id: 4, __fw_event_time: AS_OF, count_1d: 3, amount_sum_1d: 8 },
        { user_id: 5, __fw_event_time: AS_OF, count_1d: 2, amount_sum_1d: 2 },
      ]);
      // Incremental since 03-02 12:00 (window 1d): users with an event in (03-01 12:00, 03-03 00:00].
      const since = await engine.all(compileLatestValues(spec.featureViews.user_spend_windows!, spec, engine.dialect, { asOf: AS_OF, changedSince: '2024-03-02T12:00:00Z' }));
      expect(since.map((row) => row.user_id)).toEqual([1, 2, 3, 4, 5]);
      const later = await engine.all(compileLatestValues(spec.featureViews.user_spend_windows!, spec, engine.dialect, { asOf: AS_OF, changedSince: '2024-03-03T00:00:00Z' }));
      // (03-02 00:00, 03-03 00:00]: user 2's 03-02 00:00 and user 3's 03-01 23:59:59 are out.
      expect(later.map((row) => row.user_id)).toEqual([1, 4, 5]);
    } finally {
      await engine.close();
    }
  });
});

describe('compileEncodedLatestValues on DuckDB', () => {
  it('writes each row as its key, event micros and one JSON array of every type, as all() gives the values', async () => {
    const engine = await openDuckDBEngine({ path: warehouse });
    try {
      const spec = (await new WarehouseRegistry(engine).latest(PROJECT))!.spec;
      const view = spec.featureViews.thing_values!;
      // Unordered (see compileEncodedLatestValues): sorted here by thing_id (1, 2, 3, 4, then 2^53 + 1), as compileLatestValues orders them.
      const byKey = (a: Record<string, unknown>, b: Record<string, unknown>) => BigInt(String(a.thing_id)) < BigInt(String(b.thing_id)) ? -1 : 1;
      const rows = (await engine.all(compileEncodedLatestValues(view, spec, engine.dialect, { asOf: at('12:00') }))).sort(byKey);
      expect(rows).toEqual([
        {
          thing_id: 1, region: 'eu', __fw_event_micros: 1_714_557_600_000_000,
          // FLOAT 0.1 is 0.10000000149011612 as a double, as all() gives it; the string's quote, backslash and newline are escaped.
          __fw_values: '[7,"9007199254740993",0.10000000149011612,0.1,"say \\"hi\\"\\\\ back\\nslash ✓ é 😀",true,"2024-03-01T08:00:00.123456Z","2024-02-29"]',
        },
        { thing_id: 2, region: 'eu', __fw_event_micros: 1_714_557_600_000_000, __fw_values: '[null,null,null,null,null,null,null,null]' },
        {
          thing_id: 3, region: 'eu', __fw_event_micros: 1_714_557_600_000_000,
          // int64 min is beyond 2^53: a string; Infinity and NaN have no JSON: null.
          __fw_values: '[2147483647,"-9223372036854775808",null,null,"tab\\there",null,"2024-03-01T08:00:00.000Z",null]',
        },
        { thing_id: 4, region: 'eu', __fw_event_micros: 1_714_557_600_000_000, __fw_values: '[0,9007199254740991,1.5,1e300,"x",true,"2024-03-01T08:00:00.001Z","2024-01-01"]' },
        {
          // The key beyond 2^53 comes as all() gives it (a decimal string); -0 is written 0.0.
          thing_id: '9007199254740993', region: 'us', __fw_event_micros: 1_714_557_600_000_001,
          __fw_values: '[-1,-9007199254740991,-2.25,0.0,"",false,"1969-07-20T20:17:40.500Z","0001-01-01"]',
        },
      ]);

      // Parsed, each array is what all() gives for the same row, through JSON (NaN and Infinity become null there too).
      const plain = await engine.all(compileLatestValues(view, spec, engine.dialect, { asOf: at('12:00') }));
      expect(rows.map((row) => JSON.parse(String(row.__fw_values)))).toEqual(plain.map((row) => view.features.map((f) => JSON.parse(JSON.stringify(row[f.name]) ?? 'null'))));

      // Timestamps are formatted from their UTC wall time, whatever the session's time zone.
      await engine.run({ sql: "SET TimeZone = 'Asia/Kolkata'", parameters: [] });
      const elsewhere = (await engine.all(compileEncodedLatestValues(view, spec, engine.dialect, { asOf: at('12:00') }))).sort(byKey);
      await engine.run({ sql: "SET TimeZone = 'UTC'", parameters: [] });
      expect(elsewhere).toEqual(rows);

      // The same rows streamed, in batches.
      const streamed: unknown[][] = [];
      for await (const batch of engine.stream(compileEncodedLatestValues(view, spec, engine.dialect, { asOf: at('12:00') }), { batchRows: 2 })) {
        for (let r = 0; r < batch.rowCount; r++) streamed.push(batch.values.map((column) => column[r]));
      }
      expect(streamed.sort((a, b) => byKey({ thing_id: a[0] }, { thing_id: b[0] }))).toEqual(rows.map((row) => Object.values(row)));
    } finally {
      await engine.close();
    }
  });
});

describe('the value text DuckDB writes (what serving returns, spliced as it is)', () => {
  /** One JSON array of `values` cast to `type`, encoded as the materialization query encodes a feature of that type. */
  async function encoded(type: 'DOUBLE' | 'BIGINT', values: readonly string[]): Promise<string> {
    const engine = await openDuckDBEngine({ path: ':memory:' });
    try {
      const columns = values.map((v, i) => `CAST(${v} AS ${type}) AS v${i}`).join(', ');
      const array = duckdbDialect.jsonArray(values.map((_, i) => duckdbDialect.jsonValue(`v${i}`, type === 'DOUBLE' ? 'float64' : 'int64')));
      const [row] = await engine.all<{ j: string }>({ sql: `SELECT ${array} AS j FROM (SELECT ${columns})`, parameters: [] });
      return row!.j;
    } finally {
      await engine.close();
    }
  }

  it('writes float64 edge values exactly: -0 as 0.0, NaN/±inf/NULL as null, whole numbers with .0, shortest digits, exponents without +', async () => {
    const text = await encoded('DOUBLE', [
      '-0.0', "'nan'", "'inf'", "'-inf'", 'NULL', '1e-300', '-1e-300', '5e-324', '1.0', '-3.0', '100.0', '0.1', 'CAST(0.1 AS DOUBLE) + CAST(0.2 AS DOUBLE)', '1e-7', '0.000001',
      '1e16', '2.5e20', '1e21', '1.5e21', '1e300', '1.7976931348623157e308', '9007199254740993', '123456.789',
    ]);
    expect(text).toBe(
      '[0.0,null,null,null,null,1e-300,-1e-300,5e-324,1.0,-3.0,100.0,0.1,0.30000000000000004,1e-7,0.000001,' +
        '10000000000000000.0,250000000000000000000.0,1e21,1.5e21,1e300,1.7976931348623157e308,9007199254740992.0,123456.789]',
    );
    // Read back by any JSON parser: the same doubles (-0 became 0; what has no JSON became null).
    expect(JSON.parse(text)).toEqual([
      0, null, null, null, null, 1e-300, -1e-300, 5e-324, 1, -3, 100, 0.1, 0.30000000000000004, 1e-7, 0.000001,
      1e16, 2.5e20, 1e21, 1.5e21, 1e300, 1.7976931348623157e308, 9007199254740992, 123456.789,
    ]);
  });

  it('writes int64 values as numbers within ±(2^53 - 1) and as decimal strings beyond', async () => {
    const text = await encoded('BIGINT', ['0', '-1', '9007199254740991', '-9007199254740991', '9007199254740992', '-9007199254740992', '9223372036854775807', '-9223372036854775808', 'NULL']);
    expect(text).toBe('[0,-1,9007199254740991,-9007199254740991,"9007199254740992","-9007199254740992","9223372036854775807","-9223372036854775808",null]');
  });
});

describe('materializeFeatureView workflow', () => {
  it('writes the latest values to the online store, chunk by chunk, and is idempotent', async () => {
    const read = (now: string) => store.read([1, 2, 3, 4, 5].map((user) => ({ view: 'user_spend', key: [user], ttlSeconds: DAY })), new Date(now));
    const expected = [
      { status: 'present', key: [1], values: { amount: 30 }, eventTime: '2024-03-02T12:00:00.000Z' },
      { status: 'present', key: [2], values: { amount: 7 }, eventTime: '2024-03-02T00:00:00.000Z' },
      { status: 'missing', key: [3], values: {}, eventTime: null },
      { status: 'present', key: [4], values: { amount: 3 }, eventTime: '2024-03-02T06:00:00.000Z' },
      { status: 'present', key: [5], values: { amount: 2 }, eventTime: '2024-03-02T08:00:00.000Z' },
    ];
    const full = { view: 'user_spend', mode: 'full', from: null, to: AS_OF, chunks: 3, rows: 4, written: 4, skippedOlder: 0 };

    await withWorker(async () => {
      const handle = await client.workflow.start(materializeFeatureView, { taskQueue, workflowId: `first-${taskQueue}`, args: [{ project: PROJECT, view: 'user_spend', to: AS_OF, chunks: 3 }] });
      expect(await handle.result()).toEqual({ ...full, reason: 'no watermark yet', watermarkAdvanced: true, watermarkReason: 'first watermark', watermark: AS_OF });
      expect(await handle.query(materializeProgressQuery)).toEqual({ stage: 'done', mode: 'full', chunksDone: 3, chunks: 3, rows: 4, written: 4, skippedOlder: 0 });
      expect(await read(AS_OF)).toMatchObject(expected);
      // A second later user 2's value has expired, as in a training set.
      expect((await read('2024-03-03T00:00:01Z'))[1]).toMatchObject({ status: 'expired', values: {} });

      // The same instant again, as a full run: the same records (equal event times replace); the watermark stays.
      expect(await materialize({ view: 'user_spend', to: AS_OF, chunks: 3, full: true })).toEqual({
        ...full, reason: 'a full run was asked for', watermarkAdvanced: false, watermarkReason: `the stored watermark ${AS_OF} is not earlier`, watermark: AS_OF,
      });
      expect(await read(AS_OF)).toMatchObject(expected);
      // From the watermark to the same instant: nothing to do.
      expect(await materialize({ view: 'user_spend', to: AS_OF })).toMatchObject({ mode: 'incremental', from: AS_OF, chunks: 0, rows: 0, watermarkAdvanced: false });
    });
  });

  it('is incremental from the stored watermark, and aggregates fall to zero as events slide out of their windows', async () => {
    const users = [1, 2, 3, 4];
    const empty = { count_1h: 0, count_2h: 0, amount_sum_1h: null };
    await withWorker(async () => {
      // 10:30, no watermark: a full run. Windows 1h (09:30, 10:30] and 2h (08:30, 10:30]. Users 2 and
      // 3 have events, none in the windows: their empty values are written too.
      expect(await materialize({ view: 'user_activity', to: at('10:30'), chunks: 2 })).toMatchObject({ mode: 'full', reason: 'no watermark yet', rows: 3, written: 3, watermark: at('10:30') });
      expect(await stored('user_activity', users)).toEqual([
        { key: [1], values: { count_1h: 1, count_2h: 2, amount_sum_1h: 5 }, eventTime: at('10:30') }, // 10:15 in 1h; 09:30 and 10:15 in 2h
        { key: [2], values: empty, eventTime: at('10:30') },
        { key: [3], values: empty, eventTime: at('10:30') },
        null,
      ]);

      await sqlRun(`INSERT INTO events VALUES (4, ${sqlAt('10:45')}, 2)`);
      // 11:30 from 10:30: users with an event in (10:30 - 2h, 11:30] = (08:30, 11:30]: 1 and 4. User 1
      // has no new event, yet its 1h count falls to 0 (10:15 left the window) and its 2h count to 1.
      expect(await materialize({ view: 'user_activity', to: at('11:30'), chunks: 2 })).toMatchObject({
        mode: 'incremental', reason: 'from the stored watermark', from: at('10:30'), to: at('11:30'), rows: 2, written: 2, watermarkAdvanced: true, watermark: at('11:30'),
      });
      expect(await stored('user_activity', users)).toEqual([
        { key: [1], values: { count_1h: 0, count_2h: 1, amount_sum_1h: null }, eventTime: at('11:30') },
        { key: [2], values: empty, eventTime: at('10:30') },
        { key: [3], values: empty, eventTime: at('10:30') },
        { key: [4], values: { count_1h: 1, count_2h: 1, amount_sum_1h: 2 }, eventTime: at('11:30') },
      ]);

      // 12:30: (09:30, 12:30] holds users 1 (10:15) and 4 (10:45); user 1's last event leaves its 2h window.
      expect(await materialize({ view: 'user_activity', to: at('12:30'), chunks: 2 })).toMatchObject({ mode: 'incremental', from: at('11:30'), rows: 2 });
      // 13:30: (10:30, 13:30] holds user 4 only; user 1 was written empty by the run before.
      expect(await materialize({ view: 'user_activity', to: at('13:30'), chunks: 2 })).toMatchObject({ mode: 'incremental', from: at('12:30'), rows: 1 });
      expect(await stored('user_activity', users)).toEqual([
        { key: [1], values: empty, eventTime: at('12:30') },
        { key: [2], values: empty, eventTime: at('10:30') },
        { key: [3], values: empty, eventTime: at('10:30') },
        { key: [4], values: empty, eventTime: at('13:30') },
      ]);

      // A late event: user 2 at 13:00, loaded after the 13:30 run. At 14:30 it is in (11:30, 14:30],
      // so user 2 is recomputed: 2h window (12:30, 14:30] holds it, 1h window (13:30, 14:30] does not.
      await sqlRun(`INSERT INTO events VALUES (2, ${sqlAt('13:00')}, 3)`);
      expect(await materialize({ view: 'user_activity', to: at('14:30'), chunks: 2 })).toMatchObject({ mode: 'incremental', from: at('13:30'), rows: 1, watermark: at('14:30') });
      const final = [
        { key: [1], values: empty, eventTime: at('12:30') },
        { key: [2], values: { count_1h: 0, count_2h: 1, amount_sum_1h: null }, eventTime: at('14:30') },
        { key: [3], values: empty, eventTime: at('10:30') },
        { key: [4], values: empty, eventTime: at('13:30') },
      ];
      expect(await stored('user_activity', users)).toEqual(final);

      // Served values equal a full recomputation as of 14:30, for every user.
      const { spec } = await applied();
      const engine = await openDuckDBEngine({ path: warehouse });
      const recomputed = await engine.all(compileLatestValues(spec.featureViews.user_activity!, spec, engine.dialect, { asOf: at('14:30') })).finally(() => engine.close());
      expect(recomputed.map(({ user_id, count_1h, count_2h, amount_sum_1h }) => ({ key: [user_id], values: { count_1h, count_2h, amount_sum_1h } }))).toEqual(final.map(({ key, values }) => ({ key, values })));

      // Re-running a range is idempotent; an older range never overwrites newer values, nor moves the watermark back.
      expect(await materialize({ view: 'user_activity', from: at('13:30'), to: at('14:30'), chunks: 2 })).toMatchObject({
        mode: 'incremental', reason: 'the range was given', rows: 1, written: 1, skippedOlder: 0, watermarkAdvanced: false, watermark: at('14:30'),
      });
      expect(await materialize({ view: 'user_activity', from: at('10:30'), to: at('11:30'), chunks: 2 })).toMatchObject({
        rows: 2, written: 0, skippedOlder: 2, watermarkAdvanced: false, watermarkReason: `the stored watermark ${at('14:30')} is not earlier`, watermark: at('14:30'),
      });
      expect(await stored('user_activity', users)).toEqual(final);
    });
  });

  it('recomputes plain views by event and created time, and takes late rows with a lookback', async () => {
    const users = [1, 2, 3];
    await withWorker(async () => {
      expect(await materialize({ view: 'last_payment', to: at('10:30'), chunks: 3 })).toMatchObject({ mode: 'full', rows: 2, written: 2 });
      expect(await stored('last_payment', users)).toEqual([
        { key: [1], values: { amount: 1 }, eventTime: at('09:00') },
        { key: [2], values: { amount: 2 }, eventTime: at('10:00') },
        null,
      ]);

      await sqlRun(`INSERT INTO payments VALUES
        (1, ${sqlAt('11:00')}, ${sqlAt('11:00')}, 3),   -- a new payment
        (2, ${sqlAt('10:00')}, ${sqlAt('11:10')}, 20),  -- a correction of 10:00, created later: wins the tie
        (3, ${sqlAt('10:20')}, ${sqlAt('10:20')}, 5)    -- late: both times before the 10:30 watermark`);
      // (10:30, 11:30] by event or created time: users 1 and 2. User 3's row is late and missed.
      expect(await materialize({ view: 'last_payment', to: at('11:30'), chunks: 3 })).toMatchObject({ mode: 'incremental', from: at('10:30'), rows: 2, written: 2 });
      expect(await stored('last_payment', users)).toEqual([
        { key: [1], values: { amount: 3 }, eventTime: at('11:00') },
        { key: [2], values: { amount: 20 }, eventTime: at('10:00') },
        null,
      ]);

      // With a 3h lookback the next run looks from 11:30 - 3h = 08:30: users 1, 2 (rewritten, equal times) and 3.
      expect(await materialize({ view: 'last_payment', to: at('12:30'), chunks: 3, lookbackSeconds: 3 * 3600 })).toMatchObject({
        mode: 'incremental', from: at('11:30'), rows: 3, written: 3, skippedOlder: 0, watermark: at('12:30'),
      });
      expect(await stored('last_payment', users)).toEqual([
        { key: [1], values: { amount: 3 }, eventTime: at('11:00') },
        { key: [2], values: { amount: 20 }, eventTime: at('10:00') },
        { key: [3], values: { amount: 5 }, eventTime: at('10:20') },
      ]);
    });

    // A new definition (a ttl) makes the next run full, however recent the watermark.
    project.write('definitions/all.ts', definitions(", ttl: '30d'"));
    const reapplied = project.cli('apply');
    expect(reapplied.code).toBe(0);
    await withWorker(async () => {
      expect(await materialize({ view: 'last_payment', to: at('13:30') })).toMatchObject({
        mode: 'full', reason: 'the definition changed since the last run', rows: 3, written: 3, watermarkAdvanced: true, watermarkReason: 'a full run with a new definition', watermark: at('13:30'),
      });
      expect(await materialize({ view: 'last_payment', to: at('14:30') })).toMatchObject({ mode: 'incremental', from: at('13:30'), rows: 0 });
    });
  });

  it('writes every type through the encoded path, keys beyond 2^53 included', async () => {
    await withWorker(async () => {
      expect(await materialize({ view: 'thing_values', to: at('12:00'), chunks: 2 })).toMatchObject({ rows: 5, written: 5 });
    });
    const keys: OnlineKeyPart[][] = [[1, 'eu'], [2, 'eu'], [3, 'eu'], [4, 'eu'], [9007199254740993n, 'us']];
    const read = await store.read(keys.map((key) => ({ view: 'thing_values', key, ttlSeconds: null })), new Date(at('12:00')));
    expect(read.map((r) => ({ values: r.values, eventTime: r.eventTime }))).toEqual([
      {
        values: { i32: 7, i64: '9007199254740993', small: 0.10000000149011612, ratio: 0.1, label: 'say "hi"\\ back\nslash ✓ é 😀', flag: true, seen_at: '2024-03-01T08:00:00.123456Z', day: '2024-02-29' },
        eventTime: at('10:00'),
      },
      { values: { i32: null, i64: null, small: null, ratio: null, label: null, flag: null, seen_at: null, day: null }, eventTime: at('10:00') },
      { values: { i32: 2147483647, i64: '-9223372036854775808', small: null, ratio: null, label: 'tab\there', flag: null, seen_at: '2024-03-01T08:00:00.000Z', day: null }, eventTime: at('10:00') },
      { values: { i32: 0, i64: 9007199254740991, small: 1.5, ratio: 1e300, label: 'x', flag: true, seen_at: '2024-03-01T08:00:00.001Z', day: '2024-01-01' }, eventTime: at('10:00') },
      { values: { i32: -1, i64: -9007199254740991, small: -2.25, ratio: 0, label: '', flag: false, seen_at: '1969-07-20T20:17:40.500Z', day: '0001-01-01' }, eventTime: '2024-05-01T10:00:00.000001Z' },
    ]);
  });

  it('fails without retrying for a view that is not online, or a worker without an online store', async () => {
    const failure = (activities: object, view: string) =>
      runWorker({ taskQueue, activities }, () =>
        client.workflow.execute(materializeFeatureView, { taskQueue, workflowId: `fail-${view}-${++runCount}-${taskQueue}`, args: [{ project: PROJECT, view, chunks: 1 }] }).then(
          () => 'succeeded',
          (error: unknown) => String((error as { cause?: { cause?: Error } }).cause?.cause?.message),
        ),
      );
    expect(await failure(createActivities(deps(store)), 'user_spend_offline')).toMatch(/Cannot materialize feature view "user_spend_offline": it is not online/);
    expect(await failure(createActivities(deps()), 'user_spend')).toMatch(/Cannot materialize feature view "user_spend": this worker has no online store/);
  });

  it('sweeps the records past the view\'s ttl as of the run from the online store', async () => {
    const own = new SqliteOnlineStore({ path: join(project.dir, '.flywheel', 'online-sweep.sqlite') });
    try {
      const raw = async () => (await own.read([1, 2, 3, 4, 5].map((user) => ({ view: 'user_spend', key: [user], ttlSeconds: null })), new Date(AS_OF)))
        .map((v) => (v.status === 'missing' ? null : [v.values.amount, v.eventTime]));
      await withWorker(() => materialize({ view: 'user_spend', to: AS_OF, full: true, chunks: 1 }), own);
      expect(await raw()).toEqual([[30, '2024-03-02T12:00:00.000Z'], [7, '2024-03-02T00:00:00.000Z'], null, [3, '2024-03-02T06:00:00.000Z'], [2, '2024-03-02T08:00:00.000Z']]);
      // As of 03-03 12:00 (ttl 1d): only user 1's 03-03 row is recent enough, and the records of
      // users 2, 4 and 5 (event times before 03-02 12:00) are swept; user 1's is replaced, not swept.
      expect(await withWorker(() => materialize({ view: 'user_spend', to: '2024-03-03T12:00:00.000Z', full: true, chunks: 1 }), own)).toMatchObject({ rows: 1, written: 1 });
      expect(await raw()).toEqual([[99, '2024-03-03T00:00:00.000001Z'], null, null, null, null]);
    } finally {
      await own.close();
    }
  });
});

describe('materializeChunk', () => {
  /** The SQLite store, with writeEncoded failing once on its `failOn`-th call, counting the rows it is given. */
  function flakyStore(failOn: number) {
    let calls = 0;
    const seen: number[] = [];
    const wrapped: OnlineStore = Object.assign(Object.create(store) as OnlineStore, {
      writeEncoded: async (batch: EncodedOnlineBatch) => {
        calls++;
        if (calls === failOn) throw new Error('the store went away');
        seen.push(batch.rows.length);
        return store.writeEncoded(batch);
      },
    });
    return { store: wrapped, seen };
  }

  it('heartbeats after each write, and writes the whole bucket again when retried', async () => {
    const input = { view: 'many_values', registryVersion: (await applied()).version, asOf: at('12:00'), chunk: 0, chunks: 1 };

    // The first attempt: 5000 users in batches of 2048; the second write fails.
    const first = flakyStore(2);
    const beats: unknown[] = [];
    const attempt1 = new MockActivityEnvironment();
    attempt1.on('heartbeat', (details: unknown) => beats.push(details));
    await expect(attempt1.run(createActivities(deps(first.store)).materializeChunk, input)).rejects.toThrow('the store went away');
    expect(first.seen).toEqual([2048]);
    const last = beats.at(-1);
    expect(last).toEqual({ rows: 2048, written: 2048, skippedOlder: 0 });

    // The retry (handed the last heartbeat, as Temporal does) writes all 5000 rows again and counts from zero:
    // the rows come unordered, so nothing says which 2048 the first attempt wrote; rewriting them replaces them with themselves.
    const second = flakyStore(0);
    const attempt2 = new MockActivityEnvironment({ heartbeatDetails: last });
    expect(await attempt2.run(createActivities(deps(second.store)).materializeChunk, input)).toEqual({ rows: 5000, written: 5000, skippedOlder: 0 });
    expect(second.seen).toEqual([2048, 2048, 904]);

    const values = await store.read([0, 2047, 2048, 4999].map((user) => ({ view: 'many_values', key: [user], ttlSeconds: null })), new Date(at('12:00')));
    expect(values.map((v) => [v.values, v.eventTime])).toEqual([
      [{ amount: 0 }, '2024-05-01T00:00:00.000Z'],
      [{ amount: 3070.5 }, '2024-05-01T00:00:00.002047Z'],
      [{ amount: 3072 }, '2024-05-01T00:00:00.002048Z'],
      [{ amount: 7498.5 }, '2024-05-01T00:00:00.004999Z'],
    ]);
  });

  it('writes the same records to Redis as to SQLite', async () => {
    const redis = new RedisOnlineStore({ url: redisUrl(), keyPrefix: testKeyPrefix() });
    try {
      const { version } = await applied();
      const input = { view: 'thing_values', registryVersion: version, asOf: at('12:00'), chunk: 0, chunks: 1 };
      expect(await new MockActivityEnvironment().run(createActivities(deps(redis)).materializeChunk, input)).toEqual({ rows: 5, written: 5, skippedOlder: 0 });
      const keys: OnlineKeyPart[][] = [[1, 'eu'], [2, 'eu'], [3, 'eu'], [4, 'eu'], [9007199254740993n, 'us']];
      const requests = keys.map((key) => ({ view: 'thing_values', key, ttlSeconds: null }));
      const fromRedis = await redis.read(requests, new Date(at('12:00')));
      const fromSqlite = await store.read(requests, new Date(at('12:00')));
      expect(fromRedis.map((r) => [r.status, r.values, r.eventTime])).toEqual(fromSqlite.map((r) => [r.status, r.values, r.eventTime]));
      expect(fromRedis[4]).toMatchObject({ status: 'present', values: { i64: -9007199254740991, seen_at: '1969-07-20T20:17:40.500Z' } });
    } finally {
      await deleteTestKeys(redisUrl(), redis.keyPrefix);
      await redis.close();
    }
  });
});
