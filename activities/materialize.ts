import { Context } from '@temporalio/activity';
import type { OnlineFeatureValue, OnlineKeyPart, OnlineRecord } from '../connectors/online-store/online-store.ts';
import { FlywheelError, NotFoundError } from '../core/errors.ts';
import { compileLatestValues, LATEST_EVENT_TIME } from '../core/sql/latest-values.ts';
import { featureViewColumns } from '../core/sql/warehouse-objects.ts';
import { withEngine, type ActivityDeps } from './deps.ts';
import { atBoundary } from './failures.ts';
import { withHeartbeats } from './heartbeat.ts';

/** Records per online-store write call. */
export const MATERIALIZE_BATCH_SIZE = 1_000;

/** What materialization needs beyond ActivityDeps: the online store it writes to. */
export type MaterializeDeps = ActivityDeps;

/** Thrown by materializeChunk when a view cannot be materialized (not online, or no online store is wired). */
export class MaterializationError extends FlywheelError {
  readonly view: string;
  constructor(view: string, message: string) {
    super(`Cannot materialize feature view "${view}": ${message}`);
    this.view = view;
  }
}

export interface MaterializeChunkInput {
  readonly view: string;
  /** The instant the values are read as of (ISO-8601 with a zone). */
  readonly asOf: string;
  readonly chunk: number;
  readonly chunks: number;
}

export interface MaterializeChunkResult {
  /** Entities of the chunk with a value as of asOf (expired and keyless ones have none). */
  readonly rows: number;
  readonly written: number;
  /** Records the store already held with a later event time (newer wins). */
  readonly skippedOlder: number;
}

/**
 * Materialization: the latest values of one online feature view, one hash bucket of its entity keys
 * at a time, written to the online store. Buckets are disjoint and the same for every attempt, and
 * the store replaces on equal event times, so a retry rewrites exactly the same records.
 */
export function createMaterializeActivities(deps: MaterializeDeps) {
  return {
    async materializeChunk(input: MaterializeChunkInput): Promise<MaterializeChunkResult> {
      return atBoundary(async () => {
        const store = deps.onlineStore;
        if (!store) throw new MaterializationError(input.view, 'this worker has no online store; run it with the project\'s config (flywheel worker or flywheel dev)');
        const context = Context.current();
        let progress = { stage: 'query', rows: 0, written: 0 };

        // The engine is held only for the query, so `flywheel apply` can run while the store is written.
        const { rows, keyOf, valuesOf } = await withEngine(deps, async (engine) => {
          const applied = await deps.registry(engine).latest(deps.project);
          if (!applied) throw new NotFoundError('registry', deps.project, 'Run `flywheel apply` first');
          const view = applied.spec.featureViews[input.view];
          if (!view) throw new NotFoundError('feature view', input.view, `Project "${deps.project}" v${applied.version}`);
          if (!view.online) throw new MaterializationError(input.view, 'it is not online (declare it with `online: true`)');
          const query = compileLatestValues(view, applied.spec, engine.dialect, { asOf: input.asOf, bucket: { chunk: input.chunk, chunks: input.chunks } });
          const found = await withHeartbeats(() => engine.all(query), () => progress);
          const joinKeys = featureViewColumns(view, applied.spec).joinKeys;
          return {
            rows: found,
            keyOf: (row: Record<string, unknown>): OnlineKeyPart[] => joinKeys.map((k) => onlineKeyPart(row[k.name], k.type)),
            valuesOf: (row: Record<string, unknown>) => Object.fromEntries(view.features.map((f) => [f.name, (row[f.name] ?? null) as OnlineFeatureValue])),
          };
        });

        progress = { stage: 'write', rows: rows.length, written: 0 };
        let written = 0;
        let skippedOlder = 0;
        for (let start = 0; start < rows.length; start += MATERIALIZE_BATCH_SIZE) {
          const records: OnlineRecord[] = rows.slice(start, start + MATERIALIZE_BATCH_SIZE).map((row) => ({
            view: input.view,
            key: keyOf(row),
            values: valuesOf(row),
            eventTime: String(row[LATEST_EVENT_TIME]),
          }));
          const result = await store.write(records);
          written += result.written;
          skippedOlder += result.skippedOlder;
          progress = { ...progress, written };
          context.heartbeat(progress);
        }
        return { rows: rows.length, written, skippedOlder };
      });
    },
  };
}

/** Integer keys beyond 2^53 come from the engine as decimal strings; the store wants them as bigints. */
function onlineKeyPart(value: unknown, type: string): OnlineKeyPart {
  if ((type === 'int64' || type === 'int32') && typeof value === 'string') return BigInt(value);
  return value as OnlineKeyPart;
}

export type MaterializeActivities = ReturnType<typeof createMaterializeActivities>;
