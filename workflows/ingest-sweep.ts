import { continueAsNew, defineQuery, executeChild, log, ParentClosePolicy, patched, setHandler, sleep, upsertSearchAttributes, workflowInfo, WorkflowIdReusePolicy } from '@temporalio/workflow';
import { compactInstant, runId } from '../core/run-ids.ts';
import { RETENTION_SWEEP_EVERY_SECONDS } from '../core/ingest/sweep.ts';
import { enforceRetention } from './enforce-retention.ts';
import { ingestPending } from './ingest.ts';
import { runSearchAttributes } from './search-attributes.ts';

export interface IngestSweepInput {
  readonly project: string;
  /** Time between sweeps, in seconds (flywheel serve: INGEST_SWEEP_EVERY_SECONDS). */
  readonly everySeconds: number;
  readonly keep?: boolean;
  /** Segments handled per sweep (default 200). */
  readonly limit?: number;
  /** Time between the retention runs of the streams without a retentionSchedule (default a day). */
  readonly retentionEverySeconds?: number;
  /** Carried over continue-as-new. */
  readonly totals?: IngestSweepTotals;
  /** When the last retention run was started (ISO-8601); carried over continue-as-new. */
  readonly lastRetentionAt?: string;
}

export interface IngestSweepTotals {
  /** Sweeps made, those that found work, and what they loaded. */
  readonly sweeps: number;
  readonly sweepsWithWork: number;
  readonly segments: number;
  readonly rows: number;
  /** Retention runs started by the sweep, those that failed, and the events they deleted. */
  readonly retentionRuns?: number;
  readonly retentionFailures?: number;
  readonly retentionDeleted?: number;
}

export const ingestSweepQuery = defineQuery<IngestSweepTotals>('ingestSweep');

/** A sweep's history grows by ~17 events; a new run starts well before Temporal's limits (about every two days at 10 minutes). */
const HISTORY_EVENTS_PER_RUN = 5_000;

/**
 * The ingestion safety net as ONE long-lived workflow (`<project>/ingest/sweep`, started by
 * `flywheel serve`), instead of a schedule that added a workflow to the list every minute: every
 * `everySeconds` (the first time `everySeconds` after it starts) it does what ingestPending does (sealed segments in the object store whose triggered ingestion did not
 * happen, each through its per-segment workflow; `from` table streams by watermark). A sweep that
 * finds nothing adds a few events to this workflow's history and nothing to the workflow list; only
 * segments it loads appear, as their own ingestSegment children. It continues as new when its history
 * is long, so the list shows one run every couple of days.
 *
 * Retention by default: every `retentionEverySeconds` (a day; the first at the first sweep) it runs
 * enforceRetention as a child for the streams that declare no `retentionSchedule` of their own
 * (`<project>/retention/all/<instant>`), so every stream's declared retention is enforced wherever
 * its events are served, without a Schedule per stream. A failed retention run is counted and
 * retried at the next period; it never stops ingestion.
 */
export async function ingestSweep(input: IngestSweepInput): Promise<never> {
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'ingest', object: 'sweep' }));
  let totals: IngestSweepTotals = input.totals ?? { sweeps: 0, sweepsWithWork: 0, segments: 0, rows: 0 };
  let lastRetentionAt = input.lastRetentionAt;
  setHandler(ingestSweepQuery, () => totals);
  for (;;) {
    // First wait, as the schedule it replaces did: at serve start the triggered path is the one at work.
    await sleep(input.everySeconds * 1000);
    // The sandbox clock: the time of this workflow task, the same on replay.
    const now = new Date().toISOString();
    const swept = await ingestPending({ project: input.project, now, ...(input.keep ? { keep: true } : {}), ...(input.limit !== undefined ? { limit: input.limit } : {}) });
    const tableRows = swept.tables.reduce((sum, table) => sum + table.rows, 0);
    const worked = swept.segments > 0 || tableRows > 0;
    totals = { ...totals, sweeps: totals.sweeps + 1, sweepsWithWork: totals.sweepsWithWork + (worked ? 1 : 0), segments: totals.segments + swept.segments, rows: totals.rows + swept.rows + tableRows };
    // `patched`: sweeps started before retention rode on them replay without it.
    if (patched('sweep-enforces-retention') && retentionDue(lastRetentionAt, now, input.retentionEverySeconds ?? RETENTION_SWEEP_EVERY_SECONDS)) {
      lastRetentionAt = now;
      totals = await enforceDefaultRetention(input.project, now, totals);
    }
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > HISTORY_EVENTS_PER_RUN) await continueAsNew<typeof ingestSweep>({ ...input, totals, ...(lastRetentionAt !== undefined ? { lastRetentionAt } : {}) });
  }
}

function retentionDue(last: string | undefined, now: string, everySeconds: number): boolean {
  return last === undefined || Date.parse(now) - Date.parse(last) >= everySeconds * 1000;
}

/** One retention run, as of `now`, of the streams without their own schedule; a failure is counted, not thrown. */
async function enforceDefaultRetention(project: string, now: string, totals: IngestSweepTotals): Promise<IngestSweepTotals> {
  const runs = (totals.retentionRuns ?? 0) + 1;
  try {
    const result = await executeChild(enforceRetention, {
      workflowId: runId(project, 'retention', undefined, compactInstant(now)),
      args: [{ project, asOf: now, unscheduledOnly: true }],
      // A sweep that continues as new or is terminated does not cut a retention run short.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    });
    return { ...totals, retentionRuns: runs, retentionDeleted: (totals.retentionDeleted ?? 0) + result.deleted };
  } catch (error) {
    log.warn('retention run failed; the next period retries', { project, asOf: now, error: String(error) });
    return { ...totals, retentionRuns: runs, retentionFailures: (totals.retentionFailures ?? 0) + 1 };
  }
}
