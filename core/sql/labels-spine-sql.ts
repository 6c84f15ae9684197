import type { ColumnSpec } from '../definitions/specs.ts';
import type { CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';
import type { StagedFiles } from './staged-files.ts';

/**
 * Statements that load a labels spine into a temporary table of the run's session (activities/labels-spine.ts):
 * the table with the labels' columns and types, then the rows of every label partition's files, staged
 * together and read by one statement in partition order, so the spine's scan order is decision-time
 * partitions, then each file's order (where the engine keeps scan order: DuckDB).
 */

/** Replaces the session's temporary table `name` with an empty one of `columns`. */
export function compileCreateSpineTable(name: string, columns: readonly ColumnSpec[], dialect: Dialect): CompiledQuery {
  const id = dialect.identifier;
  return { sql: `CREATE OR REPLACE TEMPORARY TABLE ${id(name)} (${columns.map((c) => `${id(c.name)} ${dialect.columnType(c.type)}`).join(', ')})`, parameters: [] };
}

/** Appends the rows of staged Parquet files (in the order staged), reading exactly `columns` by name, each as its type. */
export function compileInsertParquet(table: string, columns: readonly ColumnSpec[], files: StagedFiles, dialect: Dialect): CompiledQuery {
  const names = columns.map((c) => dialect.identifier(c.name)).join(', ');
  const relation = dialect.readStaged(files, columns.map((c) => [c.name, dialect.columnType(c.type)] as const));
  return { sql: `INSERT INTO ${dialect.identifier(table)} (${names})\nSELECT ${names} FROM ${relation}`, parameters: [] };
}
