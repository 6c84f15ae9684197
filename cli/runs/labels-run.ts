import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { ResolvedTemporalConfig } from '../../core/config.ts';
import { FlywheelError } from '../../core/errors.ts';
import { buildLabels, labelsProgressQuery, type BuildLabelsInput, type BuildLabelsResult, type LabelsProgress } from '../../workflows/build-labels.ts';
import { runSearchAttributes } from '../../workflows/search-attributes.ts';
import { labelsRunId } from '../../core/run-ids.ts';
import { waitWithProgress } from './wait-with-progress.ts';

/** `<project>/labels/<name>/<range, or the instant it labels as of>` (workflows/run-ids.ts). */
export function labelsWorkflowId(input: Pick<BuildLabelsInput, 'project' | 'labels' | 'from' | 'to' | 'asOf'>, now: Date): string {
  return labelsRunId(input.project, input.labels, input, input.asOf ?? secondsOf(now));
}

/** `now` to the second: ids of runs as of now read `2026-12-04T21:05:03Z`. */
export function secondsOf(now: Date): string {
  return new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString();
}

export async function startLabelsRun(client: Client, temporal: ResolvedTemporalConfig, input: BuildLabelsInput): Promise<WorkflowHandle<typeof buildLabels>> {
  const workflowId = labelsWorkflowId(input, new Date());
  try {
    return await client.workflow.start(buildLabels, {
      args: [input],
      taskQueue: temporal.taskQueues.labels,
      workflowId,
      typedSearchAttributes: runSearchAttributes({ project: input.project, kind: 'labels', object: input.labels, from: input.from, to: input.to }),
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new FlywheelError(`A run with id "${workflowId}" is already in progress`, { cause: error });
    throw error;
  }
}

/** Waits for a labels run, reporting progress; Ctrl-C cancels it (partitions already published stay). */
export async function waitForLabelsRun(
  handle: WorkflowHandle<typeof buildLabels>,
  onProgress: (progress: LabelsProgress) => void,
  intervalMs = 500,
): Promise<BuildLabelsResult> {
  const cancel = () => void handle.cancel();
  process.once('SIGINT', cancel);
  try {
    return await waitWithProgress(handle, labelsProgressQuery, onProgress, intervalMs);
  } finally {
    process.removeListener('SIGINT', cancel);
  }
}
