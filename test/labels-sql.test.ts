import { describe, expect, it } from 'vitest';
import { duckdbDialect, type Dialect } from '../core/sql/dialect.ts';
import { compileLabelRows, compileLateEvents, compileStreamWatermark, type LabelJoin, type LabelRun, type LateCheck } from '../core/sql/labels.ts';
import { snowflakeDialect } from '../core/sql/snowflake-dialect.ts';

/**
 * The labels SQL (core/sql/labels.ts) per dialect, expected text keyed by dialect so a new dialect
 * does not pass until every case covers it. Semantics are checked on DuckDB in test/labels.test.ts.
 */

const dialects: Record<Dialect['name'], Dialect> = { duckdb: duckdbDialect, snowflake: snowflakeDialect };

/** By keys, attribution last, value: the last outcome's status (default "none"); a pushed decision log and outcome stream. */
const byKeys: LabelJoin = {
  labels: 'purchased',
  decisions: {
    relation: 'flywheel.stream_feed_decisions', stream: 'feed_decisions', timestampField: 'served_at', loadTime: 'ledger',
    identity: [{ name: 'decision_id', type: 'string', from: 'decision_id' }, { name: 'row_index', type: 'int32', from: 'row_index' }],
    keys: [{ name: 'user_id', type: 'int64', from: 'user_id' }],
  },
  outcomes: { relation: 'flywheel.stream_purchases', stream: 'purchases', timestampField: 'ts', loadTime: 'ledger', valueField: 'status' },
  pairs: [['user_id', 'user_id']],
  attribution: 'last',
  windowSeconds: 3600,
  value: { kind: 'last', field: 'status', default: 'none' },
  label: { name: 'label', type: 'string' },
};
const byId: LabelJoin = {
  labels: 'accepted',
  decisions: {
    relation: 'flywheel.stream_offers', stream: 'offers', timestampField: 'offered_at', loadTime: 'receivedAt',
    identity: [{ name: 'event_id', type: 'string', from: '_event_id' }], keys: [{ name: 'user_id', type: 'int64', from: 'user_id' }],
  },
  outcomes: { relation: 'flywheel.stream_accepts', stream: 'accepts', timestampField: 'ts', loadTime: 'receivedAt' },
  pairs: [['offer_id', 'offer_id']],
  attribution: 'all',
  windowSeconds: 86_400,
  value: { kind: 'any' },
  label: { name: 'label', type: 'int32' },
};
const run: LabelRun = {
  from: '2024-03-01T00:00:00.000Z', to: '2024-03-02T00:00:00.000Z', asOf: '2024-03-05T00:00:00.000Z',
  watermarks: { decisions: '2024-03-04T00:00:00.000Z', outcomes: '2024-03-04T06:00:00.000Z' },
};
const checks: LateCheck[] = [
  { key: 'day=2024-03-01', from: '2024-03-01T00:00:00.000Z', to: '2024-03-02T01:00:00.000Z', since: '2024-03-02T01:00:00.000Z' },
  { key: 'day=2024-03-02', from: '2024-03-02T00:00:00.000Z', to: '2024-03-03T01:00:00.000Z', since: null },
];

/** Rows by keys with attribution last: decisions up to `to` + window are candidates, and only the latest before an outcome takes it. */
const keys: Record<Dialect['name'], string> = {
  duckdb: `WITH "__fw_decisions" AS (
  SELECT d."_event_id" AS "__fw_id", d."decision_id" AS "decision_id", d."row_index" AS "row_index", d."user_id" AS "user_id", CAST(d."served_at" AS TIMESTAMPTZ) AS "__fw_ts", d."user_id" AS "__fw_m0", (CAST(d."served_at" AS TIMESTAMPTZ) < CAST(? AS TIMESTAMPTZ) AND CAST(d."served_at" AS TIMESTAMPTZ) <= CAST(? AS TIMESTAMPTZ)) AS "__fw_labeled"
  FROM "flywheel"."stream_feed_decisions" AS d
  LEFT JOIN "flywheel"."ingest_ledger" AS dl ON dl."stream" = ? AND dl."batch" = d."_batch"
  WHERE CAST(d."served_at" AS TIMESTAMPTZ) >= CAST(? AS TIMESTAMPTZ) AND CAST(d."served_at" AS TIMESTAMPTZ) <= CAST(? AS TIMESTAMPTZ) AND COALESCE(dl."loaded_at", d."_received_at") <= CAST(? AS TIMESTAMPTZ)
),
"__fw_outcomes" AS (
  SELECT o."_event_id" AS "__fw_id", CAST(o."ts" AS TIMESTAMPTZ) AS "__fw_ts", (CAST(o."ts" AS TIMESTAMPTZ) - INTERVAL 3600 SECOND) AS "__fw_since", o."user_id" AS "__fw_m0", o."status" AS "__fw_value"
  FROM "flywheel"."stream_purchases" AS o
  LEFT JOIN "flywheel"."ingest_ledger" AS ol ON ol."stream" = ? AND ol."batch" = o."_batch"
  WHERE CAST(o."ts" AS TIMESTAMPTZ) >= CAST(? AS TIMESTAMPTZ) AND CAST(o."ts" AS TIMESTAMPTZ) <= CAST(? AS TIMESTAMPTZ) AND COALESCE(ol."loaded_at", o."_received_at") <= CAST(? AS TIMESTAMPTZ) AND o."user_id" IS NOT NULL
),
"__fw_matched" AS (
  SELECT d."__fw_id" AS "__fw_decision", o."__fw_id" AS "__fw_outcome", o."__fw_ts" AS "__fw_ts", o."__fw_value" AS "__fw_value"
  FROM "__fw_decisions" AS d
  JOIN "__fw_outcomes" AS o ON d."__fw_m0" = o."__fw_m0" AND o."__fw_ts" >= d."__fw_ts" AND o."__fw_since" <= d."__fw_ts"
  QUALIFY d."__fw_ts" = max(d."__fw_ts") OVER (PARTITION BY o."__fw_id")
),
"__fw_ranked" AS (
  SELECT *, row_number() OVER (PARTITION BY "__fw_decision" ORDER BY "__fw_ts" DESC, "__fw_outcome" DESC) AS "__fw_rank"
  FROM "__fw_matched"
)
SELECT d."decision_id",
  d."row_index",
  d."user_id",
  d."__fw_ts" AS "served_at",
  COALESCE(CAST(max(CASE WHEN m."__fw_rank" = 1 THEN m."__fw_value" END) AS VARCHAR), CAST(? AS VARCHAR)) AS "label",
  count(m."__fw_outcome") AS "outcome_count",
  min(m."__fw_ts") AS "first_outcome_at",
  CAST(? AS TIMESTAMPTZ) AS "labeled_at"
FROM "__fw_decisions" AS d
LEFT JOIN "__fw_ranked" AS m ON m."__fw_decision" = d."__fw_id"
WHERE d."__fw_labeled"
GROUP BY d."__fw_id", d."decision_id", d."row_index", d."user_id", d."__fw_ts"
ORDER BY d."__fw_ts", d."__fw_id"`,
  snowflake: `WITH "__fw_decisions" AS (
  SELECT d."_event_id" AS "__fw_id", d."decision_id" AS "decision_id", d."row_index" AS "row_index", d."user_id" AS "user_id", CAST(d."served_at" AS TIMESTAMP_TZ) AS "__fw_ts", d."user_id" AS "__fw_m0", (CAST(d."served_at" AS TIMESTAMP_TZ) < CAST(? AS TIMESTAMP_TZ) AND CAST(d."served_at" AS TIMESTAMP_TZ) <= CAST(? AS TIMESTAMP_TZ)) AS "__fw_labeled"
  FROM "flywheel"."stream_feed_decisions" AS d
  LEFT JOIN "flywheel"."ingest_ledger" AS dl ON dl."stream" = ? AND dl."batch" = d."_batch"
  WHERE CAST(d."served_at" AS TIMESTAMP_TZ) >= CAST(? AS TIMESTAMP_TZ) AND CAST(d."served_at" AS TIMESTAMP_TZ) <= CAST(? AS TIMESTAMP_TZ) AND COALESCE(dl."loaded_at", d."_received_at") <= CAST(? AS TIMESTAMP_TZ)
),
"__fw_outcomes" AS (
  SELECT o."_event_id" AS "__fw_id", CAST(o."ts" AS TIMESTAMP_TZ) AS "__fw_ts", DATEADD(second, -3600, CAST(o."ts" AS TIMESTAMP_TZ)) AS "__fw_since", o."user_id" AS "__fw_m0", o."status" AS "__fw_value"
  FROM "flywheel"."stream_purchases" AS o
  LEFT JOIN "flywheel"."ingest_ledger" AS ol ON ol."stream" = ? AND ol."batch" = o."_batch"
  WHERE CAST(o."ts" AS TIMESTAMP_TZ) >= CAST(? AS TIMESTAMP_TZ) AND CAST(o."ts" AS TIMESTAMP_TZ) <= CAST(? AS TIMESTAMP_TZ) AND COALESCE(ol."loaded_at", o."_received_at") <= CAST(? AS TIMESTAMP_TZ) AND o."user_id" IS NOT NULL
),
"__fw_matched" AS (
  SELECT d."__fw_id" AS "__fw_decision", o."__fw_id" AS "__fw_outcome", o."__fw_ts" AS "__fw_ts", o."__fw_value" AS "__fw_value"
  FROM "__fw_decisions" AS d
  JOIN "__fw_outcomes" AS o ON d."__fw_m0" = o."__fw_m0" AND o."__fw_ts" >= d."__fw_ts" AND o."__fw_since" <= d."__fw_ts"
  QUALIFY d."__fw_ts" = max(d."__fw_ts") OVER (PARTITION BY o."__fw_id")
),
"__fw_ranked" AS (
  SELECT *, row_number() OVER (PARTITION BY "__fw_decision" ORDER BY "__fw_ts" DESC, "__fw_outcome" DESC) AS "__fw_rank"
  FROM "__fw_matched"
)
SELECT d."decision_id",
  d."row_index",
  d."user_id",
  d."__fw_ts" AS "served_at",
  COALESCE(CAST(max(CASE WHEN m."__fw_rank" = 1 THEN m."__fw_value" END) AS VARCHAR), CAST(? AS VARCHAR)) AS "label",
  count(m."__fw_outcome") AS "outcome_count",
  min(m."__fw_ts") AS "first_outcome_at",
  CAST(? AS TIMESTAMP_TZ) AS "labeled_at"
FROM "__fw_decisions" AS d
LEFT JOIN "__fw_ranked" AS m ON m."__fw_decision" = d."__fw_id"
WHERE d."__fw_labeled"
GROUP BY d."__fw_id", d."decision_id", d."row_index", d."user_id", d."__fw_ts"
ORDER BY d."__fw_ts", d."__fw_id"`,
};

/** By an id field, any outcome; streams loaded from tables, whose rows carry their load time. */
const id: Record<Dialect['name'], string> = {
  duckdb: `WITH "__fw_decisions" AS (
  SELECT d."_event_id" AS "__fw_id", d."_event_id" AS "event_id", d."user_id" AS "user_id", CAST(d."offered_at" AS TIMESTAMPTZ) AS "__fw_ts", d."offer_id" AS "__fw_m0"
  FROM "flywheel"."stream_offers" AS d
  WHERE CAST(d."offered_at" AS TIMESTAMPTZ) >= CAST(? AS TIMESTAMPTZ) AND CAST(d."offered_at" AS TIMESTAMPTZ) < CAST(? AS TIMESTAMPTZ) AND CAST(d."offered_at" AS TIMESTAMPTZ) <= CAST(? AS TIMESTAMPTZ) AND d."_received_at" <= CAST(? AS TIMESTAMPTZ)
),
"__fw_outcomes" AS (
  SELECT o."_event_id" AS "__fw_id", CAST(o."ts" AS TIMESTAMPTZ) AS "__fw_ts", (CAST(o."ts" AS TIMESTAMPTZ) - INTERVAL 86400 SECOND) AS "__fw_since", o."offer_id" AS "__fw_m0"
  FROM "flywheel"."stream_accepts" AS o
  WHERE CAST(o."ts" AS TIMESTAMPTZ) >= CAST(? AS TIMESTAMPTZ) AND CAST(o."ts" AS TIMESTAMPTZ) <= CAST(? AS TIMESTAMPTZ) AND o."_received_at" <= CAST(? AS TIMESTAMPTZ) AND o."offer_id" IS NOT NULL
),
"__fw_matched" AS (
  SELECT d."__fw_id" AS "__fw_decision", o."__fw_id" AS "__fw_outcome", o."__fw_ts" AS "__fw_ts"
  FROM "__fw_decisions" AS d
  JOIN "__fw_outcomes" AS o ON d."__fw_m0" = o."__fw_m0" AND o."__fw_ts" >= d."__fw_ts" AND o."__fw_since" <= d."__fw_ts"
)
SELECT d."event_id",
  d."user_id",
  d."__fw_ts" AS "offered_at",
  CAST(CASE WHEN count(m."__fw_outcome") > 0 THEN 1 ELSE 0 END AS INTEGER) AS "label",
  count(m."__fw_outcome") AS "outcome_count",
  min(m."__fw_ts") AS "first_outcome_at",
  CAST(? AS TIMESTAMPTZ) AS "labeled_at"
FROM "__fw_decisions" AS d
LEFT JOIN "__fw_matched" AS m ON m."__fw_decision" = d."__fw_id"
GROUP BY d."__fw_id", d."event_id", d."user_id", d."__fw_ts"
ORDER BY d."__fw_ts", d."__fw_id"`,
  snowflake: `WITH "__fw_decisions" AS (
  SELECT d."_event_id" AS "__fw_id", d."_event_id" AS "event_id", d."user_id" AS "user_id", CAST(d."offered_at" AS TIMESTAMP_TZ) AS "__fw_ts", d."offer_id" AS "__fw_m0"
  FROM "flywheel"."stream_offers" AS d
  WHERE CAST(d."offered_at" AS TIMESTAMP_TZ) >= CAST(? AS TIMESTAMP_TZ) AND CAST(d."offered_at" AS TIMESTAMP_TZ) < CAST(? AS TIMESTAMP_TZ) AND CAST(d."offered_at" AS TIMESTAMP_TZ) <= CAST(? AS TIMESTAMP_TZ) AND d."_received_at" <= CAST(? AS TIMESTAMP_TZ)
),
"__fw_outcomes" AS (
  SELECT o."_event_id" AS "__fw_id", CAST(o."ts" AS TIMESTAMP_TZ) AS "__fw_ts", DATEADD(second, -86400, CAST(o."ts" AS TIMESTAMP_TZ)) AS "__fw_since", o."offer_id" AS "__fw_m0"
  FROM "flywheel"."stream_accepts" AS o
  WHERE CAST(o."ts" AS TIMESTAMP_TZ) >= CAST(? AS TIMESTAMP_TZ) AND CAST(o."ts" AS TIMESTAMP_TZ) <= CAST(? AS TIMESTAMP_TZ) AND o."_received_at" <= CAST(? AS TIMESTAMP_TZ) AND o."offer_id" IS NOT NULL
),
"__fw_matched" AS (
  SELECT d."__fw_id" AS "__fw_decision", o."__fw_id" AS "__fw_outcome", o."__fw_ts" AS "__fw_ts"
  FROM "__fw_decisions" AS d
  JOIN "__fw_outcomes" AS o ON d."__fw_m0" = o."__fw_m0" AND o."__fw_ts" >= d."__fw_ts" AND o."__fw_since" <= d."__fw_ts"
)
SELECT d."event_id",
  d."user_id",
  d."__fw_ts" AS "offered_at",
  CAST(CASE WHEN count(m."__fw_outcome") > 0 THEN 1 ELSE 0 END AS NUMBER(10,0)) AS "label",
  count(m."__fw_outcome") AS "outcome_count",
  min(m."__fw_ts") AS "first_outcome_at",
  CAST(? AS TIMESTAMP_TZ) AS "labeled_at"
FROM "__fw_decisions" AS d
LEFT JOIN "__fw_matched" AS m ON m."__fw_decision" = d."__fw_id"
GROUP BY d."__fw_id", d."event_id", d."user_id", d."__fw_ts"
ORDER BY d."__fw_ts", d."__fw_id"`,
};

const late: Record<Dialect['name'], string> = {
  duckdb: `SELECT p."key" AS "key", count(*) AS "n"
FROM (VALUES (?, CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ)), (?, CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ))) AS p("key", "lo", "hi", "since")
JOIN (
  SELECT CAST(e."ts" AS TIMESTAMPTZ) AS "__fw_ts", COALESCE(el."loaded_at", e."_received_at") AS "__fw_loaded"
  FROM "flywheel"."stream_purchases" AS e
  LEFT JOIN "flywheel"."ingest_ledger" AS el ON el."stream" = ? AND el."batch" = e."_batch"
  WHERE CAST(e."ts" AS TIMESTAMPTZ) >= CAST(? AS TIMESTAMPTZ) AND CAST(e."ts" AS TIMESTAMPTZ) <= CAST(? AS TIMESTAMPTZ) AND COALESCE(el."loaded_at", e."_received_at") > CAST(? AS TIMESTAMPTZ) AND COALESCE(el."loaded_at", e."_received_at") <= CAST(? AS TIMESTAMPTZ) AND e."user_id" IS NOT NULL
) AS e
  ON e."__fw_ts" >= p."lo" AND e."__fw_ts" <= p."hi" AND e."__fw_loaded" > p."since"
GROUP BY p."key"
ORDER BY p."key"`,
  snowflake: `SELECT p."key" AS "key", count(*) AS "n"
FROM (VALUES (?, CAST(? AS TIMESTAMP_TZ), CAST(? AS TIMESTAMP_TZ), CAST(? AS TIMESTAMP_TZ)), (?, CAST(? AS TIMESTAMP_TZ), CAST(? AS TIMESTAMP_TZ), CAST(? AS TIMESTAMP_TZ))) AS p("key", "lo", "hi", "since")
JOIN (
  SELECT CAST(e."ts" AS TIMESTAMP_TZ) AS "__fw_ts", COALESCE(el."loaded_at", e."_received_at") AS "__fw_loaded"
  FROM "flywheel"."stream_purchases" AS e
  LEFT JOIN "flywheel"."ingest_ledger" AS el ON el."stream" = ? AND el."batch" = e."_batch"
  WHERE CAST(e."ts" AS TIMESTAMP_TZ) >= CAST(? AS TIMESTAMP_TZ) AND CAST(e."ts" AS TIMESTAMP_TZ) <= CAST(? AS TIMESTAMP_TZ) AND COALESCE(el."loaded_at", e."_received_at") > CAST(? AS TIMESTAMP_TZ) AND COALESCE(el."loaded_at", e."_received_at") <= CAST(? AS TIMESTAMP_TZ) AND e."user_id" IS NOT NULL
) AS e
  ON e."__fw_ts" >= p."lo" AND e."__fw_ts" <= p."hi" AND e."__fw_loaded" > p."since"
GROUP BY p."key"
ORDER BY p."key"`,
};

describe('labels SQL', () => {
  for (const [name, dialect] of Object.entries(dialects) as [Dialect['name'], Dialect][]) {
    it(`${name}: label rows by keys, attribution last, value last with a default`, () => {
      const query = compileLabelRows(byKeys, run, dialect);
      expect(query.sql).toBe(keys[name]);
      // In text order: the labeled range and maturity (as of - 1h), the ledger's stream, decisions up to to + 1h and their watermark,
      // then the outcomes' range and watermark, the default and the as-of.
      expect(query.parameters).toEqual([
        '2024-03-02T00:00:00.000Z', '2024-03-04T23:00:00.000Z', 'feed_decisions', '2024-03-01T00:00:00.000Z', '2024-03-02T01:00:00.000Z', '2024-03-04T00:00:00.000Z',
        'purchases', '2024-03-01T00:00:00.000Z', '2024-03-02T01:00:00.000Z', '2024-03-04T06:00:00.000Z', 'none', '2024-03-05T00:00:00.000Z',
      ]);
    });

    it(`${name}: label rows by an id field, any outcome, load times from _received_at`, () => {
      const query = compileLabelRows(byId, run, dialect);
      expect(query.sql).toBe(id[name]);
      expect(query.parameters).toEqual([
        '2024-03-01T00:00:00.000Z', '2024-03-02T00:00:00.000Z', '2024-03-04T00:00:00.000Z', '2024-03-04T00:00:00.000Z',
        '2024-03-01T00:00:00.000Z', '2024-03-03T00:00:00.000Z', '2024-03-04T06:00:00.000Z', '2024-03-05T00:00:00.000Z',
      ]);
    });

    it(`${name}: rows loaded after each partition's watermark, per partition`, () => {
      const query = compileLateEvents(byKeys.outcomes, checks, { until: '2024-03-04T06:00:00.000Z', upper: 'inclusive', notNull: ['user_id'] }, dialect);
      expect(query.sql).toBe(late[name]);
      // A partition built before anything was loaded counts everything: its watermark reads as the epoch.
      expect(query.parameters).toEqual([
        'day=2024-03-01', '2024-03-01T00:00:00.000Z', '2024-03-02T01:00:00.000Z', '2024-03-02T01:00:00.000Z',
        'day=2024-03-02', '2024-03-02T00:00:00.000Z', '2024-03-03T01:00:00.000Z', '1970-01-01T00:00:00.000Z',
        'purchases', '2024-03-01T00:00:00.000Z', '2024-03-03T01:00:00.000Z', '1970-01-01T00:00:00.000Z', '2024-03-04T06:00:00.000Z',
      ]);
    });

    it(`${name}: a stream's watermark is the latest load time of its rows`, () => {
      expect(compileStreamWatermark(byKeys.outcomes, dialect)).toEqual({
        sql: 'SELECT max(COALESCE(el."loaded_at", e."_received_at")) AS "watermark" FROM "flywheel"."stream_purchases" AS e LEFT JOIN "flywheel"."ingest_ledger" AS el ON el."stream" = ? AND el."batch" = e."_batch"',
        parameters: ['purchases'],
      });
      expect(compileStreamWatermark(byId.outcomes, dialect)).toEqual({ sql: 'SELECT max(e."_received_at") AS "watermark" FROM "flywheel"."stream_accepts" AS e', parameters: [] });
    });
  }
});
