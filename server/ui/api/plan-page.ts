import { WarehouseRegistry } from '../../../connectors/registry/warehouse-registry.ts';
import { createPlan } from '../../../core/plan/plan.ts';
import { countRetentionChanges, fullPlanDocument, planSchedules, type FullPlanDocument } from '../../../runtime/plan-document.ts';
import { runWarehouseChecks, type WarehouseCheck, type WarehouseCheckOutcome } from '../../../runtime/warehouse-checks.ts';
import type { UiSources } from '../ui-sources.ts';

/**
 * `GET /api/plan`: what `flywheel plan` shows, computed by the functions it uses (runtime/
 * plan-document.ts, runtime/warehouse-checks.ts, core/plan/): the `flywheel plan --json` document
 * (the definitions diff, the schedules on Temporal, retention changes, the ingest sweep) and the
 * warehouse checks with their outcome. Where the CLI stops at a failed check (WarehouseSchemaError),
 * the page shows the failures beside the diff: it changes nothing, so there is nothing to protect.
 */
export interface PlanPage extends FullPlanDocument {
  readonly warehouseChecks: readonly WarehouseCheck[];
  /** Checks per outcome, every outcome listed. */
  readonly checksSummary: Readonly<Record<WarehouseCheckOutcome, number>>;
  /** The Temporal whose schedules were compared; null when nothing is or was scheduled (Temporal was not asked) or it could not be read. */
  readonly schedulesOn: { readonly address: string; readonly namespace: string } | null;
  /** Why the schedules could not be compared (Temporal away), or null; `hasChanges` then counts no schedule. */
  readonly schedulesUnavailable: string | null;
}

export async function planPage(sources: UiSources): Promise<PlanPage> {
  // Definitions first, as plan does: a broken definition is reported without reading the warehouse.
  const desired = await sources.loadDefinitions();
  const { checks, applied, retention } = await sources.warehouse.read(async (engine) => {
    const checks = await runWarehouseChecks(engine, desired, (path) => sources.resolvePath(path));
    const applied = await new WarehouseRegistry(engine).latest(sources.project);
    return { checks, applied, retention: await countRetentionChanges(engine, applied?.spec, desired, sources.now().toISOString()) };
  });
  const plan = createPlan({ project: sources.project, applied, desired });
  let schedules: Awaited<ReturnType<typeof planSchedules>>;
  let schedulesUnavailable: string | null = null;
  try {
    schedules = await planSchedules({ project: sources.project, applied: applied?.spec, desired, temporal: sources.schedules.temporal, schedules: () => sources.schedules.connect() });
  } catch (error) {
    schedules = undefined;
    schedulesUnavailable = `the schedules on Temporal at ${sources.schedules.temporal.address} cannot be read: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`;
  }
  const checksSummary: Record<WarehouseCheckOutcome, number> = { pass: 0, fail: 0, skipped: 0 };
  for (const check of checks) checksSummary[check.outcome] += 1;
  return {
    ...fullPlanDocument({ plan, schedules, retention, desired }),
    warehouseChecks: checks,
    checksSummary,
    schedulesOn: schedules ? schedules.temporal : null,
    schedulesUnavailable,
  };
}
