import { continueAsNew, defineQuery, setHandler, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { ingestPending } from './ingest.ts';
import { runSearchAttributes } from './search-attributes.ts';

export interface IngestSweepInput {
  readonly project: string;
  /** Time between sweeps, in seconds (flywheel serve: INGEST_SWEEP_EVERY_SECONDS). */
  readonly everySeconds: number;
  readonly keep?: boolean;
  /** Segments handled per sweep (default 200). */
  readonly limit?: number;
  /** Carried over continue-as-new. */
  readonly totals?: IngestSweepTotals;
}

export interface IngestSweepTotals {
  /** Sweeps made, those that found work, and what they loaded. */
  readonly sweeps: number;
  readonly sweepsWithWork: number;
  readonly segments: number;
  readonly rows: number;
}

export const ingestSweepQuery = defineQuery<IngestSweepTotals>('ingestSweep');

/** A sweep's history grows by ~17 events; a new run starts well before Temporal's limits (about every two days at 10 minutes). */
const HISTORY_EVENTS_PER_RUN = 5_000;

/**
 * The ingestion safety net as ONE long-lived workflow (`<project>/ingest/sweep`, started by
 * `flywheel serve`), instead of a schedule that added a workflow to the list every minute: every
 * `everySeconds` (the first time `everySeconds` after it starts) it does what ingestPending does (closed segments whose triggered ingestion did not
 * happen, each through its per-segment workflow; `from` table streams by watermark). A sweep that
 * finds nothing adds a few events to this workflow's history and nothing to the workflow list; only
 * segments it loads appear, as their own ingestSegment children. It continues as new when its history
 * is long, so the list shows one run every couple of days.
 */
export async function ingestSweep(input: IngestSweepInput): Promise<never> {
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'ingest', object: 'sweep' }));
  let totals: IngestSweepTotals = input.totals ?? { sweeps: 0, sweepsWithWork: 0, segments: 0, rows: 0 };
  setHandler(ingestSweepQuery, () => totals);
  for (;;) {
    // First wait, as the schedule it replaces did: at serve start the triggered path is the one at work.
    await sleep(input.everySeconds * 1000);
    // The sandbox clock: the time of this workflow task, the same on replay.
    const now = new Date().toISOString();
    const swept = await ingestPending({ project: input.project, now, ...(input.keep ? { keep: true } : {}), ...(input.limit !== undefined ? { limit: input.limit } : {}) });
    const tableRows = swept.tables.reduce((sum, table) => sum + table.rows, 0);
    const worked = swept.segments > 0 || tableRows > 0;
    totals = { sweeps: totals.sweeps + 1, sweepsWithWork: totals.sweepsWithWork + (worked ? 1 : 0), segments: totals.segments + swept.segments, rows: totals.rows + swept.rows + tableRows };
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > HISTORY_EVENTS_PER_RUN) await continueAsNew<typeof ingestSweep>({ ...input, totals });
  }
}
