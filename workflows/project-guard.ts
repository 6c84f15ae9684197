import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { proxyLocalActivities, workflowInfo, type WorkflowExecuteInput, type WorkflowInboundCallsInterceptor, type WorkflowInterceptorsFactory, type Next } from '@temporalio/workflow';
import type { ProjectGuardActivities } from '../activities/project-guard.ts';

const { assertWorkerProject } = proxyLocalActivities<ProjectGuardActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

/**
 * A workflow interceptor (bundled by the Flywheel worker, worker/create-worker.ts) that refuses a run
 * whose input's `project` is not the worker's: every Flywheel workflow's one argument carries its
 * project, and its activities act on the worker's. The check is one local activity (a marker in the
 * history, no task-queue round trip) before the workflow's own code; a mismatch fails the run at once
 * with a non-retryable WrongProjectError naming both projects.
 */
class ProjectGuard implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const project = (input.args[0] as { project?: unknown } | undefined)?.project;
    if (typeof project === 'string') {
      try {
        await assertWorkerProject({ project, taskQueue: workflowInfo().taskQueue });
      } catch (error) {
        // Fail the run with the activity's own failure, so the run's error is the message itself.
        if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure) {
          throw ApplicationFailure.nonRetryable(error.cause.message, error.cause.type ?? undefined);
        }
        throw error;
      }
    }
    return next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new ProjectGuard()] });
