import { mkdir, rm, stat } from 'node:fs/promises';
import type { ColumnSpec } from '../core/definitions/specs.ts';
import { NotFoundError } from '../core/errors.ts';
import { buildLabelDatasetManifest, type LabelBuildCause, type LabelDatasetManifest, type LabelPartitionManifest } from '../core/labels/manifest.ts';
import { isComplete, lateChecks, planLabelPartitions, runPartitions, type PartitionDecision, type PartitionState } from '../core/labels/plan-partitions.ts';
import { resolveLabels, type ResolvedLabels } from '../core/labels/resolve-labels.ts';
import { compileColumnStats, readColumnStats, type ColumnStats } from '../core/sql/column-stats.ts';
import { compileCountPositives, compileLabelRows, compileLateEvents, compileStreamTimeRange, compileStreamWatermark, type LabelStream, type LateCheck } from '../core/sql/labels.ts';
import { datasetLayout } from '../core/training-set/manifest.ts';
import { PartitionRangeError, partitionFromKey, type Partition } from '../core/training-set/partitions.ts';
import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import { promotePartitionFiles, readJsonObject, readPartitionManifests, type StagedFile } from './dataset-files.ts';
import { withEngine, type ActivityDeps } from './deps.ts';
import { activityScratch } from './scratch.ts';
import { atBoundary } from './failures.ts';
import { withHeartbeats } from './heartbeat.ts';

/** What a labels run asks for: a range of decision time (or every partition that is due), as of an instant. */
export interface LabelsPlanInput {
  readonly labels: string;
  /** Both or neither, on partition boundaries. */
  readonly from?: string;
  readonly to?: string;
  /** Decisions with time + window <= asOf are labeled. */
  readonly asOf: string;
  /** Also build partitions whose window is still open for some decisions (their mature decisions only). */
  readonly includeOpen?: boolean;
  /** Rebuild every partition in the range, up to date or not. */
  readonly rebuild?: boolean;
}

/** A partition to build, and why. */
export interface LabelBuildTask {
  readonly partition: Partition;
  readonly causes: readonly LabelBuildCause[];
  readonly reason: string;
  /** The version it replaces (0: none); publishing checks it is still the current one. */
  readonly expectedVersion: number;
  readonly complete: boolean;
}

export interface LabelsPlan {
  readonly labels: string;
  readonly registryVersion: number;
  readonly asOf: string;
  readonly outputPath: string;
  readonly partitionBy: 'day' | 'hour';
  readonly windowSeconds: number;
  readonly definitionHash: string;
  /** The latest load time of each stream when the run was planned: the build reads up to them and records them. */
  readonly watermarks: { readonly decisions: string | null; readonly outcomes: string | null };
  readonly builds: readonly LabelBuildTask[];
  /** Whether `_manifest.json` lists exactly the published versions (a run that publishes nothing leaves it). */
  readonly indexCurrent: boolean;
  /** Partitions the run looked at and leaves alone: up to date, or open. */
  readonly skipped: readonly { readonly key: string; readonly action: 'up-to-date' | 'open'; readonly reason: string; readonly version?: number }[];
}

/** One build of one partition (names and times only). */
export interface LabelPartitionRun {
  readonly labels: string;
  readonly registryVersion: number;
  readonly outputPath: string;
  readonly partition: Partition;
  readonly asOf: string;
  readonly watermarks: LabelsPlan['watermarks'];
  /** The build's key: its staging folder, and the `build` of the manifest it writes. */
  readonly build: string;
}

export interface StagedLabelPartition {
  /** The partition's files in the staging prefix (one written here, or as many as the warehouse unloaded). */
  readonly files: readonly StagedFile[];
  readonly rowCount: number;
  readonly positives: number;
  readonly schema: readonly ColumnSpec[];
  readonly definitionHash: string;
  readonly columnStats: Readonly<Record<string, ColumnStats>>;
}

export type PublishedLabelPartition =
  | { readonly status: 'published'; readonly version: number; readonly rowCount: number; readonly positives: number }
  /** Another run published a version since this one was planned; this build was dropped. */
  | { readonly status: 'superseded'; readonly current: number };

/** Late checks per query, so the statement stays small whatever the number of partitions. */
const LATE_CHECKS_PER_QUERY = 500;

/**
 * The steps of building labels: plan (which partitions, why), write one partition (the label join,
 * staged as Parquet), publish it (files, then its manifest with the next version), rebuild the index.
 * Each is idempotent: a build writes to names derived from its key, and publishing a build twice
 * publishes it once.
 */
export function createLabelActivities(deps: ActivityDeps) {
  const resolveAt = async (engine: OfflineEngine, labels: string, registryVersion?: number): Promise<{ version: number; resolved: ResolvedLabels }> => {
    const registry = deps.registry(engine);
    const applied = registryVersion === undefined ? await registry.latest(deps.project) : await registry.get(deps.project, registryVersion);
    if (!applied) throw new NotFoundError('registry', registryVersion === undefined ? deps.project : `${deps.project} v${registryVersion}`, 'Run `flywheel apply` first');
    return { version: applied.version, resolved: resolveLabels(applied.spec, labels) };
  };

  return {
    /**
     * Pins the registry version, reads the streams' watermarks and the published manifests, counts the
     * rows loaded after each published partition was built, and decides what to build and why.
     */
    async planLabels(input: LabelsPlanInput): Promise<LabelsPlan> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          if ((input.from === undefined) !== (input.to === undefined)) throw new PartitionRangeError('give both --from and --to (or neither): partitions are rebuilt whole');
          const { version, resolved } = await resolveAt(engine, input.labels);
          const { spec, join } = resolved;
          const unit = spec.output.partitionBy;
          const layout = datasetLayout(spec.output.path);
          const watermark = async (stream: LabelStream) =>
            (await withHeartbeats(() => engine.all<{ watermark: string | null }>(compileStreamWatermark(stream, engine.dialect)), () => ({ stage: 'watermark', stream: stream.stream })))[0]?.watermark ?? null;
          // Read first: the builds count only rows loaded up to these, so what lands meanwhile is late, never lost.
          const watermarks = { decisions: await watermark(join.decisions), outcomes: await watermark(join.outcomes) };

          const manifests = new Map<string, LabelPartitionManifest>();
          for (const manifest of await readPartitionManifests<LabelPartitionManifest>(deps.objectStore, layout)) manifests.set(manifest.partition.key, manifest);
          let decisionTimes: { first: string; last: string } | undefined;
          if (input.from === undefined && watermarks.decisions !== null) {
            const [row] = await withHeartbeats(() => engine.all<{ first: string | null; last: string | null }>(compileStreamTimeRange(join.decisions, watermarks.decisions!, engine.dialect)), () => ({ stage: 'range' }));
            if (row?.first && row.last) decisionTimes = { first: row.first, last: row.last };
          }
          const partitions = runPartitions({
            unit, asOf: input.asOf, decisionTimes,
            published: [...manifests.values()].map((m) => m.partition).filter((p) => partitionFromKey(p.key, unit) !== undefined),
            ...(input.from !== undefined && input.to !== undefined ? { range: { from: input.from, to: input.to } } : {}),
          });
          const states: PartitionState[] = partitions.map((partition) => {
            const published = manifests.get(partition.key);
            return published ? { partition, published } : { partition };
          });

          // Late rows, only for partitions that would otherwise be left as they are, and only where the stream moved since.
          const later = (since: string | null, now: string | null) => now !== null && (since === null || Date.parse(now) > Date.parse(since));
          const candidates = states.filter((s) => s.published && s.published.complete && s.published.definitionHash === resolved.definitionHash && !input.rebuild);
          const checks = lateChecks(candidates, spec.windowSeconds, join.attribution);
          const lateOutcomes = await countLate(engine, join.outcomes, checks.outcomes.filter((c) => later(c.since, watermarks.outcomes)), watermarks.outcomes, 'inclusive', join.pairs.map(([, column]) => column));
          const lateDecisions = await countLate(engine, join.decisions, checks.decisions.filter((c) => later(c.since, watermarks.decisions)), watermarks.decisions, join.attribution === 'last' ? 'inclusive' : 'exclusive', []);
          const withLate = states.map((state): PartitionState => {
            const outcomes = lateOutcomes.get(state.partition.key) ?? 0;
            const decisions = lateDecisions.get(state.partition.key) ?? 0;
            return outcomes + decisions > 0 ? { ...state, late: { outcomes, decisions } } : state;
          });

          const decided = planLabelPartitions(withLate, {
            asOf: input.asOf, windowSeconds: spec.windowSeconds, includeOpen: input.includeOpen ?? false, rebuild: input.rebuild ?? false, definitionHash: resolved.definitionHash,
          });
          const byKey = new Map(partitions.map((p) => [p.key, p]));
          const builds: LabelBuildTask[] = [];
          const skipped: LabelsPlan['skipped'][number][] = [];
          for (const decision of decided as PartitionDecision[]) {
            if (decision.action === 'build') {
              const partition = byKey.get(decision.key)!;
              builds.push({ partition, causes: decision.causes, reason: decision.reason, expectedVersion: decision.expectedVersion, complete: isComplete(partition, spec.windowSeconds, input.asOf) });
            } else {
              skipped.push(decision);
            }
          }
          const index = await readJsonObject<LabelDatasetManifest>(deps.objectStore, layout.manifest);
          const listed = (entries: readonly { key: string; version: number; createdAt: string }[]) => entries.map((e) => `${e.key}@${e.version}@${e.createdAt}`).sort().join(',');
          const indexCurrent = index !== undefined && listed(index.partitions) === listed([...manifests.values()].map((m) => ({ key: m.partition.key, version: m.version, createdAt: m.createdAt })));
          return {
            labels: spec.name, registryVersion: version, asOf: input.asOf, outputPath: spec.output.path, partitionBy: unit,
            windowSeconds: spec.windowSeconds, definitionHash: resolved.definitionHash, watermarks, builds, skipped, indexCurrent,
          };
        }),
      );
    },

    /** Computes one partition's labels into a Parquet file and stages it, with its statistics. */
    async writeLabelPartition(run: LabelPartitionRun): Promise<StagedLabelPartition> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const { resolved } = await resolveAt(engine, run.labels, run.registryVersion);
          const { partition } = run;
          if (partition.start === null || partition.end === null) throw new PartitionRangeError(`labels are partitioned by time; "${partition.key}" has no range`);
          const layout = datasetLayout(run.outputPath);
          // This attempt's own folder: the file leaves it for the object store before the activity ends.
          const local = activityScratch(deps.scratchDir, partition.key, 'part-00000.parquet');
          await mkdir(activityScratch(deps.scratchDir, partition.key), { recursive: true });
          try {
            const query = compileLabelRows(resolved.join, { from: partition.start, to: partition.end, asOf: run.asOf, watermarks: run.watermarks }, engine.dialect);
            // Straight into the store when the engine can reach it (no label row passes through the worker),
            // else a local file that goes to the store once its statistics are read.
            const unloader = engine.unloadTo(deps.objectStore);
            const unloaded = unloader
              ? await withHeartbeats(() => unloader.unloadPartitioned({ query, partitionKey: engine.dialect.stringLiteral(partition.key) }, layout.staging(run.build)), () => ({ stage: 'join', partition: partition.key }))
              : [];
            // A partition without rows gets a file of none; an engine unloads no file for it.
            const exported = unloaded.length > 0 ? undefined : await withHeartbeats(() => engine.exportParquet(query, local), () => ({ stage: 'join', partition: partition.key }));
            const rowCount = exported?.rowCount ?? unloaded.reduce((sum, f) => sum + f.rowCount, 0);
            // Statistics from the files as written, read back through a stage (the warehouse may not share this disk).
            const staged = await engine.stageFiles(exported ? [local] : unloaded.map((f) => deps.objectStore.uri(f.path)), { name: `labels-${run.build}-${partition.key}`, format: 'parquet' });
            const file = engine.dialect.readStaged(staged, resolved.columns.map((c) => [c.name, engine.dialect.columnType(c.type)] as const));
            let stats: Record<string, ColumnStats>;
            let positives: { n: number } | undefined;
            try {
              stats = readColumnStats((await engine.all(compileColumnStats(file, resolved.columns, engine.dialect)))[0] ?? {}, resolved.columns).columns;
              [positives] = await engine.all<{ n: number }>(compileCountPositives(file, engine.dialect));
            } finally {
              await engine.unstageFiles(staged);
            }
            let files = unloaded.map((f) => ({ stagedKey: f.path, rowCount: f.rowCount, bytes: f.bytes }));
            if (exported) {
              const stagedKey = layout.stagedFile(run.build, partition, 0);
              const bytes = (await stat(local)).size;
              await withHeartbeats(() => deps.objectStore.putFile(stagedKey, local, { move: true }), () => ({ stage: 'stage', partition: partition.key }));
              files = [{ stagedKey, rowCount, bytes }];
            }
            return {
              files, rowCount, positives: Number(positives?.n ?? 0),
              schema: resolved.columns, definitionHash: resolved.definitionHash, columnStats: stats,
            };
          } finally {
            await rm(activityScratch(deps.scratchDir, partition.key), { recursive: true, force: true });
          }
        }),
      );
    },

    /**
     * Publishes a staged partition as the next version: its file over the published one, then its
     * manifest. Done already by this build (a retry): nothing more. Published by another run since the
     * plan: dropped, `superseded`.
     */
    async publishLabelPartition(input: {
      run: LabelPartitionRun;
      staged: StagedLabelPartition;
      expectedVersion: number;
      causes: readonly LabelBuildCause[];
      reason: string;
      complete: boolean;
      createdAt: string;
    }): Promise<PublishedLabelPartition> {
      return atBoundary(async () => {
        const { run, staged } = input;
        const layout = datasetLayout(run.outputPath);
        const current = await readJsonObject<LabelPartitionManifest>(deps.objectStore, layout.partitionManifest(run.partition));
        if (current?.build === run.build) return { status: 'published', version: current.version, rowCount: current.rowCount, positives: current.positives };
        if ((current?.version ?? 0) !== input.expectedVersion) {
          await deps.objectStore.deletePrefix(`${layout.staging(run.build)}/`);
          return { status: 'superseded', current: current?.version ?? 0 };
        }
        const files = await promotePartitionFiles(deps.objectStore, layout, run.partition, staged.files);
        const manifest: LabelPartitionManifest = {
          formatVersion: 1,
          project: deps.project,
          labels: run.labels,
          partition: run.partition,
          version: input.expectedVersion + 1,
          build: run.build,
          reason: input.reason,
          causes: input.causes,
          createdAt: input.createdAt,
          registryVersion: run.registryVersion,
          definitionHash: staged.definitionHash,
          asOf: run.asOf,
          complete: input.complete,
          watermarks: run.watermarks,
          rowCount: staged.rowCount,
          positives: staged.positives,
          schema: staged.schema.map((c) => ({ name: c.name, type: c.type })),
          files,
          columnStats: staged.columnStats,
          ...(current ? { previous: { version: current.version, build: current.build, createdAt: current.createdAt } } : {}),
        };
        await deps.objectStore.putBytes(layout.partitionManifest(run.partition), `${JSON.stringify(manifest, null, 2)}\n`);
        await deps.objectStore.deletePrefix(`${layout.staging(run.build)}/`);
        return { status: 'published', version: manifest.version, rowCount: manifest.rowCount, positives: manifest.positives };
      });
    },

    /** Rebuilds the labels dataset's `_manifest.json` from its partition manifests. */
    async rebuildLabelIndex(input: { labels: string; outputPath: string; partitionBy: 'day' | 'hour' }): Promise<{ manifestKey: string; manifestUri: string; datasetUri: string; partitionCount: number; rowCount: number }> {
      return atBoundary(async () => {
        const layout = datasetLayout(input.outputPath);
        const partitions = await readPartitionManifests<LabelPartitionManifest>(deps.objectStore, layout);
        const index = buildLabelDatasetManifest({ project: deps.project, labels: input.labels, partitionBy: input.partitionBy, updatedAt: new Date().toISOString(), partitions, manifestKey: layout.partitionManifest });
        await deps.objectStore.putBytes(layout.manifest, `${JSON.stringify(index, null, 2)}\n`);
        return { manifestKey: layout.manifest, manifestUri: deps.objectStore.uri(layout.manifest), datasetUri: deps.objectStore.uri(layout.root), partitionCount: index.partitions.length, rowCount: index.rowCount };
      });
    },
  };
}

/** Per partition key, how many rows of `stream` were loaded after its watermark (up to `until`). */
async function countLate(engine: OfflineEngine, stream: LabelStream, checks: readonly LateCheck[], until: string | null, upper: 'inclusive' | 'exclusive', notNull: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (until === null) return counts;
  for (let i = 0; i < checks.length; i += LATE_CHECKS_PER_QUERY) {
    const query = compileLateEvents(stream, checks.slice(i, i + LATE_CHECKS_PER_QUERY), { until, upper, notNull }, engine.dialect);
    for (const row of await withHeartbeats(() => engine.all<{ key: string; n: number }>(query), () => ({ stage: 'late', stream: stream.stream, checked: i }))) {
      counts.set(row.key, Number(row.n));
    }
  }
  return counts;
}

export type LabelActivities = ReturnType<typeof createLabelActivities>;
