import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { entity, featureService, featureView, source, trainingSet } from '../index.ts';

/**
 * Data for the large training-set benchmark, generated inside DuckDB: a spine of `spineRows` rows
 * over 90 days and three feature tables over 100,000 users and 10,000 merchants. Event times are
 * spread by hashing, so every entity's rows interleave with the spine's. Each feature table has the
 * primary key (entity, ts), as a feature table keyed by entity and time would: an entity's n-th row
 * falls in the n-th of equal slots of the 90 days, at a hashed second within it. The same rows are
 * also readable through plain views (`<table>_any`), which carry no constraint.
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
const START = "TIMESTAMPTZ '2024-01-01 00:00:00+00'";

export async function generateLargeData(engine: OfflineEngine, sizes: LargeDataSizes): Promise<void> {
  const seconds = DAYS * 86_400;
  // Row i of a table over `entities` entities: entity i % entities, its (i // entities)-th row, in its own slot.
  const slotted = (rows: number, entities: number, seed: number) => {
    const slot = Math.floor(seconds / Math.ceil(rows / entities));
    return `${START} + to_seconds((i // ${entities}) * ${slot} + hash(i, ${seed}) % ${slot})`;
  };
  const table = (name: string, key: string, columns: string, rows: number, entities: number, tsSeed: number, select: string) => [
    `CREATE OR REPLACE TABLE ${name} (${key} BIGINT, ts TIMESTAMPTZ, ${columns}, PRIMARY KEY (${key}, ts))`,
    `INSERT INTO ${name} SELECT (i % ${entities})::BIGINT, ${slotted(rows, entities, tsSeed)}, ${select} FROM range(${rows}) t(i)`,
    `CREATE OR REPLACE VIEW ${name}_any AS SELECT * FROM ${name}`,
  ];
  const statements = [
    `CREATE OR REPLACE TABLE spine AS SELECT i::BIGINT AS event_id, (hash(i, 1) % ${sizes.users})::BIGINT AS user_id, (hash(i, 2) % ${sizes.merchants})::BIGINT AS merchant_id,
       ${START} + to_seconds(hash(i, 3) % ${seconds}) AS ts, (hash(i, 4) % 100 = 0) AS label FROM range(${sizes.spineRows}) t(i)`,
    ...table('user_spend', 'user_id', 'amount_sum_1d DOUBLE, txn_count_1d BIGINT', sizes.userRowsPerView, sizes.users, 5,
      '(hash(i, 6) % 100000) / 100.0, (hash(i, 7) % 50)::BIGINT'),
    ...table('user_activity', 'user_id', 'night_share DOUBLE, distinct_merchants BIGINT', sizes.userRowsPerView, sizes.users, 8,
      '(hash(i, 9) % 1000) / 1000.0, (hash(i, 10) % 30)::BIGINT'),
    ...table('merchant_risk', 'merchant_id', 'chargeback_rate DOUBLE, txn_count_30d BIGINT', sizes.merchantRows, sizes.merchants, 11,
      '(hash(i, 12) % 1000) / 10000.0, (hash(i, 13) % 5000)::BIGINT'),
  ];
  for (const sql of statements) await engine.run({ sql, parameters: [] });
}

/** Where the benchmark's feature rows (and, for Parquet, the spine) are read from. */
export type LargeSourceKind = 'table' | 'view' | 'parquet';

/** Writes the spine and the three feature tables as one Parquet file each in `dir` (for `source: 'parquet'`). */
export async function exportLargeParquet(engine: OfflineEngine, dir: string): Promise<void> {
  for (const table of ['spine', 'user_spend', 'user_activity', 'merchant_risk']) {
    await engine.run({ sql: `COPY ${table} TO '${dir}/${table}.parquet' (FORMAT parquet, COMPRESSION zstd)`, parameters: [] });
  }
}

/** The relation a hand-written query reads for `table` under each source kind. */
export function largeRelation(table: string, kind: LargeSourceKind, parquetDir: string): string {
  if (kind === 'parquet') return `read_parquet('${parquetDir}/${table}.parquet')`;
  return kind === 'view' && table !== 'spine' ? `${table}_any` : table;
}

/**
 * The project's definitions for that data, built with the same builders a project uses. With
 * `constraints: false` (or `source: 'view'`) the feature sources read the plain views, and with
 * `source: 'parquet'` the Parquet files of exportLargeParquet, so Flywheel cannot know that no two
 * rows tie and runs its tie-break (docs/point-in-time.md), unless `unique` declares the sources'
 * (key, ts) unique.
 */
export function largeProject(partitionBy: 'day' | 'none', options: { constraints?: boolean; source?: LargeSourceKind; unique?: boolean; parquetDir?: string } = {}): ProjectSpec {
  const kind = options.source ?? (options.constraints === false ? 'view' : 'table');
  const at = (name: string) => (kind === 'parquet' ? { parquet: `${options.parquetDir ?? '.'}/${name}.parquet` } : { table: largeRelation(name, kind, '') });
  const unique = (key: string) => (options.unique ? { unique: [key, 'ts'] } : {});
  const ts = 'timestamp' as const;
  const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
  const merchant = entity({ name: 'merchant', joinKeys: { merchant_id: 'int64' } });
  const spine = source({ name: 'spine', ...at('spine'), timestampField: 'ts', columns: { event_id: 'int64', user_id: 'int64', merchant_id: 'int64', ts, label: 'bool' } });
  const spendSrc = source({ name: 'user_spend_src', ...at('user_spend'), ...unique('user_id'), timestampField: 'ts', columns: { user_id: 'int64', ts, amount_sum_1d: 'float64', txn_count_1d: 'int64' } });
  const activitySrc = source({ name: 'user_activity_src', ...at('user_activity'), ...unique('user_id'), timestampField: 'ts', columns: { user_id: 'int64', ts, night_share: 'float64', distinct_merchants: 'int64' } });
  const riskSrc = source({ name: 'merchant_risk_src', ...at('merchant_risk'), ...unique('merchant_id'), timestampField: 'ts', columns: { merchant_id: 'int64', ts, chargeback_rate: 'float64', txn_count_30d: 'int64' } });
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
 * `handWrittenJoin` reads the relations of a source kind (tables, the plain views, Parquet files).
 */
export function handWrittenJoin(kind: LargeSourceKind, parquetDir: string): string {
  return HAND_WRITTEN_JOIN.replace(/\b(FROM|JOIN) (spine|user_spend|user_activity|merchant_risk)\b/g, (_m, word: string, table: string) => `${word} ${largeRelation(table, kind, parquetDir)}`);
}

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
