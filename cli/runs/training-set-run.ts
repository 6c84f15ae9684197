import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { waitWithProgress } from './wait-with-progress.ts';
import type { ResolvedTemporalConfig } from '../../core/config.ts';
import { FlywheelError } from '../../core/errors.ts';
import {
  buildTrainingSet,
  trainingSetProgressQuery,
  type BuildTrainingSetInput,
  type BuildTrainingSetResult,
  type TrainingSetProgress,
} from '../../workflows/build-training-set.ts';
import { trainingSetRunId } from '../../core/run-ids.ts';
import { runSearchAttributes } from '../../workflows/search-attributes.ts';

/**
 * The id of a training-set run (workflows/run-ids.ts): `<project>/training-set/<name>/<range or all>`,
 * the id a backfill or a schedule gives the same partition, so a second build of it is refused while
 * the first is running.
 */
export function trainingSetWorkflowId(input: BuildTrainingSetInput): string {
  return trainingSetRunId(input.project, input.trainingSet, input.from, input.to);
}

export async function startTrainingSetRun(
  client: Client,
  temporal: ResolvedTemporalConfig,
  input: BuildTrainingSetInput,
  workflowId = trainingSetWorkflowId(input),
): Promise<WorkflowHandle<typeof buildTrainingSet>> {
  try {
    return await client.workflow.start(buildTrainingSet, {
      args: [input],
      taskQueue: temporal.taskQueues.trainingSets,
      workflowId,
      typedSearchAttributes: runSearchAttributes({ project: input.project, kind: 'training-set', object: input.trainingSet, from: input.from, to: input.to }),
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      throw new FlywheelError(`A run with id "${workflowId}" is already in progress (the same partitions, started by you, a backfill or a schedule); wait for it to finish`, { cause: error });
    }
    throw error;
  }
}

/** Waits for a run, reporting its progress (see waitWithProgress). */
export function waitForTrainingSetRun(
  handle: WorkflowHandle<typeof buildTrainingSet>,
  onProgress: (progress: TrainingSetProgress & { readonly partitionsWritten?: number }) => void,
  intervalMs = 500,
): Promise<BuildTrainingSetResult> {
  // The partitions are written by one activity, which heartbeats how many it has written; the
  // workflow does not see that, so the written count is read from the run's pending activity.
  return waitWithProgress(handle, trainingSetProgressQuery, (progress) => {
    // Only the write stage has partitions in flight; the other polls need no describe call.
    if (progress.stage !== 'write') return onProgress(progress);
    void partitionsWritten(handle).then((written) => onProgress(written === undefined ? progress : { ...progress, partitionsWritten: written }), () => onProgress(progress));
  }, intervalMs);
}

/** How many partitions the run's write activity says it has written (its last heartbeat), if it is running. */
async function partitionsWritten(handle: WorkflowHandle<typeof buildTrainingSet>): Promise<number | undefined> {
  const { raw } = await handle.describe();
  const writing = raw.pendingActivities?.find((activity) => activity.activityType?.name === 'writeTrainingSetFiles');
  const payload = writing?.heartbeatDetails?.payloads?.[0];
  if (!payload) return undefined;
  const details = defaultPayloadConverter.fromPayload<{ done?: unknown }>(payload as Payload);
  return typeof details?.done === 'number' ? details.done : undefined;
}
