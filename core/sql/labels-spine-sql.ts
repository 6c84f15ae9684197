import type { ColumnSpec } from '../definitions/specs.ts';
import type { CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';

/**
 * Statements that load a labels spine into a temporary table of the run's session (activities/labels-spine.ts):
 * the table with the labels' columns and types, then the rows of each label partition's file, in
 * partition order, so the spine's scan order is decision-time partitions, then each file's order.
 */

/** Replaces the session's temporary table `name` with an empty one of `columns`. */
export function compileCreateSpineTable(name: string, columns: readonly ColumnSpec[], dialect: Dialect): CompiledQuery {
  const id = dialect.identifier;
  return { sql: `CREATE OR REPLACE TEMPORARY TABLE ${id(name)} (${columns.map((c) => `${id(c.name)} ${dialect.columnType(c.type)}`).join(', ')})`, parameters: [] };
}

/** Appends the rows of a local Parquet file, reading exactly `columns` by name. */
export function compileInsertParquet(table: string, columns: readonly ColumnSpec[], path: string, dialect: Dialect): CompiledQuery {
  const names = columns.map((c) => dialect.identifier(c.name)).join(', ');
  return { sql: `INSERT INTO ${dialect.identifier(table)} (${names})\nSELECT ${names} FROM ${dialect.readParquet(path)}`, parameters: [] };
}
