import { ApplicationFailure, defineQuery, patched, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { MaterializationPlan, MaterializeActivities } from '../activities/materialize.ts';
import type { RetentionActivities } from '../activities/retention.ts';
import { instantInput } from './instant-input.ts';
import { runSearchAttributes } from './search-attributes.ts';

export interface MaterializeFeatureViewInput {
  readonly project: string;
  readonly view: string;
  /** The end of the run: values are computed as of this instant (ISO-8601 with a zone); omitted means when the run started. */
  readonly to?: string;
  /** Recompute what changed in (from, to] instead of since the stored watermark (ISO-8601 with a zone). */
  readonly from?: string;
  /** Recompute every entity, whatever the stored watermark. */
  readonly full?: boolean;
  /** How far before the watermark (or `from`) to look for rows that arrived late; default the view's (docs/materialization.md). */
  readonly lookbackSeconds?: number;
  /** How many disjoint buckets of entity keys to write, each by one activity; default the view's schedule's, else 4. */
  readonly chunks?: number;
}

export interface MaterializeFeatureViewResult {
  readonly view: string;
  readonly mode: MaterializationPlan['mode'];
  /** Why this mode: `no watermark yet`, `from the stored watermark`, ... */
  readonly reason: string;
  /** The range start of an incremental run (exclusive); null for a full run. */
  readonly from: string | null;
  readonly to: string;
  readonly chunks: number;
  readonly rows: number;
  readonly written: number;
  readonly skippedOlder: number;
  /** Whether `to` became the stored watermark, why (or why not), and the watermark stored now. */
  readonly watermarkAdvanced: boolean;
  readonly watermarkReason: string;
  readonly watermark: string | null;
}

export interface MaterializeProgress {
  /** `planning`, `writing`, `finishing`, `done`. */
  readonly stage: 'planning' | 'writing' | 'finishing' | 'done';
  readonly mode: MaterializationPlan['mode'] | null;
  readonly chunksDone: number;
  readonly chunks: number;
  readonly rows: number;
  readonly written: number;
  readonly skippedOlder: number;
}

/** Query the CLI polls to draw its progress bar. */
export const materializeProgressQuery = defineQuery<MaterializeProgress>('progress');

/** Chunks running at once: each holds the warehouse while it reads. */
const CONCURRENCY = 2;

const { planMaterialization, finishMaterialization } = proxyActivities<MaterializeActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

const { sweepExpiredOnline } = proxyActivities<RetentionActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

const { materializeChunk } = proxyActivities<MaterializeActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * Writes the values of one online feature view that changed since its stored watermark (or all of
 * them, on the first run or after its definition changed) to the online store, as of `to`:
 *
 * 1. `planMaterialization` decides the range and pins the registry version;
 * 2. the entity keys are split into disjoint hash buckets, each written by one `materializeChunk`
 *    activity (two at a time) that heartbeats, and writes its whole bucket again when retried;
 * 3. `finishMaterialization` records `to` as the new watermark, only after every chunk succeeded;
 * 4. for a view with a ttl, `sweepExpiredOnline` removes the stored records past it as of `to`
 *    (docs/online-store.md, "Expiry").
 *
 * Re-running a range writes the same records (equal event times replace), and the store never lets
 * an older value replace a newer one. A Schedule created by `flywheel apply` starts this workflow.
 */
export async function materializeFeatureView(input: MaterializeFeatureViewInput): Promise<MaterializeFeatureViewResult> {
  if (input.chunks !== undefined && (!Number.isSafeInteger(input.chunks) || input.chunks < 1)) {
    throw ApplicationFailure.nonRetryable(`chunks must be a positive whole number, got ${input.chunks}`, 'UsageError');
  }
  const to = instantInput(input.to, 'to', () => workflowInfo().runStartTime);
  const from = input.from === undefined ? undefined : instantInput(input.from, 'from', () => workflowInfo().runStartTime);
  let progress: MaterializeProgress = { stage: 'planning', mode: null, chunksDone: 0, chunks: input.chunks ?? 0, rows: 0, written: 0, skippedOlder: 0 };
  setHandler(materializeProgressQuery, () => progress);
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'materialization', object: input.view, to }));

  const plan = await planMaterialization({
    view: input.view, to,
    ...(from !== undefined ? { from } : {}),
    ...(input.full ? { full: true } : {}),
    ...(input.lookbackSeconds !== undefined ? { lookbackSeconds: input.lookbackSeconds } : {}),
    ...(input.chunks !== undefined ? { chunks: input.chunks } : {}),
  });
  if (plan.from !== undefined) upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'materialization', object: input.view, from: plan.from, to }));
  const chunks = plan.upToDate ? 0 : plan.chunks;
  progress = { ...progress, stage: 'writing', mode: plan.mode, chunks };

  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < chunks) {
      const chunk = next++;
      const done = await materializeChunk({
        view: plan.view, registryVersion: plan.registryVersion, asOf: plan.to, chunk, chunks,
        ...(plan.changedSince !== undefined ? { changedSince: plan.changedSince } : {}),
      });
      progress = {
        ...progress,
        chunksDone: progress.chunksDone + 1,
        rows: progress.rows + done.rows,
        written: progress.written + done.written,
        skippedOlder: progress.skippedOlder + done.skippedOlder,
      };
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, chunks) }, () => lane()));

  progress = { ...progress, stage: 'finishing' };
  const finished = await finishMaterialization({ plan, rows: progress.rows, runId: workflowInfo().workflowId });
  // Records past the view's ttl as of `to` are served as expired; remove them, a bounded batch at a time.
  // `patched`: runs started before the sweep existed replay without it. Plans from then lack ttlSeconds.
  if (patched('sweep-expired-online') && plan.ttlSeconds !== null && plan.ttlSeconds !== undefined) {
    let swept = { deleted: 0, done: false };
    while (!swept.done) swept = await sweepExpiredOnline({ view: plan.view, ttlSeconds: plan.ttlSeconds, asOf: plan.to });
  }
  progress = { ...progress, stage: 'done' };
  return {
    view: plan.view, mode: plan.mode, reason: plan.reason, from: plan.from ?? null, to: plan.to, chunks,
    rows: progress.rows, written: progress.written, skippedOlder: progress.skippedOlder,
    watermarkAdvanced: finished.advanced, watermarkReason: finished.reason, watermark: finished.watermark,
  };
}
