import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStore } from '../connectors/object-store/object-store.ts';
import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import { TransientError } from '../core/errors.ts';
import type { LabelPartitionManifest } from '../core/labels/manifest.ts';
import { compileCreateSpineTable, compileInsertParquet } from '../core/sql/labels-spine-sql.ts';
import type { DecisionLogJoin, PointInTimeJoin } from '../core/sql/point-in-time.ts';
import { compileSelectAll } from '../core/sql/tables.ts';
import { LabelsSpineError } from '../core/training-set/labels-spine.ts';
import { datasetLayout, type SpineLineage } from '../core/training-set/manifest.ts';
import type { Partition } from '../core/training-set/partitions.ts';
import type { ResolvedTrainingSet } from '../core/training-set/resolve-training-set.ts';
import { readJsonObject, readPartitionManifests } from './dataset-files.ts';

/**
 * A training set over a labels dataset reads the label partitions **as published**: their manifests
 * say which exist and which version is current, and the run downloads those files and loads them into
 * a temporary table of its session, the spine of the join. DuckDB reads no object store here, and the
 * warehouse holds no copy of the labels, so the published versions stay the only truth; the manifest
 * of each partition the run writes records the label versions it read.
 */

/** The label partitions a run read, for the lineage of the partitions it writes. */
export interface LoadedLabelsSpine {
  readonly labels: string;
  readonly partitions: readonly { readonly partition: Partition; readonly version: number; readonly build: string; readonly rows: number }[];
  readonly rows: number;
}

/**
 * Loads the label partitions overlapping [from, to) (every one without a range) into the spine table
 * `join.spine.relation`, in partition order. A partition republished while it was read is retried
 * (TransientError); one whose columns are not the labels' current ones fails (LabelsSpineError).
 */
export async function loadLabelsSpine(args: {
  engine: OfflineEngine;
  store: ObjectStore;
  resolved: ResolvedTrainingSet;
  range: { readonly from?: string; readonly to?: string };
  localDir: string;
}): Promise<LoadedLabelsSpine> {
  const { engine, store, resolved, range, localDir } = args;
  const spine = resolved.labelsSpine!;
  const { spec, columns } = spine.labels;
  const layout = datasetLayout(spec.output.path);
  const overlaps = (p: Partition) =>
    (range.to === undefined || p.start === null || Date.parse(p.start) < Date.parse(range.to)) &&
    (range.from === undefined || p.end === null || Date.parse(p.end) > Date.parse(range.from));
  const manifests = (await readPartitionManifests<LabelPartitionManifest>(store, layout)).filter((m) => overlaps(m.partition)).sort((a, b) => (a.partition.key < b.partition.key ? -1 : 1));

  const table = resolved.join.spine.relation;
  await engine.run(compileCreateSpineTable(table, columns, engine.dialect));
  await mkdir(join(localDir, '_labels'), { recursive: true });
  const loaded: LoadedLabelsSpine['partitions'][number][] = [];
  let fileIndex = 0;
  const locals: string[] = [];
  for (const manifest of manifests) {
    for (const column of columns) {
      const found = manifest.schema.find((c) => c.name === column.name);
      if (found?.type !== column.type) {
        throw new LabelsSpineError(spec.name, manifest.partition.key, found
          ? `its column "${column.name}" is ${found.type}, the labels' definition makes it ${column.type}`
          : `it has no column "${column.name}", which the labels' definition has`);
      }
    }
    for (const file of manifest.files) {
      const local = join(localDir, '_labels', `${String(fileIndex++).padStart(5, '0')}.parquet`);
      await store.getFile(file.key, local);
      // The labels copy a partition's files before its manifest: a file that is not the manifest's was replaced meanwhile.
      if ((await stat(local)).size !== file.bytes) throw republished(spec.name, manifest.partition.key);
      locals.push(local);
    }
    const current = await readJsonObject<LabelPartitionManifest>(store, layout.partitionManifest(manifest.partition));
    if (current?.build !== manifest.build) throw republished(spec.name, manifest.partition.key);
    loaded.push({ partition: manifest.partition, version: manifest.version, build: manifest.build, rows: manifest.rowCount });
  }
  // Every file staged at once and read by one statement, in partition order: the statements of a run
  // do not grow with the partitions it reads (each costs a round trip on Snowflake).
  if (locals.length > 0) {
    const staged = await engine.stageFiles(locals, { name: `${table}-spine`, format: 'parquet' });
    try {
      await engine.run(compileInsertParquet(table, columns, staged, engine.dialect));
    } finally {
      await engine.unstageFiles(staged);
    }
  }
  return { labels: spec.name, partitions: loaded, rows: loaded.reduce((sum, p) => sum + p.rows, 0) };
}

/**
 * The decision log join of `join`, keeping only the features whose value and status columns the log's
 * table has (a registry version older than the table, or the other way round), with the comparison
 * columns of the consistency report. Undefined when the join reads no log.
 */
export async function logJoinAsStored(engine: OfflineEngine, join: PointInTimeJoin): Promise<DecisionLogJoin | undefined> {
  if (!join.log) return undefined;
  const stored = new Set((await engine.describe(compileSelectAll(join.log.relation, engine.dialect))).map((c) => c.name));
  return { ...join.log, features: join.log.features.filter((f) => stored.has(f.name) && stored.has(f.statusColumn)), compare: true };
}

/** The lineage of one partition of the training set: the label partitions overlapping it. */
export function spineLineage(loaded: LoadedLabelsSpine, partition: Partition, log: { stream: string; service: string; features: readonly string[] } | undefined): SpineLineage {
  const overlapping = loaded.partitions.filter(({ partition: p }) =>
    partition.start === null || partition.end === null || p.start === null || p.end === null || (Date.parse(p.start) < Date.parse(partition.end) && Date.parse(p.end) > Date.parse(partition.start)));
  return {
    labels: loaded.labels,
    partitions: overlapping.map((p) => ({ key: p.partition.key, version: p.version, build: p.build })),
    ...(log ? { decisionLog: log } : {}),
  };
}

function republished(labels: string, key: string): TransientError {
  return new TransientError(`labels "${labels}" partition ${key} was published again while this run read it; the run reads it again`);
}
