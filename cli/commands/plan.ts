import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createOfflineEngine } from '../../connectors/offline/create-offline-engine.ts';
import type { OfflineEngine } from '../../connectors/offline/offline-engine.ts';
import { WarehouseRegistry, type RegistryVersion } from '../../connectors/registry/warehouse-registry.ts';
import { describeOfflineStore, type OfflineStoreConfig } from '../../core/config.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { WarehouseSchemaError } from '../../core/plan/errors.ts';
import { createPlan, type Plan } from '../../core/plan/plan.ts';
import { schedulesInvolved, type SchedulePlan } from '../../core/plan/schedules.ts';
import type { WarehouseColumnIssue } from '../../core/plan/warehouse-columns.ts';
import type { CompiledQuery } from '../../core/sql/compiled-query.ts';
import { compileWarehouseObjects, planWarehouseObjects, type WarehouseObjectNode } from '../../core/sql/warehouse-objects.ts';
import { countRetentionChanges, fullPlanDocument, planSchedules, type RetentionPlan } from '../../runtime/plan-document.ts';
import type { TemporalSchedules } from '../../runtime/temporal-schedules.ts';
import { checkWarehouseSources } from '../../runtime/warehouse-checks.ts';
import { formatIngestSweepText } from '../format/ingest-sweep-text.ts';
import { formatPlanText } from '../format/plan-text.ts';
import { formatRetentionText } from '../format/retention-text.ts';
import type { ResolvedConfig } from '../../runtime/load-config.ts';
import { loadDefinitions } from '../project/load-definitions.ts';
import { loadConfigFor } from './global-options.ts';

/** Everything plan computes and apply carries out, with the open engine and registry. */
export interface PreparedPlan {
  readonly config: ResolvedConfig;
  readonly engine: OfflineEngine;
  readonly registry: WarehouseRegistry;
  readonly applied: RegistryVersion | undefined;
  readonly desired: ProjectSpec;
  readonly plan: Plan;
  /** The warehouse objects apply creates and drops, and their statements for the engine's dialect. */
  readonly objects: readonly WarehouseObjectNode[];
  readonly statements: readonly CompiledQuery[];
  /**
   * The schedules (training sets, materialization) to create, update and delete on Temporal, and the open connection
   * to do it with; both undefined when neither the definitions nor the applied version schedule
   * anything (then Temporal is not contacted at all).
   */
  readonly schedules: SchedulePlan | undefined;
  readonly temporalSchedules: TemporalSchedules | undefined;
  /** Streams whose retention changes, with the stored events the new retention deletes, counted at `countedAt`. */
  readonly retention: RetentionPlan;
}

/**
 * Loads the config and definitions, opens the profile's offline engine, checks the sources against
 * the warehouse, diffs against the latest registry version and, when schedules are involved, against
 * the schedules on the profile's Temporal, and hands the result to `work`. The engine and the Temporal
 * connection are closed when `work` ends (DuckDB holds a lock on its file while open).
 */
export async function withPreparedPlan<T>(command: Command, work: (prepared: PreparedPlan) => Promise<T>): Promise<T> {
  const config = await loadConfigFor(command);
  // Definitions first: an invalid definition is reported without touching the warehouse.
  const desired = await loadDefinitions(config.definitionsDir, config.projectRoot);
  const resolvePath = (path: string) => resolve(config.projectRoot, path);
  const engine = await createOfflineEngine(config.profile.offline);
  try {
    const issues = await checkWarehouseSources(engine, desired, resolvePath);
    if (issues.length > 0) throw new WarehouseSchemaError(issues, { hint: noDataHint(issues, desired, config.profile.offline) });
    const registry = new WarehouseRegistry(engine);
    const applied = await registry.latest(config.project);
    const plan = createPlan({ project: config.project, applied, desired });
    const objects = planWarehouseObjects({ desired, applied: applied?.spec, resolvePath });
    const statements = compileWarehouseObjects(objects, engine.dialect);
    const retention = await countRetentionChanges(engine, applied?.spec, desired, new Date().toISOString());
    // Temporal only when a schedule is or was declared: projects without schedules plan and apply without it.
    if (!schedulesInvolved(applied?.spec, desired)) {
      return await work({ config, engine, registry, applied, desired, plan, objects, statements, schedules: undefined, temporalSchedules: undefined, retention });
    }
    const { temporal } = config.profile;
    // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
    const { TemporalSchedules } = await import('../../runtime/temporal-schedules.ts');
    const temporalSchedules = await TemporalSchedules.connect(config.project, temporal);
    try {
      const schedules = await planSchedules({ project: config.project, applied: applied?.spec, desired, temporal, schedules: async () => temporalSchedules });
      return await work({ config, engine, registry, applied, desired, plan, objects, statements, schedules, temporalSchedules, retention });
    } finally {
      await temporalSchedules.close();
    }
  } finally {
    await engine.close();
  }
}

/**
 * When not one source can be read, the data was most likely never loaded into this warehouse (a new
 * project, an example whose data was not generated, another profile's warehouse): say so, where the
 * warehouse is, and how to load data, rather than leave a list of "does not exist" to decode.
 */
export function noDataHint(issues: readonly WarehouseColumnIssue[], project: ProjectSpec, offline: OfflineStoreConfig): string | undefined {
  const sources = Object.values(project.sources);
  const unreadable = new Set(issues.filter((issue) => issue.kind === 'source' && issue.unreadable).map((issue) => issue.object));
  if (sources.length === 0 || sources.some((source) => !unreadable.has(source.name))) return undefined;
  const table = sources.find((source) => source.location.type === 'table');
  const example = table?.location.type === 'table' ? table.location.table : 'my_table';
  const sourcesText = sources.length === 1 ? 'The only source cannot' : `None of the ${sources.length} sources can`;
  return [
    `${sourcesText} be read: ${describeOfflineStore(offline)} holds none of the data. Load it first, for example`,
    `  CREATE TABLE ${example} AS SELECT * FROM read_parquet('data/${example}/*.parquet');   -- or read_csv('data/${example}.csv')`,
    'See docs/your-own-project.md ("Loading data"); an example project says in its README how to generate its data.',
  ].join('\n');
}

export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description('show what apply would change: the diff between the definitions and the latest registry version, and the schedules on Temporal (training sets, materialization)')
    .option('--json', 'print the plan as a JSON document (format flywheel.plan/v1)')
    .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are (1 on errors)')
    .action(async (options: { json?: boolean; detailedExitcode?: boolean }, command: Command) => {
      const { plan, schedules, retention, config, desired } = await withPreparedPlan(command, async (prepared) => prepared);
      const document = fullPlanDocument({ plan, schedules, retention, desired });
      process.stdout.write(options.json ? `${JSON.stringify(document, null, 2)}\n` : `${formatPlanText(plan, schedules)}${formatRetentionText(retention.changes, retention.countedAt)}${formatIngestSweepText(config.project, desired)}`);
      if (options.detailedExitcode && document.hasChanges) process.exitCode = 2;
    });
}
