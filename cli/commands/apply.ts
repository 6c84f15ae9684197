import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { BreakingChangesError } from '../../core/plan/errors.ts';
import { breakingChanges, toPlanDocument, type ApplyDocument } from '../../core/plan/plan.ts';
import type { WarehouseObjectNode } from '../../core/sql/warehouse-objects.ts';
import { formatApplyText, formatNoChangesApplied, formatPlanText } from '../format/plan-text.ts';
import { withPreparedPlan } from './plan.ts';

export function registerApplyCommand(program: Command): void {
  program
    .command('apply')
    .description('create the warehouse objects of the definitions and store them as a new registry version')
    .option('--json', 'print the plan and the result as a JSON document')
    .option('--allow-breaking', 'apply even when the plan holds breaking changes')
    .action(async (options: { json?: boolean; allowBreaking?: boolean }, command: Command) => {
      await withPreparedPlan(command, async ({ config, registry, desired, plan, objects, statements, applied }) => {
        const print = (document: ApplyDocument['result'], text: string) =>
          process.stdout.write(options.json ? `${JSON.stringify({ ...toPlanDocument(plan), result: document } satisfies ApplyDocument, null, 2)}\n` : text);

        if (plan.changes.length === 0) {
          print(null, formatNoChangesApplied(plan));
          return;
        }
        const breaking = breakingChanges(plan);
        if (breaking.length > 0 && !options.allowBreaking) {
          if (!options.json) process.stdout.write(formatPlanText(plan));
          throw new BreakingChangesError(breaking, 'pass --allow-breaking to apply anyway');
        }
        const { version, hash } = await registry.save(config.project, desired, {
          statements,
          appliedBy: whoApplies(),
          basedOn: applied?.version ?? 0,
        });
        print(
          { version, hash, objects: objects.map(objectSummary) },
          `${formatPlanText(plan)}${formatApplyText({ version, hash, objects })}`,
        );
      });
    });
}

function objectSummary(node: WarehouseObjectNode): { action: WarehouseObjectNode['kind']; name: string } {
  return { action: node.kind, name: node.kind === 'createSchema' ? node.schema : node.view };
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
