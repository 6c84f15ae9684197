import { patched, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { QuarantineActivities, ReplayedQuarantine } from '../activities/quarantine.ts';
import { runId } from '../core/run-ids.ts';
import { whenStreamFree } from './ingest.ts';
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
 * the ledger), and leaves the ones still refused where they are. It writes the stream's table as a
 * segment's load does, so it takes the stream's load like one (whenStreamFree): a replay and a load
 * never overlap, and neither's anti-join misses the other's ids.
 */
export async function replayQuarantine(input: ReplayQuarantineInput): Promise<ReplayedQuarantine> {
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'ingest', object: input.stream }));
  const replayId = workflowInfo().runId;
  // `patched`: replays started before the rule run their activity directly, as they did.
  if (!patched('replay-under-stream-load')) return replay({ stream: input.stream, replayId });
  return whenStreamFree(input.project, input.stream, replayStreamQuarantine, { stream: input.stream, replayId });
}

export interface ReplayStreamQuarantineInput {
  readonly stream: string;
  /** The replay's run id, which names its batch in the ledger. */
  readonly replayId: string;
}

/** The replay's one activity, run only as replayQuarantine's child with the stream's load id. */
export async function replayStreamQuarantine(input: ReplayStreamQuarantineInput): Promise<ReplayedQuarantine> {
  return replay(input);
}
