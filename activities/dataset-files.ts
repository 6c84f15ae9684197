import { Context } from '@temporalio/activity';
import type { ObjectStore } from '../connectors/object-store/object-store.ts';
import type { datasetLayout, ManifestFile } from '../core/training-set/manifest.ts';
import type { Partition } from '../core/training-set/partitions.ts';

/**
 * What training sets and labels share when they publish a partitioned dataset (core/training-set/manifest.ts,
 * datasetLayout): promoting a partition's staged files, and reading the partition manifests back.
 */

export type DatasetLayout = ReturnType<typeof datasetLayout>;

/** A file a run staged for a partition. */
export interface StagedFile {
  readonly stagedKey: string;
  readonly rowCount: number;
  readonly bytes: number;
}

/**
 * Copies a partition's staged files over its published ones (each object is replaced atomically)
 * and deletes the files the new version no longer has. The caller writes the partition's manifest
 * after this, so readers that go through manifests never see a partition half written.
 */
export async function promotePartitionFiles(store: ObjectStore, layout: DatasetLayout, partition: Pick<Partition, 'key'>, files: readonly StagedFile[]): Promise<ManifestFile[]> {
  const published = files.map((file, index) => ({ ...file, key: layout.partitionFile(partition, index) }));
  for (const file of published) await store.copy(file.stagedKey, file.key);
  const keep = new Set(published.map((f) => f.key));
  for (const old of await store.list(`${layout.partitionFolder(partition)}/`)) {
    if (!keep.has(old.key)) await store.delete(old.key);
  }
  return published.map((f) => ({ key: f.key, uri: store.uri(f.key), rowCount: f.rowCount, bytes: f.bytes }));
}

/** A JSON object of the store, or undefined when there is none. */
export async function readJsonObject<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const bytes = await store.get(key);
  return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as T) : undefined;
}

/** Every partition manifest of a dataset, in key order; heartbeats every 100 (call it from an activity). */
export async function readPartitionManifests<T>(store: ObjectStore, layout: DatasetLayout): Promise<T[]> {
  const manifests: T[] = [];
  for (const object of await store.list(layout.partitionManifestsPrefix)) {
    const manifest = await readJsonObject<T>(store, object.key);
    if (manifest) manifests.push(manifest);
    if (manifests.length % 100 === 0) Context.current().heartbeat({ stage: 'index', read: manifests.length });
  }
  return manifests;
}
