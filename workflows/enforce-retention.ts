import { ApplicationFailure, defineQuery, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { RetentionActivities } from '../activities/retention.ts';
import { runSearchAttributes } from './search-attributes.ts';

export interface EnforceRetentionInput {
  readonly project: string;
  /** Only this event stream (what a stream's retention schedule passes); absent: every stream of the project. */
  readonly stream?: string;
  /** The instant retention is measured from (ISO-8601 with a zone); omitted means when the run started. */
  readonly asOf?: string;
  /** The most events one delete statement removes; default 50,000. */
  readonly batchRows?: number;
  /** Only streams without a `retentionSchedule` of their own: what the ingest sweep's daily run passes. */
  readonly unscheduledOnly?: boolean;
}

export interface StreamRetentionResult {
  readonly stream: string;
  readonly retentionSeconds: number;
  /** Events with an event time before this were deleted; one exactly at it is kept. */
  readonly cutoff: string;
  readonly deleted: number;
  /** Delete statements that removed at least one event. */
  readonly batches: number;
  /** Quarantined events of the stream deleted (kept longer than the retention since they were quarantined). */
  readonly quarantineDeleted: number;
}

export interface EnforceRetentionResult {
  readonly asOf: string;
  readonly registryVersion: number;
  readonly streams: readonly StreamRetentionResult[];
  readonly deleted: number;
}

export interface RetentionProgress {
  readonly stage: 'planning' | 'deleting' | 'done';
  /** The stream being worked on (while deleting). */
  readonly stream: string | null;
  /** Every stream of the run, those not reached yet with 0 deleted. */
  readonly streams: readonly StreamRetentionResult[];
  readonly deleted: number;
}

/** Query the CLI polls to draw its progress bar. */
export const retentionProgressQuery = defineQuery<RetentionProgress>('progress');

const { planRetention, deleteExpiredQuarantine } = proxyActivities<RetentionActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

const { deleteExpiredEvents } = proxyActivities<RetentionActivities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

const DEFAULT_BATCH_ROWS = 50_000;

/**
 * Deletes the stored events older than their stream's retention, as of one instant:
 *
 * 1. `planRetention` pins the registry version and computes each stream's cutoff (`asOf - retention`);
 * 2. per stream, `deleteExpiredEvents` deletes batches of at most `batchRows` events, each batch its
 *    own transaction, a bounded number per activity (so DuckDB's file is held briefly), until a batch
 *    finds fewer than `batchRows` left; then `deleteExpiredQuarantine` deletes the stream's
 *    quarantined events kept longer than the retention since they were quarantined.
 *
 * Idempotent: the cutoff is fixed for the run, so a retried activity or replayed run deletes only
 * what is still older than it; a second run as of the same instant deletes nothing. A Schedule kept
 * by `flywheel apply` (a stream's `retentionSchedule`) starts it for its stream; the ingest sweep
 * (workflows/ingest-sweep.ts) once a day for every other stream; `flywheel retention run` on demand.
 */
export async function enforceRetention(input: EnforceRetentionInput): Promise<EnforceRetentionResult> {
  const batchRows = input.batchRows ?? DEFAULT_BATCH_ROWS;
  if (!Number.isSafeInteger(batchRows) || batchRows < 1) {
    throw ApplicationFailure.nonRetryable(`batchRows must be a positive whole number, got ${batchRows}`, 'UsageError');
  }
  const asOf = input.asOf ?? workflowInfo().runStartTime.toISOString();
  let progress: RetentionProgress = { stage: 'planning', stream: null, streams: [], deleted: 0 };
  setHandler(retentionProgressQuery, () => progress);
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'retention', ...(input.stream !== undefined ? { object: input.stream } : {}), to: asOf }));

  const plan = await planRetention({ asOf, ...(input.stream !== undefined ? { stream: input.stream } : {}), ...(input.unscheduledOnly ? { unscheduledOnly: true } : {}) });
  const results: StreamRetentionResult[] = plan.streams.map((s) => ({ ...s, deleted: 0, batches: 0, quarantineDeleted: 0 }));
  progress = { stage: 'deleting', stream: null, streams: results, deleted: 0 };

  for (const [index, stream] of plan.streams.entries()) {
    let done = false;
    while (!done) {
      const step = await deleteExpiredEvents({ stream: stream.stream, registryVersion: plan.registryVersion, cutoff: stream.cutoff, batchRows });
      const current = results[index]!;
      results[index] = { ...current, deleted: current.deleted + step.deleted, batches: current.batches + step.batches };
      progress = { stage: 'deleting', stream: stream.stream, streams: [...results], deleted: progress.deleted + step.deleted };
      done = step.done;
    }
    const quarantine = await deleteExpiredQuarantine({ stream: stream.stream, registryVersion: plan.registryVersion, cutoff: stream.cutoff });
    results[index] = { ...results[index]!, quarantineDeleted: quarantine.deleted };
    progress = { ...progress, streams: [...results] };
  }
  progress = { ...progress, stage: 'done', stream: null };
  return { asOf, registryVersion: plan.registryVersion, streams: results, deleted: progress.deleted };
}
