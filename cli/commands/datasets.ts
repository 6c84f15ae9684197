import type { Command } from 'commander';
import { NotFoundError } from '../../core/errors.ts';
import { datasetLayout } from '../../core/training-set/manifest.ts';
import { readConsistencyReport, readDatasetManifest, readPartitionManifest } from '../../connectors/object-store/dataset-manifests.ts';
import { formatConsistencyReport } from '../format/consistency-text.ts';
import { formatDataset, formatDatasetList } from '../format/dataset-text.ts';
import { checkRunTarget } from '../project/check-run-target.ts';
import { loadDefinitions } from '../project/load-definitions.ts';
import { loadConfigFor } from './global-options.ts';

/**
 * `flywheel datasets list|show`: reads the training sets' manifests from the object store. `list`
 * needs neither Temporal nor the warehouse; `show` checks the name against the applied registry
 * (waiting a few seconds for a worker that holds the DuckDB file, then using the definitions folder).
 */
export function registerDatasetsCommand(program: Command): void {
  const datasets = program.command('datasets').description('list and inspect the training sets written to the object store');

  datasets
    .command('list')
    .description('every training set: partitions, rows, time range, last update')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const { store, project } = await open(command);
      const entries = await Promise.all(
        Object.values(project.trainingSets).map(async (spec) => ({ name: spec.name, uri: store.uri(datasetLayout(spec.output.path).root), manifest: await readDatasetManifest(store, spec) })),
      );
      process.stdout.write(options.json ? `${JSON.stringify(entries, null, 2)}\n` : formatDatasetList(entries));
    });

  datasets
    .command('show')
    .description("a training set's schema, partitions, and the column statistics of one partition (the newest by default)")
    .argument('<name>', 'training set name')
    .option('--partition <key>', 'partition to show statistics for, e.g. day=2024-03-01')
    .option('--all', 'list every partition (by default a long list shows its first and last few)')
    .option('--json', 'print the manifests as JSON')
    .action(async (name: string, options: { partition?: string; all?: boolean; json?: boolean }, command: Command) => {
      const config = await loadConfigFor(command);
      // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
      const { createObjectStore } = await import('../../connectors/object-store/create-object-store.ts');
      const store = createObjectStore(config.profile.objectStore);
      // The applied training set (its output path is where the runs wrote); the definitions folder's when the warehouse is busy.
      const target = await checkRunTarget(config, 'trainingSet', name);
      const defined = target ? undefined : (await loadDefinitions(config.definitionsDir, config.projectRoot)).trainingSets;
      const spec = target?.spec ?? defined?.[name];
      if (!spec) throw new NotFoundError('training set', name, `Defined training sets: ${Object.keys(defined ?? {}).join(', ') || 'none'}`);
      const manifest = await readDatasetManifest(store, spec);
      if (!manifest) throw new NotFoundError('dataset of training set', name, `Nothing was published under ${store.uri(spec.output.path)} yet; run \`flywheel run training-set ${name}\``);
      const key = options.partition ?? manifest.partitions.at(-1)?.key;
      const partition = key ? await readPartitionManifest(store, spec, key) : undefined;
      if (options.partition && !partition) throw new NotFoundError('partition', options.partition, `Partitions: ${manifest.partitions.map((p) => p.key).join(', ')}`);
      const uri = store.uri(datasetLayout(spec.output.path).root);
      // A training set built from a decision log has a consistency report beside its index.
      const consistency = await readConsistencyReport(store, spec);
      process.stdout.write(options.json
        ? `${JSON.stringify({ uri, manifest, partition, ...(consistency ? { consistency } : {}) }, null, 2)}\n`
        : formatDataset(name, uri, manifest, partition, { all: options.all ?? false }) + (consistency ? `\n${formatConsistencyReport(consistency, manifest.sources)}` : ''));
    });
}

async function open(command: Command) {
  const config = await loadConfigFor(command);
  const project = await loadDefinitions(config.definitionsDir, config.projectRoot);
  // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
  const { createObjectStore } = await import('../../connectors/object-store/create-object-store.ts');
  return { store: createObjectStore(config.profile.objectStore), project };
}
