import type { MaterializationState } from '../materialization/run-plan.ts';
import { sql, type CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';
import { DEFAULT_WAREHOUSE_SCHEMA } from './warehouse-objects.ts';

/**
 * The statements of the materialization state table, `<schema>.materialization_state`: one row per
 * (project, feature view), the last materialization that moved the view's watermark
 * (core/materialization/run-plan.ts). Like the registry table, it is created by the first write
 * (the final activity of a materialization run) and read only when it exists.
 */

export const MATERIALIZATION_STATE_TABLE = 'materialization_state';

/** The table's columns, in order; the primary key is (project, feature_view). */
export const MATERIALIZATION_STATE_COLUMNS = [
  { name: 'project', type: 'string' },
  { name: 'feature_view', type: 'string' },
  { name: 'watermark', type: 'timestamp' },
  { name: 'definition_hash', type: 'string' },
  { name: 'registry_version', type: 'int32' },
  { name: 'mode', type: 'string' },
  { name: 'rows', type: 'int64' },
  { name: 'finished_at', type: 'timestamp' },
  { name: 'run_id', type: 'string' },
] as const;

export interface MaterializationStateStatements {
  createSchema(): CompiledQuery;
  createTable(): CompiledQuery;
  /** One row, `{ exists: n }` with n > 0 when the table exists (reading it does not create it). */
  tableExists(): CompiledQuery;
  /** The row of one view (none when it was never materialized), with the columns of MATERIALIZATION_STATE_COLUMNS. */
  get(project: string, featureView: string): CompiledQuery;
  /** Every row of a project, by feature view. */
  list(project: string): CompiledQuery;
  delete(project: string, featureView: string): CompiledQuery;
  insert(state: MaterializationState): CompiledQuery;
}

export function materializationStateStatements(dialect: Dialect, schema: string = DEFAULT_WAREHOUSE_SCHEMA): MaterializationStateStatements {
  const table = dialect.qualified(`${schema}.${MATERIALIZATION_STATE_TABLE}`);
  const q = dialect.identifier;
  const columns = MATERIALIZATION_STATE_COLUMNS.map((c) => q(c.name)).join(', ');
  return {
    createSchema: () => sql(`CREATE SCHEMA IF NOT EXISTS ${q(schema)}`),
    createTable: () =>
      sql(
        `CREATE TABLE IF NOT EXISTS ${table} (` +
          [
            ...MATERIALIZATION_STATE_COLUMNS.map((c) => `${q(c.name)} ${dialect.columnType(c.type)} NOT NULL`),
            `PRIMARY KEY (${q('project')}, ${q('feature_view')})`,
          ].join(', ') +
          ')',
      ),
    tableExists: () =>
      sql(`SELECT COUNT(*) AS ${q('exists')} FROM information_schema.tables WHERE table_schema = ? AND table_name = ?`, [schema, MATERIALIZATION_STATE_TABLE]),
    get: (project, featureView) => sql(`SELECT ${columns} FROM ${table} WHERE ${q('project')} = ? AND ${q('feature_view')} = ?`, [project, featureView]),
    list: (project) => sql(`SELECT ${columns} FROM ${table} WHERE ${q('project')} = ? ORDER BY ${q('feature_view')}`, [project]),
    delete: (project, featureView) => sql(`DELETE FROM ${table} WHERE ${q('project')} = ? AND ${q('feature_view')} = ?`, [project, featureView]),
    insert: (state) =>
      sql(`INSERT INTO ${table} (${columns}) VALUES (?, ?, ${dialect.asInstant('?')}, ?, ?, ?, ?, ${dialect.asInstant('?')}, ?)`, [
        state.project, state.featureView, state.watermark, state.definitionHash, state.registryVersion, state.mode, state.rows, state.finishedAt, state.runId,
      ]),
  };
}
