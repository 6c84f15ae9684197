import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
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
import { runSearchAttributes } from '../../workflows/search-attributes.ts';

/**
 * The id of a training-set run: readable in the Temporal UI, and unique per request unless the caller
 * gives one (a second start with the same id is refused while the first is running).
 */
export function trainingSetWorkflowId(input: BuildTrainingSetInput, now: Date): string {
  const range = input.from || input.to ? `-${input.from ?? 'start'}..${input.to ?? 'now'}` : '';
  return `${input.project}/training-set/${input.trainingSet}${range}/${now.toISOString()}`;
}

export async function startTrainingSetRun(
  client: Client,
  temporal: ResolvedTemporalConfig,
  input: BuildTrainingSetInput,
  workflowId = trainingSetWorkflowId(input, new Date()),
): Promise<WorkflowHandle<typeof buildTrainingSet>> {
  try {
    return await client.workflow.start(buildTrainingSet, {
      args: [input],
      taskQueue: temporal.taskQueue,
      workflowId,
      typedSearchAttributes: runSearchAttributes({ project: input.project, kind: 'training-set', object: input.trainingSet, from: input.from, to: input.to }),
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      throw new FlywheelError(`A run with id "${workflowId}" is already in progress; wait for it or pick another id`, { cause: error });
    }
    throw error;
  }
}

/** Waits for a run, reporting its progress (see waitWithProgress). */
export function waitForTrainingSetRun(
  handle: WorkflowHandle<typeof buildTrainingSet>,
  onProgress: (progress: TrainingSetProgress) => void,
  intervalMs = 500,
): Promise<BuildTrainingSetResult> {
  return waitWithProgress(handle, trainingSetProgressQuery, onProgress, intervalMs);
}
