import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { FlywheelError } from '../../core/errors.ts';
import { BatchSpineError } from '../../core/models/errors.ts';
import { UsageError } from '../errors.ts';
import { compactInstant, runId } from '../../core/run-ids.ts';
import { connectClient } from '../../runtime/temporal-connection.ts';
import type { BatchScoreInput, BatchScoreResult } from '../../workflows/batch-score.ts';
import { createStageBar } from '../format/progress-bar.ts';
import { checkRunTarget } from '../project/check-run-target.ts';
import { parseInstant } from '../project/parse-instant.ts';
import { loadConfigFor } from './global-options.ts';

interface ScoreOptions {
  modelVersion?: string;
  asOf?: string;
  spine?: string;
  spineTimeColumn?: string;
  chunkSize?: number;
  json?: boolean;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/** A source's name as is; a file's as `file-<first 12 hex digits of the SHA-256 of its path or URI>`. */
function spineRunName(spine: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(spine) ? spine : `file-${createHash('sha256').update(spine).digest('hex').slice(0, 12)}`;
}

/** What `flywheel score` prints when the run is done. */
export function formatBatchScoreResult(result: BatchScoreResult): string {
  const rows = result.rowCount.toLocaleString('en-US');
  return [
    `Scored ${rows} ${result.rowCount === 1 ? 'row' : 'rows'} with ${result.model} ${result.version} ${result.asOf === null ? `each as of its own time (spine ${result.spine})` : `as of ${result.asOf}`} in ${result.chunks} ${result.chunks === 1 ? 'chunk' : 'chunks'}.`,
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
    .option('--as-of <instant>', 'score every entity of the model\'s batch spine with features as of this instant (a date is its UTC midnight)')
    // Not --version: that is the program's own flag wherever it is written (commander reads program options after subcommands too).
    .option('--model-version <version>', 'a registered version, such as v3 (default: the promoted one)')
    .option('--spine <source or file>', 'score each row of this source or Parquet file (path or URI) with features as of the row\'s own time, like a training set')
    .option('--spine-time-column <column>', 'a file spine\'s time column (default: the time field of the model\'s batch spine source)')
    .option('--chunk-size <rows>', 'rows per chunk (default: the model\'s batch.chunkSize, else 10,000)', parsePositiveInt)
    .option('--json', 'print the result as JSON')
    .action(async (model: string, options: ScoreOptions, command: Command) => {
      if ((options.asOf === undefined) === (options.spine === undefined)) {
        throw new UsageError(options.asOf === undefined
          ? 'give --as-of <instant> (every entity of the model\'s batch spine as of then) or --spine <source or file> (each row as of its own time)'
          : '--as-of and --spine do not go together: --as-of scores every entity of the model\'s batch spine as of one time; --spine scores each of its rows as of the row\'s own time');
      }
      if (options.spineTimeColumn !== undefined && options.spine === undefined) throw new UsageError('--spine-time-column goes with a file --spine');
      const asOf = options.asOf === undefined ? undefined : parseInstant(options.asOf, '--as-of');
      // A file spine is read by the worker: a local path made absolute here, a URI as given.
      const spine = options.spine === undefined || !/[/\\.]/.test(options.spine) || /^[a-z][a-z0-9+.-]*:\/\//i.test(options.spine) ? options.spine : resolve(options.spine);
      // Refused before a run starts (the worker checks it too).
      if (spine !== undefined && /[/\\.:]/.test(spine) && !/\.parquet$/i.test(spine)) throw new BatchSpineError(spine, 'a file spine is Parquet (.parquet); load a CSV into a source, or write it as Parquet');
      const config = await loadConfigFor(command);
      const temporal = config.profile.temporal;
      // Refused here, before a workflow starts: a name that is not an applied model.
      await checkRunTarget(config, 'model', model);
      const input: BatchScoreInput = {
        project: config.project, model,
        ...(asOf !== undefined ? { asOf } : {}),
        ...(options.modelVersion !== undefined ? { version: options.modelVersion } : {}),
        ...(spine !== undefined ? { spine } : {}),
        ...(options.spineTimeColumn !== undefined ? { spineTimeColumn: options.spineTimeColumn } : {}),
        ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}),
      };
      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { Client, WorkflowExecutionAlreadyStartedError } = await import('@temporalio/client');
      const { batchScore, batchScoreProgressQuery } = await import('../../workflows/batch-score.ts');
      const { waitWithProgress } = await import('../runs/wait-with-progress.ts');
      const connection = await connectClient(temporal);
      try {
        const client = new Client({ connection, namespace: temporal.namespace });
        // A spine run is named by its spine (a file by the hash of its URI), so a second run of it while one is going is refused.
        const workflowId = runId(config.project, 'score', model, asOf !== undefined ? compactInstant(asOf) : `spine-${spineRunName(spine!)}`);
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
