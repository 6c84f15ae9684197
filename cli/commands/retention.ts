import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { formatDuration } from '../../core/duration.ts';
import { FlywheelError } from '../../core/errors.ts';
import { compactInstant, runId } from '../../core/run-ids.ts';
import { connectClient } from '../../runtime/temporal-connection.ts';
import type { EnforceRetentionInput, EnforceRetentionResult } from '../../workflows/enforce-retention.ts';
import { createStageBar } from '../format/progress-bar.ts';
import { checkRunTarget } from '../project/check-run-target.ts';
import { parseInstant } from '../project/parse-instant.ts';
import { loadConfigFor } from './global-options.ts';

interface RetentionRunOptions {
  asOf?: string;
  batchRows?: number;
  json?: boolean;
}

/**
 * `flywheel retention run [stream]`: deletes the stored events older than their stream's retention
 * now (or as of `--as-of`), on Temporal, with a progress bar; what a stream's retentionSchedule runs
 * (docs/collect.md, "Retention").
 */
export function registerRetentionCommand(program: Command): void {
  const retention = program.command('retention').description("enforce event streams' retention");
  addRetentionRunCommand(retention, 'run');
}

/** What `flywheel retention run` prints when a run is done: one line per stream. */
export function formatRetentionResult(result: EnforceRetentionResult): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const lines = [
    `Retention as of ${result.asOf} (registry version ${result.registryVersion}): ${n(result.deleted)} ${result.deleted === 1 ? 'event' : 'events'} deleted.`,
    ...result.streams.map((s) =>
      `  ${s.stream}: kept ${formatDuration(s.retentionSeconds)}, deleted ${n(s.deleted)} older than ${s.cutoff} in ${s.batches} ${s.batches === 1 ? 'batch' : 'batches'}` +
      (s.quarantineDeleted > 0 ? `, and ${n(s.quarantineDeleted)} quarantined before it` : '')),
  ];
  return `${lines.join('\n')}\n`;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/** The command that enforces retention now: `flywheel retention run`, and the same as `flywheel run retention`. */
export function addRetentionRunCommand(parent: Command, name: string): Command {
  return parent
    .command(name)
    .description('delete the stored events older than their stream\'s retention, in bounded batches')
    .argument('[stream]', 'only this event stream (default: every stream of the project)')
    .option('--as-of <instant>', 'measure retention back from this instant (default: now)')
    .option('--batch-rows <n>', 'the most events one delete statement removes (default 50,000)', parsePositiveInt)
    .option('--json', 'print the result as JSON')
    .action(async (stream: string | undefined, options: RetentionRunOptions, command: Command) => {
      const asOf = options.asOf === undefined ? undefined : parseInstant(options.asOf, '--as-of');
      const config = await loadConfigFor(command);
      const temporal = config.profile.temporal;
      // Refused here, before a workflow starts: a name that is not an applied event stream.
      if (stream !== undefined) await checkRunTarget(config, 'eventStream', stream);
      const input: EnforceRetentionInput = {
        project: config.project,
        ...(stream !== undefined ? { stream } : {}),
        ...(asOf !== undefined ? { asOf } : {}),
        ...(options.batchRows !== undefined ? { batchRows: options.batchRows } : {}),
      };
      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { Client, WorkflowExecutionAlreadyStartedError } = await import('@temporalio/client');
      const { enforceRetention, retentionProgressQuery } = await import('../../workflows/enforce-retention.ts');
      const { runSearchAttributes } = await import('../../workflows/search-attributes.ts');
      const { waitWithProgress } = await import('../runs/wait-with-progress.ts');
      const connection = await connectClient(temporal);
      try {
        const client = new Client({ connection, namespace: temporal.namespace });
        const workflowId = runId(config.project, 'retention', stream, compactInstant(asOf ?? new Date()));
        let handle;
        try {
          handle = await client.workflow.start(enforceRetention, {
            args: [input], taskQueue: temporal.taskQueues.ingest, workflowId,
            typedSearchAttributes: runSearchAttributes({ project: config.project, kind: 'retention', ...(stream !== undefined ? { object: stream } : {}), ...(asOf !== undefined ? { to: asOf } : {}) }),
          });
        } catch (error) {
          if (error instanceof WorkflowExecutionAlreadyStartedError) throw new FlywheelError(`A run with id "${workflowId}" is already in progress`, { cause: error });
          throw error;
        }
        process.stderr.write(`Started ${handle.workflowId} on task queue ${temporal.taskQueues.ingest}\n`);
        const bar = createStageBar('retention');
        let result;
        try {
          // Streams are worked on in order: those before the current one are done.
          result = await waitWithProgress(handle, retentionProgressQuery, (p) => {
            const done = p.stage === 'done' ? p.streams.length : Math.max(0, p.streams.findIndex((s) => s.stream === p.stream));
            bar.update(done, p.streams.length, p.stream ? `${p.stage} ${p.stream}` : p.stage);
          });
        } finally {
          bar.stop();
        }
        process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatRetentionResult(result));
      } finally {
        await connection.close();
      }
    });
}
