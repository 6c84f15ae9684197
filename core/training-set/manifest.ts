import type { PartitionUnit } from '../definitions/specs.ts';
import type { ColumnStats } from '../sql/column-stats.ts';
import type { ColumnSource, PartitionConsistency } from './consistency.ts';
import type { ValueType } from '../types.ts';
import type { Partition } from './partitions.ts';

/**
 * The layout of a training set's dataset in the object store:
 *
 *   <path>/day=2024-03-01/part-00000.parquet     data, one folder per partition (hive style)
 *   <path>/_partitions/day=2024-03-01.json       a partition's manifest, written after its files
 *   <path>/_manifest.json                        the dataset's index, rebuilt after each publish
 *   <path>/_staging/<run key>/...                a run's files before they are published
 *
 * Readers (pandas, polars, pyarrow, DuckDB) skip names starting with `_`, so reading the folder
 * gives exactly the published partitions. A partition is published by copying its staged files over
 * the old ones and then writing its manifest; re-running it replaces it exactly.
 */
export function datasetLayout(path: string) {
  return {
    root: path,
    partitionFolder: (partition: Pick<Partition, 'key'>) => `${path}/${partition.key}`,
    partitionFile: (partition: Pick<Partition, 'key'>, index: number) => `${path}/${partition.key}/part-${String(index).padStart(5, '0')}.parquet`,
    partitionManifestsPrefix: `${path}/_partitions/`,
    partitionManifest: (partition: Pick<Partition, 'key'>) => `${path}/_partitions/${partition.key}.json`,
    manifest: `${path}/_manifest.json`,
    staging: (runKey: string) => `${path}/_staging/${runKey}`,
    stagedFile: (runKey: string, partition: Pick<Partition, 'key'>, index: number) => `${path}/_staging/${runKey}/${partition.key}/part-${String(index).padStart(5, '0')}.parquet`,
    stagedRun: (runKey: string) => `${path}/_staging/${runKey}/_run.json`,
    /** The consistency report of a training set built from a decision log (docs/training-from-logs.md). */
    consistency: `${path}/_consistency.json`,
  };
}

/** A column's statistics in a manifest; a feature of a training set built from a decision log also says where its values came from. */
export interface ManifestColumnStats extends ColumnStats {
  readonly source?: ColumnSource;
}

/** What a partition of a training set over a labels dataset was built from. */
export interface SpineLineage {
  readonly labels: string;
  /** The label partitions read (those overlapping the partition), with the version each was at. */
  readonly partitions: readonly { readonly key: string; readonly version: number; readonly build: string }[];
  /** Present when features were taken from the decision log: which stream, and which features it could give. */
  readonly decisionLog?: { readonly stream: string; readonly service: string; readonly features: readonly string[] };
}

export interface SchemaColumn {
  readonly name: string;
  readonly type: ValueType;
}

export interface ManifestFile {
  readonly key: string;
  readonly uri: string;
  readonly rowCount: number;
  readonly bytes: number;
}

/** Written after a partition's files: the partition exists for readers exactly when this does. */
export interface PartitionManifest {
  readonly formatVersion: 1;
  readonly project: string;
  readonly trainingSet: string;
  readonly partition: Partition;
  /** The run that wrote it (`<start time>_<end of the run id>`). */
  readonly version: string;
  readonly createdAt: string;
  readonly registryVersion: number;
  readonly rowCount: number;
  readonly schema: readonly SchemaColumn[];
  readonly featureViews: readonly { readonly name: string; readonly definitionHash: string }[];
  /** Latest event time in each feature view's source when the partition was built (null: no rows). */
  readonly sourceWatermarks: Readonly<Record<string, string | null>>;
  readonly files: readonly ManifestFile[];
  readonly columnStats: Readonly<Record<string, ManifestColumnStats>>;
  /** Present when the spine is a labels dataset. */
  readonly spine?: SpineLineage;
  /** Present when features were taken from the decision log: logged and recomputed values compared. */
  readonly consistency?: PartitionConsistency;
}

/** The dataset's index: every published partition, rebuilt from the partition manifests. */
export interface DatasetManifest {
  readonly formatVersion: 1;
  readonly project: string;
  readonly trainingSet: string;
  readonly partitionBy: PartitionUnit;
  readonly updatedAt: string;
  readonly rowCount: number;
  readonly timeRange: { readonly from: string | null; readonly to: string | null };
  /** The schema of the newest partition (older ones may predate a definition change; see each manifest). */
  readonly schema: readonly SchemaColumn[];
  readonly partitions: readonly {
    readonly key: string;
    readonly start: string | null;
    readonly end: string | null;
    readonly rowCount: number;
    readonly version: string;
    readonly registryVersion: number;
    readonly manifest: string;
  }[];
  /** Per feature column of a training set built from a decision log: values from the log and from the join, over every partition that says. */
  readonly sources?: Readonly<Record<string, ColumnSource>>;
}

/** What a run stages for its publish step: small enough to pass by key, not through Temporal. */
export interface StagedRun {
  readonly runKey: string;
  readonly partitions: readonly {
    readonly partition: Partition;
    readonly files: readonly { readonly stagedKey: string; readonly rowCount: number; readonly bytes: number }[];
    readonly rowCount: number;
    readonly columnStats: Readonly<Record<string, ManifestColumnStats>>;
    readonly spine?: SpineLineage;
    readonly consistency?: PartitionConsistency;
  }[];
  readonly sourceWatermarks: Readonly<Record<string, string | null>>;
}

/** Builds the index from the partition manifests (sorted by key). */
export function buildDatasetManifest(args: { project: string; trainingSet: string; partitionBy: PartitionUnit; updatedAt: string; partitions: readonly PartitionManifest[]; manifestKey: (p: Partition) => string }): DatasetManifest {
  const sorted = [...args.partitions].sort((a, b) => (a.partition.key < b.partition.key ? -1 : a.partition.key > b.partition.key ? 1 : 0));
  const newest = [...sorted].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))[0];
  const starts = sorted.map((p) => p.partition.start).filter((s): s is string => s !== null);
  const ends = sorted.map((p) => p.partition.end).filter((s): s is string => s !== null);
  return {
    formatVersion: 1,
    project: args.project,
    trainingSet: args.trainingSet,
    partitionBy: args.partitionBy,
    updatedAt: args.updatedAt,
    rowCount: sorted.reduce((sum, p) => sum + p.rowCount, 0),
    timeRange: { from: starts[0] ?? null, to: ends[ends.length - 1] ?? null },
    schema: newest?.schema ?? [],
    partitions: sorted.map((p) => ({
      key: p.partition.key, start: p.partition.start, end: p.partition.end, rowCount: p.rowCount,
      version: p.version, registryVersion: p.registryVersion, manifest: args.manifestKey(p.partition),
    })),
    ...sumSources(sorted),
  };
}

/** The per-column sources of the partitions that record them, summed; nothing when none does. */
function sumSources(partitions: readonly PartitionManifest[]): { sources?: Record<string, ColumnSource> } {
  const sources: Record<string, { log: number; join: number }> = {};
  for (const partition of partitions) {
    for (const [column, stats] of Object.entries(partition.columnStats)) {
      if (!stats.source) continue;
      const total = (sources[column] ??= { log: 0, join: 0 });
      total.log += stats.source.log;
      total.join += stats.source.join;
    }
  }
  return Object.keys(sources).length > 0 ? { sources } : {};
}
