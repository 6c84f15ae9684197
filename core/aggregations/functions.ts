import type { AggregationFunction } from '../definitions/specs.ts';
import { formatDuration, type DurationInput } from '../duration.ts';
import type { ValueType } from '../types.ts';

/**
 * What each aggregation function means, in one place: the training-set join
 * (core/sql/point-in-time.ts) and the "as of an instant" query (aggregates-as-of.ts) both build their
 * SQL from these rules, so offline and online values agree. Semantics: docs/point-in-time.md,
 * "Windowed aggregations".
 */

export const AGGREGATION_FUNCTIONS = ['count', 'sum', 'avg', 'min', 'max', 'last', 'distinct_count'] as const satisfies readonly AggregationFunction[];

const NUMERIC: readonly ValueType[] = ['int32', 'int64', 'float32', 'float64'];
const ORDERED: readonly ValueType[] = [...NUMERIC, 'string', 'timestamp', 'date'];

/**
 * How a function combines the events of a window:
 * - `reduce`: a SQL aggregate over one value per event (NULL for rows that are not events of the
 *   window, and for null values, which it ignores); `count` is given a non-null marker per event;
 * - `latest`: the value of the latest event in the window (`last`), ties broken like rule 3.
 */
export type AggregationMethod =
  | { readonly kind: 'reduce'; readonly sql: (value: string) => string }
  | { readonly kind: 'latest' };

export interface AggregationFunctionRule {
  /** Whether it reads a column; `count` counts events and reads none. */
  readonly readsColumn: boolean;
  /** The column types it accepts; `'any'` for every type. */
  readonly accepts: readonly ValueType[] | 'any';
  /** What it is over a window without events: 0 for the counts, null for the rest. */
  readonly empty: 0 | null;
  /** The type of the feature, given the type of the column it reads (undefined for `count`). */
  resultType(column: ValueType | undefined): ValueType;
  readonly method: AggregationMethod;
  /**
   * Whether its exact result can fall outside an int64 feature's range (an integer `sum`): the
   * compilers then check the range, and a value outside fails the run naming the feature and the
   * entity (overflow.ts) instead of being cast blindly.
   */
  readonly mayOverflow: boolean;
}

const reduce = (sql: (value: string) => string): AggregationMethod => ({ kind: 'reduce', sql });
const sameAsColumn = (column: ValueType | undefined): ValueType => column ?? 'int64';

export const AGGREGATION_RULES: Readonly<Record<AggregationFunction, AggregationFunctionRule>> = {
  // A count cannot exceed the rows of a table; min, max and last are values of the column; avg is a float.
  count: { readsColumn: false, accepts: 'any', empty: 0, resultType: () => 'int64', method: reduce((v) => `COUNT(${v})`), mayOverflow: false },
  sum: {
    readsColumn: true, accepts: NUMERIC, empty: null,
    resultType: (column) => (column === 'int32' || column === 'int64' ? 'int64' : 'float64'),
    method: reduce((v) => `SUM(${v})`),
    mayOverflow: true,
  },
  avg: { readsColumn: true, accepts: NUMERIC, empty: null, resultType: () => 'float64', method: reduce((v) => `AVG(${v})`), mayOverflow: false },
  min: { readsColumn: true, accepts: ORDERED, empty: null, resultType: sameAsColumn, method: reduce((v) => `MIN(${v})`), mayOverflow: false },
  max: { readsColumn: true, accepts: ORDERED, empty: null, resultType: sameAsColumn, method: reduce((v) => `MAX(${v})`), mayOverflow: false },
  last: { readsColumn: true, accepts: 'any', empty: null, resultType: sameAsColumn, method: { kind: 'latest' }, mayOverflow: false },
  distinct_count: { readsColumn: true, accepts: 'any', empty: 0, resultType: () => 'int64', method: reduce((v) => `COUNT(DISTINCT ${v})`), mayOverflow: false },
};

export function acceptsType(fn: AggregationFunction, type: ValueType): boolean {
  const { accepts } = AGGREGATION_RULES[fn];
  return accepts === 'any' || accepts.includes(type);
}

/** The types a function accepts, for messages. */
export function acceptedTypes(fn: AggregationFunction): string {
  const { accepts } = AGGREGATION_RULES[fn];
  return accepts === 'any' ? 'any type' : accepts.join(', ');
}

/** How a window is spelled in a generated feature name: as written (`"7d"` → `7d`), or the shortest spelling of a number of seconds. */
export function windowLabel(window: DurationInput): string {
  return typeof window === 'number' ? formatDuration(window) : window.replace(/\s+/g, '');
}

/** The generated name of an aggregation's feature: `count_<window>` or `<column>_<function>_<window>`. */
export function aggregationFeatureName(fn: AggregationFunction, column: string | undefined, window: DurationInput): string {
  return fn === 'count' ? `count_${windowLabel(window)}` : `${column ?? ''}_${fn}_${windowLabel(window)}`;
}

/**
 * The order that puts the event `last` picks first among events with the same keys and event time
 * (rule 3 of docs/point-in-time.md): the latest created time (rows without one lose), then the
 * smallest value (nulls last). Items are already-quoted SQL expressions.
 */
export function lastTieBreak(value: string, createdTimestamp: string | undefined): string[] {
  return [...(createdTimestamp ? [`${createdTimestamp} DESC NULLS LAST`] : []), `${value} ASC NULLS LAST`];
}
