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

/** The distinct partition keys of a relation's rows, sorted; rows with a null timestamp are left out. */
export function compileDistinctPartitions(relation: string, timestampColumn: string, unit: PartitionUnit, dialect: Dialect): CompiledQuery {
  const key = partitionKeySql(timestampColumn, unit, dialect);
  return { sql: `SELECT DISTINCT ${key} AS ${dialect.identifier('partition_key')} FROM ${dialect.qualified(relation)} WHERE ${dialect.identifier(timestampColumn)} IS NOT NULL ORDER BY 1`, parameters: [] };
}

/** The rows of one partition, in the relation's order. */
export function compilePartitionRows(relation: string, columns: readonly string[], timestampColumn: string, unit: PartitionUnit, partitionKey: string, dialect: Dialect): CompiledQuery {
  const filter = unit === 'none' ? '' : ` WHERE ${partitionKeySql(timestampColumn, unit, dialect)} = ?`;
  return { sql: `SELECT ${columns.map(dialect.identifier).join(', ')} FROM ${dialect.qualified(relation)}${filter}`, parameters: unit === 'none' ? [] : [partitionKey] };
}
