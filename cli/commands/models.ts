import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadDefinitions } from '../project/load-definitions.ts';
import { formatModelLineage, formatModelList } from '../format/models-text.ts';
import { loadConfigFor } from './global-options.ts';

/**
 * `flywheel models register|promote|list` (docs/models.md): model versions in the object store.
 * They need neither Temporal nor the warehouse: the definitions folder and the object store.
 */
export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('register, promote and list model versions (kept in the object store)');

  models
    .command('register')
    .description('store a new version of a model: its artifact (ONNX, or JSON parameters of a TypeScript model) and the training-set version it was trained on')
    .argument('<name>', 'model name')
    .argument('<file>', 'the artifact: a .onnx file, or a .json of parameters')
    .requiredOption('--trained-on <dataset>', 'the training set it was trained on: <training set> or <training set>@<version>')
    .option('--json', 'print the version manifest as JSON')
    .action(async (name: string, file: string, options: { trainedOn: string; json?: boolean }, command: Command) => {
      const { store, project, config } = await open(command);
      const { registerModel } = await import('../models/register-model.ts');
      const { manifest, created } = await registerModel({ store, project, projectRoot: config.projectRoot, name, file: resolve(file), trainedOn: options.trainedOn, now: new Date() });
      process.stdout.write(options.json
        ? `${JSON.stringify({ created, manifest }, null, 2)}\n`
        : created
          ? `Registered ${name} ${manifest.version} (sha256 ${manifest.sha256.slice(0, 12)}), trained on ${manifest.trainedOn.trainingSet}@${manifest.trainedOn.version}.\nPromote it: flywheel models promote ${name} ${manifest.version}\n`
          : `Already registered: these bytes are ${name} ${manifest.version} (sha256 ${manifest.sha256.slice(0, 12)}); nothing stored.\n`);
    });

  models
    .command('promote')
    .description('make a version the one /v1/decide and batch scoring use by default; with --split and --by, /v1/decide splits requests between versions (a plain promote clears a split)')
    .argument('<name>', 'model name')
    .argument('<version>', 'a registered version, such as v3')
    .option('--split <shares>', 'an A/B split for /v1/decide: <version>=<share>,... such as v3=0.9,v4=0.1 (shares in (0, 1], adding up to 1, the promoted version among them)')
    .option('--by <context key>', 'the request context field whose stable hash picks each request\'s version (with --split)')
    .action(async (name: string, version: string, options: { split?: string; by?: string }, command: Command) => {
      const { store, project } = await open(command);
      const { modelSpecNamed } = await import('../../connectors/model-runtime/load-model-version.ts');
      const { promoteModelVersion } = await import('../../connectors/model-store/model-store.ts');
      const { readPromotedSplit } = await import('../../core/models/promoted-split.ts');
      modelSpecNamed(project, name);
      const split = readPromotedSplit(name, version, options.split, options.by);
      await promoteModelVersion(store, name, version, new Date(), split);
      process.stdout.write(split
        ? `Promoted ${name} ${version}; /v1/decide splits requests by "${split.key}": ${split.arms.map((arm) => `${arm.version} ${arm.share}`).join(', ')}.\n`
        : `Promoted ${name} ${version}.\n`);
    });

  models
    .command('list')
    .description('every model (or one) with its versions, the promoted one marked *, and what each was trained on')
    .argument('[name]', 'only this model')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, options: { json?: boolean }, command: Command) => {
      const { store, project } = await open(command);
      const { modelSpecNamed } = await import('../../connectors/model-runtime/load-model-version.ts');
      const { listModelVersions, readPromoted } = await import('../../connectors/model-store/model-store.ts');
      const names = name !== undefined ? [modelSpecNamed(project, name).name] : Object.keys(project.models).sort();
      const entries = await Promise.all(names.map(async (n) => ({ name: n, versions: await listModelVersions(store, n), promoted: await readPromoted(store, n) })));
      process.stdout.write(options.json ? `${JSON.stringify(entries, null, 2)}\n` : formatModelList(entries));
    });

  models
    .command('show')
    .description('one version: its artifact and code, and its lineage (the training-set version, each partition\'s feature views and labels)')
    .argument('<name>', 'model name')
    .argument('<version>', 'a registered version, such as v3')
    .option('--json', 'print JSON')
    .action(async (name: string, version: string, options: { json?: boolean }, command: Command) => {
      const { store, project } = await open(command);
      const { modelSpecNamed } = await import('../../connectors/model-runtime/load-model-version.ts');
      const { modelVersionLineage } = await import('../models/model-lineage.ts');
      modelSpecNamed(project, name);
      const lineage = await modelVersionLineage(store, project, name, version);
      process.stdout.write(options.json ? `${JSON.stringify(lineage, null, 2)}\n` : formatModelLineage(lineage));
    });

  models
    .command('lineage')
    .description('the lineage of a logged decision: the model version that made it, the training-set version it was trained on, and that set\'s feature and label versions')
    .argument('<decision id>', 'a decision id, as /v1/decide returns it or batch scoring logs it')
    .option('--json', 'print JSON')
    .action(async (decisionId: string, options: { json?: boolean }, command: Command) => {
      const { store, project, config } = await open(command);
      const { createOfflineEngine } = await import('../../connectors/offline/create-offline-engine.ts');
      const { decisionLineage } = await import('../models/model-lineage.ts');
      const engine = await createOfflineEngine(config.profile.offline);
      try {
        const lineage = await decisionLineage(engine, store, project, decisionId);
        process.stdout.write(options.json ? `${JSON.stringify(lineage, null, 2)}\n` : formatModelLineage(lineage));
      } finally {
        await engine.close();
      }
    });
}

async function open(command: Command) {
  const config = await loadConfigFor(command);
  const project = await loadDefinitions(config.definitionsDir, config.projectRoot);
  // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
  const { createObjectStore } = await import('../../connectors/object-store/create-object-store.ts');
  return { store: createObjectStore(config.profile.objectStore), project, config };
}
