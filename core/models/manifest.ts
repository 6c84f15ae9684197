import type { ModelSpec } from '../definitions/specs.ts';

/**
 * The object-store layout of models (docs/models.md, "Registry layout"): everything a stateless
 * serving node needs is under `models/`, so it reads no warehouse to load a version.
 *
 *   models/<name>/versions/<version>/<artifact file>   model.onnx, or params.json (TypeScript)
 *   models/<name>/versions/<version>/manifest.json     ModelVersionManifest; written last
 *   models/<name>/promoted.json                         PromotedModel (the version, and any A/B split)
 */
export const modelKeys = {
  prefix: (name: string) => `models/${name}/`,
  versionsPrefix: (name: string) => `models/${name}/versions/`,
  artifact: (name: string, version: string, file: string) => `models/${name}/versions/${version}/${file}`,
  manifest: (name: string, version: string) => `models/${name}/versions/${version}/manifest.json`,
  promoted: (name: string) => `models/${name}/promoted.json`,
};

/** The artifact file of a format. */
export function artifactFileOf(format: ModelSpec['artifact']['format']): string {
  return format === 'onnx' ? 'model.onnx' : 'params.json';
}

/** The training-set data a version was trained on; the partitions' manifests give the label and feature versions. */
export interface TrainedOn {
  readonly trainingSet: string;
  /** The dataset version named at register (a partition version, the run that wrote it), or the newest one. */
  readonly version: string;
  /** The partitions of that version (or all published ones, when no version was named), each with the run that wrote it. */
  readonly partitions: readonly { readonly key: string; readonly version: string; readonly registryVersion: number; readonly rowCount: number }[];
}

/** One registered version; immutable once written. */
export interface ModelVersionManifest {
  readonly formatVersion: 1;
  readonly name: string;
  /** `v1`, `v2`, … in order of registration. */
  readonly version: string;
  readonly format: ModelSpec['artifact']['format'];
  /** The artifact file's name beside the manifest. */
  readonly artifact: string;
  /** SHA-256 of the artifact's bytes (hex); registering the same bytes again returns this version. */
  readonly sha256: string;
  readonly inputs: readonly string[];
  readonly output: ModelSpec['output'];
  readonly trainedOn: TrainedOn;
  readonly registeredAt: string;
}

export interface PromotedModel {
  /** The version batch scoring uses, and `/v1/decide` when there is no split. */
  readonly version: string;
  readonly promotedAt: string;
  /** The A/B split `/v1/decide` routes requests by, when one is declared (`models promote --split`). */
  readonly split?: PromotedSplit;
}

/** An A/B split declared at promotion: each request's version by the stable hash of its context's `key`. */
export interface PromotedSplit {
  /** The request context field hashed. */
  readonly key: string;
  /** In order (the cumulative shares are taken in this order); shares in (0, 1], adding up to 1. */
  readonly arms: readonly { readonly version: string; readonly share: number }[];
}

/** `v12` → 12 (versions sort by number, not as text). */
export function versionNumber(version: string): number {
  const match = /^v(\d+)$/.exec(version);
  return match ? Number(match[1]) : Number.NaN;
}
