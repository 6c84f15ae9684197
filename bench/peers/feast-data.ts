import { join } from 'node:path';
import type { OfflineEngine } from '../../connectors/offline/offline-engine.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { validateProject } from '../../core/validation/validate-project.ts';
import { entity, featureService, featureView, source, trainingSet } from '../../index.ts';

/**
 * The one dataset both Feast and Flywheel read in bench/peers/feast.ts, written as Parquet files
 * (no keys, no constraints: the sources are plain files), and the Flywheel project over it. The
 * Feast repo over the same files is defined in feast_bench.py with the same names.
 *
 * - Training set: a spine of `spineRows` rows over 90 days, and three feature views over 100,000
 *   users and 10,000 merchants (full scale): user_spend and user_activity (2 features each, ttl 7 d)
 *   with `userRowsPerView` rows each, merchant_risk (2 features, ttl 30 d) with `merchantRows`.
 *   Generated as bench/large-training-set-data.ts does, so an entity's rows never tie on event time.
 * - Materialization and serving: `items.parquet` with one row per item of `features` float64
 *   features (two decimals), event times within the last day; `items_small.parquet` its first
 *   `smallItems` rows.
 */
export interface PeerDataSizes {
  readonly spineRows: number;
  readonly userRowsPerView: number;
  readonly merchantRows: number;
  readonly users: number;
  readonly merchants: number;
  readonly items: number;
  readonly smallItems: number;
  readonly features: number;
}

export const PEER_SCALES = {
  /** 1M spine × 3 views × 5M feature rows; materialization of 100k and 1M items (issue 17). */
  full: { spineRows: 1_000_000, userRowsPerView: 2_000_000, merchantRows: 1_000_000, users: 100_000, merchants: 10_000, items: 1_000_000, smallItems: 100_000, features: 50 },
  /** A quick run that exercises every case: 20k spine × 100k feature rows; 1k and 10k items. */
  small: { spineRows: 20_000, userRowsPerView: 40_000, merchantRows: 20_000, users: 2_000, merchants: 200, items: 10_000, smallItems: 1_000, features: 50 },
} as const satisfies Record<string, PeerDataSizes>;

export const PEER_PROJECT = 'bench';
/** Feature names of the item views, as in bench/serving-server.ts (so `flywheel serve`'s bench server serves them). */
export const itemFeatureNames = (features: number): string[] => Array.from({ length: features }, (_, i) => `f${i}`);

const DAYS = 90;
const START = "TIMESTAMPTZ '2024-01-01 00:00:00+00'";

/** Writes the Parquet files into `dir`; `now` anchors the items' event times (within the day before it). */
export async function generatePeerData(engine: OfflineEngine, dir: string, sizes: PeerDataSizes, now: Date): Promise<void> {
  const seconds = DAYS * 86_400;
  const slotted = (rows: number, entities: number, seed: number) => {
    const slot = Math.floor(seconds / Math.ceil(rows / entities));
    return `${START} + to_seconds((i // ${entities}) * ${slot} + hash(i, ${seed}) % ${slot})`;
  };
  const copy = (select: string, file: string) => `COPY (${select}) TO '${join(dir, file)}' (FORMAT parquet, COMPRESSION zstd)`;
  const view = (key: string, rows: number, entities: number, tsSeed: number, select: string, file: string) =>
    copy(`SELECT (i % ${entities})::BIGINT AS ${key}, ${slotted(rows, entities, tsSeed)} AS ts, ${select} FROM range(${rows}) t(i)`, file);
  const features = itemFeatureNames(sizes.features).map((n, i) => `round(((i * ${2_654_435_761 + i}) % 1000003) / 100.0, 2)::DOUBLE AS ${n}`).join(', ');
  const statements = [
    copy(`SELECT i::BIGINT AS event_id, (hash(i, 1) % ${sizes.users})::BIGINT AS user_id, (hash(i, 2) % ${sizes.merchants})::BIGINT AS merchant_id,
       ${START} + to_seconds(hash(i, 3) % ${seconds}) AS ts, (hash(i, 4) % 100 = 0) AS label FROM range(${sizes.spineRows}) t(i)`, 'spine.parquet'),
    view('user_id', sizes.userRowsPerView, sizes.users, 5, '(hash(i, 6) % 100000) / 100.0 AS amount_sum_1d, (hash(i, 7) % 50)::BIGINT AS txn_count_1d', 'user_spend.parquet'),
    view('user_id', sizes.userRowsPerView, sizes.users, 8, '(hash(i, 9) % 1000) / 1000.0 AS night_share, (hash(i, 10) % 30)::BIGINT AS distinct_merchants', 'user_activity.parquet'),
    view('merchant_id', sizes.merchantRows, sizes.merchants, 11, '(hash(i, 12) % 1000) / 10000.0 AS chargeback_rate, (hash(i, 13) % 5000)::BIGINT AS txn_count_30d', 'merchant_risk.parquet'),
    copy(`SELECT i::BIGINT AS item_id, TIMESTAMPTZ '${now.toISOString()}' - to_seconds(1 + i % 86400) AS ts, ${features} FROM range(${sizes.items}) t(i)`, 'items.parquet'),
    copy(`SELECT * FROM read_parquet('${join(dir, 'items.parquet')}') WHERE item_id < ${sizes.smallItems}`, 'items_small.parquet'),
  ];
  for (const sql of statements) await engine.run({ sql, parameters: [] });
}

/** The Flywheel project over those files, with the definitions of feast_bench.py (absolute Parquet paths). */
export function peerProject(dir: string, features: number): ProjectSpec {
  const ts = 'timestamp' as const;
  const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
  const merchant = entity({ name: 'merchant', joinKeys: { merchant_id: 'int64' } });
  const item = entity({ name: 'item', joinKeys: { item_id: 'int64' } });
  const file = (name: string) => join(dir, `${name}.parquet`);
  const spine = source({ name: 'spine', parquet: file('spine'), timestampField: 'ts', columns: { event_id: 'int64', user_id: 'int64', merchant_id: 'int64', ts, label: 'bool' } });
  const spendSrc = source({ name: 'user_spend_src', parquet: file('user_spend'), timestampField: 'ts', columns: { user_id: 'int64', ts, amount_sum_1d: 'float64', txn_count_1d: 'int64' } });
  const activitySrc = source({ name: 'user_activity_src', parquet: file('user_activity'), timestampField: 'ts', columns: { user_id: 'int64', ts, night_share: 'float64', distinct_merchants: 'int64' } });
  const riskSrc = source({ name: 'merchant_risk_src', parquet: file('merchant_risk'), timestampField: 'ts', columns: { merchant_id: 'int64', ts, chargeback_rate: 'float64', txn_count_30d: 'int64' } });
  const spend = featureView({ name: 'user_spend', entities: [user], source: spendSrc, ttl: '7d', features: { amount_sum_1d: 'float64', txn_count_1d: 'int64' } });
  const activity = featureView({ name: 'user_activity', entities: [user], source: activitySrc, ttl: '7d', features: { night_share: 'float64', distinct_merchants: 'int64' } });
  const risk = featureView({ name: 'merchant_risk', entities: [merchant], source: riskSrc, ttl: '30d', features: { chargeback_rate: 'float64', txn_count_30d: 'int64' } });
  const model = featureService({ name: 'model', features: [spend, activity, risk] });
  const training = trainingSet({ name: 'peer', spine, features: model, output: { path: 'peer' } }); // partitionBy: the default, day

  const floats = Object.fromEntries(itemFeatureNames(features).map((n) => [n, 'float64' as const]));
  const itemsSrc = source({ name: 'items', parquet: file('items'), timestampField: 'ts', columns: { item_id: 'int64', ts, ...floats } });
  const itemsSmallSrc = source({ name: 'items_small', parquet: file('items_small'), timestampField: 'ts', columns: { item_id: 'int64', ts, ...floats } });
  const items = featureView({ name: 'item_features', entities: [item], source: itemsSrc, ttl: '30d', online: true, features: floats });
  const itemsSmall = featureView({ name: 'item_features_small', entities: [item], source: itemsSmallSrc, ttl: '30d', online: true, features: floats });
  const ranking = featureService({ name: 'ranking', features: [items] });
  const definitions = [user, merchant, item, spine, spendSrc, activitySrc, riskSrc, spend, activity, risk, model, training, itemsSrc, itemsSmallSrc, items, itemsSmall, ranking];
  return validateProject(definitions.map((definition) => ({ file: 'bench/peers/feast-data.ts', definition })));
}
