import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { definitionHash } from '../core/plan/definition-hash.ts';
import type { ColumnSpec } from '../core/definitions/specs.ts';
import { NotFoundError } from '../core/errors.ts';
import { compileColumnStats, readColumnStats } from '../core/sql/column-stats.ts';
import { compilePointInTimeJoin } from '../core/sql/point-in-time.ts';
import { compileCountRows, compileCreateTableAs, compileDropTable, compileSelectAll } from '../core/sql/tables.ts';
import { runTableName } from '../core/sql/warehouse-objects.ts';
import { resolveTrainingSet, type TimeRange } from '../core/training-set/resolve-training-set.ts';
import { datasetKeys, type TrainingSetManifest } from '../core/training-set/manifest.ts';
import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import { withEngine, type ActivityDeps } from './deps.ts';
import { atBoundary } from './failures.ts';
import { withHeartbeats } from './heartbeat.ts';

/** What a training-set run is about; every activity of the run gets it (names and times only). */
export interface TrainingSetRunRef extends TimeRange {
  readonly trainingSet: string;
  readonly registryVersion: number;
  /** Identifies this run's dataset version and working table; the same key always writes the same places. */
  readonly runKey: string;
}

export interface TrainingSetPlan {
  readonly registryVersion: number;
  readonly outputPath: string;
  readonly columns: readonly ColumnSpec[];
  readonly featureViews: readonly { readonly name: string; readonly definitionHash: string }[];
}

export interface JoinedTable {
  readonly table: string;
  readonly rowCount: number;
}

export interface ExportedFile {
  readonly key: string;
  readonly rowCount: number;
  readonly bytes: number;
}

export interface PublishedDataset {
  readonly version: string;
  readonly manifestKey: string;
  readonly manifestUri: string;
  readonly datasetUri: string;
  readonly rowCount: number;
}

/**
 * The steps of building a training set. Each is idempotent: it writes to names derived from the
 * run key (CREATE OR REPLACE, overwrite of the same object keys), so a retry redoes the step
 * exactly rather than adding to it.
 */
export function createTrainingSetActivities(deps: ActivityDeps) {
  const resolve = async (engine: OfflineEngine, run: Pick<TrainingSetRunRef, 'trainingSet' | 'registryVersion' | 'from' | 'to'>) => {
    const registry = await deps.registry(engine).get(deps.project, run.registryVersion);
    if (!registry) throw new NotFoundError('registry version', String(run.registryVersion), `Project "${deps.project}"`);
    return resolveTrainingSet(registry.spec, run.trainingSet, {
      ...(run.from !== undefined ? { from: run.from } : {}),
      ...(run.to !== undefined ? { to: run.to } : {}),
    });
  };

  return {
    /** Pins the registry version the run reads (the latest unless given) and says what it will produce. */
    async planTrainingSet(input: { trainingSet: string; registryVersion?: number }): Promise<TrainingSetPlan> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const registry = deps.registry(engine);
          const applied = input.registryVersion === undefined ? await registry.latest(deps.project) : await registry.get(deps.project, input.registryVersion);
          if (!applied) {
            throw new NotFoundError('registry', input.registryVersion === undefined ? deps.project : `${deps.project} v${input.registryVersion}`, 'Run `flywheel apply` first');
          }
          const resolved = resolveTrainingSet(applied.spec, input.trainingSet);
          return {
            registryVersion: applied.version,
            outputPath: resolved.spec.output.path,
            columns: resolved.columns,
            featureViews: resolved.views.map(({ view }) => ({ name: view.name, definitionHash: definitionHash(view) })),
          };
        }),
      );
    },

    /** Runs the point-in-time join into the run's working table. */
    async joinTrainingSet(run: TrainingSetRunRef): Promise<JoinedTable> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const resolved = await resolve(engine, run);
          const table = runTableName('ts', run.trainingSet, run.runKey);
          const join = compilePointInTimeJoin(resolved.join, engine.dialect);
          await withHeartbeats(() => engine.run(compileCreateTableAs(table, join, engine.dialect)), () => ({ stage: 'join' }));
          const [row] = await engine.all<{ n: number }>(compileCountRows(table, engine.dialect));
          return { table, rowCount: Number(row?.n ?? 0) };
        }),
      );
    },

    /** Writes the working table as Parquet under the dataset version's folder in the object store. */
    async exportTrainingSet(input: { table: string; outputPath: string; runKey: string }): Promise<ExportedFile[]> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const keys = datasetKeys(input.outputPath, input.runKey);
          const localDir = join(deps.scratchDir, `${input.runKey}`);
          await mkdir(localDir, { recursive: true });
          const localPath = join(localDir, 'part-00000.parquet');
          try {
            const { rowCount } = await withHeartbeats(
              () => engine.exportParquet(compileSelectAll(input.table, engine.dialect), localPath),
              () => ({ stage: 'export' }),
            );
            const key = keys.dataFile(0);
            await withHeartbeats(() => deps.objectStore.putFile(key, localPath), () => ({ stage: 'upload', key }));
            return [{ key, rowCount, bytes: (await stat(localPath)).size }];
          } finally {
            await rm(localDir, { recursive: true, force: true });
          }
        }),
      );
    },

    /** Writes the manifest last: a dataset version exists for readers only once its manifest does. */
    async publishTrainingSet(input: { run: TrainingSetRunRef; plan: TrainingSetPlan; table: string; files: readonly ExportedFile[]; createdAt: string }): Promise<PublishedDataset> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const { run, plan } = input;
          const [statsRow] = await withHeartbeats(() => engine.all(compileColumnStats(input.table, plan.columns, engine.dialect)), () => ({ stage: 'stats' }));
          const stats = readColumnStats(statsRow ?? {}, plan.columns);
          const keys = datasetKeys(plan.outputPath, run.runKey);
          const manifest: TrainingSetManifest = {
            formatVersion: 1,
            project: deps.project,
            trainingSet: run.trainingSet,
            version: run.runKey,
            createdAt: input.createdAt,
            registryVersion: plan.registryVersion,
            timeRange: { from: run.from ?? null, to: run.to ?? null },
            rowCount: stats.rowCount,
            schema: plan.columns.map((c) => ({ name: c.name, type: c.type })),
            featureViews: plan.featureViews,
            files: input.files.map((f) => ({ key: f.key, uri: deps.objectStore.uri(f.key), rowCount: f.rowCount, bytes: f.bytes })),
            columnStats: stats.columns,
          };
          Context.current().heartbeat({ stage: 'manifest' });
          await deps.objectStore.putBytes(keys.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
          await deps.objectStore.putBytes(keys.latest, `${JSON.stringify({ version: run.runKey, manifest: keys.manifest }, null, 2)}\n`);
          return {
            version: run.runKey,
            manifestKey: keys.manifest,
            manifestUri: deps.objectStore.uri(keys.manifest),
            datasetUri: deps.objectStore.uri(keys.folder),
            rowCount: stats.rowCount,
          };
        }),
      );
    },

    /** Drops a run's working table; safe to call when it does not exist. */
    async dropRunTable(input: { table: string }): Promise<void> {
      return atBoundary(() =>
        withEngine(deps, (engine) => engine.run(compileDropTable(input.table, engine.dialect))),
      );
    },
  };
}

export type TrainingSetActivities = ReturnType<typeof createTrainingSetActivities>;
