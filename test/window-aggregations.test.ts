import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDBEngine, type DuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { compileAggregatesAsOf } from '../core/aggregations/aggregates-as-of.ts';
import type { AggregationEvents, WindowAggregation } from '../core/aggregations/aggregation-events.ts';
import { duckdbDialect, type Dialect } from '../core/sql/dialect.ts';
import { compilePointInTimeJoin, type PointInTimeJoin, type WindowAggregationView } from '../core/sql/point-in-time.ts';

// Every expected value below is worked out by hand from docs/point-in-time.md, "Windowed aggregations":
// an event at e counts for a spine row at t in window w when t - w < e <= t.
let dir: string;
let engine: DuckDBEngine;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flywheel-agg-'));
  engine = await openDuckDBEngine({ path: join(dir, 'warehouse.duckdb') });
  await engine.run({
    sql: `
    CREATE SCHEMA flywheel;
    CREATE TABLE flywheel.txn (user_id BIGINT, merchant VARCHAR, ts TIMESTAMPTZ, created TIMESTAMPTZ, amount DOUBLE, qty INTEGER);
    INSERT INTO flywheel.txn VALUES
      (1, 'a',  '2024-01-09 12:00:00+00',        NULL, 90,   1),    -- e1: exactly t - 1d for r1: out; in for r3 (1µs earlier)
      (1, 'a',  '2024-01-09 12:00:01+00',        NULL, 10,   2),    -- e2
      (1, 'b',  '2024-01-10 11:00:00+00',        NULL, 20,   3),    -- e3: exactly t - 1h for r1: out of 1h
      (1, 'c',  '2024-01-10 11:30:00+00',        NULL, NULL, NULL), -- e4: null values: counted, not summed
      (1, NULL, '2024-01-10 12:00:00+00', '2024-01-10 12:00:05+00', 4, 4),  -- e5: exactly t: counts; wins the tie (later created)
      (1, 'b',  '2024-01-10 12:00:00+00', '2024-01-10 12:00:03+00', 2, 6),  -- e6: same time as e5
      (1, 'a',  '2024-01-10 12:00:00.000001+00', NULL, 1000, 9),    -- e7: 1µs in r1's future: never
      (NULL, 'a', '2024-01-10 12:00:00+00',      NULL, 500,  9),    -- null key: never
      (2, 'x',  '2024-01-05 00:00:00+00',        NULL, 7,    1),    -- f1
      (2, 'x',  '2024-01-05 00:00:00+00',        NULL, 3,    1),    -- f2: tie with f1, no created: smallest value wins
      (2, 'y',  '2024-01-04 23:00:00+00',        NULL, NULL, 1),    -- f3
      (2, NULL, '2024-01-04 23:00:00+00',        NULL, 5,    1);    -- f4: tie with f3: non-null value wins
    CREATE TABLE flywheel.spine (user_id BIGINT, merchant VARCHAR, ts TIMESTAMPTZ, label INTEGER);
    INSERT INTO flywheel.spine VALUES
      (1,    'b',  '2024-01-10 12:00:00+00',        1),  -- r1
      (1,    'b',  '2024-01-10 12:00:00+00',        1),  -- r2: duplicate of r1, kept
      (1,    'a',  '2024-01-10 11:59:59.999999+00', 0),  -- r3: 1µs before r1: e3 and e1 are back in
      (1,    'a',  '2024-01-20 00:00:00+00',        0),  -- r4: no events in any window
      (NULL, 'a',  '2024-01-10 12:00:00+00',        1),  -- r5: null key
      (3,    'a',  '2024-01-10 12:00:00+00',        0),  -- r6: no events at all
      (2,    'x',  '2024-01-05 00:00:00+00',        1),  -- r7
      (2,    NULL, '2024-01-04 23:30:00+00',        0);  -- r8: null merchant: null for the (user, merchant) view
    `,
    parameters: [],
  });
});

afterAll(async () => {
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

const HOUR = 3600;
const DAY = 86_400;
const agg = (feature: string, fn: WindowAggregation['function'], column: string | undefined, windowSeconds: number, type: WindowAggregation['type']): WindowAggregation =>
  ({ feature, function: fn, ...(column !== undefined ? { column } : {}), windowSeconds, type });

const perUser: AggregationEvents = {
  featureView: 'user_txn',
  relation: 'flywheel.txn', joinKeys: ['user_id'], timestampField: 'ts', createdTimestampField: 'created',
  aggregations: [
    agg('count_1h', 'count', undefined, HOUR, 'int64'),
    agg('count_1d', 'count', undefined, DAY, 'int64'),
    agg('amount_sum_1h', 'sum', 'amount', HOUR, 'float64'),
    agg('amount_sum_1d', 'sum', 'amount', DAY, 'float64'),
    agg('amount_avg_1d', 'avg', 'amount', DAY, 'float64'),
    agg('amount_min_1d', 'min', 'amount', DAY, 'float64'),
    agg('amount_max_1d', 'max', 'amount', DAY, 'float64'),
    agg('qty_sum_1d', 'sum', 'qty', DAY, 'int64'),
    agg('merchant_distinct_count_1h', 'distinct_count', 'merchant', HOUR, 'int64'),
    agg('merchant_distinct_count_1d', 'distinct_count', 'merchant', DAY, 'int64'),
    agg('merchant_max_1d', 'max', 'merchant', DAY, 'string'),
    agg('amount_last_1h', 'last', 'amount', HOUR, 'float64'),
    agg('merchant_last_1d', 'last', 'merchant', DAY, 'string'),
  ],
};
const perPair: AggregationEvents = {
  featureView: 'pair_txn',
  relation: 'flywheel.txn', joinKeys: ['user_id', 'merchant'], timestampField: 'ts', createdTimestampField: 'created',
  aggregations: [agg('pair_count_1d', 'count', undefined, DAY, 'int64'), agg('pair_amount_sum_1d', 'sum', 'amount', DAY, 'float64')],
};

const spine: PointInTimeJoin['spine'] = { relation: 'flywheel.spine', timestampField: 'ts', columns: ['user_id', 'merchant', 'ts', 'label'] };
const join2: PointInTimeJoin = { spine, views: [{ kind: 'aggregation', ...perUser }, { kind: 'aggregation', ...perPair }] };

const features = [...perUser.aggregations, ...perPair.aggregations].map((a) => a.feature);
const row = (values: readonly unknown[]) => Object.fromEntries(features.map((f, i) => [f, values[i]]));
//                 c1h c1d  s1h   s1d  avg  min   max  qty  dc1h dc1d mmax  last1h mlast  pair  psum
const r1 = row([3, 5, 6, 36, 9, 2, 20, 15, 2, 3, 'c', 4, null, 2, 22]);
const expected = [
  { user_id: 1, merchant: 'b', ts: '2024-01-10T12:00:00.000Z', label: 1, ...r1 },
  { user_id: 1, merchant: 'b', ts: '2024-01-10T12:00:00.000Z', label: 1, ...r1 },
  { user_id: 1, merchant: 'a', ts: '2024-01-10T11:59:59.999999Z', label: 0, ...row([2, 4, 20, 120, 40, 10, 90, 6, 2, 3, 'c', null, 'c', 2, 100]) },
  { user_id: 1, merchant: 'a', ts: '2024-01-20T00:00:00.000Z', label: 0, ...row([0, 0, null, null, null, null, null, null, 0, 0, null, null, null, 0, null]) },
  { user_id: null, merchant: 'a', ts: '2024-01-10T12:00:00.000Z', label: 1, ...row(features.map(() => null)) },
  { user_id: 3, merchant: 'a', ts: '2024-01-10T12:00:00.000Z', label: 0, ...row([0, 0, null, null, null, null, null, null, 0, 0, null, null, null, 0, null]) },
  { user_id: 2, merchant: 'x', ts: '2024-01-05T00:00:00.000Z', label: 1, ...row([2, 4, 10, 15, 5, 3, 7, 4, 1, 2, 'y', 3, 'x', 2, 10]) },
  { user_id: 2, merchant: null, ts: '2024-01-04T23:30:00.000Z', label: 0, ...row([2, 2, 5, 5, 5, 5, 5, 2, 1, 1, 'y', 5, 'y', null, null]) },
];

const run = (join: PointInTimeJoin, dialect: Dialect = duckdbDialect, options = {}) => engine.all(compilePointInTimeJoin(join, dialect, options));
/** Snowflake's formulation of a windowed distinct count (a running sum of intervals), run on DuckDB. */
const intervalsDialect: Dialect = { ...duckdbDialect, windowedDistinctCount: 'intervals' };

describe('windowed aggregations in the point-in-time join (DuckDB)', () => {
  it('computes every function over several windows, with exact edges, ties, nulls and composite keys', async () => {
    expect(await run(join2)).toEqual(expected);
  });

  it('gives the same values with the running-sum distinct count that Snowflake uses', async () => {
    expect(await run(join2, intervalsDialect)).toEqual(expected);
  });

  it('computes only the selected aggregations, in the order given, next to plain views', async () => {
    const some: WindowAggregationView = { kind: 'aggregation', ...perUser, aggregations: [perUser.aggregations[12]!, perUser.aggregations[1]!] };
    const rows = await run({
      spine,
      views: [some, { relation: 'flywheel.txn', joinKeys: ['user_id'], timestampField: 'ts', createdTimestampField: 'created', features: ['qty'], ttlSeconds: null }],
    });
    expect(rows.map((r) => Object.keys(r))).toEqual(expected.map(() => ['user_id', 'merchant', 'ts', 'label', 'merchant_last_1d', 'count_1d', 'qty']));
    expect(rows.map((r) => [r.merchant_last_1d, r.count_1d, r.qty])).toEqual([
      [null, 5, 4], [null, 5, 4], ['c', 4, null], [null, 0, 9], [null, null, null], [null, 0, null], ['x', 4, 1], ['y', 2, 1],
    ]);
  });

  it('filters spine rows by [from, to) and still counts events from before from', async () => {
    const rows = await run({ ...join2, spine: { ...spine, from: '2024-01-10T11:59:59.999999Z', to: '2024-01-10T12:00:00.000001Z' } });
    expect(rows).toEqual([expected[0], expected[1], expected[2], expected[4], expected[5]]);
  });

  it('agrees with the aggregates as of the same instants (the online path)', async () => {
    const training = await run(join2);
    const instants = [...new Set(expected.map((r) => r.ts))].map((ts) => ({ ts }));
    expect(instants).toHaveLength(5);
    for (const [events, keys] of [[perUser, ['user_id']], [perPair, ['user_id', 'merchant']]] as const) {
      for (const { ts } of instants) {
        const online = await engine.all(compileAggregatesAsOf(events, ts, duckdbDialect));
        const atInstant = training.filter((r) => r.ts === ts && keys.every((k) => r[k] !== null));
        for (const trainingRow of atInstant) {
          const entity = online.find((o) => keys.every((k) => o[k] === trainingRow[k]));
          for (const a of events.aggregations) {
            // An entity without events in its largest window has no row: counts read 0, the rest null.
            const value = entity ? entity[a.feature] : a.function === 'count' || a.function === 'distinct_count' ? 0 : null;
            expect(value, `${a.feature} of ${keys.map((k) => trainingRow[k]).join('/')} at ${ts}`).toEqual(trainingRow[a.feature]);
          }
        }
      }
    }
  });

  it('lists one row per entity with events in the largest window, ordered by key', async () => {
    const online = await engine.all(compileAggregatesAsOf(perUser, '2024-01-10T12:00:00Z', duckdbDialect));
    expect(online).toEqual([{ user_id: 1, ...Object.fromEntries(perUser.aggregations.map((a) => [a.feature, r1[a.feature]])) }]);
    expect(await engine.all(compileAggregatesAsOf(perPair, '2024-01-05T00:00:00Z', duckdbDialect))).toEqual([
      { user_id: 2, merchant: 'x', pair_count_1d: 2, pair_amount_sum_1d: 10 },
      { user_id: 2, merchant: 'y', pair_count_1d: 1, pair_amount_sum_1d: null },
    ]);
  });

  it('returns the declared types: counts and integer sums as BIGINT, averages as DOUBLE', async () => {
    const compiled = compilePointInTimeJoin(join2, duckdbDialect);
    const types = await engine.all<{ column_name: string; column_type: string }>({ sql: `DESCRIBE ${compiled.sql}`, parameters: [] });
    expect(Object.fromEntries(types.filter((t) => features.includes(t.column_name)).map((t) => [t.column_name, t.column_type]))).toEqual({
      count_1h: 'BIGINT', count_1d: 'BIGINT', amount_sum_1h: 'DOUBLE', amount_sum_1d: 'DOUBLE', amount_avg_1d: 'DOUBLE', amount_min_1d: 'DOUBLE',
      amount_max_1d: 'DOUBLE', qty_sum_1d: 'BIGINT', merchant_distinct_count_1h: 'BIGINT', merchant_distinct_count_1d: 'BIGINT', merchant_max_1d: 'VARCHAR',
      amount_last_1h: 'DOUBLE', merchant_last_1d: 'VARCHAR', pair_count_1d: 'BIGINT', pair_amount_sum_1d: 'DOUBLE',
    });
  });
});

describe('windowed aggregations on generated data', () => {
  beforeAll(async () => {
    // 40 users, 20k events over 10 days with second-precision times (ties happen), 2k spine rows.
    await engine.run({
      sql: `
      CREATE TABLE flywheel.events AS SELECT (hash(i) % 40)::BIGINT AS user_id, (hash(i + 5) % 7)::VARCHAR AS merchant,
        TIMESTAMPTZ '2024-02-01 00:00:00+00' + to_seconds((hash(i * 3) % 864000)::BIGINT) AS ts,
        CASE WHEN i % 3 = 0 THEN TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_seconds(i) END AS created,
        CASE WHEN i % 11 = 0 THEN NULL ELSE (hash(i + 1) % 1000) / 4.0 END AS amount, (hash(i + 2) % 50)::INTEGER AS qty
        FROM range(20000) t(i);
      CREATE TABLE flywheel.gen_spine AS SELECT CASE WHEN i % 97 = 0 THEN NULL ELSE (hash(i * 11) % 45)::BIGINT END AS user_id,
        TIMESTAMPTZ '2024-02-01 00:00:00+00' + to_seconds((hash(i * 7) % 950000)::BIGINT) AS ts, i AS label
        FROM range(2000) t(i);`,
      parameters: [],
    });
  });

  const events: AggregationEvents = { ...perUser, relation: 'flywheel.events', aggregations: perUser.aggregations.map((a) => ({ ...a, windowSeconds: a.windowSeconds * 2 })) };
  const generated: PointInTimeJoin = {
    spine: { relation: 'flywheel.gen_spine', timestampField: 'ts', columns: ['user_id', 'ts', 'label'] },
    views: [{ kind: 'aggregation', ...events }],
  };

  it('the running-sum distinct count agrees with COUNT(DISTINCT) over a frame', async () => {
    expect(await run(generated, intervalsDialect)).toEqual(await run(generated));
  });

  it('range pushdown changes nothing but the work', async () => {
    for (const [from, to] of [['2024-02-03T00:00:00Z', '2024-02-05T12:00:00Z'], ['2024-02-01T00:00:00Z', '2024-02-12T00:00:00Z'], ['2024-02-07T13:00:00Z', '2024-02-07T14:00:00Z']] as const) {
      const ranged = { ...generated, spine: { ...generated.spine, from, to } };
      const pushed = await run(ranged);
      expect(pushed.length).toBeGreaterThan(0);
      expect(pushed).toEqual(await run(ranged, duckdbDialect, { rangePushdown: false }));
    }
  });

  it('agrees with the as-of aggregates at a hundred spine instants (sums to 1e-9)', async () => {
    const training = await run(generated);
    for (const trainingRow of training.filter((r) => r.user_id !== null).slice(0, 100)) {
      const online = await engine.all(compileAggregatesAsOf(events, String(trainingRow.ts), duckdbDialect));
      const entity = online.find((o) => o.user_id === trainingRow.user_id);
      for (const a of events.aggregations) {
        const value = entity ? entity[a.feature] : a.function === 'count' || a.function === 'distinct_count' ? 0 : null;
        if (typeof value === 'number' && typeof trainingRow[a.feature] === 'number' && !Number.isInteger(value)) {
          expect(value, a.feature).toBeCloseTo(trainingRow[a.feature] as number, 9);
        } else {
          expect(value, `${a.feature} of user ${String(trainingRow.user_id)} at ${String(trainingRow.ts)}`).toEqual(trainingRow[a.feature]);
        }
      }
    }
  });
});

describe('integer sums at the edges of int64 (docs/definitions.md, "Integer sums")', () => {
  // user 1: 2^63 - 2 + 1 = 2^63 - 1 (fits exactly); user 2: -2^63 + 1 - 1 = -2^63 (fits exactly);
  // user 3: -2^63 - 1 (one past the bottom); user 4: 2^63 - 1 and 1 an hour apart, never in one 1h window.
  const bounds: AggregationEvents = {
    featureView: 'user_points', relation: 'flywheel.points', joinKeys: ['user_id'], timestampField: 'ts',
    aggregations: [agg('points_sum_1h', 'sum', 'points', HOUR, 'int64')],
  };
  const at = (user: number, ts: string) => `(${user}, TIMESTAMPTZ '${ts}')`;

  beforeAll(async () => {
    await engine.run({
      sql: `
      CREATE TABLE flywheel.points (user_id BIGINT, ts TIMESTAMPTZ, points BIGINT);
      INSERT INTO flywheel.points VALUES
        (1, '2024-02-01 11:30:00+00', 9223372036854775806), (1, '2024-02-01 12:00:00+00', 1),
        (2, '2024-02-01 11:30:00+00', -9223372036854775808), (2, '2024-02-01 11:40:00+00', 1), (2, '2024-02-01 12:00:00+00', -1),
        (3, '2024-02-01 11:30:00+00', -9223372036854775808), (3, '2024-02-01 12:00:00+00', -1),
        (4, '2024-02-01 11:00:00+00', 9223372036854775807), (4, '2024-02-01 12:00:00+00', 1);
      CREATE TABLE flywheel.points_spine (user_id BIGINT, ts TIMESTAMPTZ);
      INSERT INTO flywheel.points_spine VALUES ${[at(1, '2024-02-01 12:00:00+00'), at(2, '2024-02-01 12:00:00+00'), at(4, '2024-02-01 12:00:00+00')].join(', ')};
      CREATE TABLE flywheel.points_spine_over (user_id BIGINT, ts TIMESTAMPTZ);
      INSERT INTO flywheel.points_spine_over VALUES ${[at(1, '2024-02-01 12:00:00+00'), at(3, '2024-02-01 12:00:00.000001+00')].join(', ')};
      CREATE VIEW flywheel.points_without_3 AS SELECT * FROM flywheel.points WHERE user_id <> 3;
      `,
      parameters: [],
    });
  });

  const training = (relation: string) => run({ spine: { relation, timestampField: 'ts', columns: ['user_id', 'ts'] }, views: [{ kind: 'aggregation', ...bounds, relation: 'flywheel.points' }] });
  const overflow = (ts: string) =>
    `feature view "user_points", feature "points_sum_1h" (sum of "points" over 1h): the sum -9223372036854775809 is outside int64, for user_id=3 as of ${ts}. ` +
    'Integer sums are exact and must fit int64; sum a float64 column for larger totals.';

  it('keeps sums that land exactly on the bounds, offline and as of an instant alike', async () => {
    const expectedRows = [
      { user_id: 1, ts: '2024-02-01T12:00:00.000Z', points_sum_1h: '9223372036854775807' },
      { user_id: 2, ts: '2024-02-01T12:00:00.000Z', points_sum_1h: '-9223372036854775808' },
      { user_id: 4, ts: '2024-02-01T12:00:00.000Z', points_sum_1h: 1 },
    ];
    expect(await training('flywheel.points_spine')).toEqual(expectedRows);
    // As of 12:00 user 3 would overflow too, so this reads a view without it.
    const onlineRows = await engine.all(compileAggregatesAsOf({ ...bounds, relation: 'flywheel.points_without_3' }, '2024-02-01T12:00:00Z', duckdbDialect));
    expect(onlineRows).toEqual(expectedRows.map(({ user_id, points_sum_1h }) => ({ user_id, points_sum_1h })));
  });

  it('fails one past a bound, naming the feature view, feature, window, entity and instant, offline and as of an instant', async () => {
    await expect(training('flywheel.points_spine_over')).rejects.toThrow(overflow('2024-02-01T12:00:00.000001Z'));
    await expect(engine.all(compileAggregatesAsOf(bounds, '2024-02-01T12:00:00.000001Z', duckdbDialect))).rejects.toThrow(overflow('2024-02-01T12:00:00.000001Z'));
  });
});
