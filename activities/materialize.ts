import { Context } from '@temporalio/activity';
import type { EngineBatch, OfflineEngine } from '../connectors/offline/offline-engine.ts';
import type { EncodedOnlineRow, OnlineKeyPart, OnlineStore } from '../connectors/online-store/online-store.ts';
import type { ColumnSpec, FeatureViewSpec, ProjectSpec } from '../core/definitions/specs.ts';
import { FlywheelError, NotFoundError } from '../core/errors.ts';
import {
  defaultLookbackSeconds,
  materializationHash,
  planMaterializationRun,
  watermarkDecision,
  type MaterializationRunPlan,
  type MaterializationState,
} from '../core/materialization/run-plan.ts';
import { compileEncodedLatestValues } from '../core/sql/latest-values.ts';
import { featureViewColumns } from '../core/sql/warehouse-objects.ts';
import { withEngine, type ActivityDeps, type MaterializationStateStore } from './deps.ts';
import { atBoundary } from './failures.ts';
import { withHeartbeats } from './heartbeat.ts';

/** Rows per online-store write: one DuckDB chunk, so batches are never stitched together. */
export const MATERIALIZE_BATCH_ROWS = 2_048;

/** Chunks a run is split into unless the input or the view's schedule says otherwise. */
export const DEFAULT_CHUNKS = 4;

/** What materialization needs beyond ActivityDeps: the online store it writes to, and where it keeps its watermarks. */
export type MaterializeDeps = ActivityDeps;

/** Thrown by the materialization activities when a view cannot be materialized (not online, or no online store is wired). */
export class MaterializationError extends FlywheelError {
  readonly view: string;
  constructor(view: string, message: string) {
    super(`Cannot materialize feature view "${view}": ${message}`);
    this.view = view;
  }
}

export interface PlanMaterializationInput {
  readonly view: string;
  /** The end of the run: values are computed as of this instant (ISO-8601). */
  readonly to: string;
  /** A range start (ISO-8601): recompute what changed in (from, to], whatever the stored watermark. */
  readonly from?: string;
  /** Recompute every entity. */
  readonly full?: boolean;
  /** Instead of the view's lookback (defaultLookbackSeconds). */
  readonly lookbackSeconds?: number;
  /** Instead of the view's schedule's chunks (4 without one). */
  readonly chunks?: number;
}

/** A planned run: its range, and the registry version and definition every chunk uses. */
export interface MaterializationPlan extends MaterializationRunPlan {
  readonly view: string;
  readonly registryVersion: number;
  readonly definitionHash: string;
  readonly chunks: number;
  /** The watermark stored when the run was planned. */
  readonly previousWatermark: string | null;
  /** The view's ttl: records past it as of `to` are swept from the online store after the run. */
  readonly ttlSeconds: number | null;
}

export interface MaterializeChunkInput {
  readonly view: string;
  readonly registryVersion: number;
  /** The instant the values are read as of (the run's `to`). */
  readonly asOf: string;
  /** For an incremental run: the plan's changedSince. */
  readonly changedSince?: string;
  readonly chunk: number;
  readonly chunks: number;
}

export interface MaterializeChunkResult {
  /** Entities of the chunk given values (see compileLatestValues for which). */
  readonly rows: number;
  readonly written: number;
  /** Records the store already held with a later event time (newer wins). */
  readonly skippedOlder: number;
}

/** A chunk's progress, heartbeated after each completed write (what `temporal workflow describe` shows of a running chunk). */
type ChunkProgress = MaterializeChunkResult;

export interface FinishMaterializationInput {
  readonly plan: MaterializationPlan;
  readonly rows: number;
  /** The workflow id of the run, stored with the state. */
  readonly runId: string;
}

export interface FinishMaterializationResult {
  /** Whether the run's `to` became the stored watermark. */
  readonly advanced: boolean;
  readonly reason: string;
  /** The watermark stored now. */
  readonly watermark: string | null;
}

/**
 * Materialization of one online feature view: plan the run (full or incremental, from the stored
 * watermark), write each hash bucket of its entities to the online store, then record the new
 * watermark. Buckets are disjoint and the same for every attempt, rows are written with the values'
 * own event times and the store replaces on equal event times, so a retried chunk (which starts its
 * bucket again: its rows come unordered, see compileEncodedLatestValues) or a re-run range writes
 * exactly the same records again.
 */
export function createMaterializeActivities(deps: MaterializeDeps) {
  const stateStore = (engine: OfflineEngine): MaterializationStateStore => {
    if (!deps.materializationState) throw new FlywheelError('This worker cannot keep materialization watermarks; run it with the project\'s config (flywheel worker or flywheel dev)');
    return deps.materializationState(engine);
  };

  return {
    /** Decides the run's range against the stored watermark and pins the registry version. */
    async planMaterialization(input: PlanMaterializationInput): Promise<MaterializationPlan> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const { version, spec, view } = await onlineView(deps, engine, input.view);
          const definitionHash = materializationHash(view, spec);
          const state = await stateStore(engine).get(deps.project, view.name);
          const run = planMaterializationRun({
            state, definitionHash, to: input.to, lookbackSeconds: input.lookbackSeconds ?? defaultLookbackSeconds(view, spec),
            ...(input.from !== undefined ? { from: input.from } : {}),
            ...(input.full ? { full: true } : {}),
          });
          return {
            ...run, view: view.name, registryVersion: version, definitionHash,
            chunks: input.chunks ?? view.materialize?.chunks ?? DEFAULT_CHUNKS, previousWatermark: state?.watermark ?? null, ttlSeconds: view.ttlSeconds,
          };
        }),
      );
    },

    /**
     * Streams one bucket's encoded values from the warehouse into the online store, reading the next
     * batch while the previous one is being written, and heartbeating after each write.
     */
    async materializeChunk(input: MaterializeChunkInput): Promise<MaterializeChunkResult> {
      return atBoundary(async () => {
        const store = deps.onlineStore;
        if (!store) throw new MaterializationError(input.view, 'this worker has no online store; run it with the project\'s config (flywheel worker or flywheel dev)');
        const context = Context.current();
        // A retry writes its whole bucket again (the rows come unordered, so no key marks where the
        // last attempt stopped): it counts from zero, and rewriting a record is harmless (equal event times replace).
        let progress: ChunkProgress = { rows: 0, written: 0, skippedOlder: 0 };

        await withEngine(deps, async (engine) => {
          const { spec, view } = await onlineView(deps, engine, input.view, input.registryVersion);
          const joinKeys = featureViewColumns(view, spec).joinKeys;
          const query = compileEncodedLatestValues(view, spec, engine.dialect, {
            asOf: input.asOf,
            bucket: { chunk: input.chunk, chunks: input.chunks },
            ...(input.changedSince !== undefined ? { changedSince: input.changedSince } : {}),
          });
          await withHeartbeats(
            () => writeStream(engine.stream(query, { batchRows: MATERIALIZE_BATCH_ROWS }), store, view, joinKeys, (done) => {
              progress = { rows: progress.rows + done.rows, written: progress.written + done.written, skippedOlder: progress.skippedOlder + done.skippedOlder };
              context.heartbeat(progress);
            }, context.cancellationSignal),
            () => progress,
          );
        });
        return { rows: progress.rows, written: progress.written, skippedOlder: progress.skippedOlder };
      });
    },

    /** Records the run's `to` as the view's watermark when watermarkDecision allows it, against the state stored now. */
    async finishMaterialization(input: FinishMaterializationInput): Promise<FinishMaterializationResult> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const { plan } = input;
          const next: MaterializationState = {
            project: deps.project, featureView: plan.view, watermark: plan.to, definitionHash: plan.definitionHash, registryVersion: plan.registryVersion,
            mode: plan.mode, rows: input.rows, finishedAt: new Date().toISOString(), runId: input.runId,
          };
          let reason = '';
          const { recorded, previous } = await stateStore(engine).record(next, (current) => {
            const decision = watermarkDecision(current, { plan, definitionHash: plan.definitionHash, registryVersion: plan.registryVersion });
            reason = decision.reason;
            return decision.advance;
          });
          return { advanced: recorded, reason, watermark: recorded ? next.watermark : (previous?.watermark ?? null) };
        }),
      );
    },
  };
}

/** What one completed write did. */
type WriteDone = MaterializeChunkResult;

/**
 * Writes every batch of `batches` (join keys, event micros, values JSON) with writeEncoded, one
 * write in flight while the next batch is read. `onWritten` is called after each write, in order.
 */
async function writeStream(
  batches: AsyncIterable<EngineBatch>,
  store: OnlineStore,
  view: FeatureViewSpec,
  joinKeys: readonly ColumnSpec[],
  onWritten: (done: WriteDone) => void,
  signal: AbortSignal,
): Promise<void> {
  const features = view.features.map((f) => f.name);
  let inFlight: Promise<void> | undefined;
  for await (const batch of batches) {
    if (signal.aborted) throw signal.reason;
    const rows = encodedRows(batch, joinKeys);
    if (inFlight) await inFlight;
    // The view's ttl rides with the rows: Redis sets each key to expire when its value does.
    const write = store.writeEncoded({ view: view.name, features, rows, ttlSeconds: view.ttlSeconds }).then((result) => onWritten({ rows: rows.length, ...result }));
    // Awaited before the next write or after the loop; until then a failure must not count as unhandled.
    write.catch(() => undefined);
    inFlight = write;
  }
  if (inFlight) await inFlight;
}

/** The rows of a batch of compileEncodedLatestValues: keys first, then the event micros and the values JSON. */
function encodedRows(batch: EngineBatch, joinKeys: readonly ColumnSpec[]): EncodedOnlineRow[] {
  const keyColumns = batch.values.slice(0, joinKeys.length);
  const micros = batch.values[joinKeys.length]!;
  const values = batch.values[joinKeys.length + 1]!;
  const rows = new Array<EncodedOnlineRow>(batch.rowCount);
  for (let r = 0; r < batch.rowCount; r++) {
    rows[r] = { key: keyColumns.map((column, k) => onlineKeyPart(column[r], joinKeys[k]!)), eventMicros: Number(micros[r]), values: values[r] as string };
  }
  return rows;
}

/** Integer keys beyond 2^53 come from the engine as decimal strings; the store wants them as bigints. */
function onlineKeyPart(value: unknown, key: ColumnSpec): OnlineKeyPart {
  if ((key.type === 'int64' || key.type === 'int32') && typeof value === 'string') return BigInt(value);
  return value as OnlineKeyPart;
}

/** The applied registry version (the latest, or `version`) and its online feature view `name`. */
async function onlineView(deps: ActivityDeps, engine: OfflineEngine, name: string, version?: number): Promise<{ version: number; spec: ProjectSpec; view: FeatureViewSpec }> {
  const registry = deps.registry(engine);
  const applied = version === undefined ? await registry.latest(deps.project) : await registry.get(deps.project, version);
  if (!applied) throw new NotFoundError('registry', deps.project, version === undefined ? 'Run `flywheel apply` first' : `Version ${version} is not in the registry`);
  const view = applied.spec.featureViews[name];
  if (!view) throw new NotFoundError('feature view', name, `Project "${deps.project}" v${applied.version}`);
  if (!view.online) throw new MaterializationError(name, 'it is not online (declare it with `online: true`)');
  return { version: applied.version, spec: applied.spec, view };
}

export type MaterializeActivities = ReturnType<typeof createMaterializeActivities>;
