import type { ObjectStore } from '../../connectors/object-store/object-store.ts';
import type { TrainingSetSpec } from '../../core/definitions/specs.ts';
import { datasetLayout, type DatasetManifest, type PartitionManifest } from '../../core/training-set/manifest.ts';

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
