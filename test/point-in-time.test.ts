import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDBEngine, type DuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { compilePointInTimeJoin, type LatestValueView, type PointInTimeJoin } from '../core/sql/point-in-time.ts';

// Every expected row below is worked out by hand from the rules in docs/point-in-time.md.
let dir: string;
let engine: DuckDBEngine;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flywheel-pit-'));
  engine = await openDuckDBEngine({ path: join(dir, 'warehouse.duckdb') });
  await engine.run({
    sql: `
    CREATE SCHEMA flywheel;
    CREATE TABLE flywheel.spine (user_id BIGINT, merchant_id BIGINT, ts TIMESTAMPTZ, label INTEGER);
    INSERT INTO flywheel.spine VALUES
      (1,    10,   '2024-01-02 00:00:00+00', 1),  -- r1: equal event time counts, 1s later does not
      (1,    11,   '2024-01-02 00:00:00+00', 0),  -- r2: a duplicate time of r1 with another merchant
      (1,    10,   '2024-01-01 12:00:00+00', 1),  -- r3: tie at 01-01 00:00 broken by created time
      (NULL, 10,   '2024-01-03 00:00:00+00', 0),  -- r4: null key
      (1,    NULL, '2024-01-05 00:00:01+00', 1),  -- r5: exactly ttl old: still valid
      (1,    10,   '2024-01-05 00:00:02+00', 0),  -- r6: ttl + 1s old: null; no-ttl view still answers
      (3,    10,   '2024-01-01 00:00:00+00', 1),  -- r7: only a future row: null
      (4,    10,   '2024-01-03 00:00:00+00', 0),  -- r8: tie with null created times: smallest value
      (1,    10,   '2024-01-02 00:00:00+00', 1);  -- r9: exact duplicate of r1, kept
    CREATE TABLE flywheel.user_spend (user_id BIGINT, ts TIMESTAMPTZ, created TIMESTAMPTZ, amount DOUBLE);
    INSERT INTO flywheel.user_spend VALUES
      (1, '2024-01-01 00:00:00+00', '2024-01-01 01:00:00+00', 10),
      (1, '2024-01-01 00:00:00+00', '2024-01-01 02:00:00+00', 11),
      (1, '2024-01-02 00:00:00+00', NULL, 12),
      (1, '2024-01-02 00:00:01+00', NULL, 99),
      (3, '2024-01-01 00:00:01+00', NULL, 7),
      (4, '2024-01-02 00:00:00+00', NULL, 8),
      (4, '2024-01-02 00:00:00+00', NULL, 3);
    CREATE TABLE flywheel.pair (user_id BIGINT, merchant_id BIGINT, ts TIMESTAMP, txn_count BIGINT);
    INSERT INTO flywheel.pair VALUES
      (1, 10, '2023-12-01 00:00:00', 5),
      (1, 11, '2023-12-01 00:00:00', 6),
      (1, 10, '2024-01-01 12:00:00', 7),
      (3, 11, '2023-12-01 00:00:00', 9);
    `,
    parameters: [],
  });
});

afterAll(async () => {
  await engine?.close();
  await rm(dir, { recursive: true, force: true });
});

const join3d: PointInTimeJoin = {
  spine: { relation: 'flywheel.spine', timestampField: 'ts', columns: ['user_id', 'merchant_id', 'ts', 'label'] },
  views: [
    { relation: 'flywheel.user_spend', joinKeys: ['user_id'], timestampField: 'ts', createdTimestampField: 'created', features: ['amount'], ttlSeconds: 3 * 86_400 },
    // A naive TIMESTAMP column is read as UTC; composite key (user_id, merchant_id); no ttl.
    { relation: 'flywheel.pair', joinKeys: ['user_id', 'merchant_id'], timestampField: 'ts', features: ['txn_count'], ttlSeconds: null },
  ],
};

const run = (join: PointInTimeJoin) => engine.all(compilePointInTimeJoin(join, engine.dialect));

describe('point-in-time join on DuckDB', () => {
  it('applies every rule, one row per spine row in spine order', async () => {
    expect(await run(join3d)).toEqual([
      { user_id: 1, merchant_id: 10, ts: '2024-01-02T00:00:00.000Z', label: 1, amount: 12, txn_count: 7 },
      { user_id: 1, merchant_id: 11, ts: '2024-01-02T00:00:00.000Z', label: 0, amount: 12, txn_count: 6 },
      { user_id: 1, merchant_id: 10, ts: '2024-01-01T12:00:00.000Z', label: 1, amount: 11, txn_count: 7 },
      { user_id: null, merchant_id: 10, ts: '2024-01-03T00:00:00.000Z', label: 0, amount: null, txn_count: null },
      { user_id: 1, merchant_id: null, ts: '2024-01-05T00:00:01.000Z', label: 1, amount: 99, txn_count: null },
      { user_id: 1, merchant_id: 10, ts: '2024-01-05T00:00:02.000Z', label: 0, amount: null, txn_count: 7 },
      { user_id: 3, merchant_id: 10, ts: '2024-01-01T00:00:00.000Z', label: 1, amount: null, txn_count: null },
      { user_id: 4, merchant_id: 10, ts: '2024-01-03T00:00:00.000Z', label: 0, amount: 3, txn_count: null },
      { user_id: 1, merchant_id: 10, ts: '2024-01-02T00:00:00.000Z', label: 1, amount: 12, txn_count: 7 },
    ]);
  });

  it('filters spine rows by [from, to) but still reads feature rows from before from', async () => {
    const rows = await run({ ...join3d, spine: { ...join3d.spine, from: '2024-01-02T00:00:00Z', to: '2024-01-05T00:00:01Z' } });
    expect(rows.map((r) => [r.user_id, r.ts, r.amount])).toEqual([
      [1, '2024-01-02T00:00:00.000Z', 12],
      [1, '2024-01-02T00:00:00.000Z', 12],
      [null, '2024-01-03T00:00:00.000Z', null],
      [4, '2024-01-03T00:00:00.000Z', 3],
      [1, '2024-01-02T00:00:00.000Z', 12],
    ]);
  });

  it('gives the same rows with and without range pushdown, on the edges of the ttl and of the range', async () => {
    const withWindows: PointInTimeJoin = {
      ...join3d,
      views: [
        ...join3d.views,
        {
          kind: 'aggregation', featureView: 'user_spend', relation: 'flywheel.user_spend', joinKeys: ['user_id'], timestampField: 'ts', createdTimestampField: 'created',
          aggregations: [
            { feature: 'n_2d', function: 'count', windowSeconds: 2 * 86_400, type: 'int64' },
            { feature: 'amount_last_1d', function: 'last', column: 'amount', windowSeconds: 86_400, type: 'float64' },
          ],
        },
      ],
    };
    const ranges: [string | undefined, string | undefined][] = [
      // r5 is exactly ttl (3d) after the row at 01-02 00:00:01: that row must survive the pushdown (e >= from - ttl).
      ['2024-01-05T00:00:01Z', '2024-01-06T00:00:00Z'],
      ['2024-01-02T00:00:00Z', '2024-01-05T00:00:01Z'],
      // to = 01-02 00:00:01: the row at exactly that time is never a candidate for spine rows before it.
      ['2024-01-01T00:00:00Z', '2024-01-02T00:00:01Z'],
      [undefined, '2024-01-03T00:00:00Z'],
      ['2024-01-03T00:00:00Z', undefined],
    ];
    for (const [from, to] of ranges) {
      const spine = { ...withWindows.spine, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
      const pushed = await engine.all(compilePointInTimeJoin({ ...withWindows, spine }, engine.dialect));
      const plain = await engine.all(compilePointInTimeJoin({ ...withWindows, spine }, engine.dialect, { rangePushdown: false }));
      expect(pushed.length, `[${from}, ${to})`).toBeGreaterThan(0);
      expect(pushed, `[${from}, ${to})`).toEqual(plain);
    }
    const [r5] = await engine.all(compilePointInTimeJoin({ ...withWindows, spine: { ...withWindows.spine, from: '2024-01-05T00:00:01Z', to: '2024-01-05T00:00:02Z' } }, engine.dialect));
    expect(r5).toMatchObject({ amount: 99, n_2d: 0, amount_last_1d: null });
  });

  it('gives the same rows without the tie-break over a table keyed on (keys, event time), and leaves it out', async () => {
    // The rows of user_spend with no tie on (user_id, ts): the rule-3 winners, in a keyed table.
    await engine.run({
      sql: `CREATE TABLE flywheel.keyed_spend (user_id BIGINT, ts TIMESTAMPTZ, created TIMESTAMPTZ, amount DOUBLE, PRIMARY KEY (user_id, ts));
        INSERT INTO flywheel.keyed_spend VALUES
          (1, '2024-01-01 00:00:00+00', '2024-01-01 02:00:00+00', 11),
          (1, '2024-01-02 00:00:00+00', NULL, 12),
          (1, '2024-01-02 00:00:01+00', NULL, 99),
          (3, '2024-01-01 00:00:01+00', NULL, 7),
          (4, '2024-01-02 00:00:00+00', NULL, 3);`,
      parameters: [],
    });
    const keyed: LatestValueView = { ...(join3d.views[0] as LatestValueView), relation: 'flywheel.keyed_spend' };
    const unique = compilePointInTimeJoin({ ...join3d, views: [{ ...keyed, uniqueEventTimes: true }, join3d.views[1]!] }, engine.dialect);
    // Only the pair view, which may tie, keeps its QUALIFY.
    expect(unique.sql.match(/QUALIFY/g)).toHaveLength(1);
    expect(unique.sql).toMatch(/FROM "flywheel"\."keyed_spend"\n\)/);
    // Hand-computed above (applies every rule): the same rows, in spine order.
    expect(await engine.all(unique)).toEqual(await run(join3d));
    expect(await engine.all(unique)).toEqual(await run({ ...join3d, views: [keyed, join3d.views[1]!] }));
  });

  it('numbers a stored spine by row id in the order a scan gives, duplicates and deleted rows included', async () => {
    await engine.run({
      sql: `CREATE TABLE flywheel.gappy_spine AS SELECT (i % 5)::BIGINT AS user_id, NULL::BIGINT AS merchant_id, TIMESTAMPTZ '2024-01-06 00:00:00+00' - to_seconds(i * 7 % 400000) AS ts, i::INTEGER AS label FROM range(300000) t(i);
        DELETE FROM flywheel.gappy_spine WHERE label % 3 = 0;
        INSERT INTO flywheel.gappy_spine SELECT * FROM flywheel.gappy_spine WHERE label < 1000;`,
      parameters: [],
    });
    const spine = { ...join3d.spine, relation: 'flywheel.gappy_spine' };
    const byRowId = compilePointInTimeJoin({ ...join3d, spine: { ...spine, rowIds: true } }, engine.dialect);
    expect(byRowId.sql).toContain('rowid AS "__fw_row"');
    const scanned = await engine.all({ sql: 'SELECT label FROM flywheel.gappy_spine', parameters: [] });
    const rows = await engine.all(byRowId);
    expect(rows.map((r) => r.label)).toEqual(scanned.map((r) => r.label));
    expect(rows).toEqual(await run({ ...join3d, spine }));
  });

  it('keeps spine order on a spine larger than one DuckDB row group', async () => {
    // 300k rows in descending time order span many row groups and threads.
    await engine.run({ sql: `CREATE TABLE flywheel.big_spine AS SELECT (i % 7)::BIGINT AS user_id, NULL::BIGINT AS merchant_id, TIMESTAMPTZ '2024-02-01 00:00:00+00' - to_seconds(i) AS ts, i::INTEGER AS label FROM range(300000) t(i)`, parameters: [] });
    const compiled = compilePointInTimeJoin({ ...join3d, spine: { ...join3d.spine, relation: 'flywheel.big_spine' } }, engine.dialect);
    const [check] = await engine.all({ sql: `SELECT count(*) AS n, bool_and(label = pos - 1) AS ordered FROM (SELECT label, row_number() OVER () AS pos FROM (${compiled.sql}))`, parameters: [] });
    expect(check).toEqual({ n: 300000, ordered: true });
  });
});
