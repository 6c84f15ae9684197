import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import type { ProjectSpec, SourceSpec } from '../core/definitions/specs.ts';
import { checkEventStreamFromColumns, checkSourceColumns, checkTransformationColumns, describeSourceRelation, type WarehouseColumnIssue } from '../core/plan/warehouse-columns.ts';
import type { CompiledQuery } from '../core/sql/compiled-query.ts';
import { compileSelectAll } from '../core/sql/tables.ts';
import { compileUniqueSample, UNIQUE_SAMPLE_COUNT, UNIQUE_SAMPLE_ROWS } from '../core/sql/unique-sample.ts';
import { sourceRelationQuery, transformationQuery } from '../core/sql/warehouse-objects.ts';

/**
 * The warehouse checks `flywheel plan` and `flywheel apply` make before anything else, and the UI's
 * Plan page shows (docs/ui.md): each source's relation described and compared with its declared
 * columns, the same for the table each `from` event stream loads, then the output of each feature
 * view's transformation (only when its source passed; a stream's transformation is described over
 * the stream's desired columns, since apply creates or alters its table). The comparisons are pure,
 * in core/plan/warehouse-columns.ts; this module only asks the engine.
 *
 * @example
 * const checks = await runWarehouseChecks(engine, desired, (path) => resolve(projectRoot, path));
 * const issues = warehouseIssues(checks);   // what the CLI refuses to go on with (WarehouseSchemaError)
 */

export type WarehouseCheckOutcome = 'pass' | 'fail' | 'skipped';

/** One object's check: what was read, whether it matched, and why not. */
export interface WarehouseCheck {
  readonly kind: WarehouseColumnIssue['kind'];
  readonly object: string;
  /** What was described: `table "profile"`, `Parquet files "data/x"`, `query`, `transformation`. */
  readonly relation: string;
  readonly outcome: WarehouseCheckOutcome;
  /** One line: what matched, what did not, or why the check was not made. */
  readonly message: string;
  /** Every problem found (empty unless the outcome is `fail`). */
  readonly issues: readonly WarehouseColumnIssue[];
}

/** The checks, sources first, then `from` event streams, then feature views with a transformation, each by name. */
export async function runWarehouseChecks(engine: OfflineEngine, project: ProjectSpec, resolvePath: (path: string) => string): Promise<WarehouseCheck[]> {
  const checks: WarehouseCheck[] = [];
  const describe = async (query: CompiledQuery): Promise<{ columns: Awaited<ReturnType<OfflineEngine['describe']>> } | { reason: string }> => {
    try {
      return { columns: await engine.describe(query) };
    } catch (error) {
      return { reason: (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '' };
    }
  };
  const outcomeOf = (base: Pick<WarehouseCheck, 'kind' | 'object' | 'relation'>, issues: readonly WarehouseColumnIssue[], passed: string): WarehouseCheck =>
    issues.length === 0
      ? { ...base, outcome: 'pass', message: passed, issues: [] }
      : { ...base, outcome: 'fail', message: issues.map((issue) => (issue.column ? `column "${issue.column}": ${issue.message}` : issue.message)).join('; '), issues };

  for (const name of Object.keys(project.sources).sort()) {
    const source = project.sources[name]!;
    const relation = describeSourceRelation(source);
    const described = await describe(sourceRelationQuery(source, engine.dialect, resolvePath));
    const issues: WarehouseColumnIssue[] = 'reason' in described
      ? [{ kind: 'source', object: name, message: `cannot read ${relation} in the warehouse: ${described.reason}`, unreadable: true }]
      : checkSourceColumns(source, described.columns);
    // A declared `unique` is checked on a sample once the columns are known to be there.
    const unique = issues.length === 0 ? await checkUniqueSample(engine, source, resolvePath) : undefined;
    if (unique?.issue) issues.push(unique.issue);
    checks.push(outcomeOf({ kind: 'source', object: name, relation }, issues, `${relation} has the ${source.columns.length} declared columns, each of a compatible type${unique?.passed ?? ''}`));
  }
  // A `from` stream's external table is filled by another system; Flywheel's own stream tables are made by apply.
  for (const name of Object.keys(project.eventStreams).sort()) {
    const stream = project.eventStreams[name]!;
    if (!stream.from) continue;
    const relation = `table "${stream.from.table}"`;
    const described = await describe(compileSelectAll(stream.from.table, engine.dialect));
    const issues: WarehouseColumnIssue[] = 'reason' in described
      ? [{ kind: 'eventStream', object: name, message: `cannot read ${relation} in the warehouse: ${described.reason}`, unreadable: true }]
      : checkEventStreamFromColumns(stream, described.columns);
    checks.push(outcomeOf({ kind: 'eventStream', object: name, relation }, issues, `${relation} has the stream's keys, timestamp, fields and watermark, each of a compatible type`));
  }
  const failedSources = new Set(checks.filter((check) => check.kind === 'source' && check.outcome === 'fail').map((check) => check.object));
  for (const name of Object.keys(project.featureViews).sort()) {
    const view = project.featureViews[name]!;
    const query = transformationQuery(view, project, engine.dialect, resolvePath);
    if (!query) continue;
    const base = { kind: 'featureView', object: name, relation: 'transformation' } as const;
    if (failedSources.has(view.source)) {
      checks.push({ ...base, outcome: 'skipped', message: `not run: its source "${view.source}" failed its check`, issues: [] });
      continue;
    }
    const described = await describe(query);
    const issues: WarehouseColumnIssue[] = 'reason' in described
      ? [{ kind: 'featureView', object: name, message: `its transformation does not run in the warehouse: ${described.reason}` }]
      : checkTransformationColumns(view, project, described.columns);
    checks.push(outcomeOf(base, issues, 'its transformation returns the join keys, the timestamp and every feature, each of a compatible type'));
  }
  return checks;
}

/**
 * A source's `unique` promise against its first UNIQUE_SAMPLE_ROWS rows: an issue naming the values
 * two rows share, or what passed.
 */
async function checkUniqueSample(engine: OfflineEngine, source: SourceSpec, resolvePath: (path: string) => string): Promise<{ issue?: WarehouseColumnIssue; passed?: string } | undefined> {
  const query = compileUniqueSample(source, engine.dialect, resolvePath);
  if (!query || !source.unique) return undefined;
  const columns = `(${source.unique.join(', ')})`;
  const [repeated] = await engine.all(query);
  if (!repeated) return { passed: `; unique ${columns} holds in its first ${UNIQUE_SAMPLE_ROWS.toLocaleString('en-US')} rows` };
  const values = source.unique.map((column) => `${column} = ${formatValue(valueOf(repeated, column))}`).join(', ');
  return {
    issue: {
      kind: 'source', object: source.name,
      message: `declares unique ${columns}, but ${String(valueOf(repeated, UNIQUE_SAMPLE_COUNT))} rows share ${values}; remove \`unique\` or remove the repeated rows`,
    },
  };
}

// Engines may fold the case of unquoted result names; columns are matched as the warehouse resolves them.
function valueOf(row: Record<string, unknown>, column: string): unknown {
  return row[column] ?? Object.entries(row).find(([name]) => name.toLowerCase() === column.toLowerCase())?.[1];
}

// Engines return instants as ISO-8601 text; values are printed as they come.
function formatValue(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

/** Every problem the checks found, in their order. */
export function warehouseIssues(checks: readonly WarehouseCheck[]): WarehouseColumnIssue[] {
  return checks.flatMap((check) => check.issues);
}

/** What `checkWarehouseSources` always returned: the problems alone (plan and apply stop on any). */
export async function checkWarehouseSources(engine: OfflineEngine, project: ProjectSpec, resolvePath: (path: string) => string): Promise<WarehouseColumnIssue[]> {
  return warehouseIssues(await runWarehouseChecks(engine, project, resolvePath));
}
