import type { ColumnSpec } from '../definitions/specs.ts';
import type { CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';

/**
 * One pass over a relation giving its row count and, per column, the null count and (for numeric and
 * time columns) min, max and mean. Output columns are `n`, `<i>_nulls`, `<i>_min`, `<i>_max`, `<i>_mean`
 * with i the column's position, so any column name is safe. `from` is compiled SQL: a quoted table
 * name or a `read_parquet(...)` call from the dialect.
 */
export function compileColumnStats(from: string, columns: readonly ColumnSpec[], dialect: Dialect, options: { groupBy?: string } = {}): CompiledQuery {
  const id = dialect.identifier;
  const parts = [...(options.groupBy ? [`${id(options.groupBy)} AS "g"`] : []), 'count(*) AS "n"'];
  columns.forEach((column, i) => {
    const c = id(column.name);
    parts.push(`count(*) - count(${c}) AS "c${i}_nulls"`);
    if (isNumeric(column) || column.type === 'timestamp' || column.type === 'date') {
      parts.push(`min(${c}) AS "c${i}_min"`, `max(${c}) AS "c${i}_max"`);
    }
    if (isNumeric(column)) parts.push(`avg(${c}) AS "c${i}_mean"`);
  });
  // With groupBy: one row per group, its key as `g` (one pass for every partition of a working table).
  return { sql: `SELECT ${parts.join(', ')} FROM ${from}${options.groupBy ? ` GROUP BY ${id(options.groupBy)}` : ''}`, parameters: [] };
}

export interface ColumnStats {
  readonly nulls: number;
  readonly min?: unknown;
  readonly max?: unknown;
  readonly mean?: number;
}

/** Reads the one row of compileColumnStats back into per-column stats. */
export function readColumnStats(row: Record<string, unknown>, columns: readonly ColumnSpec[]): { rowCount: number; columns: Record<string, ColumnStats> } {
  const stats: Record<string, ColumnStats> = {};
  columns.forEach((column, i) => {
    const entry: { nulls: number; min?: unknown; max?: unknown; mean?: number } = { nulls: Number(row[`c${i}_nulls`]) };
    if (`c${i}_min` in row) {
      entry.min = row[`c${i}_min`];
      entry.max = row[`c${i}_max`];
    }
    if (`c${i}_mean` in row && row[`c${i}_mean`] !== null) entry.mean = Number(row[`c${i}_mean`]);
    stats[column.name] = entry;
  });
  return { rowCount: Number(row.n), columns: stats };
}

function isNumeric(column: ColumnSpec): boolean {
  return column.type === 'int32' || column.type === 'int64' || column.type === 'float32' || column.type === 'float64';
}
