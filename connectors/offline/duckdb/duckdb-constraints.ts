import { parseQualifiedName } from '../../../core/identifiers.ts';
import type { CompiledQuery } from '../../../core/sql/compiled-query.ts';

/**
 * The catalog query behind DuckDBEngine.uniqueColumnSets: the primary key and unique constraints of
 * a table named as DuckDB resolves it (`table`, `schema.table` or `database.table`,
 * `database.schema.table`; names compare case-insensitively), one row per constraint with its
 * columns as `columns`. DuckDB enforces both kinds on every insert and update.
 */
export function compileUniqueConstraints(table: string): CompiledQuery {
  const parts = parseQualifiedName(table);
  const name = parts[parts.length - 1]!;
  const where = ["constraint_type IN ('PRIMARY KEY', 'UNIQUE')", 'lower(table_name) = lower(?)'];
  const parameters: unknown[] = [name];
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
  return { sql: `SELECT constraint_column_names AS columns FROM duckdb_constraints() WHERE ${where.join(' AND ')}`, parameters };
}
