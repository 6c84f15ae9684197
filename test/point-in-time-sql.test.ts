import { describe, expect, it } from 'vitest';
import { duckdbDialect, type Dialect } from '../core/sql/dialect.ts';
import { compileAggregatesAsOf } from '../core/aggregations/aggregates-as-of.ts';
import { compilePointInTimeJoin, type PointInTimeJoin, type WindowAggregationView } from '../core/sql/point-in-time.ts';
import { snowflakeDialect } from '../core/sql/snowflake-dialect.ts';
import { compilePartitionRows } from '../core/sql/partition-sql.ts';

// Expected SQL is keyed by dialect (kysely style): a new dialect does not pass until every case covers it.
const dialects: Record<Dialect['name'], Dialect> = { duckdb: duckdbDialect, snowflake: snowflakeDialect };

const join: PointInTimeJoin = {
  spine: { relation: 'flywheel.src_spine', timestampField: 'ts', columns: ['user_id', 'ts', 'label'], from: '2024-01-01T00:00:00.000Z', to: '2024-02-01T00:00:00.000Z' },
  views: [
    { relation: 'flywheel.fv_spend', joinKeys: ['user_id'], timestampField: 'ts', createdTimestampField: 'created_at', features: ['amount'], ttlSeconds: 86_400 },
    { relation: 'flywheel.fv_profile', joinKeys: ['user_id'], timestampField: 'updated', features: ['age'], ttlSeconds: null },
  ],
};

const expected: Record<Dialect['name'], string> = {
  duckdb: `WITH "__fw_spine" AS (
  SELECT "user_id", "ts", "label", CAST("ts" AS TIMESTAMPTZ) AS "__fw_spine_ts", row_number() OVER () AS "__fw_row"
  FROM "flywheel"."src_spine"
  WHERE CAST("ts" AS TIMESTAMPTZ) >= CAST(? AS TIMESTAMPTZ) AND CAST("ts" AS TIMESTAMPTZ) < CAST(? AS TIMESTAMPTZ)
),
"__fw_v0" AS (
  SELECT "user_id", CAST("ts" AS TIMESTAMPTZ) AS "__fw_ts", "amount"
  FROM "flywheel"."fv_spend"
  WHERE CAST("ts" AS TIMESTAMPTZ) < CAST(? AS TIMESTAMPTZ) AND CAST("ts" AS TIMESTAMPTZ) >= (CAST(? AS TIMESTAMPTZ) - INTERVAL 86400 SECOND)
  QUALIFY row_number() OVER (PARTITION BY "user_id", "ts" ORDER BY "created_at" DESC NULLS LAST, "amount" ASC NULLS LAST) = 1
),
"__fw_v1" AS (
  SELECT "user_id", CAST("updated" AS TIMESTAMPTZ) AS "__fw_ts", "age"
  FROM "flywheel"."fv_profile"
  WHERE CAST("updated" AS TIMESTAMPTZ) < CAST(? AS TIMESTAMPTZ)
  QUALIFY row_number() OVER (PARTITION BY "user_id", "updated" ORDER BY "age" ASC NULLS LAST) = 1
)
SELECT s."user_id",
  s."ts",
  s."label",
  CASE WHEN v0."__fw_ts" >= (s."__fw_spine_ts" - INTERVAL 86400 SECOND) THEN v0."amount" END AS "amount",
  v1."age" AS "age"
FROM "__fw_spine" AS s
ASOF LEFT JOIN "__fw_v0" AS v0 ON s."user_id" = v0."user_id" AND s."__fw_spine_ts" >= v0."__fw_ts"
ASOF LEFT JOIN "__fw_v1" AS v1 ON s."user_id" = v1."user_id" AND s."__fw_spine_ts" >= v1."__fw_ts"
ORDER BY s."__fw_row"`,
  snowflake: `WITH "__fw_spine" AS (
  SELECT "user_id", "ts", "label", CAST("ts" AS TIMESTAMP_TZ) AS "__fw_spine_ts", SEQ8() AS "__fw_row"
  FROM "flywheel"."src_spine"
  WHERE CAST("ts" AS TIMESTAMP_TZ) >= CAST(? AS TIMESTAMP_TZ) AND CAST("ts" AS TIMESTAMP_TZ) < CAST(? AS TIMESTAMP_TZ)
),
"__fw_v0" AS (
  SELECT "user_id", CAST("ts" AS TIMESTAMP_TZ) AS "__fw_ts", "amount"
  FROM "flywheel"."fv_spend"
  WHERE CAST("ts" AS TIMESTAMP_TZ) < CAST(? AS TIMESTAMP_TZ) AND CAST("ts" AS TIMESTAMP_TZ) >= DATEADD(second, -86400, CAST(? AS TIMESTAMP_TZ))
  QUALIFY row_number() OVER (PARTITION BY "user_id", "ts" ORDER BY "created_at" DESC NULLS LAST, "amount" ASC NULLS LAST) = 1
),
"__fw_v1" AS (
  SELECT "user_id", CAST("updated" AS TIMESTAMP_TZ) AS "__fw_ts", "age"
  FROM "flywheel"."fv_profile"
  WHERE CAST("updated" AS TIMESTAMP_TZ) < CAST(? AS TIMESTAMP_TZ)
  QUALIFY row_number() OVER (PARTITION BY "user_id", "updated" ORDER BY "age" ASC NULLS LAST) = 1
)
SELECT s."user_id",
  s."ts",
  s."label",
  CASE WHEN v0."__fw_ts" >= DATEADD(second, -86400, s."__fw_spine_ts") THEN v0."amount" END AS "amount",
  v1."age" AS "age"
FROM "__fw_spine" AS s
ASOF JOIN "__fw_v0" AS v0 MATCH_CONDITION(s."__fw_spine_ts" >= v0."__fw_ts") ON s."user_id" = v0."user_id"
ASOF JOIN "__fw_v1" AS v1 MATCH_CONDITION(s."__fw_spine_ts" >= v1."__fw_ts") ON s."user_id" = v1."user_id"
ORDER BY s."__fw_row"`,
};


const windows: WindowAggregationView = {
  kind: 'aggregation', featureView: 'txn_windows', relation: 'flywheel.fv_txn_windows', joinKeys: ['user_id'], timestampField: 'ts', createdTimestampField: 'loaded_at',
  aggregations: [
    { feature: 'count_1h', function: 'count', windowSeconds: 3600, type: 'int64' },
    { feature: 'amount_sum_1d', function: 'sum', column: 'amount', windowSeconds: 86_400, type: 'float64' },
    { feature: 'merchant_id_distinct_count_7d', function: 'distinct_count', column: 'merchant_id', windowSeconds: 604_800, type: 'int64' },
    { feature: 'amount_last_1d', function: 'last', column: 'amount', windowSeconds: 86_400, type: 'float64' },
  ],
};
const windowsJoin: PointInTimeJoin = { spine: join.spine, views: [windows] };

// Snowflake frames on nanoseconds and, refusing COUNT(DISTINCT) in a framed window, counts distinct values as a running sum.
const expectedWindows: Record<Dialect['name'], string> = {
  duckdb: `WITH "__fw_spine" AS MATERIALIZED (
  SELECT "user_id", "ts", "label", CAST("ts" AS TIMESTAMPTZ) AS "__fw_spine_ts", row_number() OVER () AS "__fw_row"
  FROM "flywheel"."src_spine"
  WHERE CAST("ts" AS TIMESTAMPTZ) >= CAST(? AS TIMESTAMPTZ) AND CAST("ts" AS TIMESTAMPTZ) < CAST(? AS TIMESTAMPTZ)
),
"__fw_v0_events" AS (
  SELECT "user_id", epoch_us(CAST("ts" AS TIMESTAMPTZ)) AS "__fw_tick", "amount", "merchant_id"
  FROM "flywheel"."fv_txn_windows"
  WHERE "user_id" IS NOT NULL AND CAST("ts" AS TIMESTAMPTZ) < CAST(? AS TIMESTAMPTZ) AND CAST("ts" AS TIMESTAMPTZ) > (CAST(? AS TIMESTAMPTZ) - INTERVAL 604800 SECOND)
),
"__fw_v0" AS (
  SELECT "__fw_row",
    CAST(COUNT("__fw_event") OVER (PARTITION BY "user_id" ORDER BY "__fw_tick" RANGE BETWEEN 3599999999 PRECEDING AND CURRENT ROW) AS BIGINT) AS "count_1h",
    CAST(SUM("amount") OVER (PARTITION BY "user_id" ORDER BY "__fw_tick" RANGE BETWEEN 86399999999 PRECEDING AND CURRENT ROW) AS DOUBLE) AS "amount_sum_1d",
    CAST(COUNT(DISTINCT "merchant_id") OVER (PARTITION BY "user_id" ORDER BY "__fw_tick" RANGE BETWEEN 604799999999 PRECEDING AND CURRENT ROW) AS BIGINT) AS "merchant_id_distinct_count_7d"
  FROM (
    SELECT "user_id", "__fw_tick", NULL AS "__fw_row", 1 AS "__fw_event", "amount", "merchant_id"
    FROM "__fw_v0_events"
    UNION ALL
    SELECT "user_id", epoch_us("__fw_spine_ts"), "__fw_row", NULL, NULL, NULL
    FROM "__fw_spine"
    WHERE "user_id" IS NOT NULL
  ) AS "__fw_merged"
  QUALIFY "__fw_row" IS NOT NULL
),
"__fw_v0_last0" AS (
  SELECT "user_id", CAST("ts" AS TIMESTAMPTZ) AS "__fw_ts", "amount"
  FROM "flywheel"."fv_txn_windows"
  WHERE "user_id" IS NOT NULL AND CAST("ts" AS TIMESTAMPTZ) < CAST(? AS TIMESTAMPTZ) AND CAST("ts" AS TIMESTAMPTZ) > (CAST(? AS TIMESTAMPTZ) - INTERVAL 86400 SECOND)
  QUALIFY row_number() OVER (PARTITION BY "user_id", "ts" ORDER BY "loaded_at" DESC NULLS LAST, "amount" ASC NULLS LAST) = 1
)
SELECT s."user_id",
  s."ts",
  s."label",
  v0."count_1h" AS "count_1h",
  v0."amount_sum_1d" AS "amount_sum_1d",
  v0."merchant_id_distinct_count_7d" AS "merchant_id_distinct_count_7d",
  CASE WHEN v0l0."__fw_ts" > (s."__fw_spine_ts" - INTERVAL 86400 SECOND) THEN v0l0."amount" END AS "amount_last_1d"
FROM "__fw_spine" AS s
LEFT JOIN "__fw_v0" AS v0 ON v0."__fw_row" = s."__fw_row"
ASOF LEFT JOIN "__fw_v0_last0" AS v0l0 ON s."user_id" = v0l0."user_id" AND s."__fw_spine_ts" >= v0l0."__fw_ts"
ORDER BY s."__fw_row"`,
  snowflake: `WITH "__fw_spine" AS (
  SELECT "user_id", "ts", "label", CAST("ts" AS TIMESTAMP_TZ) AS "__fw_spine_ts", SEQ8() AS "__fw_row"
  FROM "flywheel"."src_spine"
  WHERE CAST("ts" AS TIMESTAMP_TZ) >= CAST(? AS TIMESTAMP_TZ) AND CAST("ts" AS TIMESTAMP_TZ) < CAST(? AS TIMESTAMP_TZ)
),
"__fw_v0_events" AS (
  SELECT "user_id", DATE_PART(epoch_nanosecond, CAST("ts" AS TIMESTAMP_TZ)) AS "__fw_tick", "amount", "merchant_id", lead(DATE_PART(epoch_nanosecond, CAST("ts" AS TIMESTAMP_TZ))) OVER (PARTITION BY "user_id", "merchant_id" ORDER BY DATE_PART(epoch_nanosecond, CAST("ts" AS TIMESTAMP_TZ))) AS "__fw_next0"
  FROM "flywheel"."fv_txn_windows"
  WHERE "user_id" IS NOT NULL AND CAST("ts" AS TIMESTAMP_TZ) < CAST(? AS TIMESTAMP_TZ) AND CAST("ts" AS TIMESTAMP_TZ) > DATEADD(second, -604800, CAST(? AS TIMESTAMP_TZ))
),
"__fw_v0" AS (
  SELECT "__fw_row",
    CAST(COUNT("__fw_event") OVER (PARTITION BY "user_id" ORDER BY "__fw_tick" RANGE BETWEEN 3599999999999 PRECEDING AND CURRENT ROW) AS NUMBER(19,0)) AS "count_1h",
    CAST(SUM("amount") OVER (PARTITION BY "user_id" ORDER BY "__fw_tick" RANGE BETWEEN 86399999999999 PRECEDING AND CURRENT ROW) AS FLOAT) AS "amount_sum_1d",
    CAST(COALESCE(SUM("__fw_dc0") OVER (PARTITION BY "user_id" ORDER BY "__fw_tick" RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 0) AS NUMBER(19,0)) AS "merchant_id_distinct_count_7d"
  FROM (
    SELECT "user_id", "__fw_tick", NULL AS "__fw_row", 1 AS "__fw_event", "amount", "merchant_id", CASE WHEN "merchant_id" IS NOT NULL THEN 1 END AS "__fw_dc0"
    FROM "__fw_v0_events"
    UNION ALL
    SELECT "user_id", LEAST(COALESCE("__fw_next0", "__fw_tick" + 604800000000000), "__fw_tick" + 604800000000000), NULL, NULL, NULL, NULL, -1
    FROM "__fw_v0_events"
    WHERE "merchant_id" IS NOT NULL
    UNION ALL
    SELECT "user_id", DATE_PART(epoch_nanosecond, "__fw_spine_ts"), "__fw_row", NULL, NULL, NULL, NULL
    FROM "__fw_spine"
    WHERE "user_id" IS NOT NULL
  ) AS "__fw_merged"
  QUALIFY "__fw_row" IS NOT NULL
),
"__fw_v0_last0" AS (
  SELECT "user_id", CAST("ts" AS TIMESTAMP_TZ) AS "__fw_ts", "amount"
  FROM "flywheel"."fv_txn_windows"
  WHERE "user_id" IS NOT NULL AND CAST("ts" AS TIMESTAMP_TZ) < CAST(? AS TIMESTAMP_TZ) AND CAST("ts" AS TIMESTAMP_TZ) > DATEADD(second, -86400, CAST(? AS TIMESTAMP_TZ))
  QUALIFY row_number() OVER (PARTITION BY "user_id", "ts" ORDER BY "loaded_at" DESC NULLS LAST, "amount" ASC NULLS LAST) = 1
)
SELECT s."user_id",
  s."ts",
  s."label",
  v0."count_1h" AS "count_1h",
  v0."amount_sum_1d" AS "amount_sum_1d",
  v0."merchant_id_distinct_count_7d" AS "merchant_id_distinct_count_7d",
  CASE WHEN v0l0."__fw_ts" > DATEADD(second, -86400, s."__fw_spine_ts") THEN v0l0."amount" END AS "amount_last_1d"
FROM "__fw_spine" AS s
LEFT JOIN "__fw_v0" AS v0 ON v0."__fw_row" = s."__fw_row"
ASOF JOIN "__fw_v0_last0" AS v0l0 MATCH_CONDITION(s."__fw_spine_ts" >= v0l0."__fw_ts") ON s."user_id" = v0l0."user_id"
ORDER BY s."__fw_row"`,
};

const expectedAsOf: Record<Dialect['name'], string> = {
  duckdb: `WITH "__fw_events" AS (
  SELECT "user_id", CAST("ts" AS TIMESTAMPTZ) AS "__fw_ts", "loaded_at", "amount", "merchant_id", (CAST("ts" AS TIMESTAMPTZ) > (CAST(? AS TIMESTAMPTZ) - INTERVAL 3600 SECOND)) AS "__fw_in_3600", (CAST("ts" AS TIMESTAMPTZ) > (CAST(? AS TIMESTAMPTZ) - INTERVAL 86400 SECOND)) AS "__fw_in_86400", (CAST("ts" AS TIMESTAMPTZ) > (CAST(? AS TIMESTAMPTZ) - INTERVAL 604800 SECOND)) AS "__fw_in_604800"
  FROM "flywheel"."fv_txn_windows"
  WHERE "user_id" IS NOT NULL AND CAST("ts" AS TIMESTAMPTZ) <= CAST(? AS TIMESTAMPTZ) AND CAST("ts" AS TIMESTAMPTZ) > (CAST(? AS TIMESTAMPTZ) - INTERVAL 604800 SECOND)
),
"__fw_aggregates" AS (
  SELECT "user_id", CAST(COUNT(CASE WHEN "__fw_in_3600" THEN 1 END) AS BIGINT) AS "count_1h", CAST(SUM(CASE WHEN "__fw_in_86400" THEN "amount" END) AS DOUBLE) AS "amount_sum_1d", CAST(COUNT(DISTINCT CASE WHEN "__fw_in_604800" THEN "merchant_id" END) AS BIGINT) AS "merchant_id_distinct_count_7d"
  FROM "__fw_events"
  GROUP BY "user_id"
),
"__fw_last0" AS (
  SELECT "user_id", "__fw_ts", "amount", "__fw_in_86400"
  FROM "__fw_events"
  QUALIFY row_number() OVER (PARTITION BY "user_id" ORDER BY "__fw_ts" DESC, "loaded_at" DESC NULLS LAST, "amount" ASC NULLS LAST) = 1
)
SELECT a."user_id",
  a."count_1h" AS "count_1h",
  a."amount_sum_1d" AS "amount_sum_1d",
  a."merchant_id_distinct_count_7d" AS "merchant_id_distinct_count_7d",
  CASE WHEN l0."__fw_in_86400" THEN l0."amount" END AS "amount_last_1d"
FROM "__fw_aggregates" AS a
LEFT JOIN "__fw_last0" AS l0 ON l0."user_id" = a."user_id"
ORDER BY a."user_id"`,
  snowflake: `WITH "__fw_events" AS (
  SELECT "user_id", CAST("ts" AS TIMESTAMP_TZ) AS "__fw_ts", "loaded_at", "amount", "merchant_id", (CAST("ts" AS TIMESTAMP_TZ) > DATEADD(second, -3600, CAST(? AS TIMESTAMP_TZ))) AS "__fw_in_3600", (CAST("ts" AS TIMESTAMP_TZ) > DATEADD(second, -86400, CAST(? AS TIMESTAMP_TZ))) AS "__fw_in_86400", (CAST("ts" AS TIMESTAMP_TZ) > DATEADD(second, -604800, CAST(? AS TIMESTAMP_TZ))) AS "__fw_in_604800"
  FROM "flywheel"."fv_txn_windows"
  WHERE "user_id" IS NOT NULL AND CAST("ts" AS TIMESTAMP_TZ) <= CAST(? AS TIMESTAMP_TZ) AND CAST("ts" AS TIMESTAMP_TZ) > DATEADD(second, -604800, CAST(? AS TIMESTAMP_TZ))
),
"__fw_aggregates" AS (
  SELECT "user_id", CAST(COUNT(CASE WHEN "__fw_in_3600" THEN 1 END) AS NUMBER(19,0)) AS "count_1h", CAST(SUM(CASE WHEN "__fw_in_86400" THEN "amount" END) AS FLOAT) AS "amount_sum_1d", CAST(COUNT(DISTINCT CASE WHEN "__fw_in_604800" THEN "merchant_id" END) AS NUMBER(19,0)) AS "merchant_id_distinct_count_7d"
  FROM "__fw_events"
  GROUP BY "user_id"
),
"__fw_last0" AS (
  SELECT "user_id", "__fw_ts", "amount", "__fw_in_86400"
  FROM "__fw_events"
  QUALIFY row_number() OVER (PARTITION BY "user_id" ORDER BY "__fw_ts" DESC, "loaded_at" DESC NULLS LAST, "amount" ASC NULLS LAST) = 1
)
SELECT a."user_id",
  a."count_1h" AS "count_1h",
  a."amount_sum_1d" AS "amount_sum_1d",
  a."merchant_id_distinct_count_7d" AS "merchant_id_distinct_count_7d",
  CASE WHEN l0."__fw_in_86400" THEN l0."amount" END AS "amount_last_1d"
FROM "__fw_aggregates" AS a
LEFT JOIN "__fw_last0" AS l0 ON l0."user_id" = a."user_id"
ORDER BY a."user_id"`,
};

describe('compilePointInTimeJoin', () => {
  for (const [name, dialect] of Object.entries(dialects) as [Dialect['name'], Dialect][]) {
    it(`compiles one ASOF join per feature view, with the range pushed into each view (${name})`, () => {
      const compiled = compilePointInTimeJoin(join, dialect);
      expect(compiled.sql).toBe(expected[name]);
      // Spine from, to; then per view: to, and from (for the ttl) when the view has one.
      expect(compiled.parameters).toEqual(['2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z']);
    });

    it(`compiles an aggregation view to window functions over its events and the spine, and last to an ASOF join (${name})`, () => {
      const compiled = compilePointInTimeJoin(windowsJoin, dialect);
      expect(compiled.sql).toBe(expectedWindows[name]);
      expect(compiled.parameters).toEqual(['2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z']);
    });

    it(`leaves the feature rows unfiltered without pushdown (${name})`, () => {
      const compiled = compilePointInTimeJoin(windowsJoin, dialect, { rangePushdown: false });
      expect(compiled.parameters).toEqual(['2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z']);
      expect(compiled.sql).toContain('WHERE "user_id" IS NOT NULL\n');
    });

    it(`compiles the aggregates as of one instant to a GROUP BY (${name})`, () => {
      const compiled = compileAggregatesAsOf(windows, '2024-02-01T00:00:00.000Z', dialect);
      expect(compiled.sql).toBe(expectedAsOf[name]);
      expect(compiled.parameters).toEqual(Array(5).fill('2024-02-01T00:00:00.000Z'));
    });
  }

  it('rejects identifiers outside the safe pattern instead of pasting them into SQL', () => {
    const evil = { ...join, spine: { ...join.spine, columns: ['user_id"; DROP TABLE x; --'] } };
    expect(() => compilePointInTimeJoin(evil, duckdbDialect)).toThrow(/Invalid identifier/);
  });
});

describe('compilePointInTimeJoin with partitionBy', () => {
  it('adds the partition start and clusters the output by it, then spine order', () => {
    const partitioned = { ...join, spine: { ...join.spine, partitionBy: 'day' as const } };
    const compiled = compilePointInTimeJoin(partitioned, duckdbDialect, { rangePushdown: false });
    expect(compiled.sql).toContain(`row_number() OVER () AS "__fw_row", date_trunc('day', CAST("ts" AS TIMESTAMPTZ)) AS "__fw_partition"`);
    expect(compiled.sql).toContain('SELECT s."user_id",\n  s."ts",\n  s."label",\n  s."__fw_partition",');
    expect(compiled.sql.endsWith('ORDER BY s."__fw_partition", s."__fw_row"')).toBe(true);
    const snowflake = compilePointInTimeJoin(partitioned, snowflakeDialect, { rangePushdown: false });
    expect(snowflake.sql).toContain(`DATE_TRUNC('DAY', CONVERT_TIMEZONE('UTC', CAST("ts" AS TIMESTAMP_TZ))) AS "__fw_partition"`);
    // One partition for `none`: every row with a timestamp starts it at the epoch.
    const none = compilePointInTimeJoin({ ...join, spine: { ...join.spine, partitionBy: 'none' as const } }, duckdbDialect, { rangePushdown: false });
    expect(none.sql).toContain(`CASE WHEN CAST("ts" AS TIMESTAMPTZ) IS NOT NULL THEN CAST('1970-01-01T00:00:00.000Z' AS TIMESTAMPTZ) END AS "__fw_partition"`);
  });

  it('reads one partition of a working table by its start (the engine skips other row groups by min/max)', () => {
    expect(compilePartitionRows('run_ts', ['user_id', 'label'], { start: '2024-03-01T00:00:00.000Z' }, duckdbDialect)).toEqual({
      sql: 'SELECT "user_id", "label" FROM "run_ts" WHERE "__fw_partition" = CAST(? AS TIMESTAMPTZ)',
      parameters: ['2024-03-01T00:00:00.000Z'],
    });
    expect(compilePartitionRows('run_ts', ['user_id'], { start: null }, duckdbDialect).parameters).toEqual(['1970-01-01T00:00:00.000Z']);
  });
});

describe('an integer sum in the point-in-time join', () => {
  const qtySum: WindowAggregationView = {
    kind: 'aggregation', featureView: 'txn_windows', relation: 'flywheel.fv_txn_windows', joinKeys: ['user_id'], timestampField: 'ts',
    aggregations: [{ feature: 'qty_sum_1h', function: 'sum', column: 'qty', windowSeconds: 3600, type: 'int64' }],
  };
  // The exact sum leaves the window CTE uncast; the final SELECT range-checks it with the spine row at hand.
  const message = `'feature view "txn_windows", feature "qty_sum_1h" (sum of "qty" over 1h): the sum ' || COALESCE(CAST(v0."qty_sum_1h" AS VARCHAR), 'null') || ' is outside int64, for ' || 'user_id=' || COALESCE(CAST(s."user_id" AS VARCHAR), 'null') || ' as of ' || COALESCE(CAST(`;
  const expectedCheck: Record<Dialect['name'], string> = {
    duckdb: `CASE WHEN v0."qty_sum_1h" BETWEEN -9223372036854775808 AND 9223372036854775807 THEN CAST(v0."qty_sum_1h" AS BIGINT) WHEN v0."qty_sum_1h" IS NULL THEN NULL ELSE error(${message}`,
    snowflake: `CASE WHEN v0."qty_sum_1h" BETWEEN -9223372036854775808 AND 9223372036854775807 THEN CAST(v0."qty_sum_1h" AS NUMBER(19,0)) WHEN v0."qty_sum_1h" IS NULL THEN NULL ELSE CAST(${message}`,
  };
  for (const [name, dialect] of Object.entries(dialects) as [Dialect['name'], Dialect][]) {
    it(`is range-checked, not cast blindly (${name})`, () => {
      const { sql } = compilePointInTimeJoin({ spine: join.spine, views: [qtySum] }, dialect, { rangePushdown: false });
      expect(sql).toContain(`SUM("qty") OVER (PARTITION BY "user_id" ORDER BY "__fw_tick" RANGE BETWEEN ${3600n * dialect.ticksPerSecond - 1n} PRECEDING AND CURRENT ROW) AS "qty_sum_1h"`);
      expect(sql).toContain(expectedCheck[name]);
    });
  }
});
