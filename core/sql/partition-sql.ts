import type { PartitionUnit } from '../definitions/specs.ts';
import type { CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';

/**
 * The partition key (`day=2024-03-01`) of a timestamp expression, as SQL, matching
 * core/training-set/partitions.ts. Keyed by dialect so a new dialect does not compile until it says
 * how it formats UTC times.
 */
const FORMATS: Record<Dialect['name'], Record<Exclude<PartitionUnit, 'none'>, (instant: string) => string>> = {
  duckdb: {
    hour: (t) => `strftime(${t}, 'hour=%Y-%m-%dT%H')`,
    day: (t) => `strftime(${t}, 'day=%Y-%m-%d')`,
    month: (t) => `strftime(${t}, 'month=%Y-%m')`,
  },
  snowflake: {
    hour: (t) => `TO_CHAR(CONVERT_TIMEZONE('UTC', ${t}), '"hour="YYYY-MM-DD"T"HH24')`,
    day: (t) => `TO_CHAR(CONVERT_TIMEZONE('UTC', ${t}), '"day="YYYY-MM-DD')`,
    month: (t) => `TO_CHAR(CONVERT_TIMEZONE('UTC', ${t}), '"month="YYYY-MM')`,
  },
};

export function partitionKeySql(timestampColumn: string, unit: PartitionUnit, dialect: Dialect): string {
  if (unit === 'none') return dialect.stringLiteral('all');
  return FORMATS[dialect.name][unit](dialect.asInstant(dialect.identifier(timestampColumn)));
}

/** The column a partitioned join adds with each row's partition key (see PointInTimeJoin.spine.partitionBy). */
export const PARTITION_COLUMN = '__fw_partition';

/** How many rows of a working table have no partition (a null spine timestamp), as `n`. */
export function compileCountUnpartitioned(table: string, dialect: Dialect): CompiledQuery {
  return { sql: `SELECT count(*) AS ${dialect.identifier('n')} FROM ${dialect.qualified(table)} WHERE ${dialect.identifier(PARTITION_COLUMN)} IS NULL`, parameters: [] };
}

/**
 * The rows of one partition of a working table, in its order. The table is clustered by partition
 * (the join orders by it), so the engine reads only the row groups of that partition.
 */
export function compilePartitionRows(table: string, columns: readonly string[], partitionKey: string, dialect: Dialect): CompiledQuery {
  return { sql: `SELECT ${columns.map(dialect.identifier).join(', ')} FROM ${dialect.qualified(table)} WHERE ${dialect.identifier(PARTITION_COLUMN)} = ?`, parameters: [partitionKey] };
}
