import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { defineQuery, executeChild, patched, proxyActivities, setHandler, sleep, workflowInfo, WorkflowIdReusePolicy } from '@temporalio/workflow';
import type { BatchScoringActivities, BatchScoringPlan } from '../activities/batch-scoring.ts';
import type { SegmentRef } from '../activities/ingest.ts';
import { ingestSegment, ingestSegmentWorkflowId } from './ingest.ts';
import { runKey } from './run-key.ts';

export interface BatchScoreInput {
  readonly project: string;
  readonly model: string;
  /** A registered version; absent: the promoted one when the run plans (then fixed for the run). */
  readonly version?: string;
  /**
   * Score every entity of the spine as of this instant (ISO-8601 with a zone). Absent with `spine`:
   * each spine row as of its own time; absent without: when the run started (a scheduled run's time).
   */
  readonly asOf?: string;
  /** A source name or a Parquet file (path or URI) whose rows are scored; absent: the model's `batch.spine`. */
  readonly spine?: string;
  /** A file spine's time column; absent: the time field of the model's batch spine source. */
  readonly spineTimeColumn?: string;
  readonly chunkSize?: number;
}

export interface BatchScoreProgress {
  readonly stage: 'planning' | 'scoring' | 'done';
  readonly chunks: number;
  readonly chunksDone: number;
  readonly rowsScored: number;
}

export interface BatchScoreResult {
  readonly model: string;
  readonly version: string;
  /** Null: each spine row was scored as of its own time. */
  readonly asOf: string | null;
  readonly spine: string;
  readonly rowCount: number;
  readonly chunks: number;
  readonly predictionsTable: string;
  readonly decisionStream: string | null;
}

/** Query the CLI polls to draw its progress bar. */
export const batchScoreProgressQuery = defineQuery<BatchScoreProgress>('progress');

const { planBatchScoring, finishBatchScoring } = proxyActivities<BatchScoringActivities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

const { scoreBatchChunks } = proxyActivities<BatchScoringActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

/** How long to wait, by try, while another run ingests the same segment (the safety net found it first). */
const INGEST_TAKEN_WAITS_MS = [500, 1_000, 2_000] as const;

/**
 * Ingests one chunk's decision segment through the same workflow and id as a log API node's segment,
 * and waits until its rows are in the warehouse (or found there already: a re-run's segment). When
 * that ingestion is running already (ingestPending started it), waits and starts it again: it then
 * finds the segment loaded.
 */
async function ingestDecisionSegment(project: string, segment: SegmentRef): Promise<void> {
  for (let tries = 0; ; tries++) {
    try {
      await executeChild(ingestSegment, {
        workflowId: ingestSegmentWorkflowId(project, segment),
        args: [{ project, stream: segment.stream, node: segment.node, segmentId: segment.segmentId }],
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
      return;
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      await sleep(INGEST_TAKEN_WAITS_MS[Math.min(tries, INGEST_TAKEN_WAITS_MS.length - 1)]!);
    }
  }
}

/** Chunks one activity scores before the workflow records progress and starts the next. */
const CHUNKS_PER_ACTIVITY = 16;

/**
 * Scores every row of a spine as of one instant with one model version (docs/models.md, "Batch scoring"):
 *
 * 1. `planBatchScoring` pins the version and registry version, computes the features point in time
 *    into the run's scoring table, and clears the predictions an earlier run of the same (as_of, version) wrote;
 * 2. `scoreBatchChunks` scores chunks of rows on the worker, each chunk's decisions written as a
 *    sealed segment of the decision stream (node `batch-<model>`) and its predictions replacing its
 *    earlier rows in one transaction, heartbeating the next chunk so a retried attempt resumes there;
 *    then each chunk's segment is ingested by the ingest workflow (a child per segment, awaited), so
 *    when the run completes its decisions are in the warehouse;
 * 3. `finishBatchScoring` drops the scoring table.
 *
 * Idempotent: a retried chunk or a re-run writes the same predictions once, and logs the same
 * decision ids, which ingestion (its ledger, then its dedupe on event ids) stores once.
 */
export async function batchScore(input: BatchScoreInput): Promise<BatchScoreResult> {
  const info = workflowInfo();
  const asOf = input.asOf ?? (input.spine !== undefined ? null : info.runStartTime.toISOString());
  let progress: BatchScoreProgress = { stage: 'planning', chunks: 0, chunksDone: 0, rowsScored: 0 };
  setHandler(batchScoreProgressQuery, () => progress);

  const plan: BatchScoringPlan = await planBatchScoring({
    model: input.model, asOf, runKey: runKey(info.runStartTime, info.runId), loggedAt: info.runStartTime.toISOString(),
    ...(input.version !== undefined ? { version: input.version } : {}),
    ...(input.spine !== undefined ? { spine: input.spine } : {}),
    ...(input.spineTimeColumn !== undefined ? { spineTimeColumn: input.spineTimeColumn } : {}),
    ...(input.chunkSize !== undefined ? { chunkSize: input.chunkSize } : {}),
  });
  progress = { stage: 'scoring', chunks: plan.chunks, chunksDone: 0, rowsScored: 0 };
  try {
    for (let from = 0; from < plan.chunks; from += CHUNKS_PER_ACTIVITY) {
      const to = Math.min(plan.chunks, from + CHUNKS_PER_ACTIVITY);
      const done = await scoreBatchChunks({ plan, runId: info.workflowId, from, to });
      // `patched`: runs started when decisions were inserted by the activity replay without children.
      if (patched('batch-decisions-through-log')) for (const segment of done.segments ?? []) await ingestDecisionSegment(input.project, segment);
      progress = { ...progress, chunksDone: to, rowsScored: progress.rowsScored + done.rowsScored };
    }
  } finally {
    await finishBatchScoring({ plan });
  }
  progress = { ...progress, stage: 'done' };
  return {
    model: plan.model, version: plan.version, asOf: plan.asOf, spine: plan.spine, rowCount: plan.rowCount, chunks: plan.chunks,
    predictionsTable: `flywheel.predictions_${plan.model}`, decisionStream: plan.decisionStream,
  };
}
