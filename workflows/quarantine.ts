import { proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { QuarantineActivities, ReplayedQuarantine } from '../activities/quarantine.ts';
import { runId } from '../core/run-ids.ts';
import { runSearchAttributes } from './search-attributes.ts';

const { replayQuarantine: replay } = proxyActivities<QuarantineActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

export interface ReplayQuarantineInput {
  readonly project: string;
  readonly stream: string;
}

/**
 * The id of a stream's replay, `<project>/ingest/<stream>/quarantine-replay` (core/run-ids.ts): one at
 * a time per stream (Temporal refuses a second while one runs).
 */
export function replayQuarantineWorkflowId(project: string, stream: string): string {
  return runId(project, 'ingest', stream, 'quarantine-replay');
}

/**
 * `flywheel streams quarantine <stream> --replay`: loads a stream's quarantined events again after a
 * fix, exactly once (the replay's batch is named after this run, so a retried activity finds it in
 * the ledger), and leaves the ones still refused where they are.
 */
export async function replayQuarantine(input: ReplayQuarantineInput): Promise<ReplayedQuarantine> {
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'ingest', object: input.stream }));
  return replay({ stream: input.stream, replayId: workflowInfo().runId });
}
