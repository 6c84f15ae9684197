import { ApplicationFailure, defineQuery, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { MaterializeActivities } from '../activities/materialize.ts';
import { runSearchAttributes } from './search-attributes.ts';

export interface MaterializeFeatureViewInput {
  readonly project: string;
  readonly view: string;
  /** The instant the values are read as of (ISO-8601 with a zone); omitted means when the run started. */
  readonly asOf?: string;
  /** How many disjoint buckets of entity keys to write, each by one activity (default 4). */
  readonly chunks?: number;
}

export interface MaterializeFeatureViewResult {
  readonly view: string;
  readonly asOf: string;
  readonly chunks: number;
  readonly rows: number;
  readonly written: number;
  readonly skippedOlder: number;
}

export interface MaterializeProgress {
  readonly chunksDone: number;
  readonly chunks: number;
  readonly rows: number;
  readonly written: number;
  readonly skippedOlder: number;
}

/** Query the CLI polls to draw its progress bar. */
export const materializeProgressQuery = defineQuery<MaterializeProgress>('progress');

/** Chunks running at once: each holds the warehouse while it queries. */
const CONCURRENCY = 2;

const { materializeChunk } = proxyActivities<MaterializeActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * Writes the latest values of one online feature view, as of one instant, to the online store: the
 * entity keys split into `chunks` disjoint hash buckets, at most two written at a time. Re-running
 * with the same asOf writes the same records (equal event times replace).
 */
export async function materializeFeatureView(input: MaterializeFeatureViewInput): Promise<MaterializeFeatureViewResult> {
  const chunks = input.chunks ?? 4;
  if (!Number.isSafeInteger(chunks) || chunks < 1) throw ApplicationFailure.nonRetryable(`chunks must be a positive whole number, got ${chunks}`, 'UsageError');
  const asOf = input.asOf ?? workflowInfo().runStartTime.toISOString();

  let progress: MaterializeProgress = { chunksDone: 0, chunks, rows: 0, written: 0, skippedOlder: 0 };
  setHandler(materializeProgressQuery, () => progress);
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'materialization', object: input.view }));

  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < chunks) {
      const chunk = next++;
      const done = await materializeChunk({ view: input.view, asOf, chunk, chunks });
      progress = {
        chunksDone: progress.chunksDone + 1,
        chunks,
        rows: progress.rows + done.rows,
        written: progress.written + done.written,
        skippedOlder: progress.skippedOlder + done.skippedOlder,
      };
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, chunks) }, () => lane()));
  return { view: input.view, asOf, chunks, rows: progress.rows, written: progress.written, skippedOlder: progress.skippedOlder };
}
