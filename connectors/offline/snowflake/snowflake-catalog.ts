import { FlywheelError } from '../../../core/errors.ts';
import { parseQualifiedName } from '../../../core/identifiers.ts';
import type { CompiledQuery } from '../../../core/sql/compiled-query.ts';

/**
 * How the Snowflake engine finds the table a source names. Snowflake folds unquoted identifiers to
 * upper case (`raw.transactions` is RAW.TRANSACTIONS) and keeps quoted ones as written, while
 * Flywheel quotes every name it prints. So a name from a definition is resolved against
 * INFORMATION_SCHEMA first, each part on its own: the part exactly as written; else its upper-case
 * form (what Snowflake itself reads an unquoted name as: dbt's tables); else the one name that
 * matches it ignoring case; several such names and none of the first two is ambiguous (an error
 * naming them). Missing parts default to the session's database and schema.
 */

/** A relation as stored, each part in its stored case. */
export interface StoredRelation {
  readonly database: string;
  readonly schema: string;
  readonly name: string;
  /** INFORMATION_SCHEMA.TABLES.TABLE_TYPE: `BASE TABLE`, `TEMPORARY TABLE`, `VIEW`, `MATERIALIZED VIEW`, `EXTERNAL TABLE`. */
  readonly type: string;
}

/** Thrown when a name matches several stored names that differ only in case, and neither the name as written nor its upper-case form is one of them. */
export class AmbiguousTableNameError extends FlywheelError {
  readonly table: string;
  readonly candidates: readonly string[];
  constructor(table: string, candidates: readonly string[]) {
    super(`The table name ${table} matches ${candidates.length} Snowflake objects that differ only in case (${candidates.join(', ')}); write it in the stored case of one of them`);
    this.table = table;
    this.candidates = candidates;
  }
}

/** The candidates of `table` in one database (the session's when `database` is undefined): every relation whose schema and name match ignoring case. */
export function compileRelationCandidates(table: string, database: string | undefined): CompiledQuery {
  const parts = parseQualifiedName(table);
  const name = parts[parts.length - 1]!;
  const schema = parts.length >= 2 ? parts[parts.length - 2] : undefined;
  const catalog = database === undefined ? 'INFORMATION_SCHEMA' : `${quoteIdentifier(database)}.INFORMATION_SCHEMA`;
  return {
    sql:
      `SELECT TABLE_CATALOG AS "database", TABLE_SCHEMA AS "schema", TABLE_NAME AS "name", TABLE_TYPE AS "type" FROM ${catalog}.TABLES ` +
      `WHERE UPPER(TABLE_NAME) = UPPER(?) AND ${schema === undefined ? 'TABLE_SCHEMA = CURRENT_SCHEMA()' : 'UPPER(TABLE_SCHEMA) = UPPER(?)'}`,
    parameters: schema === undefined ? [name] : [name, schema],
  };
}

/** The databases whose name matches `database` ignoring case (for a three-part name). */
export function compileDatabaseCandidates(database: string): CompiledQuery {
  return { sql: 'SELECT DATABASE_NAME AS "name" FROM INFORMATION_SCHEMA.DATABASES WHERE UPPER(DATABASE_NAME) = UPPER(?)', parameters: [database] };
}

/** Picks the stored name `written` means among `candidates` (which all match it ignoring case). */
export function pickStoredName(written: string, candidates: readonly string[], table: string): string | undefined {
  const unique = [...new Set(candidates)];
  if (unique.includes(written)) return written;
  if (unique.includes(written.toUpperCase())) return written.toUpperCase();
  if (unique.length <= 1) return unique[0];
  throw new AmbiguousTableNameError(table, unique.sort());
}

/** Picks the relation `table` means among the rows of compileRelationCandidates, part by part (schema, then name). */
export function pickRelation(table: string, rows: readonly StoredRelation[]): StoredRelation | undefined {
  const parts = parseQualifiedName(table);
  const name = parts[parts.length - 1]!;
  const schemaWritten = parts.length >= 2 ? parts[parts.length - 2]! : undefined;
  const schema = schemaWritten === undefined ? rows[0]?.schema : pickStoredName(schemaWritten, rows.map((r) => r.schema), table);
  if (schema === undefined) return undefined;
  const inSchema = rows.filter((r) => r.schema === schema);
  const stored = pickStoredName(name, inSchema.map((r) => r.name), table);
  return inSchema.find((r) => r.name === stored);
}

/** `"DB"."SCHEMA"."NAME"`, each part quoted as stored. */
export function quotedRelation(relation: Pick<StoredRelation, 'database' | 'schema' | 'name'>): string {
  return [relation.database, relation.schema, relation.name].map(quoteIdentifier).join('.');
}

/** A stored name quoted for Snowflake (a stored name may hold any character; `"` is doubled). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A row of `SHOW PRIMARY KEYS` / `SHOW UNIQUE KEYS` (the columns the engine reads). */
export interface ShownKeyColumn {
  readonly schema_name: string;
  readonly table_name: string;
  readonly column_name: string;
  readonly key_sequence: number | string;
  readonly constraint_name: string;
  readonly rely: string | boolean;
}

/**
 * The column sets of a table's keys that Snowflake may rely on: the keys declared RELY. Snowflake
 * enforces neither primary nor unique keys, so a key without RELY promises nothing, and a table
 * may hold rows that repeat it. Each set's columns in key order; sets sorted for a stable result.
 */
export function reliedKeyColumnSets(rows: readonly ShownKeyColumn[], relation: Pick<StoredRelation, 'schema' | 'name'>): string[][] {
  const byConstraint = new Map<string, { sequence: number; column: string }[]>();
  for (const row of rows) {
    if (row.schema_name !== relation.schema || row.table_name !== relation.name) continue;
    if (String(row.rely).toLowerCase() !== 'true') continue;
    const columns = byConstraint.get(row.constraint_name) ?? [];
    columns.push({ sequence: Number(row.key_sequence), column: row.column_name });
    byConstraint.set(row.constraint_name, columns);
  }
  return [...byConstraint.values()].map((columns) => columns.sort((a, b) => a.sequence - b.sequence).map((c) => c.column)).sort((a, b) => a.join(',').localeCompare(b.join(',')));
}
