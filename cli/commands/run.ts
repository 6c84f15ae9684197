import type { Command} from 'commander';
import { InvalidArgumentError } from 'commander';
import { connectClient } from '../../runtime/temporal-connection.ts';
import { formatRunConsistency } from '../format/consistency-text.ts';
import { createStageBar } from '../format/progress-bar.ts';
import { runFooter } from '../format/run-footer.ts';
import { partitionsInRange } from '../../core/training-set/partitions.ts';
import { checkRunTarget } from '../project/check-run-target.ts';
import { parsePartitionRange } from '../project/parse-instant.ts';
import { loadConfigFor } from './global-options.ts';
import { addLabelsBuildCommand } from './labels.ts';
import { addLoopRunCommand } from './loop.ts';
import { registerMaterializeCommand } from './materialize.ts';
import { addRetentionRunCommand } from './retention.ts';

interface RunTrainingSetOptions {
  from?: string;
  to?: string;
  registryVersion?: number;
  wait: boolean;
  json?: boolean;
}

/**
 * `flywheel run <kind> …`: the one way to say "run this now" (docs/runs.md). `run training-set` is
 * defined here; `run labels`, `run materialization`, `run loop` and `run retention` are the same
 * commands as `labels build`, `materialize`, `loop run` and `retention run`, which stay as aliases.
 */
export function registerRunCommand(program: Command): void {
  const run = program.command('run').description('run something now, on Temporal: a training set, labels, a materialization, the loop, retention');
  run
    .command('training-set')
    .description('build a training set (point-in-time join, Parquet and manifest in the object store)')
    .argument('<name>', 'training set name')
    .option('--from <time>', 'build the partitions from this instant on (a partition boundary: 2024-05-01)')
    .option('--to <time>', 'up to this instant, exclusive (a partition boundary)')
    .option('--registry-version <n>', 'registry version to read (default: the latest applied)', parsePositiveInt)
    .option('--no-wait', 'print the workflow id and return without waiting')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: RunTrainingSetOptions, command: Command) => {
      const config = await loadConfigFor(command);
      const { from, to } = parsePartitionRange(options, 'rebuilt');
      // Refused here, before a workflow starts: a name that is not an applied training set, a range off its partitions.
      const target = await checkRunTarget(config, 'trainingSet', name, options.registryVersion ? { registryVersion: options.registryVersion } : {});
      if (target && from && to) partitionsInRange(from, to, target.spec.output.partitionBy);

      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { Client } = await import('@temporalio/client');
      const { startTrainingSetRun, waitForTrainingSetRun } = await import('../runs/training-set-run.ts');
      const connection = await connectClient(config.profile.temporal);
      try {
        const client = new Client({ connection, namespace: config.profile.temporal.namespace });
        const started = Date.now();
        const handle = await startTrainingSetRun(client, config.profile.temporal, {
          project: config.project,
          trainingSet: name,
          ...(from ? { from } : {}),
          ...(to ? { to } : {}),
          ...(options.registryVersion ? { registryVersion: options.registryVersion } : {}),
        });
        process.stderr.write(`Started ${handle.workflowId} on task queue ${config.profile.temporal.taskQueues.trainingSets}\n`);
        if (!options.wait) {
          if (options.json) process.stdout.write(`${JSON.stringify({ workflowId: handle.workflowId })}\n`);
          return;
        }
        const bar = createStageBar(`training set ${name}`);
        let result;
        try {
          // Partitions written out of the run's partitions once the plan knows them; the stages before that.
          result = await waitForTrainingSetRun(handle, (p) =>
            p.partitions ? bar.update(p.partitionsWritten ?? (p.stage === 'done' || p.stage === 'publish' ? p.partitions : 0), p.partitions, `${p.stage} (partitions)`) : bar.update(p.completedStages, p.totalStages, p.stage));
          bar.update(result.partitions.length, result.partitions.length, 'done (partitions)');
        } finally {
          bar.stop();
        }
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ workflowId: handle.workflowId, ...result }, null, 2)}\n`);
        } else {
          const partitions = `${result.partitions.length} partition${result.partitions.length === 1 ? '' : 's'}`;
          process.stdout.write(
            `Training set ${name} version ${result.version}: ${result.rowCount.toLocaleString('en-US')} rows in ${partitions}` +
              `${result.empty ? ': the range holds no spine rows (empty partitions were written with their manifests)' : ''} (registry v${result.registryVersion})\n` +
              (result.skippedNullTimestamps > 0 ? `  skipped ${result.skippedNullTimestamps} spine rows with a null timestamp (they belong to no partition)\n` : '') +
              `  dataset:  ${result.datasetUri}\n  manifest: ${result.manifestUri}\n` +
              (result.consistency ? formatRunConsistency(result.consistency) : '') +
              runFooter(config.profile.temporal, handle.workflowId, Date.now() - started),
          );
        }
      } finally {
        await connection.close();
      }
    });
  addLabelsBuildCommand(run, 'labels');
  registerMaterializeCommand(run, 'materialization');
  addLoopRunCommand(run, 'loop');
  addRetentionRunCommand(run, 'retention');
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}
