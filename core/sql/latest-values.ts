import { aggregationEventsOf, compileAggregatesAsOf } from '../aggregations/index.ts';
import type { FeatureViewSpec, ProjectSpec } from '../definitions/specs.ts';
import type { CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';
import { featureViewColumns, featureViewViewName } from './warehouse-objects.ts';

/** The column of compileLatestValues' rows that holds each value's event time (a UTC instant). */
export const LATEST_EVENT_TIME = '__fw_event_time';

/** One of `chunks` disjoint buckets of entity keys: `hash(keys) mod chunks = chunk`. */
export interface KeyBucket {
  readonly chunk: number;
  readonly chunks: number;
}

export interface LatestValuesOptions {
  /** The instant the values are read as of (ISO-8601 with a zone). */
  readonly asOf: string;
  /** Only the entities of this bucket (materialization splits a view into chunks this way). */
  readonly bucket?: KeyBucket;
}

/**
 * The latest values of every entity of a feature view as of one instant: what online
 * materialization writes. One row per entity key (join keys in entity order, then
 * `__fw_event_time`, then the features), ordered by the join keys; rows with a null key are left out.
 *
 * A plain view follows the training-set rules (docs/point-in-time.md): the latest row with an event
 * time at or before `asOf` (rules 1, 2), ties reduced by the greatest created time (nulls lose), then
 * the smallest feature values in declared order, nulls last (rule 3). An entity whose latest row is
 * more than the view's ttl old at `asOf` has no row (rule 4: exactly ttl old is kept).
 * An aggregation view gives compileAggregatesAsOf's rows, with `asOf` as their event time.
 *
 * @example
 * const rows = await engine.all(compileLatestValues(view, project, engine.dialect, { asOf: '2024-03-03T00:00:00Z' }));
 * // [{ user_id: 1, __fw_event_time: '2024-03-02T12:00:00.000Z', amount: 30 }, ...]
 */
export function compileLatestValues(view: FeatureViewSpec, project: ProjectSpec, dialect: Dialect, options: LatestValuesOptions): CompiledQuery {
  const id = dialect.identifier;
  const parameters: unknown[] = [];
  const bind = (value: unknown) => {
    parameters.push(value);
    return '?';
  };
  const { bucket, asOf } = options;
  if (bucket) checkBucket(bucket);

  if (view.aggregations) {
    const aggregates = compileAggregatesAsOf(aggregationEventsOf(view, project), asOf, dialect);
    const keys = featureViewColumns(view, project).joinKeys.map((k) => id(k.name));
    // Parameters in the order their `?` appear: the event time in the SELECT, then the subquery's, then the bucket's.
    const eventTime = `${dialect.asInstant(bind(asOf))} AS ${id(LATEST_EVENT_TIME)}`;
    parameters.push(...aggregates.parameters);
    const where = bucket ? `\nWHERE ${bucketCondition(dialect, keys, bucket, bind)}` : '';
    return {
      sql: `SELECT ${[...keys, eventTime, ...view.features.map((f) => id(f.name))].join(', ')}\nFROM (\n${aggregates.sql}\n) AS __fw_aggregates${where}\nORDER BY ${keys.join(', ')}`,
      parameters,
    };
  }

  const columns = featureViewColumns(view, project);
  const keys = columns.joinKeys.map((k) => id(k.name));
  const features = columns.features.map((f) => id(f.name));
  const instant = dialect.asInstant(id(columns.timestamp));
  const conditions = [
    ...keys.map((k) => `${k} IS NOT NULL`),
    `${instant} <= ${dialect.asInstant(bind(asOf))}`,
    // Filtering before picking the latest is the same as after: if the latest row is too old, so is every earlier one.
    ...(view.ttlSeconds !== null ? [`${instant} >= ${dialect.minusSeconds(dialect.asInstant(bind(asOf)), view.ttlSeconds)}`] : []),
    ...(bucket ? [bucketCondition(dialect, keys, bucket, bind)] : []),
  ];
  const order = [
    `${instant} DESC`,
    ...(columns.createdTimestamp !== undefined ? [`${id(columns.createdTimestamp)} DESC NULLS LAST`] : []),
    ...features.map((f) => `${f} ASC NULLS LAST`),
  ];
  return {
    sql:
      `SELECT ${[...keys, `${instant} AS ${id(LATEST_EVENT_TIME)}`, ...features].join(', ')}\n` +
      `FROM ${dialect.qualified(featureViewViewName(view.name))}\n` +
      `WHERE ${conditions.join(' AND ')}\n` +
      `QUALIFY row_number() OVER (PARTITION BY ${keys.join(', ')} ORDER BY ${order.join(', ')}) = 1\n` +
      `ORDER BY ${keys.join(', ')}`,
    parameters,
  };
}

/** How each engine puts keys in a bucket: a non-negative hash of the keys modulo the number of chunks. */
const KEY_BUCKET: Record<Dialect['name'], (keys: readonly string[], chunks: string) => string> = {
  duckdb: (keys, chunks) => `hash(${keys.join(', ')}) % ${chunks}`,
  // HASH is signed in Snowflake; a double MOD keeps the bucket in [0, chunks).
  snowflake: (keys, chunks) => `MOD(MOD(HASH(${keys.join(', ')}), ${chunks}) + ${chunks}, ${chunks})`,
};

function bucketCondition(dialect: Dialect, keys: readonly string[], bucket: KeyBucket, bind: (value: unknown) => string): string {
  // Chunk counts are checked whole numbers, written inline so the expression needs no repeated parameter.
  return `${KEY_BUCKET[dialect.name](keys, String(bucket.chunks))} = ${bind(bucket.chunk)}`;
}

function checkBucket({ chunk, chunks }: KeyBucket): void {
  if (!Number.isSafeInteger(chunks) || chunks < 1) throw new RangeError(`chunks must be a positive whole number, got ${chunks}`);
  if (!Number.isSafeInteger(chunk) || chunk < 0 || chunk >= chunks) throw new RangeError(`chunk must be a whole number in [0, ${chunks}), got ${chunk}`);
}
