import { sql, type CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';
import { DEFAULT_WAREHOUSE_SCHEMA } from './warehouse-objects.ts';

/**
 * The statements of the registry table, `<schema>.registry`: one row per applied version of a
 * project's definitions. `spec` holds the ProjectSpec as JSON text (VARCHAR in every dialect, so
 * no JSON extension or VARIANT parsing is needed), `hash` its definitionHash.
 */

export const REGISTRY_TABLE = 'registry';

/** A registry row as the engine returns it (timestamps as ISO strings). */
export interface RegistryRow {
  readonly version: number;
  readonly applied_at: string;
  readonly project: string;
  readonly hash: string;
  readonly spec: string;
  readonly applied_by: string;
}

export interface RegistryStatements {
  createSchema(): CompiledQuery;
  createTable(): CompiledQuery;
  /** One row, `{ exists: n }` with n > 0 when the table exists (reading it does not create it). */
  tableExists(): CompiledQuery;
  latest(project: string): CompiledQuery;
  get(project: string, version: number): CompiledQuery;
  /** One row, `{ version }`: the next version number of `project` (1 for the first). */
  nextVersion(project: string): CompiledQuery;
  insert(row: RegistryRow): CompiledQuery;
}

export function registryStatements(dialect: Dialect, schema: string = DEFAULT_WAREHOUSE_SCHEMA): RegistryStatements {
  const table = dialect.qualified(`${schema}.${REGISTRY_TABLE}`);
  const column = (name: keyof RegistryRow) => dialect.identifier(name);
  const columns = (['version', 'applied_at', 'project', 'hash', 'spec', 'applied_by'] as const).map(column).join(', ');
  return {
    createSchema: () => sql(`CREATE SCHEMA IF NOT EXISTS ${dialect.identifier(schema)}`),
    createTable: () =>
      sql(
        `CREATE TABLE IF NOT EXISTS ${table} (` +
          `${column('version')} ${dialect.columnType('int32')} NOT NULL, ` +
          `${column('applied_at')} ${dialect.columnType('timestamp')} NOT NULL, ` +
          `${column('project')} ${dialect.columnType('string')} NOT NULL, ` +
          `${column('hash')} ${dialect.columnType('string')} NOT NULL, ` +
          `${column('spec')} ${dialect.columnType('string')} NOT NULL, ` +
          `${column('applied_by')} ${dialect.columnType('string')} NOT NULL, ` +
          `PRIMARY KEY (${column('project')}, ${column('version')}))`,
      ),
    tableExists: () =>
      sql(`SELECT COUNT(*) AS ${dialect.identifier('exists')} FROM information_schema.tables WHERE table_schema = ? AND table_name = ?`, [schema, REGISTRY_TABLE]),
    latest: (project) =>
      sql(`SELECT ${columns} FROM ${table} WHERE ${column('project')} = ? ORDER BY ${column('version')} DESC LIMIT 1`, [project]),
    get: (project, version) =>
      sql(`SELECT ${columns} FROM ${table} WHERE ${column('project')} = ? AND ${column('version')} = ?`, [project, version]),
    nextVersion: (project) =>
      sql(`SELECT COALESCE(MAX(${column('version')}), 0) + 1 AS ${column('version')} FROM ${table} WHERE ${column('project')} = ?`, [project]),
    insert: (row) =>
      sql(`INSERT INTO ${table} (${columns}) VALUES (?, ${dialect.asInstant('?')}, ?, ?, ?, ?)`, [
        row.version, row.applied_at, row.project, row.hash, row.spec, row.applied_by,
      ]),
  };
}
