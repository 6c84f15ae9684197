import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ObjectStore } from '../../connectors/object-store/object-store.ts';
import { readDatasetManifest } from '../../connectors/object-store/dataset-manifests.ts';
import { registerModelVersion, sha256Hex } from '../../connectors/model-store/model-store.ts';
import { bundleTypeScriptModel } from '../../connectors/model-runtime/bundle-typescript-model.ts';
import { modelSpecNamed, scorerModel } from '../../connectors/model-runtime/load-model-version.ts';
import type { ModelSpec, ProjectSpec } from '../../core/definitions/specs.ts';
import { NotFoundError } from '../../core/errors.ts';
import { ModelArtifactError, ModelRegistryError, ModelScoringError } from '../../core/models/errors.ts';
import type { ModelVersionManifest, TrainedOn } from '../../core/models/manifest.ts';

/**
 * `flywheel models register`: checks that the training-set version exists and that the artifact
 * loads and scores a probe row of the model's width, then stores a new version (or finds the same
 * bytes already registered).
 */
export async function registerModel(args: {
  store: ObjectStore;
  project: ProjectSpec;
  projectRoot: string;
  name: string;
  file: string;
  trainedOn: string;
  now: Date;
}): Promise<{ manifest: ModelVersionManifest; created: boolean }> {
  const spec = modelSpecNamed(args.project, args.name);
  const trainedOn = await resolveTrainedOn(args.store, args.project, spec, args.trainedOn);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(args.file);
  } catch (cause) {
    throw new ModelArtifactError({ model: spec.name, file: args.file, reason: `cannot read the file: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}` }, { cause });
  }
  // A TypeScript model's code becomes part of the version: bundled now, probed as bundled, stored beside the parameters.
  const code = spec.artifact.format === 'typescript'
    ? { bytes: await bundleTypeScriptModel({ ...spec, artifact: spec.artifact }, args.projectRoot), module: spec.artifact.module, export: spec.artifact.export }
    : undefined;
  await probe(spec, bytes, args.file, args.projectRoot, code);
  return registerModelVersion(args.store, { spec, bytes, trainedOn, now: args.now, ...(code ? { code } : {}) });
}

/** Scores one row of zeros (false, 0) of the model's inputs: the artifact loads, takes that width and returns one finite score. */
async function probe(spec: ModelSpec, bytes: Uint8Array, file: string, projectRoot: string, code?: { bytes: Uint8Array; module: string; export: string }): Promise<void> {
  const bundled = code ? { ...code, sha256: sha256Hex(code.bytes) } : undefined;
  const loaded = await scorerModel(spec, { version: '(new)', file: basename(file), bytes, projectRoot, ...(bundled ? { code: bundled } : {}) }).catch((error: unknown) => {
    if (error instanceof ModelArtifactError) throw new ModelArtifactError({ model: spec.name, file, reason: error.reason }, { cause: error });
    throw error;
  });
  const row = Object.fromEntries(loaded.inputs.map((input) => [input, 0]));
  try {
    await loaded.score([row]);
  } catch (error) {
    if (error instanceof ModelScoringError) {
      throw new ModelArtifactError({ model: spec.name, file, reason: `scoring a probe row of ${loaded.inputs.length} zeros (${loaded.inputs.join(', ')}) failed: ${error.reason}` }, { cause: error });
    }
    throw error;
  }
}

/**
 * `<training set>` (every published partition) or `<training set>@<version>` (the partitions that
 * run wrote), read from the dataset's index in the object store.
 */
export async function resolveTrainedOn(store: ObjectStore, project: ProjectSpec, spec: ModelSpec, text: string): Promise<TrainedOn> {
  const [name, version, ...rest] = text.split('@');
  if (!name || rest.length > 0 || version === '') {
    throw new ModelRegistryError(spec.name, `--trained-on ${JSON.stringify(text)}: give <training set> or <training set>@<version> (flywheel datasets show <training set> lists versions)`);
  }
  const set = project.trainingSets[name];
  if (!set) {
    const known = Object.keys(project.trainingSets).sort();
    throw new NotFoundError('training set', name, known.length > 0 ? `Defined training sets: ${known.join(', ')}` : 'No training set is defined');
  }
  const manifest = await readDatasetManifest(store, set);
  if (!manifest || manifest.partitions.length === 0) {
    throw new ModelRegistryError(spec.name, `training set "${name}" has no published dataset; build it first (flywheel run training-set ${name})`);
  }
  const partitions = manifest.partitions.filter((p) => version === undefined || p.version === version);
  if (partitions.length === 0) {
    const versions = [...new Set(manifest.partitions.map((p) => p.version))].sort();
    throw new ModelRegistryError(spec.name, `training set "${name}" has no version "${version}"; its partitions' versions: ${versions.join(', ')}`);
  }
  return {
    trainingSet: name,
    version: version ?? partitions.map((p) => p.version).sort().at(-1)!,
    partitions: partitions.map((p) => ({ key: p.key, version: p.version, registryVersion: p.registryVersion, rowCount: p.rowCount })),
  };
}
