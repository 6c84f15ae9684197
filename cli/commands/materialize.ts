import { Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { FlywheelError } from '../../core/errors.ts';
import { connectClient } from '../../worker/temporal-connection.ts';
import { materializeFeatureView, materializeProgressQuery } from '../../workflows/materialize.ts';
import { runSearchAttributes } from '../../workflows/search-attributes.ts';
import { createStageBar } from '../format/progress-bar.ts';
import { waitWithProgress } from '../runs/wait-with-progress.ts';
import { loadConfigFor } from './global-options.ts';

interface MaterializeOptions {
  chunks: number;
}

/** `flywheel materialize <view>`: writes a feature view's latest values to the online store, on Temporal, showing progress. */
export function registerMaterializeCommand(program: Command): void {
  program
    .command('materialize')
    .description("write an online feature view's latest values to the online store")
    .argument('<view>', 'feature view name')
    .option('--chunks <n>', 'disjoint buckets of entity keys, written two at a time', parsePositiveInt, 4)
    .action(async (view: string, options: MaterializeOptions, command: Command) => {
      const config = await loadConfigFor(command);
      const temporal = config.profile.temporal;
      const connection = await connectClient(temporal);
      try {
        const client = new Client({ connection, namespace: temporal.namespace });
        const workflowId = `${config.project}/materialize/${view}/${new Date().toISOString()}`;
        let handle;
        try {
          handle = await client.workflow.start(materializeFeatureView, {
            args: [{ project: config.project, view, chunks: options.chunks }],
            taskQueue: temporal.taskQueue,
            workflowId,
            typedSearchAttributes: runSearchAttributes({ project: config.project, kind: 'materialization', object: view }),
          });
        } catch (error) {
          if (error instanceof WorkflowExecutionAlreadyStartedError) throw new FlywheelError(`A run with id "${workflowId}" is already in progress`, { cause: error });
          throw error;
        }
        process.stderr.write(`Started ${handle.workflowId} on task queue ${temporal.taskQueue}\n`);
        const bar = createStageBar(`materialize ${view}`);
        let result;
        try {
          result = await waitWithProgress(handle, materializeProgressQuery, (p) => bar.update(p.chunksDone, p.chunks, `${p.written.toLocaleString('en-US')} written`));
        } finally {
          bar.stop();
        }
        process.stdout.write(
          `Materialized ${view} as of ${result.asOf}: ${result.rows.toLocaleString('en-US')} entities in ${result.chunks} chunks, ` +
            `${result.written.toLocaleString('en-US')} written, ${result.skippedOlder.toLocaleString('en-US')} skipped (the store had newer values)\n`,
        );
      } finally {
        await connection.close();
      }
    });
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}
