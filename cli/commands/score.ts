import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { FlywheelError } from '../../core/errors.ts';
import { compactInstant, runId } from '../../core/run-ids.ts';
import { connectClient } from '../../runtime/temporal-connection.ts';
import type { BatchScoreInput, BatchScoreResult } from '../../workflows/batch-score.ts';
import { createStageBar } from '../format/progress-bar.ts';
import { checkRunTarget } from '../project/check-run-target.ts';
import { parseInstant } from '../project/parse-instant.ts';
import { loadConfigFor } from './global-options.ts';

interface ScoreOptions {
  modelVersion?: string;
  asOf: string;
  spine?: string;
  chunkSize?: number;
  json?: boolean;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/** What `flywheel score` prints when the run is done. */
export function formatBatchScoreResult(result: BatchScoreResult): string {
  const rows = result.rowCount.toLocaleString('en-US');
  return [
    `Scored ${rows} ${result.rowCount === 1 ? 'row' : 'rows'} with ${result.model} ${result.version} as of ${result.asOf} in ${result.chunks} ${result.chunks === 1 ? 'chunk' : 'chunks'}.`,
    `  predictions: ${result.predictionsTable}`,
    `  decisions:   ${result.decisionStream === null ? 'not logged (the model\'s feature service has no logging)' : `flywheel.stream_${result.decisionStream}`}`,
    '',
  ].join('\n');
}

/**
 * `flywheel score <model> --as-of <time>`: scores every row of the model's batch spine (or `--spine`)
 * as of a time with a model version, on Temporal, with a progress bar (docs/models.md, "Batch scoring").
 */
export function registerScoreCommand(program: Command): void {
  program
    .command('score')
    .description('score every row of a spine as of a time with a model version; predictions go to flywheel.predictions_<model>')
    .argument('<model>', 'model name')
    .requiredOption('--as-of <instant>', 'compute features and score as of this instant (a date is its UTC midnight)')
    // Not --version: that is the program's own flag wherever it is written (commander reads program options after subcommands too).
    .option('--model-version <version>', 'a registered version, such as v3 (default: the promoted one)')
    .option('--spine <source>', 'score the rows of this source (default: the model\'s batch.spine)')
    .option('--chunk-size <rows>', 'rows per chunk (default: the model\'s batch.chunkSize, else 10,000)', parsePositiveInt)
    .option('--json', 'print the result as JSON')
    .action(async (model: string, options: ScoreOptions, command: Command) => {
      const asOf = parseInstant(options.asOf, '--as-of');
      const config = await loadConfigFor(command);
      const temporal = config.profile.temporal;
      // Refused here, before a workflow starts: a name that is not an applied model.
      await checkRunTarget(config, 'model', model);
      const input: BatchScoreInput = {
        project: config.project, model, asOf,
        ...(options.modelVersion !== undefined ? { version: options.modelVersion } : {}),
        ...(options.spine !== undefined ? { spine: options.spine } : {}),
        ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}),
      };
      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { Client, WorkflowExecutionAlreadyStartedError } = await import('@temporalio/client');
      const { batchScore, batchScoreProgressQuery } = await import('../../workflows/batch-score.ts');
      const { waitWithProgress } = await import('../runs/wait-with-progress.ts');
      const connection = await connectClient(temporal);
      try {
        const client = new Client({ connection, namespace: temporal.namespace });
        const workflowId = runId(config.project, 'score', model, compactInstant(asOf));
        const taskQueue = temporal.taskQueues.trainingSets;
        let handle;
        try {
          handle = await client.workflow.start(batchScore, { args: [input], taskQueue, workflowId });
        } catch (error) {
          if (error instanceof WorkflowExecutionAlreadyStartedError) throw new FlywheelError(`A run with id "${workflowId}" is already in progress`, { cause: error });
          throw error;
        }
        process.stderr.write(`Started ${handle.workflowId} on task queue ${taskQueue}\n`);
        const bar = createStageBar(`score ${model}`);
        let result;
        try {
          result = await waitWithProgress(handle, batchScoreProgressQuery, (p) => bar.update(p.chunksDone, p.chunks, p.stage));
        } finally {
          bar.stop();
        }
        process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatBatchScoreResult(result));
      } finally {
        await connection.close();
      }
    });
}
