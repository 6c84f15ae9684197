import { createHash } from 'node:crypto';
import type { ObjectStore } from '../object-store/object-store.ts';
import { NotFoundError } from '../../core/errors.ts';
import { ModelRegistryError } from '../../core/models/errors.ts';
import { artifactFileOf, codeFileOf, modelKeys, versionNumber, type ModelVersionManifest, type PromotedModel, type PromotedSplit, type TrainedOn } from '../../core/models/manifest.ts';
import type { ModelSpec } from '../../core/definitions/specs.ts';
import { modelInputName } from '../../core/validation/model.ts';

/**
 * Model versions and promotions in the object store (layout: core/models/manifest.ts). A version's
 * artifact is written before its manifest, so a listed version is always whole; versions are never
 * rewritten. Registering bytes already registered returns that version (idempotent by SHA-256).
 * Registrations racing for a number are settled by the manifest's conditional create.
 */

async function readJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const bytes = await store.get(key);
  return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as T) : undefined;
}

/** Every registered version of a model, oldest first. */
export async function listModelVersions(store: ObjectStore, name: string): Promise<ModelVersionManifest[]> {
  const objects = await store.list(modelKeys.versionsPrefix(name));
  const manifests = objects.filter((o) => o.key.endsWith('/manifest.json'));
  const read = await Promise.all(manifests.map((o) => readJson<ModelVersionManifest>(store, o.key)));
  return read.filter((m): m is ModelVersionManifest => m !== undefined).sort((a, b) => versionNumber(a.version) - versionNumber(b.version));
}

export function readModelVersion(store: ObjectStore, name: string, version: string): Promise<ModelVersionManifest | undefined> {
  return readJson<ModelVersionManifest>(store, modelKeys.manifest(name, version));
}

export function readPromoted(store: ObjectStore, name: string): Promise<PromotedModel | undefined> {
  return readJson<PromotedModel>(store, modelKeys.promoted(name));
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** How many numbers one registration tries before giving up (each lost only to another registration's manifest). */
const REGISTER_ATTEMPTS = 20;

/**
 * Stores a new version (the caller has checked that the artifact loads and scores) and returns its
 * manifest, or the existing version's when these bytes (and this code) were registered before
 * (`created: false`).
 *
 * Safe against concurrent registrations: the files go in first under names carrying their SHA-256,
 * then the manifest is created only if absent (ObjectStore.putBytesIfAbsent). A registration that
 * loses the number to another reads the versions again: the same bytes mean that version is its
 * own; otherwise it removes what it wrote beside the winner's manifest and tries the next number.
 */
export async function registerModelVersion(
  store: ObjectStore,
  args: { spec: ModelSpec; bytes: Uint8Array; code?: { bytes: Uint8Array; module: string; export: string }; trainedOn: TrainedOn; now: Date },
): Promise<{ manifest: ModelVersionManifest; created: boolean }> {
  const { spec, bytes } = args;
  const sha256 = sha256Hex(bytes);
  const codeSha = args.code ? sha256Hex(args.code.bytes) : undefined;
  const artifact = artifactFileOf(spec.artifact.format, sha256);
  const code = args.code && codeSha ? { file: codeFileOf(codeSha), sha256: codeSha, module: args.code.module, export: args.code.export } : undefined;
  for (let attempt = 1; attempt <= REGISTER_ATTEMPTS; attempt++) {
    const versions = await listModelVersions(store, spec.name);
    const same = versions.find((v) => v.sha256 === sha256 && v.code?.sha256 === codeSha);
    if (same) return { manifest: same, created: false };
    const version = `v${versions.reduce((n, v) => Math.max(n, versionNumber(v.version) || 0), 0) + 1}`;
    const manifest: ModelVersionManifest = {
      formatVersion: 1, name: spec.name, version, format: spec.artifact.format, artifact, sha256, ...(code ? { code } : {}),
      inputs: spec.inputs.map(modelInputName), output: spec.output, trainedOn: args.trainedOn, registeredAt: args.now.toISOString(),
    };
    await store.putBytes(modelKeys.artifact(spec.name, version, artifact), bytes);
    if (args.code && code) await store.putBytes(modelKeys.artifact(spec.name, version, code.file), args.code.bytes);
    if (await store.putBytesIfAbsent(modelKeys.manifest(spec.name, version), `${JSON.stringify(manifest, null, 2)}\n`)) return { manifest, created: true };
    // Lost the number. Our files are ours to remove unless the winner stored the very same file.
    const winner = await readModelVersion(store, spec.name, version);
    if (winner?.artifact !== artifact) await store.delete(modelKeys.artifact(spec.name, version, artifact));
    if (code && winner?.code?.file !== code.file) await store.delete(modelKeys.artifact(spec.name, version, code.file));
  }
  throw new ModelRegistryError(spec.name, `another registration took each of ${REGISTER_ATTEMPTS} version numbers tried in a row; try again`);
}

/**
 * Makes `version` the one serving and batch scoring use by default; with a split (read by
 * core/models/promoted-split.ts), `/v1/decide` routes each request to an arm. A promotion without a
 * split clears any split before it.
 */
export async function promoteModelVersion(store: ObjectStore, name: string, version: string, now: Date, split?: PromotedSplit): Promise<PromotedModel> {
  for (const wanted of [version, ...(split?.arms ?? []).map((arm) => arm.version).filter((v) => v !== version)]) {
    if (await readModelVersion(store, name, wanted)) continue;
    const known = (await listModelVersions(store, name)).map((v) => v.version);
    const what = wanted === version ? `no version ${wanted}` : `--split names version ${wanted}, which is not registered`;
    throw new ModelRegistryError(name, `${what}; ${known.length > 0 ? `registered: ${known.join(', ')}` : 'none is registered (flywheel models register)'}`);
  }
  const promoted: PromotedModel = { version, promotedAt: now.toISOString(), ...(split ? { split } : {}) };
  await store.putBytes(modelKeys.promoted(name), `${JSON.stringify(promoted, null, 2)}\n`);
  return promoted;
}

/** The version to load: the one named, else the promoted one. Throws NotFoundError when there is none. */
export async function resolveModelVersion(store: ObjectStore, name: string, version?: string): Promise<ModelVersionManifest> {
  if (version === undefined) {
    const promoted = await readPromoted(store, name);
    if (!promoted) {
      const any = (await listModelVersions(store, name)).length > 0;
      throw new NotFoundError('promoted version of model', name, any ? `Promote one: flywheel models promote ${name} <version>` : `Register one: flywheel models register ${name} <file> --trained-on <training set>`);
    }
    version = promoted.version;
  }
  const manifest = await readModelVersion(store, name, version);
  if (!manifest) {
    const known = (await listModelVersions(store, name)).map((v) => v.version);
    throw new NotFoundError(`version ${version} of model`, name, known.length > 0 ? `Registered: ${known.join(', ')}` : 'No version is registered');
  }
  return manifest;
}
