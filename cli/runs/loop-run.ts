import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { ResolvedTemporalConfig } from '../../core/config.ts';
import { FlywheelError } from '../../core/errors.ts';
import { splitWorkloadQueues } from '../../core/task-queues.ts';
import { flywheelLoop, loopProgressQuery, type FlywheelLoopInput, type FlywheelLoopResult, type LoopProgress } from '../../workflows/flywheel-loop.ts';
import { runSearchAttributes } from '../../workflows/search-attributes.ts';
import { loopRunId } from '../../core/run-ids.ts';
import { secondsOf } from './labels-run.ts';
import { waitWithProgress } from './wait-with-progress.ts';

/** `<project>/loop/<name or "all">/<as-of>` (workflows/run-ids.ts); its stages are children `<loop id>/<stage id>`. */
export function loopWorkflowId(input: FlywheelLoopInput, now: Date): string {
  return loopRunId(input.project, input.loop, input.asOf ?? secondsOf(now));
}

export async function startLoopRun(client: Client, temporal: ResolvedTemporalConfig, input: FlywheelLoopInput, workflowId = loopWorkflowId(input, new Date())): Promise<WorkflowHandle<typeof flywheelLoop>> {
  try {
    return await client.workflow.start(flywheelLoop, {
      // The loop orchestrates on the project queue; its stages start on their workloads' queues.
      args: [withStageQueues(input, temporal)],
      taskQueue: temporal.taskQueues.project,
      workflowId,
      typedSearchAttributes: runSearchAttributes({ project: input.project, kind: 'loop', ...(input.loop !== undefined ? { object: input.loop } : {}), to: input.asOf }),
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new FlywheelError(`A run with id "${workflowId}" is already in progress`, { cause: error });
    throw error;
  }
}

/** The loop's input with the queues of its stages' workloads, when they are split from the project queue. */
export function withStageQueues(input: FlywheelLoopInput, temporal: ResolvedTemporalConfig): FlywheelLoopInput {
  const taskQueues = splitWorkloadQueues(temporal.taskQueues);
  return taskQueues ? { ...input, taskQueues } : input;
}

/** Waits for a loop, reporting its progress (see waitWithProgress). */
export function waitForLoopRun(handle: WorkflowHandle<typeof flywheelLoop>, onProgress: (progress: LoopProgress) => void, intervalMs = 500): Promise<FlywheelLoopResult> {
  return waitWithProgress(handle, loopProgressQuery, onProgress, intervalMs);
}
