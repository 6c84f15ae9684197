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

/** The start of a timestamp's partition as an instant, matching partitionKeySql (and Partition.start). */
const STARTS: Record<Dialect['name'], (unit: Exclude<PartitionUnit, 'none'>, instant: string) => string> = {
  duckdb: (unit, t) => `date_trunc('${unit}', ${t})`,
  snowflake: (unit, t) => `DATE_TRUNC('${unit.toUpperCase()}', CONVERT_TIMEZONE('UTC', ${t}))`,
};

export function partitionStartSql(timestampColumn: string, unit: PartitionUnit, dialect: Dialect): string {
  const instant = dialect.asInstant(dialect.identifier(timestampColumn));
  // `none` has one partition; its rows still need a non-null start (null marks a null timestamp).
  if (unit === 'none') return `CASE WHEN ${instant} IS NOT NULL THEN ${dialect.asInstant(dialect.stringLiteral('1970-01-01T00:00:00Z'))} END`;
  return STARTS[dialect.name](unit, instant);
}

/** The column a partitioned join adds with each row's partition key (see PointInTimeJoin.spine.partitionBy). */
export const PARTITION_COLUMN = '__fw_partition';

/**
 * The column a partitioned join adds with the start of each row's partition, an instant. The join
 * orders by it: sorting on an instant is cheaper than on the key's text, and a working table
 * clustered by it lets the engine skip other partitions' row groups by their min/max (which, for
 * text, only hold a prefix: `day=2024` for every day of a year).
 */
export const PARTITION_START_COLUMN = '__fw_partition_start';

/** How many rows of a working table have no partition (a null spine timestamp), as `n`. */
export function compileCountUnpartitioned(table: string, dialect: Dialect): CompiledQuery {
  return { sql: `SELECT count(*) AS ${dialect.identifier('n')} FROM ${dialect.qualified(table)} WHERE ${dialect.identifier(PARTITION_COLUMN)} IS NULL`, parameters: [] };
}

/**
 * The rows of one partition of a working table, in its order. The table is clustered by partition
 * start (the join orders by it), so the engine reads only the row groups of that partition.
 */
export function compilePartitionRows(table: string, columns: readonly string[], partition: { readonly key: string; readonly start: string | null }, dialect: Dialect): CompiledQuery {
  const id = dialect.identifier;
  const start = partition.start ?? '1970-01-01T00:00:00Z';
  return {
    sql: `SELECT ${columns.map(id).join(', ')} FROM ${dialect.qualified(table)} WHERE ${id(PARTITION_START_COLUMN)} = ${dialect.asInstant('?')} AND ${id(PARTITION_COLUMN)} = ?`,
    parameters: [start, partition.key],
  };
}
