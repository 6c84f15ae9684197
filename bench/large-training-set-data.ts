import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { entity, featureService, featureView, source, trainingSet } from '../index.ts';

/**
 * Data for the large training-set benchmark, generated inside DuckDB: a spine of `spineRows` rows
 * over 90 days and three feature tables over 100,000 users and 10,000 merchants. Event times are
 * spread by hashing, so every entity's rows interleave with the spine's.
 */
export interface LargeDataSizes {
  readonly spineRows: number;
  readonly userRowsPerView: number;
  readonly merchantRows: number;
  readonly users: number;
  readonly merchants: number;
}

export const LARGE_DEFAULTS: LargeDataSizes = { spineRows: 10_000_000, userRowsPerView: 20_000_000, merchantRows: 10_000_000, users: 100_000, merchants: 10_000 };

const DAYS = 90;

export async function generateLargeData(engine: OfflineEngine, sizes: LargeDataSizes): Promise<void> {
  const seconds = DAYS * 86_400;
  const at = (expr: string) => `TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds((${expr}) % ${seconds})`;
  const statements = [
    `CREATE OR REPLACE TABLE spine AS SELECT i::BIGINT AS event_id, (hash(i, 1) % ${sizes.users})::BIGINT AS user_id, (hash(i, 2) % ${sizes.merchants})::BIGINT AS merchant_id,
       ${at('hash(i, 3)')} AS ts, (hash(i, 4) % 100 = 0) AS label FROM range(${sizes.spineRows}) t(i)`,
    `CREATE OR REPLACE TABLE user_spend AS SELECT (i % ${sizes.users})::BIGINT AS user_id, ${at('hash(i, 5)')} AS ts,
       (hash(i, 6) % 100000) / 100.0 AS amount_sum_1d, (hash(i, 7) % 50)::BIGINT AS txn_count_1d FROM range(${sizes.userRowsPerView}) t(i)`,
    `CREATE OR REPLACE TABLE user_activity AS SELECT (i % ${sizes.users})::BIGINT AS user_id, ${at('hash(i, 8)')} AS ts,
       (hash(i, 9) % 1000) / 1000.0 AS night_share, (hash(i, 10) % 30)::BIGINT AS distinct_merchants FROM range(${sizes.userRowsPerView}) t(i)`,
    `CREATE OR REPLACE TABLE merchant_risk AS SELECT (i % ${sizes.merchants})::BIGINT AS merchant_id, ${at('hash(i, 11)')} AS ts,
       (hash(i, 12) % 1000) / 10000.0 AS chargeback_rate, (hash(i, 13) % 5000)::BIGINT AS txn_count_30d FROM range(${sizes.merchantRows}) t(i)`,
  ];
  for (const sql of statements) await engine.run({ sql, parameters: [] });
}

/** The project's definitions for that data, built with the same builders a project uses. */
export function largeProject(partitionBy: 'day' | 'none'): ProjectSpec {
  const ts = 'timestamp' as const;
  const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
  const merchant = entity({ name: 'merchant', joinKeys: { merchant_id: 'int64' } });
  const spine = source({ name: 'spine', table: 'spine', timestampField: 'ts', columns: { event_id: 'int64', user_id: 'int64', merchant_id: 'int64', ts, label: 'bool' } });
  const spendSrc = source({ name: 'user_spend_src', table: 'user_spend', timestampField: 'ts', columns: { user_id: 'int64', ts, amount_sum_1d: 'float64', txn_count_1d: 'int64' } });
  const activitySrc = source({ name: 'user_activity_src', table: 'user_activity', timestampField: 'ts', columns: { user_id: 'int64', ts, night_share: 'float64', distinct_merchants: 'int64' } });
  const riskSrc = source({ name: 'merchant_risk_src', table: 'merchant_risk', timestampField: 'ts', columns: { merchant_id: 'int64', ts, chargeback_rate: 'float64', txn_count_30d: 'int64' } });
  const spend = featureView({ name: 'user_spend', entities: [user], source: spendSrc, ttl: '7d', features: { amount_sum_1d: 'float64', txn_count_1d: 'int64' } });
  const activity = featureView({ name: 'user_activity', entities: [user], source: activitySrc, ttl: '7d', features: { night_share: 'float64', distinct_merchants: 'int64' } });
  const risk = featureView({ name: 'merchant_risk', entities: [merchant], source: riskSrc, ttl: '30d', features: { chargeback_rate: 'float64', txn_count_30d: 'int64' } });
  const service = featureService({ name: 'model', features: [spend, activity, risk] });
  const training = trainingSet({ name: 'large', spine, features: service, output: { path: 'large', partitionBy } });
  return validateProject([user, merchant, spine, spendSrc, activitySrc, riskSrc, spend, activity, risk, service, training].map((definition) => ({ file: 'bench', definition })));
}

/**
 * The shortest hand-written DuckDB query a careful engineer would write for the same training set:
 * one ASOF LEFT JOIN per table with the ttl as a CASE, no tie-breaking, no ordering guarantees.
 */
export const HAND_WRITTEN_JOIN = `
SELECT s.event_id, s.user_id, s.merchant_id, s.ts, s.label,
  CASE WHEN a.ts >= s.ts - INTERVAL 7 DAY THEN a.amount_sum_1d END AS amount_sum_1d,
  CASE WHEN a.ts >= s.ts - INTERVAL 7 DAY THEN a.txn_count_1d END AS txn_count_1d,
  CASE WHEN b.ts >= s.ts - INTERVAL 7 DAY THEN b.night_share END AS night_share,
  CASE WHEN b.ts >= s.ts - INTERVAL 7 DAY THEN b.distinct_merchants END AS distinct_merchants,
  CASE WHEN c.ts >= s.ts - INTERVAL 30 DAY THEN c.chargeback_rate END AS chargeback_rate,
  CASE WHEN c.ts >= s.ts - INTERVAL 30 DAY THEN c.txn_count_30d END AS txn_count_30d
FROM spine s
ASOF LEFT JOIN user_spend a ON s.user_id = a.user_id AND s.ts >= a.ts
ASOF LEFT JOIN user_activity b ON s.user_id = b.user_id AND s.ts >= b.ts
ASOF LEFT JOIN merchant_risk c ON s.merchant_id = c.merchant_id AND s.ts >= c.ts`;
