import { defineQuery, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { BatchScoringActivities, BatchScoringPlan } from '../activities/batch-scoring.ts';
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

/** Chunks one activity scores before the workflow records progress and starts the next. */
const CHUNKS_PER_ACTIVITY = 16;

/**
 * Scores every row of a spine as of one instant with one model version (docs/models.md, "Batch scoring"):
 *
 * 1. `planBatchScoring` pins the version and registry version, computes the features point in time
 *    into the run's scoring table, and clears what an earlier run of the same (as_of, version) wrote;
 * 2. `scoreBatchChunks` scores chunks of rows on the worker, each chunk's predictions (and logged
 *    decisions) replacing its earlier rows in one transaction, heartbeating the next chunk so a
 *    retried attempt resumes there;
 * 3. `finishBatchScoring` drops the scoring table.
 *
 * Idempotent: a retried chunk or a re-run writes the same rows once, never twice.
 */
export async function batchScore(input: BatchScoreInput): Promise<BatchScoreResult> {
  const info = workflowInfo();
  const asOf = input.asOf ?? (input.spine !== undefined ? null : info.runStartTime.toISOString());
  let progress: BatchScoreProgress = { stage: 'planning', chunks: 0, chunksDone: 0, rowsScored: 0 };
  setHandler(batchScoreProgressQuery, () => progress);

  const plan: BatchScoringPlan = await planBatchScoring({
    model: input.model, asOf, runKey: runKey(info.runStartTime, info.runId),
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
