import type { ColumnStats } from '../sql/column-stats.ts';
import type { ManifestFile, SchemaColumn } from '../training-set/manifest.ts';
import type { Partition } from '../training-set/partitions.ts';

/**
 * A labels dataset has the layout of a training set's (core/training-set/manifest.ts, datasetLayout):
 * `<path>/day=…/part-00000.parquet`, `_partitions/<key>.json` written after the files, `_manifest.json`
 * rebuilt from those, `_staging/<build>/…` before publishing. Its manifests say, besides, which
 * version of a partition is current, what it was computed from, and why it was (re)built.
 */

/** Why a partition was built: the first time, because rows arrived after it was built, or because it was asked. */
export type LabelBuildCause = 'new' | 'late outcomes' | 'late decisions' | 'definition changed' | 'was open' | 'requested';

/** Written after a partition's files: the partition exists for readers exactly when this does. */
export interface LabelPartitionManifest {
  readonly formatVersion: 1;
  readonly project: string;
  readonly labels: string;
  readonly partition: Partition;
  /** 1 for the first build of the partition, then one more per rebuild. */
  readonly version: number;
  /** The build that wrote it (`<start time>_<end of the run id>`), also its staging folder. */
  readonly build: string;
  /** Why this version was built: `new`, `late outcomes: 3 outcomes loaded after version 1`, `requested`, ... */
  readonly reason: string;
  readonly causes: readonly LabelBuildCause[];
  readonly createdAt: string;
  readonly registryVersion: number;
  /** The labels' definition hash (core/labels/resolve-labels.ts): another one means the partition is rebuilt. */
  readonly definitionHash: string;
  /** The instant the labels are as of: decisions with time + window <= asOf are labeled. */
  readonly asOf: string;
  /** Whether every decision of the partition was mature (its end + window <= asOf). */
  readonly complete: boolean;
  /** The latest load time of each stream the build read up to (null: nothing loaded). */
  readonly watermarks: { readonly decisions: string | null; readonly outcomes: string | null };
  readonly rowCount: number;
  /** Rows with at least one matched outcome. */
  readonly positives: number;
  readonly schema: readonly SchemaColumn[];
  readonly files: readonly ManifestFile[];
  readonly columnStats: Readonly<Record<string, ColumnStats>>;
  /** The version this one replaced. */
  readonly previous?: { readonly version: number; readonly build: string; readonly createdAt: string };
}

/** The dataset's index: every published partition and its current version, rebuilt from the partition manifests. */
export interface LabelDatasetManifest {
  readonly formatVersion: 1;
  readonly project: string;
  readonly labels: string;
  readonly partitionBy: 'day' | 'hour';
  readonly updatedAt: string;
  readonly rowCount: number;
  readonly positives: number;
  readonly timeRange: { readonly from: string | null; readonly to: string | null };
  /** The schema of the newest partition. */
  readonly schema: readonly SchemaColumn[];
  readonly partitions: readonly {
    readonly key: string;
    readonly start: string | null;
    readonly end: string | null;
    readonly version: number;
    readonly rowCount: number;
    readonly positives: number;
    readonly complete: boolean;
    readonly asOf: string;
    readonly reason: string;
    readonly createdAt: string;
    readonly manifest: string;
  }[];
}

/** Builds the index from the partition manifests (sorted by key). */
export function buildLabelDatasetManifest(args: {
  project: string;
  labels: string;
  partitionBy: 'day' | 'hour';
  updatedAt: string;
  partitions: readonly LabelPartitionManifest[];
  manifestKey: (p: Partition) => string;
}): LabelDatasetManifest {
  const sorted = [...args.partitions].sort((a, b) => (a.partition.key < b.partition.key ? -1 : a.partition.key > b.partition.key ? 1 : 0));
  const newest = [...sorted].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))[0];
  return {
    formatVersion: 1,
    project: args.project,
    labels: args.labels,
    partitionBy: args.partitionBy,
    updatedAt: args.updatedAt,
    rowCount: sorted.reduce((sum, p) => sum + p.rowCount, 0),
    positives: sorted.reduce((sum, p) => sum + p.positives, 0),
    timeRange: { from: sorted[0]?.partition.start ?? null, to: sorted.at(-1)?.partition.end ?? null },
    schema: newest?.schema ?? [],
    partitions: sorted.map((p) => ({
      key: p.partition.key, start: p.partition.start, end: p.partition.end, version: p.version, rowCount: p.rowCount, positives: p.positives,
      complete: p.complete, asOf: p.asOf, reason: p.reason, createdAt: p.createdAt, manifest: args.manifestKey(p.partition),
    })),
  };
}
