import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { NotFoundError } from '../../core/errors.ts';
import { datasetLayout } from '../../core/training-set/manifest.ts';
import { connectClient } from '../../runtime/temporal-connection.ts';
import type { BuildLabelsInput } from '../../workflows/build-labels.ts';
import { readLabelDatasetManifest, readLabelPartitionManifest } from '../../connectors/object-store/dataset-manifests.ts';
import { formatLabelsDataset, formatLabelsList, formatLabelsResult } from '../format/labels-text.ts';
import { createStageBar } from '../format/progress-bar.ts';
import { runFooter } from '../format/run-footer.ts';
import { partitionsInRange } from '../../core/training-set/partitions.ts';
import { checkRunTarget } from '../project/check-run-target.ts';
import { loadDefinitions } from '../project/load-definitions.ts';
import { parseInstant, parsePartitionRange } from '../project/parse-instant.ts';
import { loadConfigFor } from './global-options.ts';

interface BuildOptions {
  from?: string;
  to?: string;
  asOf?: string;
  includeOpen?: boolean;
  rebuild?: boolean;
  concurrency?: number;
  wait: boolean;
  json?: boolean;
}

/**
 * `flywheel labels build|list|show` (docs/labels.md): builds a labels dataset on Temporal, with a
 * progress bar, and reads its manifests from the object store (no Temporal, no warehouse).
 */
export function registerLabelsCommand(program: Command): void {
  const labels = program.command('labels').description('build and inspect labels: outcomes joined to the decisions they followed');

  addLabelsBuildCommand(labels, 'build');

  labels
    .command('list')
    .description('every labels dataset: partitions, rows, positives, time range, last update')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { store, project } = await open(command);
      const entries = await Promise.all(
        Object.values(project.labels).map(async (spec) => ({ name: spec.name, uri: store.uri(datasetLayout(spec.output.path).root), manifest: await readLabelDatasetManifest(store, spec) })),
      );
      process.stdout.write(options.json ? `${JSON.stringify(entries, null, 2)}\n` : formatLabelsList(entries));
    });

  labels
    .command('show')
    .description("a labels dataset's schema, its partitions with their current versions and why each was built, and one partition's details (the newest by default)")
    .argument('<name>', 'labels name')
    .option('--partition <key>', 'partition to show in detail, e.g. day=2024-03-01')
    .option('--json', 'print the manifests as JSON')
    .action(async (name: string, options: { partition?: string; json?: boolean }, command: Command) => {
      const { store, project } = await open(command);
      const spec = project.labels[name];
      if (!spec) throw new NotFoundError('labels', name, `Defined labels: ${Object.keys(project.labels).join(', ') || 'none'}`);
      const manifest = await readLabelDatasetManifest(store, spec);
      if (!manifest) throw new NotFoundError('dataset of labels', name, `Nothing was published under ${store.uri(spec.output.path)} yet; run \`flywheel labels build ${name}\``);
      const key = options.partition ?? manifest.partitions.at(-1)?.key;
      const partition = key ? await readLabelPartitionManifest(store, spec, key) : undefined;
      if (options.partition && !partition) throw new NotFoundError('partition', options.partition, `Partitions: ${manifest.partitions.map((p) => p.key).join(', ')}`);
      const uri = store.uri(datasetLayout(spec.output.path).root);
      process.stdout.write(options.json ? `${JSON.stringify({ uri, manifest, partition }, null, 2)}\n` : formatLabelsDataset(name, uri, manifest, partition));
    });
}

async function open(command: Command) {
  const config = await loadConfigFor(command);
  const project = await loadDefinitions(config.definitionsDir, config.projectRoot);
  // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
  const { createObjectStore } = await import('../../connectors/object-store/create-object-store.ts');
  return { store: createObjectStore(config.profile.objectStore), project };
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/**
 * The command that builds labels now: `flywheel labels build <name>`, and the same as `flywheel run labels <name>`
 * (every "run a thing now" is also `flywheel run <kind>`; docs/runs.md).
 */
export function addLabelsBuildCommand(parent: Command, name: string): Command {
  return parent
    .command(name)
    .description('build the partitions of a labels dataset that are due: new ones whose windows have closed, and published ones that outcomes or decisions loaded since changed')
    .argument('<name>', 'labels name')
    .option('--from <time>', 'only partitions of decision time from this instant on (a partition boundary: 2024-05-01)')
    .option('--to <time>', 'up to this instant, exclusive (a partition boundary)')
    .option('--as-of <time>', 'label as of this instant: decisions whose window has closed by then (default: now)')
    .option('--include-open', 'also build partitions whose windows are still open, labeling only their mature decisions (rebuilt by later runs)')
    .option('--rebuild', 'rebuild every partition of the range, even those that are up to date')
    .option('--concurrency <n>', 'partitions built at once (default 2)', parsePositiveInt)
    .option('--no-wait', 'print the workflow id and return without waiting')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: BuildOptions, command: Command) => {
      const config = await loadConfigFor(command);
      const { from, to } = parsePartitionRange(options, 'built');
      const asOf = options.asOf ? parseInstant(options.asOf, '--as-of') : undefined;
      // Refused here, before a workflow starts: a name that is not applied labels, a range off their partitions.
      const target = await checkRunTarget(config, 'labels', name);
      if (target && from && to) partitionsInRange(from, to, target.spec.output.partitionBy);
      const input: BuildLabelsInput = {
        project: config.project, labels: name,
        ...(from && to ? { from, to } : {}),
        ...(asOf ? { asOf } : {}),
        ...(options.includeOpen ? { includeOpen: true } : {}),
        ...(options.rebuild ? { rebuild: true } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      };
      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { Client } = await import('@temporalio/client');
      const { startLabelsRun, waitForLabelsRun } = await import('../runs/labels-run.ts');
      const connection = await connectClient(config.profile.temporal);
      try {
        const client = new Client({ connection, namespace: config.profile.temporal.namespace });
        const started = Date.now();
        const handle = await startLabelsRun(client, config.profile.temporal, input);
        process.stderr.write(`Started ${handle.workflowId} on task queue ${config.profile.temporal.taskQueues.labels}\n`);
        if (!options.wait) {
          if (options.json) process.stdout.write(`${JSON.stringify({ workflowId: handle.workflowId })}\n`);
          return;
        }
        const bar = createStageBar(`labels ${name}`);
        let result;
        try {
          result = await waitForLabelsRun(handle, (p) => bar.update(p.done + p.failed, p.total, p.stage));
        } finally {
          bar.stop();
        }
        process.stdout.write(options.json ? `${JSON.stringify({ workflowId: handle.workflowId, ...result }, null, 2)}\n` : `${formatLabelsResult(result)}${runFooter(config.profile.temporal, handle.workflowId, Date.now() - started)}`);
        if (result.failed > 0) process.exitCode = 3;
      } finally {
        await connection.close();
      }
    });
}
