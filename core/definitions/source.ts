import type { ValueType } from '../types.ts';
import { makeDefinition, type Definition } from './definition.ts';

interface SourceCommon {
  name: string;
  /** The column holding each row's event time (a UTC instant). */
  timestampField: string;
  /** Optional column holding when a row was written; breaks ties between rows with the same event time. */
  createdTimestampField?: string;
  /** The columns the source provides and their types. Feature views are checked against these. */
  columns: Record<string, ValueType>;
  /**
   * Columns no two rows share all at once, e.g. `['user_id', 'ts']`: the owner's promise, like
   * Snowflake's `RELY`, that lets a training set skip its tie-break for views over this source
   * whose join keys and event time include these columns. Plan and apply check it on a sample;
   * a broken promise is not detected beyond that (docs/point-in-time.md).
   */
  unique?: string[];
  description?: string;
  owner?: string;
  tags?: Record<string, string>;
}

export type SourceInput = SourceCommon &
  ({ table: string; query?: never; parquet?: never }
    | { query: string; table?: never; parquet?: never }
    | { parquet: string; table?: never; query?: never });

export type SourceDefinition = Definition<'source', SourceInput>;

/**
 * Where rows come from in the warehouse: a table, a SQL query, or Parquet files (a path or glob,
 * relative to the project).
 *
 * @example
 * export const transactions = source({
 *   name: 'transactions', table: 'raw_transactions', timestampField: 'ts',
 *   columns: { user_id: 'int64', amount: 'float64', ts: 'timestamp' },
 * });
 */
export function source(input: SourceInput): SourceDefinition {
  return makeDefinition('source', input.name, input);
}
