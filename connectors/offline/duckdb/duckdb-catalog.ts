import { parseQualifiedName } from '../../../core/identifiers.ts';
import type { CompiledQuery } from '../../../core/sql/compiled-query.ts';

/**
 * Catalog queries behind DuckDBEngine.tableFacts, for a table named as DuckDB resolves it (`table`,
 * `schema.table` or `database.table`, `database.schema.table`; names compare case-insensitively).
 */

/** One row when the name is a stored table (not a view). */
export function compileTableLookup(table: string): CompiledQuery {
  const { where, parameters } = matchName(table);
  return { sql: `SELECT table_name FROM duckdb_tables() WHERE ${where.join(' AND ')}`, parameters };
}

/** Its primary key and unique constraints, one row each with the columns as `columns`; DuckDB enforces both on every write. */
export function compileUniqueConstraints(table: string): CompiledQuery {
  const { where, parameters } = matchName(table);
  return {
    sql: `SELECT constraint_column_names AS columns FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE') AND ${where.join(' AND ')}`,
    parameters,
  };
}

function matchName(table: string): { where: string[]; parameters: unknown[] } {
  const parts = parseQualifiedName(table);
  const where = ['lower(table_name) = lower(?)'];
  const parameters: unknown[] = [parts[parts.length - 1]!];
  if (parts.length === 1) {
    where.push('schema_name = current_schema()', 'database_name = current_database()');
  } else if (parts.length === 2) {
    // Like DuckDB's own lookup: a schema of the current database, else a database's default schema.
    where.push("((lower(schema_name) = lower(?) AND database_name = current_database()) OR (lower(database_name) = lower(?) AND schema_name = 'main'))");
    parameters.push(parts[0], parts[0]);
  } else {
    where.push('lower(database_name) = lower(?)', 'lower(schema_name) = lower(?)');
    parameters.push(parts[0], parts[1]);
  }
  return { where, parameters };
}
