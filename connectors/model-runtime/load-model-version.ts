import type { ObjectStore } from '../object-store/object-store.ts';
import type { ModelSpec, ProjectSpec } from '../../core/definitions/specs.ts';
import { NotFoundError } from '../../core/errors.ts';
import { ModelArtifactError } from '../../core/models/errors.ts';
import { modelKeys, type ModelVersionManifest } from '../../core/models/manifest.ts';
import { modelInputName } from '../../core/validation/model.ts';
import { resolveModelVersion, sha256Hex } from '../model-store/model-store.ts';
import { checkedModel } from './checked-scores.ts';
import type { LoadedModel, RawScorer } from './loaded-model.ts';
import { onnxScorer } from './onnx-scorer.ts';
import { typeScriptScorer, type TypeScriptModelCode } from './typescript-scorer.ts';

/**
 * Loads a model version (the promoted one unless `version` is given) from the object store and
 * returns it ready to score. Throws NotFoundError for an unknown model or version, and
 * ModelArtifactError when the artifact does not load or does not fit the definition's inputs.
 *
 * @example
 * const ranker = await loadModelVersion({ store, definitions: spec, name: 'ranker', projectRoot });
 * const scores = await ranker.score([{ user_ctr_7d: 0.1, item_ctr_7d: 0.3, position: 1 }]);
 */
export async function loadModelVersion(args: {
  store: ObjectStore;
  definitions: ProjectSpec;
  name: string;
  version?: string;
  /** Where a TypeScript model's module path starts; default the working directory. */
  projectRoot?: string;
}): Promise<LoadedModel> {
  const spec = modelSpecNamed(args.definitions, args.name);
  const manifest = await resolveModelVersion(args.store, args.name, args.version);
  const file = modelKeys.artifact(args.name, manifest.version, manifest.artifact);
  const inputs = spec.inputs.map(modelInputName);
  if (manifest.format !== spec.artifact.format) {
    throw new ModelArtifactError({ model: args.name, version: manifest.version, file, reason: `the version is ${manifest.format}, and the definition says ${spec.artifact.format}` });
  }
  if (manifest.inputs.join('\u0000') !== inputs.join('\u0000')) {
    throw new ModelArtifactError({ model: args.name, version: manifest.version, file, reason: `the version was registered for inputs (${manifest.inputs.join(', ')}); the definition now has (${inputs.join(', ')}); register a version for these inputs` });
  }
  const bytes = await args.store.get(file);
  if (!bytes) throw new ModelArtifactError({ model: args.name, version: manifest.version, file, reason: 'the artifact is missing from the object store' });
  return scorerModel(spec, { version: manifest.version, file, bytes, projectRoot: args.projectRoot ?? process.cwd(), ...(manifest.code ? { code: await versionCode(args.store, manifest, manifest.code) } : {}) });
}

/** A TypeScript version's bundled code from the store, checked against the manifest's SHA-256. */
async function versionCode(store: ObjectStore, manifest: ModelVersionManifest, code: NonNullable<ModelVersionManifest['code']>): Promise<TypeScriptModelCode> {
  const file = modelKeys.artifact(manifest.name, manifest.version, code.file);
  const bytes = await store.get(file);
  if (!bytes) throw new ModelArtifactError({ model: manifest.name, version: manifest.version, file, reason: 'the scoring code is missing from the object store' });
  const sha256 = sha256Hex(bytes);
  if (sha256 !== code.sha256) throw new ModelArtifactError({ model: manifest.name, version: manifest.version, file, reason: `the scoring code's SHA-256 is ${sha256}; the manifest says ${code.sha256}` });
  return { bytes, sha256, export: code.export, module: code.module };
}

/** A LoadedModel from an artifact's bytes (and a TypeScript version's code), shared by loading and by `models register`'s probe. */
export async function scorerModel(spec: ModelSpec, context: { version: string; file: string; bytes: Uint8Array; projectRoot: string; code?: TypeScriptModelCode }): Promise<LoadedModel> {
  const inputs = spec.inputs.map(modelInputName);
  const raw: RawScorer = spec.artifact.format === 'onnx'
    ? await onnxScorer(spec, { ...context, inputs })
    : await typeScriptScorer({ ...spec, artifact: spec.artifact }, context);
  return checkedModel(spec, context.version, inputs, raw);
}

export function modelSpecNamed(definitions: ProjectSpec, name: string): ModelSpec {
  const spec = definitions.models[name];
  if (!spec) {
    const known = Object.keys(definitions.models).sort();
    throw new NotFoundError('model', name, known.length > 0 ? `Defined models: ${known.join(', ')}` : 'No model is defined (model({ ... }) in the definitions)');
  }
  return spec;
}
