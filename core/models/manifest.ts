import type { ModelSpec } from '../definitions/specs.ts';

/**
 * The object-store layout of models (docs/models.md, "Registry layout"): everything a stateless
 * serving node needs is under `models/`, so it reads no warehouse to load a version.
 *
 *   models/<name>/versions/<version>/<artifact file>   model.<sha>.onnx, or params.<sha>.json (TypeScript)
 *   models/<name>/versions/<version>/score.<sha>.mjs   a TypeScript model's scoring module, bundled at register
 *   models/<name>/versions/<version>/manifest.json     ModelVersionManifest; written last, only if absent (it claims the number)
 *
 * Files beside a manifest carry the first 12 hex digits of their SHA-256 in their names, so two
 * registrations racing for one number never write over each other's bytes; the one whose manifest
 * lands owns the number (versions registered before this kept `model.onnx` / `params.json`).
 *   models/<name>/promoted.json                         PromotedModel (the version, and any A/B split)
 */
export const modelKeys = {
  prefix: (name: string) => `models/${name}/`,
  versionsPrefix: (name: string) => `models/${name}/versions/`,
  artifact: (name: string, version: string, file: string) => `models/${name}/versions/${version}/${file}`,
  manifest: (name: string, version: string) => `models/${name}/versions/${version}/manifest.json`,
  promoted: (name: string) => `models/${name}/promoted.json`,
};

/** The artifact file of a format, named by its bytes' SHA-256 (hex). */
export function artifactFileOf(format: ModelSpec['artifact']['format'], sha256: string): string {
  return format === 'onnx' ? `model.${sha256.slice(0, 12)}.onnx` : `params.${sha256.slice(0, 12)}.json`;
}

/** The file of a TypeScript model's bundled scoring module, named by its bytes' SHA-256 (hex). */
export function codeFileOf(sha256: string): string {
  return `score.${sha256.slice(0, 12)}.mjs`;
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
  /**
   * A TypeScript model's scoring code, part of the version: the definition's module bundled by
   * esbuild into one ES module at register, loaded from here at serve and score time (so editing the
   * module changes new versions, never registered ones). Absent for ONNX, and for TypeScript versions
   * registered before code was bundled (those load the definition's module).
   */
  readonly code?: { readonly file: string; readonly sha256: string; readonly module: string; readonly export: string };
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
