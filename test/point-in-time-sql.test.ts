import { describe, expect, it } from 'vitest';
import { duckdbDialect, type Dialect } from '../core/sql/dialect.ts';
import { compilePointInTimeJoin, type PointInTimeJoin } from '../core/sql/point-in-time.ts';
import { snowflakeDialect } from '../core/sql/snowflake-dialect.ts';

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
  QUALIFY row_number() OVER (PARTITION BY "user_id", "ts" ORDER BY "created_at" DESC NULLS LAST, "amount" ASC NULLS LAST) = 1
),
"__fw_v1" AS (
  SELECT "user_id", CAST("updated" AS TIMESTAMPTZ) AS "__fw_ts", "age"
  FROM "flywheel"."fv_profile"
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
  QUALIFY row_number() OVER (PARTITION BY "user_id", "ts" ORDER BY "created_at" DESC NULLS LAST, "amount" ASC NULLS LAST) = 1
),
"__fw_v1" AS (
  SELECT "user_id", CAST("updated" AS TIMESTAMP_TZ) AS "__fw_ts", "age"
  FROM "flywheel"."fv_profile"
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

describe('compilePointInTimeJoin', () => {
  for (const [name, dialect] of Object.entries(dialects) as [Dialect['name'], Dialect][]) {
    it(`compiles one ASOF join per feature view (${name})`, () => {
      const compiled = compilePointInTimeJoin(join, dialect);
      expect(compiled.sql).toBe(expected[name]);
      expect(compiled.parameters).toEqual(['2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z']);
    });
  }

  it('rejects identifiers outside the safe pattern instead of pasting them into SQL', () => {
    const evil = { ...join, spine: { ...join.spine, columns: ['user_id"; DROP TABLE x; --'] } };
    expect(() => compilePointInTimeJoin(evil, duckdbDialect)).toThrow(/Invalid identifier/);
  });
});
