import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { BreakingChangesError, UnsupportedTableChangeError } from '../../core/plan/errors.ts';
import { breakingChanges, toPlanDocument, type ApplyDocument } from '../../core/plan/plan.ts';
import { hasScheduleChanges, planDocumentWithSchedules, type ApplyDocumentWithSchedules, type ScheduleChange } from '../../core/plan/schedules.ts';
import { unsupportedTableChanges, type WarehouseObjectNode } from '../../core/sql/warehouse-objects.ts';
import { formatApplyText, formatNoChangesApplied, formatPlanText } from '../format/plan-text.ts';
import { ScheduleApplyError } from '../schedules/errors.ts';
import type { TemporalSchedules } from '../../runtime/temporal-schedules.ts';
import { formatRetentionText } from '../format/retention-text.ts';
import { withRetention } from '../../runtime/plan-document.ts';
import { withPreparedPlan } from './plan.ts';

export function registerApplyCommand(program: Command): void {
  program
    .command('apply')
    .description('create the warehouse objects of the definitions, store them as a new registry version, and create, update or delete the schedules on Temporal (training sets, materialization)')
    .option('--json', 'print the plan and the result as a JSON document')
    .option('--allow-breaking', 'apply even when the plan holds breaking changes')
    .action(async (options: { json?: boolean; allowBreaking?: boolean }, command: Command) => {
      await withPreparedPlan(command, async ({ config, engine, registry, desired, plan, objects, statements, applied, schedules, temporalSchedules, retention }) => {
        const print = (document: ApplyDocument['result'], text: string) => {
          const json = withRetention({ ...planDocumentWithSchedules(toPlanDocument(plan), schedules), result: document } satisfies ApplyDocumentWithSchedules, retention);
          process.stdout.write(options.json ? `${JSON.stringify(json, null, 2)}\n` : text);
        };
        const scheduleChanges = schedules?.changes ?? [];

        if (plan.changes.length === 0 && !hasScheduleChanges(scheduleChanges)) {
          print(null, formatNoChangesApplied(plan, schedules));
          return;
        }
        const breaking = breakingChanges(plan);
        if (breaking.length > 0 && !options.allowBreaking) {
          if (!options.json) process.stdout.write(`${formatPlanText(plan, schedules)}${formatRetentionText(retention.changes, retention.countedAt)}`);
          throw new BreakingChangesError(breaking, 'pass --allow-breaking to apply anyway');
        }
        // Some changes to a stream's table would lose or invent stored data; no flag allows those.
        const unsupported = unsupportedTableChanges(objects, engine.dialect);
        if (unsupported.length > 0) {
          if (!options.json) process.stdout.write(formatPlanText(plan, schedules));
          throw new UnsupportedTableChangeError(unsupported);
        }
        // Deletes before the registry version is saved, creates and updates after it: a Flywheel
        // schedule on Temporal then always belongs to the latest applied version, which is how plan
        // knows when to look (see schedulesInvolved in core/plan/schedules.ts).
        await applyScheduleChanges(temporalSchedules, scheduleChanges.filter((change) => change.action === 'delete'), '');
        const saved = plan.changes.length > 0
          ? await registry.save(config.project, desired, { statements, appliedBy: whoApplies(), basedOn: applied?.version ?? 0 })
          : undefined;
        await applyScheduleChanges(
          temporalSchedules,
          scheduleChanges.filter((change) => change.action === 'create' || change.action === 'update'),
          saved ? `Registry version ${saved.version} was saved. ` : '',
        );
        const appliedObjects = saved ? objects : [];
        print(
          saved ? { version: saved.version, hash: saved.hash, objects: appliedObjects.map(objectSummary) } : null,
          `${formatPlanText(plan, schedules)}${formatRetentionText(retention.changes, retention.countedAt)}${formatApplyText({ saved, current: applied?.version, objects: appliedObjects, schedules: scheduleChanges })}`,
        );
      });
    });
}

/** Carries out schedule changes in order; the first failure stops and says what was already done. */
async function applyScheduleChanges(schedules: TemporalSchedules | undefined, changes: readonly ScheduleChange[], done: string): Promise<void> {
  for (const change of changes) {
    if (change.action === 'unchanged') continue;
    // A plan with schedule changes was made with a connection; its absence is a bug, not a user error.
    if (!schedules) throw new Error('schedule changes planned without a Temporal connection');
    try {
      if (change.action === 'create') await schedules.create(change.desired);
      else if (change.action === 'update') await schedules.update(change.desired);
      else await schedules.delete(change.id);
    } catch (error) {
      throw new ScheduleApplyError(change.action, change.id, done, error);
    }
  }
}

function objectSummary(node: WarehouseObjectNode): { action: WarehouseObjectNode['kind']; name: string; column?: string } {
  switch (node.kind) {
    case 'createSchema': return { action: node.kind, name: node.schema };
    case 'createView':
    case 'dropView': return { action: node.kind, name: node.view };
    case 'createTable':
    case 'keepTable': return { action: node.kind, name: node.table };
    case 'addColumn':
    case 'alterColumnType':
    case 'dropNotNull': return { action: node.kind, name: node.table, column: node.column };
  }
}

/** Stored with the registry version: $FLYWHEEL_APPLIED_BY (a CI job), else the OS user. */
function whoApplies(): string {
  if (process.env.FLYWHEEL_APPLIED_BY) return process.env.FLYWHEEL_APPLIED_BY;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
