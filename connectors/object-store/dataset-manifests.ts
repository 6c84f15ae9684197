import type { ObjectStore } from './object-store.ts';
import type { LabelsSpec, TrainingSetSpec } from '../../core/definitions/specs.ts';
import type { LabelDatasetManifest, LabelPartitionManifest } from '../../core/labels/manifest.ts';
import type { ConsistencyReport } from '../../core/training-set/consistency.ts';
import { datasetLayout, type DatasetManifest, type PartitionManifest } from '../../core/training-set/manifest.ts';

/**
 * The JSON manifests a training set or labels dataset keeps beside its Parquet files (index, partition
 * manifests, consistency report), read from the object store. Shared by the CLI (`flywheel datasets`,
 * `labels`, `backfill`) and the UI's server, so neither reaches into the other for them.
 */

async function readJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const bytes = await store.get(key);
  return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as T) : undefined;
}

/** A training set's dataset index, or undefined when it was never built. */
export function readDatasetManifest(store: ObjectStore, spec: TrainingSetSpec): Promise<DatasetManifest | undefined> {
  return readJson<DatasetManifest>(store, datasetLayout(spec.output.path).manifest);
}

/** One partition's manifest, by key (`day=2024-03-01`). */
export function readPartitionManifest(store: ObjectStore, spec: TrainingSetSpec, key: string): Promise<PartitionManifest | undefined> {
  return readJson<PartitionManifest>(store, datasetLayout(spec.output.path).partitionManifest({ key }));
}

/** A training set's consistency report (built from a decision log), or undefined when it has none. */
export function readConsistencyReport(store: ObjectStore, spec: TrainingSetSpec): Promise<ConsistencyReport | undefined> {
  return readJson<ConsistencyReport>(store, datasetLayout(spec.output.path).consistency);
}

/** A labels dataset's index, or undefined when it was never built. */
export function readLabelDatasetManifest(store: ObjectStore, spec: LabelsSpec): Promise<LabelDatasetManifest | undefined> {
  return readJson<LabelDatasetManifest>(store, datasetLayout(spec.output.path).manifest);
}

/** One partition's manifest of a labels dataset, by key (`day=2024-03-01`). */
export function readLabelPartitionManifest(store: ObjectStore, spec: LabelsSpec, key: string): Promise<LabelPartitionManifest | undefined> {
  return readJson<LabelPartitionManifest>(store, datasetLayout(spec.output.path).partitionManifest({ key }));
}
