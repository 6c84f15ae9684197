import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../../core/duration.ts';
import { FlywheelError } from '../../core/errors.ts';
import { compareInstants, instantFromDate } from '../../core/instant.ts';
import { connectClient } from '../../runtime/temporal-connection.ts';
import type { MaterializeFeatureViewInput, MaterializeFeatureViewResult } from '../../workflows/materialize.ts';
import { materializeRunId } from '../../core/run-ids.ts';
import { UsageError } from '../errors.ts';
import { runFooter } from '../format/run-footer.ts';
import { createStageBar } from '../format/progress-bar.ts';
import { checkRunTarget } from '../project/check-run-target.ts';
import { parseInstant } from '../project/parse-instant.ts';
import { loadConfigFor } from './global-options.ts';

interface MaterializeOptions {
  from?: string;
  to?: string;
  full?: boolean;
  lookback?: number;
  chunks?: number;
  json?: boolean;
}

/**
 * `flywheel materialize <view> [--from --to] [--full]`: writes a feature view's changed values to
 * the online store, on Temporal, with a progress bar (docs/materialization.md).
 */
export function registerMaterializeCommand(program: Command, name = 'materialize'): void {
  program
    .command(name)
    .description("write an online feature view's values that changed since its last run (its watermark) to the online store")
    .argument('<view>', 'feature view name')
    .option('--from <instant>', 'recompute what changed after this instant instead of after the watermark (a date, or a date-time with a zone)')
    .option('--to <instant>', 'compute the values as of this instant (default: now)')
    .option('--full', 'recompute every entity, whatever the watermark')
    .option('--lookback <duration>', "look this far before the watermark (or --from) for rows that arrived late (default: the view's)", parseSeconds)
    .option('--chunks <n>', "disjoint buckets of entity keys, written two at a time (default: the view's schedule's, else 4)", parsePositiveInt)
    .option('--json', 'print the result as JSON')
    .action(async (view: string, options: MaterializeOptions, command: Command) => {
      const from = options.from === undefined ? undefined : parseInstant(options.from, '--from');
      const to = options.to === undefined ? undefined : parseInstant(options.to, '--to');
      if (from !== undefined && options.full) throw new UsageError('--from and --full cannot be used together: a full run recomputes every entity');
      if (from !== undefined && to !== undefined && compareInstants(from, to) >= 0) throw new UsageError(`--from ${options.from} must be before --to ${options.to}`);
      if (from !== undefined && to === undefined && compareInstants(from, instantFromDate(new Date())) >= 0) throw new UsageError(`--from ${options.from} is in the future`);

      const config = await loadConfigFor(command);
      const temporal = config.profile.temporal;
      // Refused here, before a workflow starts: a name that is not an applied feature view, or one with no online store values.
      const target = await checkRunTarget(config, 'featureView', view);
      if (target && !target.spec.online) throw new UsageError(`feature view "${view}" is not online (online: false), so it has nothing to materialize; set online: true and apply`);
      const input: MaterializeFeatureViewInput = {
        project: config.project, view,
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(options.full ? { full: true } : {}),
        ...(options.lookback !== undefined ? { lookbackSeconds: options.lookback } : {}),
        ...(options.chunks !== undefined ? { chunks: options.chunks } : {}),
      };
      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { Client, WorkflowExecutionAlreadyStartedError } = await import('@temporalio/client');
      const { materializeFeatureView, materializeProgressQuery } = await import('../../workflows/materialize.ts');
      const { runSearchAttributes } = await import('../../workflows/search-attributes.ts');
      const { secondsOf } = await import('../runs/labels-run.ts');
      const { waitWithProgress } = await import('../runs/wait-with-progress.ts');
      const connection = await connectClient(temporal);
      try {
        const client = new Client({ connection, namespace: temporal.namespace });
        const workflowId = materializeRunId(config.project, view, from, to ?? secondsOf(new Date()));
        const started = Date.now();
        let handle;
        try {
          handle = await client.workflow.start(materializeFeatureView, {
            args: [input],
            taskQueue: temporal.taskQueues.materialization,
            workflowId,
            typedSearchAttributes: runSearchAttributes({ project: config.project, kind: 'materialization', object: view, from, to }),
          });
        } catch (error) {
          if (error instanceof WorkflowExecutionAlreadyStartedError) throw new FlywheelError(`A run with id "${workflowId}" is already in progress`, { cause: error });
          throw error;
        }
        process.stderr.write(`Started ${handle.workflowId} on task queue ${temporal.taskQueues.materialization}\n`);
        const bar = createStageBar(`materialize ${view}`);
        let result;
        try {
          result = await waitWithProgress(handle, materializeProgressQuery, (p) => bar.update(p.chunksDone, p.chunks, p.mode ? `${p.stage} (${p.mode})` : p.stage));
          // The last poll may have come before the end: the bar ends where the run did.
          bar.update(result.chunks, result.chunks, `done (${result.mode})`);
        } finally {
          bar.stop();
        }
        process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatMaterializeResult(result)}${runFooter(temporal, handle.workflowId, Date.now() - started)}`);
      } finally {
        await connection.close();
      }
    });
}

/** What `flywheel materialize` prints when a run is done. */
export function formatMaterializeResult(result: MaterializeFeatureViewResult): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const range = result.from === null ? `full run as of ${result.to}` : `incremental run over (${result.from}, ${result.to}]`;
  const lines = [
    `Materialized ${result.view}: ${range} (${result.reason}).`,
    `  ${n(result.rows)} entities in ${result.chunks} chunks: ${n(result.written)} written, ${n(result.skippedOlder)} skipped (the store had newer values).`,
    result.watermarkAdvanced
      ? `  Watermark: ${result.watermark}.`
      : `  Watermark ${result.watermark ?? 'not set'} kept: ${result.watermarkReason}.`,
  ];
  return `${lines.join('\n')}\n`;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

function parseSeconds(value: string): number {
  if (value.trim() === '0') return 0;
  const parsed = parseDuration(value);
  if ('error' in parsed) throw new InvalidArgumentError(parsed.error);
  return parsed.seconds;
}
