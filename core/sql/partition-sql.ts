import type { PartitionUnit } from '../definitions/specs.ts';
import type { Partition } from '../training-set/partitions.ts';
import type { CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';

/** The start the one partition of `none` has in a working table (Partition.start is null there). */
export const UNPARTITIONED_START = '1970-01-01T00:00:00.000Z';

/** The start of a timestamp's partition as an instant (Partition.start), as SQL; null for a null timestamp. */
export function partitionStartSql(timestampColumn: string, unit: PartitionUnit, dialect: Dialect): string {
  const instant = dialect.asInstant(dialect.identifier(timestampColumn));
  // `none` has one partition; its rows still need a non-null start (null marks a null timestamp).
  if (unit === 'none') return `CASE WHEN ${instant} IS NOT NULL THEN ${dialect.asInstant(dialect.stringLiteral(UNPARTITIONED_START))} END`;
  return dialect.partitionStart(unit, instant);
}

/**
 * The column a partitioned join adds with the start of each row's partition, an instant (see
 * PointInTimeJoin.spine.partitionBy); the partition's key (`day=2024-03-01`) follows from it
 * (partitionOf). The join orders by it: an instant is cheap to carry through the joins and to sort
 * (the key's text was not: about a sixth of a large build), and a working table clustered by it lets
 * the engine skip other partitions' row groups by their min/max.
 */
export const PARTITION_COLUMN = '__fw_partition';

/**
 * The rows of one partition of a working table, in its order. The table is clustered by partition
 * start (the join orders by it), so the engine reads only the row groups of that partition. Written
 * to its own file, it keeps spine order (PartitionedParquet.partitions).
 */
export function compilePartitionRows(table: string, columns: readonly string[], partition: Pick<Partition, 'start'>, dialect: Dialect): CompiledQuery {
  const id = dialect.identifier;
  return {
    sql: `SELECT ${columns.map(id).join(', ')} FROM ${dialect.qualified(table)} WHERE ${id(PARTITION_COLUMN)} = ${dialect.asInstant('?')}`,
    parameters: [partition.start ?? UNPARTITIONED_START],
  };
}

/** The column compilePartitionedRows adds with each row's partition key (`day=2024-03-01`), for OfflineEngine.exportPartitionedParquet. */
export const PARTITION_KEY_COLUMN = '__fw_partition_key';

/**
 * The rows of every partition of a working table with their partition key, for one partitioned
 * write (exportPartitionedParquet, or an unload straight to the object store): one statement
 * whatever the number of partitions. Rows without a partition (a null spine timestamp) are left
 * out. No order within a partition is promised (DuckDB's parallel partitioned write loses it):
 * compilePartitionRows gives each partition's rows in order.
 */
export function compilePartitionedRows(table: string, columns: readonly string[], unit: PartitionUnit, dialect: Dialect): CompiledQuery {
  const id = dialect.identifier;
  const key = unit === 'none' ? dialect.stringLiteral('all') : dialect.partitionKey(unit, id(PARTITION_COLUMN));
  return {
    sql: `SELECT ${[...columns.map(id), `${key} AS ${id(PARTITION_KEY_COLUMN)}`].join(', ')} FROM ${dialect.qualified(table)} WHERE ${id(PARTITION_COLUMN)} IS NOT NULL`,
    parameters: [],
  };
}

/**
 * The rows of every partition of a working table for an unload (ParquetUnloader): the written
 * columns only, and the partition key as an expression over them, the partition start of the spine
 * timestamp `timestampColumn` (one of `columns`), as the join computed it.
 */
export function compileUnloadRows(table: string, columns: readonly string[], timestampColumn: string, unit: PartitionUnit, dialect: Dialect): { query: CompiledQuery; partitionKey: string } {
  const id = dialect.identifier;
  return {
    query: { sql: `SELECT ${columns.map(id).join(', ')} FROM ${dialect.qualified(table)} WHERE ${id(PARTITION_COLUMN)} IS NOT NULL`, parameters: [] },
    partitionKey: unit === 'none' ? dialect.stringLiteral('all') : dialect.partitionKey(unit, partitionStartSql(timestampColumn, unit, dialect)),
  };
}

/** No rows, with the columns of a working table (the file of a partition without rows). */
export function compileNoRows(table: string, columns: readonly string[], dialect: Dialect): CompiledQuery {
  return { sql: `SELECT ${columns.map(dialect.identifier).join(', ')} FROM ${dialect.qualified(table)} WHERE 1 = 0`, parameters: [] };
}
