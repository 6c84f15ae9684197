import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { planLoop, selectStages } from '../../core/loop/plan-loop.ts';
import { connectClient } from '../../runtime/temporal-connection.ts';
import type { FlywheelLoopInput } from '../../workflows/flywheel-loop.ts';
import { UsageError } from '../errors.ts';
import { runFooter } from '../format/run-footer.ts';
import { formatLoopPlan, formatLoopResult } from '../format/loop-text.ts';
import { createStageBar } from '../format/progress-bar.ts';
import { loadDefinitions } from '../project/load-definitions.ts';
import { checkRunTarget, readAppliedDefinitions } from '../project/check-run-target.ts';
import { parseInstant } from '../project/parse-instant.ts';
import { loadConfigFor } from './global-options.ts';

interface LoopOptions {
  only?: string[];
  asOf?: string;
  json?: boolean;
}

interface LoopRunOptions extends LoopOptions {
  concurrency?: number;
  wait: boolean;
}

/**
 * `flywheel loop plan [name]` prints the stages of the flywheel loop the definitions make, and
 * `flywheel loop run [name]` runs them on Temporal as one workflow with a child per stage
 * (docs/loop.md).
 */
export function registerLoopCommand(program: Command): void {
  const loop = program.command('loop').description('the flywheel loop: every stage of the project (ingest, labels, training sets, materialization) in dependency order');
  loop
    .command('plan')
    .description('print the stages of the loop the definitions make, with what each depends on (no warehouse or Temporal needed)')
    .argument('[name]', 'a declared loop (its only applies); default: every stage')
    .option('--only <stages>', 'only these stage kinds or ids, comma-separated (ingest, labels, trainingSet, materialize, trainingSet:<name>, ...)', collectList)
    .option('--as-of <instant>', 'the instant the stages are for (default: now)')
    .option('--json', 'print the stages as JSON')
    .action(async (name: string | undefined, options: LoopOptions, command: Command) => {
      const asOf = options.asOf === undefined ? new Date().toISOString() : parseInstant(options.asOf, '--as-of');
      const config = await loadConfigFor(command);
      const spec = await loadDefinitions(config.definitionsDir, config.projectRoot);
      let only: readonly string[] | undefined = options.only;
      if (name !== undefined) {
        const declared = spec.loops[name];
        if (!declared) {
          const known = Object.keys(spec.loops).sort();
          throw new UsageError(`No loop named "${name}" is declared${known.length > 0 ? ` (declared: ${known.join(', ')})` : '; run `flywheel loop plan` without a name for every stage'}`);
        }
        only = only ?? declared.only;
      }
      const stages = selectStages(planLoop(spec, { project: config.project, asOf }), only);
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ project: config.project, ...(name !== undefined ? { loop: name } : {}), asOf, ...(only ? { only } : {}), stages }, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatLoopPlan({ project: config.project, ...(name !== undefined ? { loop: name } : {}), asOf, ...(only ? { only } : {}), stages }));
    });

  addLoopRunCommand(loop, 'run');
}

/** `--only a,b --only c` → ['a', 'b', 'c']. */
function collectList(value: string, previous: string[] | undefined): string[] {
  const items = value.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
  if (items.length === 0) throw new InvalidArgumentError('expected stage kinds or ids, comma-separated');
  return [...(previous ?? []), ...items];
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/** The command that runs the loop now: `flywheel loop run`, and the same as `flywheel run loop`. */
export function addLoopRunCommand(parent: Command, name: string): Command {
  return parent
    .command(name)
    .description('run the loop on Temporal: one workflow, a child workflow per stage; a failed stage skips only what depends on it (exit code 3)')
    .argument('[name]', 'a declared loop (its only and concurrency apply); default: every stage')
    .option('--only <stages>', 'only these stage kinds or ids, comma-separated; replaces the loop\'s own', collectList)
    .option('--as-of <instant>', 'the instant the stages are for: labels as of it, the training sets\' latest partition before it, materialization as of it (default: now)')
    .option('--concurrency <n>', 'stages running at once (default: the loop\'s, else 2)', parsePositiveInt)
    .option('--no-wait', 'print the workflow id and return without waiting')
    .option('--json', 'print the result as JSON')
    .action(async (name: string | undefined, options: LoopRunOptions, command: Command) => {
      const asOf = options.asOf === undefined ? undefined : parseInstant(options.asOf, '--as-of');
      const config = await loadConfigFor(command);
      const { temporal } = config.profile;
      // Refused here, before a workflow starts: a loop name that is not applied, or nothing applied at all.
      if (name !== undefined) await checkRunTarget(config, 'loop', name);
      else await readAppliedDefinitions(config);
      const input: FlywheelLoopInput = {
        project: config.project,
        ...(name !== undefined ? { loop: name } : {}),
        ...(options.only ? { only: options.only } : {}),
        ...(asOf !== undefined ? { asOf } : {}),
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      };
      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { Client } = await import('@temporalio/client');
      const { startLoopRun, waitForLoopRun } = await import('../runs/loop-run.ts');
      const connection = await connectClient(temporal);
      try {
        const client = new Client({ connection, namespace: temporal.namespace });
        const started = Date.now();
        const handle = await startLoopRun(client, temporal, input);
        process.stderr.write(`Started ${handle.workflowId} on task queue ${temporal.taskQueues.project}\n`);
        if (!options.wait) {
          if (options.json) process.stdout.write(`${JSON.stringify({ workflowId: handle.workflowId })}\n`);
          return;
        }
        const bar = createStageBar(name !== undefined ? `loop ${name}` : 'loop');
        let result;
        try {
          result = await waitForLoopRun(handle, (p) => {
            const ended = p.succeeded + p.failed + p.skipped;
            bar.update(ended, p.total, p.stage === 'running' ? `running ${p.running.join(' ') || '-'}${p.failed > 0 ? `, ${p.failed} failed` : ''}` : p.stage);
          });
        } finally {
          bar.stop();
        }
        process.stdout.write(options.json ? `${JSON.stringify({ workflowId: handle.workflowId, ...result }, null, 2)}\n` : `${formatLoopResult(result)}${runFooter(temporal, handle.workflowId, Date.now() - started)}`);
        if (result.failed > 0) process.exitCode = 3;
      } finally {
        await connection.close();
      }
    });
}
