import { aggregationEventsOf, compileAggregatesAsOf } from '../aggregations/index.ts';
import { AGGREGATION_RULES } from '../aggregations/functions.ts';
import type { FeatureViewSpec, ProjectSpec } from '../definitions/specs.ts';
import type { CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';
import { featureViewColumns, featureViewViewName } from './warehouse-objects.ts';

/** The column of compileLatestValues' rows that holds each value's event time (a UTC instant). */
export const LATEST_EVENT_TIME = '__fw_event_time';
/** The columns of compileEncodedLatestValues' rows after the join keys: the event time in microseconds, and the values as one JSON array text. */
export const LATEST_EVENT_MICROS = '__fw_event_micros';
export const LATEST_VALUES_JSON = '__fw_values';

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
  /**
   * Incremental: only the entities whose values as of `asOf` may differ from their values as of
   * `changedSince` (an ISO-8601 instant, before asOf), for a run that follows one as of changedSince.
   * See entitiesOf for the rule. Absent: every entity (a full run).
   */
  readonly changedSince?: string;
  /** Only entities whose join keys sort after these (in join-key order): where a reader of compileLatestValues' ordered rows resumes. */
  readonly afterKey?: readonly (string | number | bigint)[];
}

/**
 * The latest values of the entities of a feature view as of one instant: what online
 * materialization writes. One row per entity key (join keys in entity order, then
 * `__fw_event_time`, then the features), ordered by the join keys; rows with a null key are left out.
 *
 * A plain view follows the training-set rules (docs/point-in-time.md): the latest row with an event
 * time at or before `asOf` (rules 1, 2), ties reduced by the greatest created time (nulls lose), then
 * the smallest feature values in declared order, nulls last (rule 3). An entity whose latest row is
 * more than the view's ttl old at `asOf` has no row (rule 4: exactly ttl old is kept).
 *
 * An aggregation view gives compileAggregatesAsOf's values, with `asOf` as their event time, for
 * every entity with an event at or before `asOf`: one whose windows hold no event gets the empty
 * values (0 for counts, null for the rest), so a value that slid out of its windows is overwritten
 * in the online store.
 *
 * Which entities (the rule of incremental materialization, docs/materialization.md):
 * - without `changedSince`: every entity (plain: with a value within the ttl; aggregation: with any
 *   event at or before asOf);
 * - plain view, with `changedSince` s: the entities with a row whose event time or created time is
 *   in (s, asOf]; no other entity's latest row changed;
 * - aggregation view, with `changedSince` s and largest window W: the entities with an event in
 *   (s - W, asOf]. Another entity's events are all at or before s - W, so its windows were already
 *   empty at s and still are; its empty values were written by the run that saw its last event
 *   leave (that entity had an event in that run's range), or it never had a value.
 *
 * @example
 * const rows = await engine.all(compileLatestValues(view, project, engine.dialect, { asOf: '2024-03-03T00:00:00Z' }));
 * // [{ user_id: 1, __fw_event_time: '2024-03-02T12:00:00.000Z', amount: 30 }, ...]
 */
export function compileLatestValues(view: FeatureViewSpec, project: ProjectSpec, dialect: Dialect, options: LatestValuesOptions): CompiledQuery {
  const id = dialect.identifier;
  const inner = compileLatest(view, project, dialect, options);
  const keys = featureViewColumns(view, project).joinKeys.map((k) => id(k.name));
  return {
    sql: `SELECT *\nFROM (\n${inner.sql}\n) AS __fw_latest\nORDER BY ${keys.join(', ')}`,
    parameters: inner.parameters,
  };
}

/**
 * compileLatestValues with each row's values encoded by the engine: the join keys, then
 * `__fw_event_micros` (the event time in microseconds since the epoch) and `__fw_values` (the
 * features as one JSON array text in declared order, each value as OfflineEngine.all would give it;
 * see Dialect.jsonValue). Materialization hands these straight to OnlineStore.writeEncoded, so no
 * value is converted in JavaScript.
 *
 * Unlike compileLatestValues, the rows come in no particular order. Nothing depends on it: each
 * entity has one row, buckets are disjoint, and the online store's newer-wins rule decides between
 * writes of one key from different runs, whatever their order. An ORDER BY would hold back every
 * row of a chunk until the last one is sorted, so its first write would wait for its whole read
 * (docs/benchmarks.md, "Materialization"). A retried chunk therefore starts again from its first
 * row (docs/materialization.md).
 *
 * @example
 * for await (const batch of engine.stream(compileEncodedLatestValues(view, project, engine.dialect, { asOf }))) ...
 * // columns user_id, __fw_event_micros, __fw_values: [1, 1709380800000000, '[30,"FR",null]']
 */
export function compileEncodedLatestValues(view: FeatureViewSpec, project: ProjectSpec, dialect: Dialect, options: LatestValuesOptions): CompiledQuery {
  const id = dialect.identifier;
  const inner = compileLatest(view, project, dialect, options);
  const keys = featureViewColumns(view, project).joinKeys.map((k) => id(k.name));
  const values = dialect.jsonArray(view.features.map((f) => dialect.jsonValue(id(f.name), f.type)));
  return {
    sql:
      `SELECT ${[...keys, `${dialect.epochMicros(id(LATEST_EVENT_TIME))} AS ${id(LATEST_EVENT_MICROS)}`, `${values} AS ${id(LATEST_VALUES_JSON)}`].join(', ')}\n` +
      `FROM (\n${inner.sql}\n) AS __fw_latest`,
    parameters: inner.parameters,
  };
}

/** A piece of SQL with the parameters of its `?`s, in order. */
interface Fragment {
  readonly sql: string;
  readonly parameters: readonly unknown[];
}

const fragment = (text: string, ...parameters: unknown[]): Fragment => ({ sql: text, parameters });

/** Joins fragments with `separator`, keeping their parameters in text order. */
function joined(parts: readonly Fragment[], separator: string): Fragment {
  return { sql: parts.map((p) => p.sql).join(separator), parameters: parts.flatMap((p) => p.parameters) };
}

/** The latest rows (keys, event time, features), unordered. */
function compileLatest(view: FeatureViewSpec, project: ProjectSpec, dialect: Dialect, options: LatestValuesOptions): Fragment {
  const { bucket, asOf, afterKey, changedSince } = options;
  if (bucket) checkBucket(bucket);
  const columns = featureViewColumns(view, project);
  if (afterKey && afterKey.length !== columns.joinKeys.length) throw new RangeError(`afterKey has ${afterKey.length} values, the view has ${columns.joinKeys.length} join keys`);
  const id = dialect.identifier;
  const relation = dialect.qualified(featureViewViewName(view.name));
  const at = (alias: string) => (name: string) => `${alias}.${id(name)}`;
  const asOfInstant = () => fragment(dialect.asInstant('?'), asOf);
  /** Conditions every selected entity meets: a key, its bucket, after the resume key. */
  const keyConditions = (col: (name: string) => string): Fragment[] => [
    ...columns.joinKeys.map((k) => fragment(`${col(k.name)} IS NOT NULL`)),
    ...(bucket ? [bucketCondition(dialect, columns.joinKeys.map((k) => col(k.name)), bucket)] : []),
    ...(afterKey ? [afterCondition(columns.joinKeys.map((k) => col(k.name)), afterKey)] : []),
  ];

  if (view.aggregations) {
    const e = at('e');
    const instant = dialect.asInstant(e(columns.timestamp));
    const longest = Math.max(...view.aggregations.map((a) => a.windowSeconds));
    const since = changedSince === undefined ? [] : [joined([fragment(`${instant} > `), fragment(dialect.minusSeconds(dialect.asInstant('?'), longest), changedSince)], '')];
    const entities = joined([
      fragment(`WITH __fw_entities AS (\n  SELECT DISTINCT ${columns.joinKeys.map((k) => e(k.name)).join(', ')}\n  FROM ${relation} AS e\n  WHERE `),
      joined([...keyConditions(e), joined([fragment(`${instant} <= `), asOfInstant()], ''), ...since], ' AND '),
      fragment('\n)\n'),
    ], '');
    const aggregates = compileAggregatesAsOf(aggregationEventsOf(view, project), asOf, dialect);
    const a = at('a');
    const keys = columns.joinKeys.map((k) => k.name);
    const features = view.features.map((f) => {
      const spec = view.aggregations!.find((x) => x.name === f.name);
      const empty = spec ? AGGREGATION_RULES[spec.function].empty : null;
      return empty === null ? `${a(f.name)} AS ${id(f.name)}` : `COALESCE(${a(f.name)}, ${empty}) AS ${id(f.name)}`;
    });
    // Only the bucket's entities are aggregated: the filter on the grouping keys reaches the GROUP BY.
    const bucketOnAggregates = bucket ? joined([fragment('\n  WHERE '), bucketCondition(dialect, keys.map((k) => `__fw_all.${id(k)}`), bucket)], '') : fragment('');
    return joined([
      entities,
      joined([fragment('SELECT '), joined([...keys.map((k) => fragment(`e.${id(k)}`)), joined([asOfInstant(), fragment(` AS ${id(LATEST_EVENT_TIME)}`)], ''), ...features.map((f) => fragment(f))], ', ')], ''),
      fragment(`\nFROM __fw_entities AS e\nLEFT JOIN (\n  SELECT * FROM (\n${aggregates.sql}\n  ) AS __fw_all`),
      { sql: '', parameters: aggregates.parameters },
      bucketOnAggregates,
      fragment(`\n) AS a ON ${keys.map((k) => `a.${id(k)} = e.${id(k)}`).join(' AND ')}`),
    ], '');
  }

  const r = at('r');
  const instant = dialect.asInstant(r(columns.timestamp));
  const conditions = [
    ...keyConditions(r),
    joined([fragment(`${instant} <= `), asOfInstant()], ''),
    // Filtering before picking the latest is the same as after: if the latest row is too old, so is every earlier one.
    ...(view.ttlSeconds !== null ? [joined([fragment(`${instant} >= `), fragment(dialect.minusSeconds(dialect.asInstant('?'), view.ttlSeconds), asOf)], '')] : []),
  ];
  let changed = fragment('');
  let join = '';
  if (changedSince !== undefined) {
    // The entities with a row that arrived in (changedSince, asOf], by event time or created time.
    const c = at('c');
    const inRange = (column: string) => joined([
      fragment(`(${dialect.asInstant(c(column))} > `), fragment(dialect.asInstant('?'), changedSince), fragment(` AND ${dialect.asInstant(c(column))} <= `), asOfInstant(), fragment(')'),
    ], '');
    const arrived = columns.createdTimestamp !== undefined
      ? joined([fragment('('), inRange(columns.timestamp), fragment(' OR '), inRange(columns.createdTimestamp), fragment(')')], '')
      : inRange(columns.timestamp);
    changed = joined([
      fragment(`WITH __fw_changed AS (\n  SELECT DISTINCT ${columns.joinKeys.map((k) => c(k.name)).join(', ')}\n  FROM ${relation} AS c\n  WHERE `),
      joined([...keyConditions(c), arrived], ' AND '),
      fragment('\n)\n'),
    ], '');
    join = `\nJOIN __fw_changed AS c ON ${columns.joinKeys.map((k) => `${c(k.name)} = ${r(k.name)}`).join(' AND ')}`;
  }
  const keys = columns.joinKeys.map((k) => r(k.name));
  const order = [
    `${instant} DESC`,
    ...(columns.createdTimestamp !== undefined ? [`${r(columns.createdTimestamp)} DESC NULLS LAST`] : []),
    ...columns.features.map((f) => `${r(f.name)} ASC NULLS LAST`),
  ];
  return joined([
    changed,
    fragment(`SELECT ${[...keys, `${instant} AS ${id(LATEST_EVENT_TIME)}`, ...columns.features.map((f) => r(f.name))].join(', ')}\nFROM ${relation} AS r${join}\nWHERE `),
    joined(conditions, ' AND '),
    fragment(`\nQUALIFY row_number() OVER (PARTITION BY ${keys.join(', ')} ORDER BY ${order.join(', ')}) = 1`),
  ], '');
}

function bucketCondition(dialect: Dialect, keys: readonly string[], bucket: KeyBucket): Fragment {
  // Chunk counts are checked whole numbers, written inline so the expression needs no repeated parameter.
  return fragment(`${dialect.keyBucket(keys, String(bucket.chunks))} = ?`, bucket.chunk);
}

/** Keys that sort after `after` in join-key order: `(k1 > ? OR (k1 = ? AND k2 > ?) OR …)`, portable where row comparisons are not. */
function afterCondition(keys: readonly string[], after: readonly unknown[]): Fragment {
  const terms = keys.map((key, i) => {
    const term = joined([...keys.slice(0, i).map((earlier, j) => fragment(`${earlier} = ?`, after[j])), fragment(`${key} > ?`, after[i])], ' AND ');
    return i === 0 ? term : joined([fragment('('), term, fragment(')')], '');
  });
  return joined([fragment('('), joined(terms, ' OR '), fragment(')')], '');
}

function checkBucket({ chunk, chunks }: KeyBucket): void {
  if (!Number.isSafeInteger(chunks) || chunks < 1) throw new RangeError(`chunks must be a positive whole number, got ${chunks}`);
  if (!Number.isSafeInteger(chunk) || chunk < 0 || chunk >= chunks) throw new RangeError(`chunk must be a whole number in [0, ${chunks}), got ${chunk}`);
}
