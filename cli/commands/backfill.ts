import { InvalidArgumentError, type Command } from 'commander';
import { UnknownObjectError } from '../../core/definitions/find-applied-object.ts';
import type { TrainingSetSpec } from '../../core/definitions/specs.ts';
import { partitionsInRange } from '../../core/training-set/partitions.ts';
import { connectClient } from '../../runtime/temporal-connection.ts';
import { readDatasetManifest } from '../../connectors/object-store/dataset-manifests.ts';
import { UsageError } from '../errors.ts';
import { runFooter } from '../format/run-footer.ts';
import { createStageBar } from '../format/progress-bar.ts';
import { parseInstant } from '../project/parse-instant.ts';
import { checkRunTarget } from '../project/check-run-target.ts';
import type { ResolvedConfig } from '../../runtime/load-config.ts';
import { loadDefinitions } from '../project/load-definitions.ts';
import { loadConfigFor } from './global-options.ts';

interface BackfillOptions {
  from?: string;
  to?: string;
  concurrency: number;
  reverse?: boolean;
  dryRun?: boolean;
  onlyFailed?: boolean;
  maxAttempts: number;
  wait: boolean;
  json?: boolean;
}

/**
 * `flywheel backfill <training set> --from --to`: one Temporal workflow that rebuilds every partition
 * in the range as its own child run, a few at a time, with a progress bar. Ctrl-C cancels it.
 */
export function registerBackfillCommand(program: Command): void {
  program
    .command('backfill')
    .description('rebuild every partition of a training set in a range, as one workflow on Temporal')
    .argument('<name>', 'training set (to backfill a feature view into the online store, use flywheel materialize)')
    .option('--from <time>', 'first partition (a partition boundary, e.g. 2024-01-01)')
    .option('--to <time>', 'end of the range, exclusive (a partition boundary)')
    .option('--concurrency <n>', 'partitions built at once', positiveInt, 2)
    .option('--reverse', 'newest partition first')
    .option('--max-attempts <n>', 'attempts per partition before it is reported as failed', positiveInt, 2)
    .option('--dry-run', 'list the partitions it would build and what they would overwrite; start nothing')
    .option('--only-failed', 'run again only the partitions that failed in the last backfill of this training set')
    .option('--no-wait', 'print the workflow id and return')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: BackfillOptions, command: Command) => {
      const config = await loadConfigFor(command);
      const spec = await backfillTarget(config, name);
      if (options.onlyFailed && options.dryRun) throw new UsageError('--only-failed and --dry-run do not go together');

      let from = options.from ? parseInstant(options.from, '--from') : undefined;
      let to = options.to ? parseInstant(options.to, '--to') : undefined;

      if (options.dryRun) {
        if (!from || !to) throw new UsageError('give --from and --to');
        const partitions = partitionsInRange(from, to, spec.output.partitionBy);
        // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
        const { createObjectStore } = await import('../../connectors/object-store/create-object-store.ts');
        const manifest = await readDatasetManifest(createObjectStore(config.profile.objectStore), spec);
        const published = new Map(manifest?.partitions.map((p) => [p.key, p]) ?? []);
        const ordered = options.reverse ? [...partitions].reverse() : partitions;
        const rows = ordered.map((p) => ({ partition: p.key, overwrites: published.get(p.key) ? { version: published.get(p.key)!.version, rowCount: published.get(p.key)!.rowCount } : null }));
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ trainingSet: name, from, to, partitions: rows }, null, 2)}\n`);
        } else {
          for (const row of rows) process.stdout.write(`${row.partition}  ${row.overwrites ? `overwrites version ${row.overwrites.version} (${row.overwrites.rowCount.toLocaleString('en-US')} rows)` : 'new'}\n`);
          const overwritten = rows.filter((r) => r.overwrites).length;
          process.stdout.write(`Would build ${rows.length} partitions of ${name} (${overwritten} published ones replaced, ${rows.length - overwritten} new), ${options.concurrency} at a time. Nothing was started.\n`);
        }
        return;
      }

      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { Client } = await import('@temporalio/client');
      const { lastBackfill, startBackfill, waitForBackfill } = await import('../runs/backfill-run.ts');
      const connection = await connectClient(config.profile.temporal);
      try {
        const client = new Client({ connection, namespace: config.profile.temporal.namespace });
        let only: string[] | undefined;
        if (options.onlyFailed) {
          const last = await lastBackfill(client, config.project, name);
          only = last.result.failed.map((f) => f.key);
          from ??= last.from;
          to ??= last.to;
          if (only.length === 0) {
            process.stdout.write(`The last backfill (${last.workflowId}) had no failed partitions; nothing to re-run.\n`);
            return;
          }
          process.stderr.write(`Re-running ${only.length} failed partitions of ${last.workflowId}: ${only.join(', ')}\n`);
        }
        if (!from || !to) throw new UsageError('give --from and --to');
        partitionsInRange(from, to, spec.output.partitionBy); // fails here, before anything starts, on a misaligned range

        const started = Date.now();
        const handle = await startBackfill(client, config.profile.temporal, {
          project: config.project, trainingSet: name, from, to, concurrency: options.concurrency, maxAttempts: options.maxAttempts,
          ...(options.reverse ? { reverse: true } : {}), ...(only ? { only } : {}),
        });
        process.stderr.write(`Started ${handle.workflowId} on task queue ${config.profile.temporal.taskQueues.trainingSets}\n`);
        if (!options.wait) {
          if (options.json) process.stdout.write(`${JSON.stringify({ workflowId: handle.workflowId })}\n`);
          return;
        }
        const bar = createStageBar(`backfill ${name}`);
        let result;
        try {
          result = await waitForBackfill(
            handle,
            (p) => bar.update(p.done + p.failed, p.total, `done ${p.done}, failed ${p.failed}, running ${p.running.join(' ') || '-'}`),
            () => process.stderr.write('\nCancelling the backfill and its running partitions...\n'),
          );
        } finally {
          bar.stop();
        }
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ workflowId: handle.workflowId, ...result }, null, 2)}\n`);
        } else {
          process.stdout.write(`Backfill of ${name}: ${result.succeeded}/${result.total} partitions built, ${result.rowCount.toLocaleString('en-US')} rows (registry v${result.registryVersion})\n`);
          for (const failure of result.failed) process.stdout.write(`  failed ${failure.key}: ${failure.error}\n`);
          if (result.failed.length > 0) process.stdout.write(`Run \`flywheel backfill ${name} --only-failed\` to retry the ${result.failed.length} failed partitions.\n`);
          process.stdout.write(runFooter(config.profile.temporal, handle.workflowId, Date.now() - started));
        }
        if (result.failed.length > 0) process.exitCode = 3;
      } finally {
        await connection.close();
      }
    });
}

/**
 * The applied training set to backfill, checked before anything starts (a feature view's name says
 * how to backfill it instead). When the warehouse is busy, the definitions folder's stands in: the
 * range is still checked against its partitions, and the worker checks the name again.
 */
async function backfillTarget(config: ResolvedConfig, name: string): Promise<TrainingSetSpec> {
  try {
    const target = await checkRunTarget(config, 'trainingSet', name);
    if (target) return target.spec;
  } catch (error) {
    if (error instanceof UnknownObjectError && error.actualKind === 'featureView') {
      throw new UsageError(`${error.message.replace(/;.*$/, '')}: backfilling a feature view means materializing it: flywheel materialize ${name} --full`, { cause: error });
    }
    throw error;
  }
  const spec = (await loadDefinitions(config.definitionsDir, config.projectRoot)).trainingSets[name];
  if (!spec) throw new UsageError(`"${name}" is not a training set of the definitions folder`);
  return spec;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}
