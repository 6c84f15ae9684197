import { Context } from '@temporalio/activity';
import type { EventStreamSpec } from '../core/definitions/specs.ts';
import { FlywheelError, NotFoundError } from '../core/errors.ts';
import { retentionCutoff, streamsUnderRetention } from '../core/retention/cutoff.ts';
import { compileDeleteExpiredBatch, compileDeleteExpiredQuarantine } from '../core/sql/retention.ts';
import { withEngine, type ActivityDeps, type RegistryVersion } from './deps.ts';
import { atBoundary } from './failures.ts';
import { withHeartbeats } from './heartbeat.ts';

/** Events one delete statement removes at most, unless the run says otherwise. */
export const DEFAULT_RETENTION_BATCH_ROWS = 50_000;

/** Batches one activity runs at most before it hands back: the engine (and DuckDB's file lock) is held for one activity only. */
export const RETENTION_BATCHES_PER_ACTIVITY = 20;

/**
 * After this long an activity starts no further batch: on DuckDB a delete is bound by the table's
 * primary-key index (thousands of events a second on a busy 2-core machine), and `flywheel apply`
 * waits for the file while an activity holds it.
 */
export const RETENTION_ACTIVITY_MILLIS = 30_000;

export interface PlanRetentionInput {
  /** Only this stream; absent: every stream of the latest registry version. */
  readonly stream?: string;
  /** ISO-8601: the instant retention is measured from (the run's scheduled or start time). */
  readonly asOf: string;
  /** Only streams without a `retentionSchedule` of their own (the ingest sweep's daily run). */
  readonly unscheduledOnly?: boolean;
}

/** A stream's part of a retention run: events before `cutoff` are deleted. */
export interface StreamRetentionPlan {
  readonly stream: string;
  readonly retentionSeconds: number;
  readonly cutoff: string;
}

export interface RetentionPlan {
  readonly registryVersion: number;
  readonly streams: readonly StreamRetentionPlan[];
}

export interface DeleteExpiredEventsInput {
  readonly stream: string;
  readonly registryVersion: number;
  readonly cutoff: string;
  readonly batchRows: number;
  /** Batches to run before returning (each its own transaction); default RETENTION_BATCHES_PER_ACTIVITY. */
  readonly maxBatches?: number;
  /** No batch starts after this many ms of the activity; default RETENTION_ACTIVITY_MILLIS. */
  readonly maxMillis?: number;
}

export interface DeleteExpiredEventsResult {
  /** Events deleted by this call. */
  readonly deleted: number;
  /** Delete statements that removed at least one event. */
  readonly batches: number;
  /** True when the last batch deleted fewer than batchRows: no expired event is left. */
  readonly done: boolean;
}

/** Heartbeated after each batch, so a retried activity keeps counting where the last attempt stopped. */
type DeleteProgress = Omit<DeleteExpiredEventsResult, 'done'> & { readonly statements: number };

/**
 * Retention: pin the registry version and compute each stream's cutoff, then delete the expired
 * events of one stream in bounded batches, each its own transaction. Deleting what is older than a
 * fixed cutoff is idempotent: a retried batch, or a second run as of the same instant, deletes
 * nothing more (docs/collect.md, "Retention").
 */
export function createRetentionActivities(deps: ActivityDeps) {
  return {
    async planRetention(input: PlanRetentionInput): Promise<RetentionPlan> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const applied = await deps.registry(engine).latest(deps.project);
          if (!applied) throw new NotFoundError('registry', deps.project, 'Run `flywheel apply` first');
          const streams = streamsUnderRetention(applied.spec, input.stream, { unscheduledOnly: input.unscheduledOnly ?? false });
          if (input.stream !== undefined && streams.length === 0) throw new NotFoundError('event stream', input.stream, `Project "${deps.project}" v${applied.version}`);
          return {
            registryVersion: applied.version,
            streams: streams.map((stream) => ({ stream: stream.name, retentionSeconds: stream.retentionSeconds, cutoff: retentionCutoff(input.asOf, stream.retentionSeconds) })),
          };
        }),
      );
    },

    /** Deletes up to maxBatches batches of the stream's events older than the cutoff, heartbeating after each. */
    async deleteExpiredEvents(input: DeleteExpiredEventsInput): Promise<DeleteExpiredEventsResult> {
      return atBoundary(async () => {
        const context = Context.current();
        let progress: DeleteProgress = (context.info.heartbeatDetails as DeleteProgress | undefined) ?? { deleted: 0, batches: 0, statements: 0 };
        const maxBatches = input.maxBatches ?? RETENTION_BATCHES_PER_ACTIVITY;
        const until = Date.now() + (input.maxMillis ?? RETENTION_ACTIVITY_MILLIS);
        let done = false;
        // Heartbeats every few seconds while a batch runs too, with the count of the batches done.
        await withHeartbeats(() => withEngine(deps, async (engine) => {
          const stream = streamOf(deps, await deps.registry(engine).get(deps.project, input.registryVersion), input);
          const batch = compileDeleteExpiredBatch(stream, { cutoff: input.cutoff, batchRows: input.batchRows }, engine.dialect);
          let first = true;
          while (!done && progress.statements < maxBatches && (first || Date.now() < until)) {
            first = false;
            if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason;
            const deleted = await engine.transaction(async (tx) => {
              const [row] = await tx.all<{ rows: number | bigint }>(batch.count);
              const rows = Number(row?.rows ?? 0);
              if (rows > 0) await tx.run(batch.delete);
              return rows;
            });
            done = deleted < input.batchRows;
            progress = { deleted: progress.deleted + deleted, batches: progress.batches + (deleted > 0 ? 1 : 0), statements: progress.statements + 1 };
            context.heartbeat(progress);
          }
        }), () => progress);
        return { deleted: progress.deleted, batches: progress.batches, done };
      });
    },

    /** Deletes the stream's quarantined events kept longer than its retention (see compileDeleteExpiredQuarantine). */
    async deleteExpiredQuarantine(input: Omit<DeleteExpiredEventsInput, 'batchRows' | 'maxBatches'>): Promise<{ deleted: number }> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const stream = streamOf(deps, await deps.registry(engine).get(deps.project, input.registryVersion), input);
          const statements = compileDeleteExpiredQuarantine(stream, { cutoff: input.cutoff }, engine.dialect);
          const deleted = await engine.transaction(async (tx) => {
            const [row] = await tx.all<{ rows: number | bigint }>(statements.count);
            const rows = Number(row?.rows ?? 0);
            if (rows > 0) await tx.run(statements.delete);
            return rows;
          });
          return { deleted };
        }),
      );
    },
  };
}

/** The stream as the pinned registry version declares it. */
function streamOf(deps: ActivityDeps, applied: RegistryVersion | undefined, input: Pick<DeleteExpiredEventsInput, 'stream' | 'registryVersion'>): EventStreamSpec {
  if (!applied) throw new NotFoundError('registry version', String(input.registryVersion), `Project "${deps.project}"`);
  const stream = applied.spec.eventStreams[input.stream];
  if (!stream) throw new NotFoundError('event stream', input.stream, `Project "${deps.project}" v${applied.version}`);
  return stream;
}

export interface SweepExpiredOnlineInput {
  readonly view: string;
  readonly ttlSeconds: number;
  /** ISO-8601: records expired at this instant are removed (the read rule: more than ttl old). */
  readonly asOf: string;
  /** Records one call removes at most; default ONLINE_SWEEP_LIMIT. */
  readonly limit?: number;
}

/** Records one sweep call removes at most: SQLite holds its write lock for one such statement. */
export const ONLINE_SWEEP_LIMIT = 10_000;

/**
 * The online half of retention: removes a view's records past its ttl from the online store, a
 * bounded number per call (`done` says whether any are left). Redis keys written with a ttl expire
 * by themselves; this finds the rest. Idempotent: a removed record stays removed, a newer one is kept.
 */
export function createOnlineRetentionActivities(deps: ActivityDeps) {
  return {
    async sweepExpiredOnline(input: SweepExpiredOnlineInput): Promise<{ deleted: number; done: boolean }> {
      return atBoundary(async () => {
        if (!deps.onlineStore) throw new FlywheelError(`Cannot sweep feature view "${input.view}": this worker has no online store; run it with the project's config (flywheel worker or flywheel dev)`);
        return deps.onlineStore.deleteExpired(input.view, input.ttlSeconds, new Date(input.asOf), input.limit ?? ONLINE_SWEEP_LIMIT);
      });
    },
  };
}

export type RetentionActivities = ReturnType<typeof createRetentionActivities> & ReturnType<typeof createOnlineRetentionActivities>;
