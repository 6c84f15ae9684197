import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { ColumnSpec, PartitionUnit, SourceSpec } from '../core/definitions/specs.ts';
import { WarehouseSchemaError } from '../core/plan/errors.ts';
import { checkSourceColumns, type WarehouseColumnIssue } from '../core/plan/warehouse-columns.ts';
import { NotFoundError } from '../core/errors.ts';
import { definitionHash } from '../core/plan/definition-hash.ts';
import { compileColumnStats, readColumnStats, type ColumnStats } from '../core/sql/column-stats.ts';
import { compileConsistency, readConsistency } from '../core/sql/consistency.ts';
import { buildConsistencyReport, mergeConsistency, type ColumnSource, type PartitionConsistency } from '../core/training-set/consistency.ts';
import { compileNoRows, compilePartitionedRows, compilePartitionRows, compileUnloadRows, PARTITION_COLUMN, PARTITION_KEY_COLUMN } from '../core/sql/partition-sql.ts';
import { compilePointInTimeJoin } from '../core/sql/point-in-time.ts';
import { compileDropTable, compileMaxOf, compileSelectAll } from '../core/sql/tables.ts';
import { featureViewViewName, sourceViewName } from '../core/sql/warehouse-objects.ts';
import {
  buildDatasetManifest,
  datasetLayout,
  type ManifestColumnStats,
  type PartitionManifest,
  type SpineLineage,
  type StagedRun,
} from '../core/training-set/manifest.ts';
import { PartitionRangeError, partitionFromKey, partitionOf, partitionsInRange, type Partition } from '../core/training-set/partitions.ts';
import { resolveTrainingSet, type ResolvedTrainingSet, type TimeRange } from '../core/training-set/resolve-training-set.ts';
import { factTables, joinWithTableFacts } from '../core/training-set/table-facts.ts';
import type { OfflineEngine, PartitionFile } from '../connectors/offline/offline-engine.ts';
import { promotePartitionFiles, readJsonObject, readPartitionManifests } from './dataset-files.ts';
import { loadLabelsSpine, logJoinAsStored, spineLineage } from './labels-spine.ts';
import { withEngine, type ActivityDeps } from './deps.ts';
import { activityScratch } from './scratch.ts';
import { atBoundary } from './failures.ts';
import { withHeartbeats } from './heartbeat.ts';
import { mapBounded, OBJECT_WRITE_CONCURRENCY, ResumeTracker, type ResumePoint } from './bounded-concurrency.ts';

/** What a training-set run is about; every activity of the run gets it (names and times only). */
export interface TrainingSetRunRef extends TimeRange {
  readonly trainingSet: string;
  readonly registryVersion: number;
  /** Identifies this run's staged files; the same key always writes the same places. */
  readonly runKey: string;
}

export interface TrainingSetPlan {
  readonly registryVersion: number;
  readonly outputPath: string;
  readonly partitionBy: PartitionUnit;
  /** The partitions the run covers when it has a range (each rebuilt whole), else undefined (every partition in the spine). */
  readonly partitions: readonly string[] | undefined;
  readonly columns: readonly ColumnSpec[];
  readonly featureViews: readonly { readonly name: string; readonly definitionHash: string }[];
}

export interface StagedFiles {
  /** Object key of the run's StagedRun document. */
  readonly stagedRunKey: string;
  readonly partitionCount: number;
  readonly rowCount: number;
  /** Spine rows left out because their timestamp is null (they belong to no partition). */
  readonly skippedNullTimestamps: number;
}

export interface PublishedDataset {
  readonly manifestKey: string;
  readonly manifestUri: string;
  readonly datasetUri: string;
  readonly partitions: readonly { readonly key: string; readonly rowCount: number }[];
  readonly rowCount: number;
  /** For a training set built from a decision log: the run's partitions compared, summed (docs/training-from-logs.md). */
  readonly consistency?: RunConsistency;
}

/** What a run built from a decision log found: where each feature's values came from, and the skew of the logged ones. */
export interface RunConsistency extends PartitionConsistency {
  readonly decisionStream: string;
  /** Every feature column, logged or not. */
  readonly sources: Readonly<Record<string, ColumnSource>>;
  /** The dataset's `_consistency.json` (every published partition), when the index was rebuilt. */
  readonly reportUri: string;
}

/**
 * The steps of building a training set: plan, write (join and stage Parquet per partition), publish
 * (promote staged files, then each partition's manifest, then the dataset index). Each is idempotent:
 * it writes to names derived from the run key and partition, so a retry redoes its step exactly.
 */
export function createTrainingSetActivities(deps: ActivityDeps) {
  const resolveAt = async (engine: OfflineEngine, run: Pick<TrainingSetRunRef, 'trainingSet' | 'registryVersion' | 'from' | 'to'>): Promise<ResolvedTrainingSet> => {
    const registry = await deps.registry(engine).get(deps.project, run.registryVersion);
    if (!registry) throw new NotFoundError('registry version', String(run.registryVersion), `Project "${deps.project}"`);
    return resolveTrainingSet(registry.spec, run.trainingSet, {
      ...(run.from !== undefined ? { from: run.from } : {}),
      ...(run.to !== undefined ? { to: run.to } : {}),
    });
  };

  return {
    /** Pins the registry version the run reads (the latest unless given) and checks the range against the partitioning. */
    async planTrainingSet(input: { trainingSet: string; registryVersion?: number; from?: string; to?: string }): Promise<TrainingSetPlan> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const registry = deps.registry(engine);
          const applied = input.registryVersion === undefined ? await registry.latest(deps.project) : await registry.get(deps.project, input.registryVersion);
          if (!applied) {
            throw new NotFoundError('registry', input.registryVersion === undefined ? deps.project : `${deps.project} v${input.registryVersion}`, 'Run `flywheel apply` first');
          }
          const resolved = resolveTrainingSet(applied.spec, input.trainingSet);
          // Views over event streams read the streams' own tables, which apply keeps; only sources can drift.
          await checkSourcesInWarehouse(engine, [...(resolved.spine ? [resolved.spine] : []), ...resolved.views.flatMap(({ view }) => applied.spec.sources[view.source] ?? [])]);
          const labels = resolved.labelsSpine?.labels.spec;
          if (labels && (await deps.objectStore.list(datasetLayout(labels.output.path).partitionManifestsPrefix)).length === 0) {
            throw new NotFoundError('labels dataset', labels.name, `Nothing is published under ${deps.objectStore.uri(labels.output.path)}; build it first with \`flywheel labels build ${labels.name}\``);
          }
          const { partitionBy, path } = resolved.spec.output;
          const ranged = input.from !== undefined || input.to !== undefined;
          if (ranged && (input.from === undefined || input.to === undefined)) {
            throw new PartitionRangeError(`give both --from and --to (or neither): partitions are rebuilt whole`);
          }
          return {
            registryVersion: applied.version,
            outputPath: path,
            partitionBy,
            partitions: ranged ? partitionsInRange(input.from!, input.to!, partitionBy).map((p) => p.key) : undefined,
            columns: resolved.columns,
            featureViews: resolved.views.map(({ view }) => ({ name: view.name, definitionHash: definitionHash(view) })),
          };
        }),
      );
    },

    /**
     * Runs the point-in-time join and stages one Parquet file per partition under the run's staging
     * prefix, with per-partition statistics. Rows keep spine order within each partition.
     */
    async writeTrainingSetFiles(input: { run: TrainingSetRunRef; plan: TrainingSetPlan }): Promise<StagedFiles> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const { run, plan } = input;
          const resolved = await resolveAt(engine, run);
          const layout = datasetLayout(plan.outputPath);
          const columnNames = resolved.columns.map((c) => c.name);
          // This attempt's own folder: its files leave for the object store before the activity ends.
          const localDir = activityScratch(deps.scratchDir, run.runKey);
          await rm(localDir, { recursive: true, force: true });
          const localFile = (key: string) => join(localDir, key, 'part-00000.parquet');
          let progress = { stage: 'join', done: 0, total: plan.partitions?.length ?? 0 };
          const heartbeat = () => progress;

          // Each partition's files: local ones (written on this worker) go to the store below; staged ones
          // were unloaded straight into the store's staging prefix by the warehouse.
          const written: { partition: Partition; files: WrittenFile[]; stats?: ColumnStatsByName; consistency?: PartitionConsistency }[] = [];
          let skippedNullTimestamps = 0;
          // A labels spine: the published label partitions of the range, loaded into the spine's table of this session.
          const spine = resolved.labelsSpine ? await withHeartbeats(() => loadLabelsSpine({ engine, store: deps.objectStore, resolved, range: run, localDir }), () => ({ stage: 'spine' })) : undefined;
          const log = await logJoinAsStored(engine, resolved.join);
          // What the tables allow: a spine numbered by row id, views that cannot tie (core/training-set/table-facts.ts).
          const facts = new Map(await Promise.all(factTables(resolved).map(async (table) => [table, await engine.tableFacts(table)] as const)));
          const base = joinWithTableFacts(resolved, facts, { tableRowIds: engine.dialect.tableRowId !== undefined });
          const joined = log ? { ...base, log } : base;
          const ranged = plan.partitions?.length === 1 ? partitionFromKey(plan.partitions[0]!, plan.partitionBy) : undefined;
          const single = plan.partitionBy === 'none' ? partitionOf(new Date(0), 'none') : ranged;
          // Where results go is a capability of this engine with this store: straight into the store
          // (Snowflake unloading to the bucket its external stage reads), or through local files.
          const unloader = engine.unloadTo(deps.objectStore);
          const stagingPrefix = layout.staging(run.runKey);
          if (single && !log) {
            // One partition (a daily run, a backfill step, an unpartitioned set): the join goes straight into its file.
            const query = compilePointInTimeJoin(joined, engine.dialect);
            if (unloader) {
              const files = await withHeartbeats(() => unloader.unloadPartitioned({ query, partitionKey: engine.dialect.stringLiteral(single.key) }, stagingPrefix), heartbeat);
              written.push({ partition: single, files: files.map(unloadedFile) });
            } else {
              await mkdir(join(localDir, single.key), { recursive: true });
              const { rowCount } = await withHeartbeats(() => engine.exportParquet(query, localFile(single.key)), heartbeat);
              written.push({ partition: single, files: [{ local: localFile(single.key), rowCount, bytes: (await stat(localFile(single.key))).size }] });
            }
          } else {
            // Many partitions (or values from a decision log, compared on the way): join once into a working
            // table clustered by partition (then spine order), then write every partition in one statement,
            // each to its own folder: the statements of a run do not grow with its partitions.
            const unit = plan.partitionBy;
            const partitioned = compilePointInTimeJoin({ ...joined, spine: { ...joined.spine, partitionBy: unit } }, engine.dialect);
            const table = await withHeartbeats(() => engine.createWorkingTable(`run_ts_${run.trainingSet}_${run.runKey}`, partitioned), heartbeat);
            try {
              // Statistics of every partition in one pass over the working table.
              const grouped = await withHeartbeats(() => engine.all(compileColumnStats(engine.dialect.qualified(table), resolved.columns, engine.dialect, { groupBy: PARTITION_COLUMN })), heartbeat);
              // Groups come by partition start; the partition's key follows from it.
              const keyOf = (start: unknown) => partitionOf(new Date(String(start)), unit).key;
              const statsByKey = new Map(grouped.filter((row) => row.g !== null).map((row) => [keyOf(row.g), readColumnStats(row, resolved.columns).columns]));
              // Logged values against recomputed ones, per partition, in one more pass.
              const compared = log ? log.features.map((f) => ({ name: f.name, type: f.type })) : [];
              const consistencyByKey = log
                ? new Map((await withHeartbeats(() => engine.all(compileConsistency(engine.dialect.qualified(table), compared, engine.dialect, { groupBy: PARTITION_COLUMN })), heartbeat))
                  .filter((row) => row.g !== null).map((row) => [keyOf(row.g), readConsistency(row, compared)]))
                : undefined;
              const keys = [...new Set([...(plan.partitions ?? (unit === 'none' ? ['all'] : [])), ...statsByKey.keys()])].sort();
              // The group without a partition holds the spine rows with a null timestamp: counted in the same pass.
              skippedNullTimestamps = Number(grouped.find((row) => row.g === null)?.n ?? 0);
              progress = { stage: 'export', done: 0, total: keys.length };
              const partitions = keys.map((key) => {
                const partition = partitionFromKey(key, unit);
                if (!partition) throw new Error(`partition key ${key} does not match partitionBy ${unit}`);
                return partition;
              });
              // Each partition's rows on their own as well, in spine order (rule 8), for an engine whose one-statement write would lose it.
              const ordered = partitions.filter((p) => statsByKey.has(p.key)).map((p) => ({ key: p.key, query: compilePartitionRows(table, columnNames, p, engine.dialect) }));
              const job = { query: compilePartitionedRows(table, columnNames, unit, engine.dialect), keyColumn: PARTITION_KEY_COLUMN, partitions: ordered };
              const unload = compileUnloadRows(table, columnNames, resolved.join.spine.timestampField, unit, engine.dialect);
              const files = filesByKey(await withHeartbeats(() => (unloader ? unloader.unloadPartitioned(unload, stagingPrefix) : engine.exportPartitionedParquet(job, join(localDir, '_partitions'))), heartbeat));
              // A partition of the range without rows still gets a file (of no rows): one written, shared by all of them.
              const empty = partitions.some((p) => !files.has(p.key)) ? join(localDir, '_empty', 'part-00000.parquet') : undefined;
              if (empty) await withHeartbeats(() => engine.exportParquet(compileNoRows(table, columnNames, engine.dialect), empty), heartbeat);
              for (const partition of partitions) {
                const consistency = consistencyByKey ? consistencyByKey.get(partition.key) ?? readConsistency({}, compared) : undefined;
                const stats = statsByKey.get(partition.key) ?? emptyStats(resolved.columns);
                const own = files.get(partition.key);
                written.push({
                  partition,
                  files: own ? own.map((f) => (unloader ? unloadedFile(f) : { local: f.path, rowCount: f.rowCount, bytes: f.bytes })) : [{ local: empty!, rowCount: 0, bytes: (await stat(empty!)).size, shared: true }],
                  stats: consistency ? withSources(stats, resolved, consistency) : stats,
                  ...(consistency ? { consistency } : {}),
                });
                progress = { ...progress, done: progress.done + 1 };
              }
            } finally {
              await engine.run(compileDropTable(table, engine.dialect));
            }
          }

          progress = { stage: 'stage', done: 0, total: written.length };
          const logged = resolved.labelsSpine?.log && log ? { stream: resolved.labelsSpine.log.stream, service: resolved.labelsSpine.log.service, features: log.features.map((f) => f.name) } : undefined;
          // Partitions staged side by side (OBJECT_WRITE_CONCURRENCY), each file to its own key; listed in partition order.
          const partitions = await mapBounded(written, OBJECT_WRITE_CONCURRENCY, async ({ partition, files, stats: known, consistency }): Promise<StagedRun['partitions'][number]> => {
            const stats = known ?? (await fileStats(engine, files.map((f) => ('local' in f ? f.local : deps.objectStore.uri(f.stagedKey))), resolved.columns, `ts-${run.runKey}-${partition.key}`));
            const stagedFiles: StagedRun['partitions'][number]['files'][number][] = [];
            for (const [index, file] of files.entries()) {
              if ('stagedKey' in file) {
                stagedFiles.push(file);
                continue;
              }
              const stagedKey = layout.stagedFile(run.runKey, partition, index);
              // The shared file of no rows is copied for each partition; a partition's own file is moved.
              await withHeartbeats(() => deps.objectStore.putFile(stagedKey, file.local, { move: !file.shared }), heartbeat);
              stagedFiles.push({ stagedKey, rowCount: file.rowCount, bytes: file.bytes });
            }
            const rowCount = stagedFiles.reduce((sum, f) => sum + f.rowCount, 0);
            progress = { ...progress, done: progress.done + 1 };
            return {
              partition, rowCount, files: stagedFiles, columnStats: stats,
              ...(spine ? { spine: spineLineage(spine, partition, logged) } : {}),
              ...(consistency ? { consistency } : {}),
            };
          });

          const sourceWatermarks: Record<string, string | null> = {};
          for (const { view } of resolved.views) {
            const column = resolved.join.views.find((v) => v.relation === featureViewViewName(view.name))?.timestampField;
            const [row] = column ? await engine.all<{ max: string | null }>(compileMaxOf(featureViewViewName(view.name), column, engine.dialect)) : [];
            sourceWatermarks[view.name] = row?.max ?? null;
          }

          const staged: StagedRun = { runKey: run.runKey, partitions, sourceWatermarks };
          await deps.objectStore.putBytes(layout.stagedRun(run.runKey), JSON.stringify(staged));
          await rm(localDir, { recursive: true, force: true });
          return {
            stagedRunKey: layout.stagedRun(run.runKey),
            partitionCount: partitions.length,
            rowCount: partitions.reduce((sum, p) => sum + p.rowCount, 0),
            skippedNullTimestamps,
          };
        }),
      );
    },

    /**
     * Publishes staged partitions: copies each partition's files over the published ones, removes
     * files the new version no longer has, then writes the partition's manifest; a few partitions at
     * a time. A retry skips the partitions it finished (heartbeat details) and redoes only those that
     * were in flight.
     */
    async publishTrainingSet(input: { run: TrainingSetRunRef; plan: TrainingSetPlan; stagedRunKey: string; createdAt: string; updateIndex: boolean }): Promise<PublishedDataset> {
      return atBoundary(async () => {
        const { run, plan } = input;
        const context = Context.current();
        const layout = datasetLayout(plan.outputPath);
        const bytes = await deps.objectStore.get(input.stagedRunKey);
        if (!bytes) throw new NotFoundError('staged run', input.stagedRunKey, 'Its files were already published or removed');
        const staged = JSON.parse(new TextDecoder().decode(bytes)) as StagedRun;
        // Partitions published side by side; the heartbeat says which are done, so a retry skips exactly those.
        const resume = new ResumeTracker(context.info.heartbeatDetails as ResumePoint | undefined);
        const pending = staged.partitions.map((_, i) => i).filter((i) => resume.pending(i));

        await mapBounded(pending, OBJECT_WRITE_CONCURRENCY, async (i) => {
          const { partition, files, rowCount, columnStats, spine, consistency } = staged.partitions[i]!;
          // A retry whose previous attempt published this partition but whose last heartbeat did not
          // reach the server (sent just before the failure): its manifest already names this run.
          if (context.info.attempt > 1 && (await readJsonObject<PartitionManifest>(deps.objectStore, layout.partitionManifest(partition)))?.version === run.runKey) {
            context.heartbeat(resume.finished(i));
            return;
          }
          const published = await promotePartitionFiles(deps.objectStore, layout, partition, files);
          const manifest: PartitionManifest = {
            formatVersion: 1,
            project: deps.project,
            trainingSet: run.trainingSet,
            partition,
            version: run.runKey,
            createdAt: input.createdAt,
            registryVersion: plan.registryVersion,
            rowCount,
            schema: plan.columns.map((c) => ({ name: c.name, type: c.type })),
            featureViews: plan.featureViews,
            sourceWatermarks: staged.sourceWatermarks,
            files: published,
            columnStats,
            ...(spine ? { spine } : {}),
            ...(consistency ? { consistency } : {}),
          };
          await deps.objectStore.putBytes(layout.partitionManifest(partition), `${JSON.stringify(manifest, null, 2)}\n`);
          context.heartbeat(resume.finished(i));
        });

        if (input.updateIndex) await rebuildIndex(deps, run.trainingSet, plan.outputPath, plan.partitionBy);
        await deps.objectStore.deletePrefix(`${layout.staging(run.runKey)}/`);
        const consistency = runConsistency(staged, deps.objectStore.uri(layout.consistency));
        return {
          manifestKey: layout.manifest,
          manifestUri: deps.objectStore.uri(layout.manifest),
          datasetUri: deps.objectStore.uri(layout.root),
          partitions: staged.partitions.map((p) => ({ key: p.partition.key, rowCount: p.rowCount })),
          rowCount: staged.partitions.reduce((sum, p) => sum + p.rowCount, 0),
          ...(consistency ? { consistency } : {}),
        };
      });
    },

    /** Rebuilds a dataset's `_manifest.json` from its partition manifests (after a backfill, or to repair it). */
    async rebuildDatasetIndex(input: { trainingSet: string; outputPath: string; partitionBy: PartitionUnit }): Promise<{ manifestKey: string; partitionCount: number; rowCount: number }> {
      return atBoundary(() => rebuildIndex(deps, input.trainingSet, input.outputPath, input.partitionBy));
    },
  };
}

async function rebuildIndex(deps: ActivityDeps, trainingSet: string, outputPath: string, partitionBy: PartitionUnit) {
  const layout = datasetLayout(outputPath);
  const manifests = await readPartitionManifests<PartitionManifest>(deps.objectStore, layout);
  const index = buildDatasetManifest({ project: deps.project, trainingSet, partitionBy, updatedAt: new Date().toISOString(), partitions: manifests, manifestKey: layout.partitionManifest });
  await deps.objectStore.putBytes(layout.manifest, `${JSON.stringify(index, null, 2)}\n`);
  await rebuildConsistencyReport(deps, trainingSet, layout, manifests);
  return { manifestKey: layout.manifest, partitionCount: index.partitions.length, rowCount: index.rowCount };
}

/**
 * Writes `_consistency.json` from the partitions built from a decision log (the newest one names the
 * labels and the log), or removes it when no published partition was.
 */
async function rebuildConsistencyReport(deps: ActivityDeps, trainingSet: string, layout: ReturnType<typeof datasetLayout>, manifests: readonly PartitionManifest[]): Promise<void> {
  const compared = manifests.filter((m): m is PartitionManifest & { consistency: PartitionConsistency; spine: SpineLineage & { decisionLog: NonNullable<SpineLineage['decisionLog']> } } =>
    m.consistency !== undefined && m.spine?.decisionLog !== undefined);
  if (compared.length === 0) {
    if (await deps.objectStore.get(layout.consistency)) await deps.objectStore.delete(layout.consistency);
    return;
  }
  const newest = [...compared].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))[0]!;
  const report = buildConsistencyReport({
    project: deps.project, trainingSet, labels: newest.spine.labels, decisionStream: newest.spine.decisionLog.stream, service: newest.spine.decisionLog.service,
    updatedAt: new Date().toISOString(),
    partitions: compared.map((m) => ({ key: m.partition.key, version: m.version, consistency: m.consistency })),
  });
  await deps.objectStore.putBytes(layout.consistency, `${JSON.stringify(report, null, 2)}\n`);
}

/** The run's partitions compared, summed, with every feature's sources; undefined when the run read no decision log. */
function runConsistency(staged: StagedRun, reportUri: string): RunConsistency | undefined {
  const compared = staged.partitions.filter((p) => p.consistency !== undefined);
  const stream = staged.partitions.find((p) => p.spine?.decisionLog)?.spine?.decisionLog?.stream;
  if (compared.length === 0 || stream === undefined) return undefined;
  const sources: Record<string, { log: number; join: number }> = {};
  for (const partition of compared) {
    for (const [column, stats] of Object.entries(partition.columnStats)) {
      if (!stats.source) continue;
      const total = (sources[column] ??= { log: 0, join: 0 });
      total.log += stats.source.log;
      total.join += stats.source.join;
    }
  }
  return { ...mergeConsistency(compared.map((p) => p.consistency!)), decisionStream: stream, sources, reportUri };
}

/** A partition's column statistics with, for every feature, how many values came from the log and how many from the join. */
function withSources(stats: ColumnStatsByName, resolved: ResolvedTrainingSet, consistency: PartitionConsistency): Record<string, ManifestColumnStats> {
  const out: Record<string, ManifestColumnStats> = { ...stats };
  for (const { features } of resolved.views) {
    for (const { name } of features) {
      const source = consistency.features[name]?.source ?? { log: 0, join: consistency.rows };
      out[name] = { ...(stats[name] ?? { nulls: 0 }), source };
    }
  }
  return out;
}

/**
 * The spine's and the feature views' sources as the warehouse has them now: a column dropped or
 * retyped since `apply` fails here, before any work, naming the source and column.
 */
async function checkSourcesInWarehouse(engine: OfflineEngine, sources: readonly SourceSpec[]): Promise<void> {
  const issues: WarehouseColumnIssue[] = [];
  for (const source of new Set(sources)) {
    try {
      issues.push(...checkSourceColumns(source, await engine.describe(compileSelectAll(sourceViewName(source.name), engine.dialect))));
    } catch (error) {
      issues.push({ kind: 'source', object: source.name, message: `cannot read it in the warehouse: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}` });
    }
  }
  if (issues.length > 0) throw new WarehouseSchemaError(issues);
}

type ColumnStatsByName = Record<string, ColumnStats>;

/**
 * A partition's file on its way to the store: written on this worker (`local`; `shared` when it is the
 * one file of no rows that every empty partition copies), or unloaded into the staging prefix already.
 */
type WrittenFile =
  | { readonly local: string; readonly rowCount: number; readonly bytes: number; readonly shared?: boolean }
  | { readonly stagedKey: string; readonly rowCount: number; readonly bytes: number };

/** Partition files by partition key, in their order. */
function filesByKey(files: readonly PartitionFile[]): Map<string, PartitionFile[]> {
  const byKey = new Map<string, PartitionFile[]>();
  for (const file of files) byKey.set(file.partitionKey, [...(byKey.get(file.partitionKey) ?? []), file]);
  return byKey;
}

/** A file the warehouse unloaded into the store, as staged. */
function unloadedFile(file: PartitionFile): WrittenFile {
  return { stagedKey: file.path, rowCount: file.rowCount, bytes: file.bytes };
}

/** Statistics of Parquet files as written (local paths or the store's URIs), read back through a stage (the warehouse may not share this disk). */
async function fileStats(engine: OfflineEngine, files: readonly string[], columns: readonly ColumnSpec[], name: string): Promise<ColumnStatsByName> {
  const staged = await engine.stageFiles(files, { name, format: 'parquet' });
  try {
    const relation = engine.dialect.readStaged(staged, columns.map((c) => [c.name, engine.dialect.columnType(c.type)] as const));
    return readColumnStats((await engine.all(compileColumnStats(relation, columns, engine.dialect)))[0] ?? {}, columns).columns;
  } finally {
    await engine.unstageFiles(staged);
  }
}

/** Statistics of a partition without rows: nothing is null, nothing has a min or max. */
function emptyStats(columns: readonly ColumnSpec[]): ColumnStatsByName {
  return Object.fromEntries(columns.map((c) => [c.name, { nulls: 0 }]));
}


export type TrainingSetActivities = ReturnType<typeof createTrainingSetActivities>;
