import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './deps.ts';

/** The failure type of a run refused because it belongs to another project (non-retryable). */
export const WRONG_PROJECT_FAILURE = 'WrongProjectError';

/**
 * The project check every workflow makes first (workflows/project-guard.ts), as a local activity:
 * activities read the registry of the worker's project (deps.project), not the run's, so a run of
 * another project that reached this worker (two projects given one task queue) must stop here, before
 * it reads or writes anything.
 */
export function createProjectGuardActivities(deps: Pick<ActivityDeps, 'project'>) {
  return {
    async assertWorkerProject(input: { readonly project: string; readonly taskQueue: string }): Promise<void> {
      if (input.project === deps.project) return;
      throw ApplicationFailure.nonRetryable(
        `This worker serves project "${deps.project}", but the run is for project "${input.project}" (task queue "${input.taskQueue}"); ` +
          `start a worker in project "${input.project}", or give each project its own task queue (temporal.taskQueue; the default is flywheel-<project>)`,
        WRONG_PROJECT_FAILURE,
      );
    },
  };
}

export type ProjectGuardActivities = ReturnType<typeof createProjectGuardActivities>;
