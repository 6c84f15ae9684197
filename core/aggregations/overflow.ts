import { formatDuration } from '../duration.ts';
import type { Dialect } from '../sql/dialect.ts';
import type { ValueType } from '../types.ts';
import type { AggregationFunction } from '../definitions/specs.ts';
import { AGGREGATION_RULES } from './functions.ts';

/**
 * The overflow rule of integer aggregates (docs/definitions.md, "Integer sums"): an integer `sum` is
 * computed exactly (DuckDB sums BIGINTs as HUGEINT, Snowflake as NUMBER(38,0)) and stored as int64.
 * A sum outside int64 fails the statement (a training set, a materialization and a labels build alike)
 * with a message naming the object, the feature or label, its window, the entity or decision, and the
 * instant. Never a wrapped, rounded or null value.
 */

/** Whether an aggregate of `fn` stored as `type` is range-checked before it is stored. */
export function isRangeChecked(fn: AggregationFunction, type: ValueType): boolean {
  return AGGREGATION_RULES[fn].mayOverflow && type === 'int64';
}

export interface OverflowContext {
  /** What overflows, for people: `feature view "user_spend", feature "qty_sum_1d" (sum of "qty" over 1d)`. */
  readonly subject: string;
  /** Each identifying column with a SQL expression of its value in the row that overflows. */
  readonly keys: readonly (readonly [name: string, expression: string])[];
  /** A SQL expression of the instant the value is computed as of, as text. */
  readonly asOf: string;
}

/** The subject of a windowed aggregation's feature. */
export function featureSubject(featureView: string, aggregation: { feature: string; function: AggregationFunction; column?: string; windowSeconds: number }): string {
  return `feature view "${featureView}", feature "${aggregation.feature}" (${aggregation.function} of "${aggregation.column ?? ''}" over ${formatDuration(aggregation.windowSeconds)})`;
}

/**
 * `dialect.checkedInt64` over `value` (the exact sum), failing with a message such as `feature view
 * "user_spend", feature "qty_sum_1d" (sum of "qty" over 1d): the sum 9223372036854775808 is outside
 * int64, for user_id=42 as of 2024-01-10T12:00:00.000Z. Integer sums are exact and must fit int64;
 * sum a float64 column for larger totals.`
 */
export function checkedAggregate(value: string, context: OverflowContext, dialect: Dialect): string {
  const text = (expression: string) => `COALESCE(CAST(${expression} AS VARCHAR), 'null')`;
  const message = [
    dialect.stringLiteral(`${context.subject}: the sum `),
    text(value),
    dialect.stringLiteral(' is outside int64, for '),
    ...context.keys.flatMap(([name, expression], i) => [dialect.stringLiteral(`${i > 0 ? ', ' : ''}${name}=`), text(expression)]),
    dialect.stringLiteral(' as of '),
    text(context.asOf),
    dialect.stringLiteral('. Integer sums are exact and must fit int64; sum a float64 column for larger totals.'),
  ].join(' || ');
  return dialect.checkedInt64(value, message);
}
