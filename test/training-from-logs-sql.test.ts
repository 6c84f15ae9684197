import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDBEngine, type DuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { compileConsistency, readConsistency, type ComparedFeature } from '../core/sql/consistency.ts';
import { duckdbDialect, type Dialect } from '../core/sql/dialect.ts';
import { PARTITION_COLUMN } from '../core/sql/partition-sql.ts';
import { compilePointInTimeJoin, type PointInTimeJoin } from '../core/sql/point-in-time.ts';
import { snowflakeDialect } from '../core/sql/snowflake-dialect.ts';

/**
 * A point-in-time join that takes features from a decision log (docs/training-from-logs.md): the SQL
 * per dialect, then its rows and the consistency numbers on a real DuckDB file, worked out by hand.
 */

// Expected SQL is keyed by dialect: a new dialect does not pass until every case covers it.
const dialects: Record<Dialect['name'], Dialect> = { duckdb: duckdbDialect, snowflake: snowflakeDialect };

const logJoin: PointInTimeJoin = {
  spine: { relation: 'spine_clicks', timestampField: 'served_at', columns: ['decision_id', 'row_index', 'user_id', 'served_at', 'label'], from: '2024-03-01T00:00:00.000Z', to: '2024-03-02T00:00:00.000Z' },
  views: [{ relation: 'flywheel.fv_user_stats', joinKeys: ['user_id'], timestampField: 'ts', features: ['ctr', 'segment'], ttlSeconds: 3600 }],
  log: { relation: 'flywheel.stream_ranker_decisions', keys: ['decision_id', 'row_index'], timestampField: 'served_at', features: [{ name: 'ctr', type: 'float64', statusColumn: 'ctr__status' }], compare: true },
};

const expected: Record<Dialect['name'], string> = {
  duckdb: `WITH "__fw_spine" AS (
  SELECT "decision_id", "row_index", "user_id", "served_at", "label", CAST("served_at" AS TIMESTAMPTZ) AS "__fw_spine_ts", row_number() OVER () AS "__fw_row"
  FROM "spine_clicks"
  WHERE CAST("served_at" AS TIMESTAMPTZ) >= CAST(? AS TIMESTAMPTZ) AND CAST("served_at" AS TIMESTAMPTZ) < CAST(? AS TIMESTAMPTZ)
),
"__fw_v0" AS (
  SELECT "user_id", CAST("ts" AS TIMESTAMPTZ) AS "__fw_ts", "ctr", "segment"
  FROM "flywheel"."fv_user_stats"
  WHERE CAST("ts" AS TIMESTAMPTZ) < CAST(? AS TIMESTAMPTZ) AND CAST("ts" AS TIMESTAMPTZ) >= (CAST(? AS TIMESTAMPTZ) - INTERVAL 3600 SECOND)
  QUALIFY row_number() OVER (PARTITION BY "user_id", "ts" ORDER BY "ctr" ASC NULLS LAST, "segment" ASC NULLS LAST) = 1
),
"__fw_log" AS (
  SELECT "decision_id", "row_index", "ctr", "ctr__status"
  FROM "flywheel"."stream_ranker_decisions"
  WHERE CAST("served_at" AS TIMESTAMPTZ) >= CAST(? AS TIMESTAMPTZ) AND CAST("served_at" AS TIMESTAMPTZ) < CAST(? AS TIMESTAMPTZ)
  QUALIFY row_number() OVER (PARTITION BY "decision_id", "row_index" ORDER BY "_event_id") = 1
)
SELECT s."decision_id",
  s."row_index",
  s."user_id",
  s."served_at",
  s."label",
  CASE WHEN dl."ctr__status" IS NOT NULL THEN dl."ctr" ELSE CASE WHEN v0."__fw_ts" >= (s."__fw_spine_ts" - INTERVAL 3600 SECOND) THEN v0."ctr" END END AS "ctr",
  CASE WHEN v0."__fw_ts" >= (s."__fw_spine_ts" - INTERVAL 3600 SECOND) THEN v0."segment" END AS "segment",
  CASE WHEN dl."decision_id" IS NOT NULL THEN 1 ELSE 0 END AS "__fw_log_row",
  CASE WHEN dl."ctr__status" IS NOT NULL THEN 1 ELSE 0 END AS "__fw_log_src0",
  CASE WHEN dl."ctr__status" IS NOT NULL THEN CASE WHEN v0."__fw_ts" >= (s."__fw_spine_ts" - INTERVAL 3600 SECOND) THEN v0."ctr" END END AS "__fw_log_pit0"
FROM "__fw_spine" AS s
ASOF LEFT JOIN "__fw_v0" AS v0 ON s."user_id" = v0."user_id" AND s."__fw_spine_ts" >= v0."__fw_ts"
LEFT JOIN "__fw_log" AS dl ON dl."decision_id" = s."decision_id" AND dl."row_index" = s."row_index"
ORDER BY s."__fw_row"`,
  snowflake: `WITH "__fw_spine" AS (
  SELECT "decision_id", "row_index", "user_id", "served_at", "label", CAST("served_at" AS TIMESTAMP_TZ) AS "__fw_spine_ts", SEQ8() AS "__fw_row"
  FROM "spine_clicks"
  WHERE CAST("served_at" AS TIMESTAMP_TZ) >= CAST(? AS TIMESTAMP_TZ) AND CAST("served_at" AS TIMESTAMP_TZ) < CAST(? AS TIMESTAMP_TZ)
),
"__fw_v0" AS (
  SELECT "user_id", CAST("ts" AS TIMESTAMP_TZ) AS "__fw_ts", "ctr", "segment"
  FROM "flywheel"."fv_user_stats"
  WHERE CAST("ts" AS TIMESTAMP_TZ) < CAST(? AS TIMESTAMP_TZ) AND CAST("ts" AS TIMESTAMP_TZ) >= DATEADD(second, -3600, CAST(? AS TIMESTAMP_TZ))
  QUALIFY row_number() OVER (PARTITION BY "user_id", "ts" ORDER BY "ctr" ASC NULLS LAST, "segment" ASC NULLS LAST) = 1
),
"__fw_log" AS (
  SELECT "decision_id", "row_index", "ctr", "ctr__status"
  FROM "flywheel"."stream_ranker_decisions"
  WHERE CAST("served_at" AS TIMESTAMP_TZ) >= CAST(? AS TIMESTAMP_TZ) AND CAST("served_at" AS TIMESTAMP_TZ) < CAST(? AS TIMESTAMP_TZ)
  QUALIFY row_number() OVER (PARTITION BY "decision_id", "row_index" ORDER BY "_event_id") = 1
)
SELECT s."decision_id",
  s."row_index",
  s."user_id",
  s."served_at",
  s."label",
  CASE WHEN dl."ctr__status" IS NOT NULL THEN dl."ctr" ELSE CASE WHEN v0."__fw_ts" >= DATEADD(second, -3600, s."__fw_spine_ts") THEN v0."ctr" END END AS "ctr",
  CASE WHEN v0."__fw_ts" >= DATEADD(second, -3600, s."__fw_spine_ts") THEN v0."segment" END AS "segment",
  CASE WHEN dl."decision_id" IS NOT NULL THEN 1 ELSE 0 END AS "__fw_log_row",
  CASE WHEN dl."ctr__status" IS NOT NULL THEN 1 ELSE 0 END AS "__fw_log_src0",
  CASE WHEN dl."ctr__status" IS NOT NULL THEN CASE WHEN v0."__fw_ts" >= DATEADD(second, -3600, s."__fw_spine_ts") THEN v0."ctr" END END AS "__fw_log_pit0"
FROM "__fw_spine" AS s
ASOF JOIN "__fw_v0" AS v0 MATCH_CONDITION(s."__fw_spine_ts" >= v0."__fw_ts") ON s."user_id" = v0."user_id"
LEFT JOIN "__fw_log" AS dl ON dl."decision_id" = s."decision_id" AND dl."row_index" = s."row_index"
ORDER BY s."__fw_row"`,
};

const compared: ComparedFeature[] = [{ name: 'ctr', type: 'float64' }, { name: 'segment', type: 'string' }];

const expectedConsistency: Record<Dialect['name'], string> = {
  duckdb: `SELECT "__fw_partition" AS "g",
  count(*) AS "n",
  sum(CASE WHEN "__fw_log_row" = 1 THEN 1 ELSE 0 END) AS "logged",
  sum(CASE WHEN "__fw_log_src0" = 1 THEN 1 ELSE 0 END) AS "f0_log",
  sum(CASE WHEN ("__fw_log_src0" = 1 AND ("ctr" IS NULL) <> ("__fw_log_pit0" IS NULL)) OR ("__fw_log_src0" = 1 AND "ctr" IS NOT NULL AND "__fw_log_pit0" IS NOT NULL AND abs(CAST("ctr" AS DOUBLE) - CAST("__fw_log_pit0" AS DOUBLE)) > 1e-9 * greatest(abs(CAST("ctr" AS DOUBLE)), abs(CAST("__fw_log_pit0" AS DOUBLE)))) THEN 1 ELSE 0 END) AS "f0_diff",
  sum(CASE WHEN "__fw_log_src0" = 1 AND ("ctr" IS NULL) <> ("__fw_log_pit0" IS NULL) THEN 1 ELSE 0 END) AS "f0_nulls",
  avg(CASE WHEN "__fw_log_src0" = 1 AND "ctr" IS NOT NULL AND "__fw_log_pit0" IS NOT NULL AND abs(CAST("ctr" AS DOUBLE) - CAST("__fw_log_pit0" AS DOUBLE)) > 1e-9 * greatest(abs(CAST("ctr" AS DOUBLE)), abs(CAST("__fw_log_pit0" AS DOUBLE))) THEN abs(CAST("ctr" AS DOUBLE) - CAST("__fw_log_pit0" AS DOUBLE)) END) AS "f0_abs_mean",
  max(CASE WHEN "__fw_log_src0" = 1 AND "ctr" IS NOT NULL AND "__fw_log_pit0" IS NOT NULL AND abs(CAST("ctr" AS DOUBLE) - CAST("__fw_log_pit0" AS DOUBLE)) > 1e-9 * greatest(abs(CAST("ctr" AS DOUBLE)), abs(CAST("__fw_log_pit0" AS DOUBLE))) THEN abs(CAST("ctr" AS DOUBLE) - CAST("__fw_log_pit0" AS DOUBLE)) END) AS "f0_abs_max",
  avg(CASE WHEN "__fw_log_src0" = 1 AND "ctr" IS NOT NULL AND "__fw_log_pit0" IS NOT NULL AND abs(CAST("ctr" AS DOUBLE) - CAST("__fw_log_pit0" AS DOUBLE)) > 1e-9 * greatest(abs(CAST("ctr" AS DOUBLE)), abs(CAST("__fw_log_pit0" AS DOUBLE))) THEN abs(CAST("ctr" AS DOUBLE) - CAST("__fw_log_pit0" AS DOUBLE)) / greatest(abs(CAST("ctr" AS DOUBLE)), abs(CAST("__fw_log_pit0" AS DOUBLE))) END) AS "f0_rel_mean",
  max(CASE WHEN "__fw_log_src0" = 1 AND "ctr" IS NOT NULL AND "__fw_log_pit0" IS NOT NULL AND abs(CAST("ctr" AS DOUBLE) - CAST("__fw_log_pit0" AS DOUBLE)) > 1e-9 * greatest(abs(CAST("ctr" AS DOUBLE)), abs(CAST("__fw_log_pit0" AS DOUBLE))) THEN abs(CAST("ctr" AS DOUBLE) - CAST("__fw_log_pit0" AS DOUBLE)) / greatest(abs(CAST("ctr" AS DOUBLE)), abs(CAST("__fw_log_pit0" AS DOUBLE))) END) AS "f0_rel_max",
  sum(CASE WHEN "__fw_log_src1" = 1 THEN 1 ELSE 0 END) AS "f1_log",
  sum(CASE WHEN ("__fw_log_src1" = 1 AND ("segment" IS NULL) <> ("__fw_log_pit1" IS NULL)) OR ("__fw_log_src1" = 1 AND "segment" IS NOT NULL AND "__fw_log_pit1" IS NOT NULL AND "segment" <> "__fw_log_pit1") THEN 1 ELSE 0 END) AS "f1_diff",
  sum(CASE WHEN "__fw_log_src1" = 1 AND ("segment" IS NULL) <> ("__fw_log_pit1" IS NULL) THEN 1 ELSE 0 END) AS "f1_nulls"
FROM "t"
GROUP BY "__fw_partition"`,
  snowflake: '',
};
// Snowflake differs only in the type a number is compared as.
expectedConsistency.snowflake = expectedConsistency.duckdb.replaceAll('AS DOUBLE)', 'AS FLOAT)');

describe('the decision log in the point-in-time join, per dialect', () => {
  for (const [name, dialect] of Object.entries(dialects) as [Dialect['name'], Dialect][]) {
    it(`${name}: one LEFT JOIN to the log (its range bounded like the spine's), a CASE per logged feature, the comparison columns`, () => {
      const compiled = compilePointInTimeJoin(logJoin, dialect);
      expect(compiled.sql).toBe(expected[name]);
      expect(compiled.parameters).toEqual([
        '2024-03-01T00:00:00.000Z', '2024-03-02T00:00:00.000Z', // spine
        '2024-03-02T00:00:00.000Z', '2024-03-01T00:00:00.000Z', // view pushdown
        '2024-03-01T00:00:00.000Z', '2024-03-02T00:00:00.000Z', // log
      ]);
    });

    it(`${name}: the consistency pass`, () => {
      expect(compileConsistency('"t"', compared, dialect, { groupBy: PARTITION_COLUMN }).sql).toBe(expectedConsistency[name]);
    });
  }

  it('without compare, only the CASE; without a range or pushdown, the whole log', () => {
    const plain = compilePointInTimeJoin({ ...logJoin, log: { ...logJoin.log!, compare: false } }, duckdbDialect).sql;
    expect(plain).not.toContain('__fw_log_src0');
    expect(plain).toContain('CASE WHEN dl."ctr__status" IS NOT NULL THEN dl."ctr" ELSE');
    const unranged = compilePointInTimeJoin({ ...logJoin, spine: { ...logJoin.spine, from: undefined, to: undefined } as PointInTimeJoin['spine'] }, duckdbDialect).sql;
    expect(unranged).toContain(`FROM "flywheel"."stream_ranker_decisions"\n  QUALIFY`);
    expect(compilePointInTimeJoin(logJoin, duckdbDialect, { rangePushdown: false }).sql).toContain(`FROM "flywheel"."stream_ranker_decisions"\n  QUALIFY`);
  });
});

// Every expected value below is worked out by hand.
describe('the decision log in the point-in-time join, on DuckDB', () => {
  let dir: string;
  let engine: DuckDBEngine;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flywheel-from-log-'));
    engine = await openDuckDBEngine({ path: join(dir, 'warehouse.duckdb') });
    await engine.run({
      sql: `
      CREATE SCHEMA flywheel;
      CREATE TABLE flywheel.fv_user_stats (user_id BIGINT, ts TIMESTAMPTZ, ctr DOUBLE, segment VARCHAR);
      INSERT INTO flywheel.fv_user_stats VALUES
        (1, '2024-03-01 08:00:00+00', 0.5, 'a'),
        (1, '2024-03-01 10:00:00+00', 0.6, 'b'),
        (2, '2024-03-01 08:45:00+00', 0.2, 'c');
      CREATE TABLE spine_clicks (decision_id VARCHAR, row_index INTEGER, user_id BIGINT, served_at TIMESTAMPTZ, label INTEGER);
      INSERT INTO spine_clicks VALUES
        ('d0', 0, 1, '2024-03-01 08:30:00+00', 0),  -- no log row: both from the join (0.5, a)
        ('d1', 0, 1, '2024-03-01 09:00:00+00', 1),  -- ctr logged as computed; segment's status null (added later): join
        ('d1', 1, 2, '2024-03-01 09:00:00+00', 0),  -- ctr 0.25 logged, 0.2 recomputed: the log wins; segment z logged, c recomputed
        ('d3', 0, 1, '2024-03-01 11:00:00+00', 0),  -- both missing when served: null from the log (0.6, b recomputed)
        ('d9', 0, 2, '2024-03-01 09:30:00+00', 0),  -- logged twice: the row with the smaller event id
        ('d8', 0, 2, '2024-03-02 09:30:00+00', 0);  -- outside the range
      CREATE TABLE flywheel.stream_ranker_decisions (_event_id VARCHAR, decision_id VARCHAR, row_index INTEGER, user_id BIGINT, served_at TIMESTAMPTZ,
        ctr DOUBLE, ctr__status VARCHAR, segment VARCHAR, segment__status VARCHAR);
      INSERT INTO flywheel.stream_ranker_decisions VALUES
        ('d1:0', 'd1', 0, 1, '2024-03-01 09:00:00+00', 0.5, 'present', NULL, NULL),
        ('d1:1', 'd1', 1, 2, '2024-03-01 09:00:00+00', 0.25, 'present', 'z', 'present'),
        ('d3:0', 'd3', 0, 1, '2024-03-01 11:00:00+00', NULL, 'missing', NULL, 'missing'),
        ('d9:0', 'd9', 0, 2, '2024-03-01 09:30:00+00', 0.7, 'present', 'c', 'present'),
        ('x9:0', 'd9', 0, 2, '2024-03-01 09:30:00+00', 0.8, 'present', 'q', 'present'),
        ('d8:0', 'd8', 0, 2, '2024-03-02 09:30:00+00', 0.9, 'present', 'c', 'present');
      `,
      parameters: [],
    });
  });

  afterAll(async () => {
    await engine?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const fromLog: PointInTimeJoin = {
    ...logJoin,
    views: [{ relation: 'flywheel.fv_user_stats', joinKeys: ['user_id'], timestampField: 'ts', features: ['ctr', 'segment'], ttlSeconds: 86_400 }],
    log: { ...logJoin.log!, features: [{ name: 'ctr', type: 'float64', statusColumn: 'ctr__status' }, { name: 'segment', type: 'string', statusColumn: 'segment__status' }] },
  };

  it('takes a served value from the log, even a null one, and the join\'s value where the log has no row or no status', async () => {
    const rows = await engine.all(compilePointInTimeJoin(fromLog, engine.dialect));
    expect(rows.map((r) => [r.decision_id, r.row_index, r.ctr, r.segment, r.__fw_log_row, r.__fw_log_src0, r.__fw_log_pit0, r.__fw_log_src1, r.__fw_log_pit1])).toEqual([
      ['d0', 0, 0.5, 'a', 0, 0, null, 0, null],
      ['d1', 0, 0.5, 'a', 1, 1, 0.5, 0, null],
      ['d1', 1, 0.25, 'z', 1, 1, 0.2, 1, 'c'],
      ['d3', 0, null, null, 1, 1, 0.6, 1, 'b'],
      ['d9', 0, 0.7, 'c', 1, 1, 0.2, 1, 'c'],
    ]);
    // Range pushdown on the log changes nothing.
    expect(await engine.all(compilePointInTimeJoin(fromLog, engine.dialect, { rangePushdown: false }))).toEqual(rows);
  });

  it('counts the comparison per partition: sources, differing rows, null against value, differences', async () => {
    const joined = await engine.createWorkingTable('joined', compilePointInTimeJoin({ ...fromLog, spine: { ...fromLog.spine, partitionBy: 'day' } }, engine.dialect));
    const [row] = await engine.all(compileConsistency(engine.dialect.qualified(joined), compared, engine.dialect, { groupBy: PARTITION_COLUMN }));
    const consistency = readConsistency(row!, compared);
    expect(row!.g).toBe('2024-03-01T00:00:00.000Z');
    expect(consistency).toEqual({
      rows: 5,
      rowsWithLog: 4,
      features: {
        // Compared: d1/0 (equal), d1/1 (0.25 vs 0.2), d3 (null vs 0.6), d9 (0.7 vs 0.2).
        ctr: {
          type: 'float64', source: { log: 4, join: 1 }, compared: 4, differing: 3, differingShare: 0.75, nullMismatches: 1,
          absoluteDifference: { mean: expect.closeTo((0.05 + 0.5) / 2, 12), max: expect.closeTo(0.5, 12) },
          relativeDifference: { mean: expect.closeTo((0.2 + 0.5 / 0.7) / 2, 12), max: expect.closeTo(0.5 / 0.7, 12) },
        },
        // Compared: d1/1 (z vs c), d3 (null vs b), d9 (c vs c).
        segment: { type: 'string', source: { log: 3, join: 2 }, compared: 3, differing: 2, differingShare: 2 / 3, nullMismatches: 1 },
      },
    });
  });

  it('holds floats equal within the relative tolerance (1e-9 for float64, 1e-6 for float32) and integers exactly', async () => {
    await engine.run({
      sql: `CREATE TEMP TABLE tolerance AS SELECT * FROM (VALUES
        (1.0::DOUBLE, 1.0000000000001::DOUBLE, 0.1::FLOAT, 0.1000000001::FLOAT, 1000000000000::BIGINT, 1000000000001::BIGINT),
        (1.0::DOUBLE, 1.00000001::DOUBLE,      1.0::FLOAT, 1.00001::FLOAT,      5::BIGINT,             5::BIGINT),
        (0.0::DOUBLE, 0.0::DOUBLE,             0.0::FLOAT, -0.0::FLOAT,         NULL::BIGINT,          NULL::BIGINT)
      ) AS t(d, "__fw_log_pit0", f, "__fw_log_pit1", i, "__fw_log_pit2"), (SELECT 1 AS "__fw_log_row", 1 AS "__fw_log_src0", 1 AS "__fw_log_src1", 1 AS "__fw_log_src2") AS s`,
      parameters: [],
    });
    const features: ComparedFeature[] = [{ name: 'd', type: 'float64' }, { name: 'f', type: 'float32' }, { name: 'i', type: 'int64' }];
    const [row] = await engine.all(compileConsistency('"tolerance"', features, engine.dialect));
    const { features: result } = readConsistency(row!, features);
    expect([result.d!.differing, result.f!.differing, result.i!.differing]).toEqual([1, 1, 1]);
    expect(result.i!.absoluteDifference).toEqual({ mean: 1, max: 1 });
    expect(result.d!.relativeDifference!.max).toBeCloseTo(1e-8, 12);
  });
});
