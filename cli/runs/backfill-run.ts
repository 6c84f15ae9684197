import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { ResolvedTemporalConfig } from '../../core/config.ts';
import { FlywheelError, NotFoundError } from '../../core/errors.ts';
import {
  backfillProgressQuery,
  backfillTrainingSet,
  type BackfillProgress,
  type BackfillTrainingSetInput,
  type BackfillTrainingSetResult,
} from '../../workflows/backfill-training-set.ts';
import { FLYWHEEL_RANGE_END, FLYWHEEL_RANGE_START, runSearchAttributes } from '../../workflows/search-attributes.ts';
import { backfillRunId } from '../../core/run-ids.ts';
import { waitWithProgress } from './wait-with-progress.ts';

/** `<project>/backfill/<training set>/<from>..<to>` (workflows/run-ids.ts); its partitions' children have their training-set run ids. */
export function backfillWorkflowId(input: Pick<BackfillTrainingSetInput, 'project' | 'trainingSet' | 'from' | 'to'>): string {
  return backfillRunId(input.project, input.trainingSet, input.from, input.to);
}

export async function startBackfill(client: Client, temporal: ResolvedTemporalConfig, input: BackfillTrainingSetInput): Promise<WorkflowHandle<typeof backfillTrainingSet>> {
  const workflowId = backfillWorkflowId(input);
  try {
    return await client.workflow.start(backfillTrainingSet, {
      args: [input],
      taskQueue: temporal.taskQueues.trainingSets,
      workflowId,
      typedSearchAttributes: runSearchAttributes({ project: input.project, kind: 'backfill', object: input.trainingSet, from: input.from, to: input.to }),
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new FlywheelError(`A backfill with id "${workflowId}" is already running`, { cause: error });
    throw error;
  }
}

/** Waits for a backfill, reporting progress; Ctrl-C cancels it and waits for its partitions to stop. */
export async function waitForBackfill(
  handle: WorkflowHandle<typeof backfillTrainingSet>,
  onProgress: (progress: BackfillProgress) => void,
  onCancel: () => void = () => {},
  intervalMs = 500,
): Promise<BackfillTrainingSetResult> {
  const cancel = () => {
    onCancel();
    void handle.cancel();
  };
  process.once('SIGINT', cancel);
  try {
    return await waitWithProgress(handle, backfillProgressQuery, onProgress, intervalMs);
  } finally {
    process.removeListener('SIGINT', cancel);
  }
}

/** The most recent finished backfill of a training set, with its range and the partitions that failed. */
export async function lastBackfill(client: Client, project: string, trainingSet: string): Promise<{ workflowId: string; from: string; to: string; result: BackfillTrainingSetResult }> {
  const query = `FlywheelProject = '${project.replaceAll("'", '')}' AND FlywheelKind = 'backfill' AND FlywheelObject = '${trainingSet.replaceAll("'", '')}' AND ExecutionStatus != 'Running'`;
  let latest: { workflowId: string; startTime: Date; from?: Date; to?: Date } | undefined;
  for await (const execution of client.workflow.list({ query })) {
    if (!latest || execution.startTime > latest.startTime) {
      latest = {
        workflowId: execution.workflowId,
        startTime: execution.startTime,
        ...(execution.typedSearchAttributes.get(FLYWHEEL_RANGE_START) ? { from: execution.typedSearchAttributes.get(FLYWHEEL_RANGE_START)! } : {}),
        ...(execution.typedSearchAttributes.get(FLYWHEEL_RANGE_END) ? { to: execution.typedSearchAttributes.get(FLYWHEEL_RANGE_END)! } : {}),
      };
    }
  }
  if (!latest?.from || !latest.to) throw new NotFoundError('finished backfill of training set', trainingSet, 'Nothing to re-run');
  const result = (await client.workflow.getHandle<typeof backfillTrainingSet>(latest.workflowId).result().catch((error: unknown) => {
    throw new FlywheelError(`The last backfill (${latest!.workflowId}) did not complete, so its failed partitions are unknown; run the range again`, { cause: error });
  }));
  return { workflowId: latest.workflowId, from: latest.from.toISOString(), to: latest.to.toISOString(), result };
}
