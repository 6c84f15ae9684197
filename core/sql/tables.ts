import type { CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';

/**
 * Statements over whole tables that activities run (working tables of a run). Kept here so that
 * activities never paste SQL together and every table name goes through the dialect.
 */

export function compileSelectAll(table: string, dialect: Dialect): CompiledQuery {
  return { sql: `SELECT * FROM ${dialect.qualified(table)}`, parameters: [] };
}

export function compileDropTable(table: string, dialect: Dialect): CompiledQuery {
  return { sql: `DROP TABLE IF EXISTS ${dialect.qualified(table)}`, parameters: [] };
}

/** The greatest value of a column (a watermark), as `max`; null when the table is empty. */
export function compileMaxOf(table: string, column: string, dialect: Dialect): CompiledQuery {
  return { sql: `SELECT max(${dialect.identifier(column)}) AS ${dialect.identifier('max')} FROM ${dialect.qualified(table)}`, parameters: [] };
}

