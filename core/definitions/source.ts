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
