/**
 * Activities: thin, idempotent steps over connectors. The worker builds them from its profile's
 * connectors; workflows see them only as types.
 *
 * @example
 * const activities = createActivities({ project, openEngine, registry, objectStore, scratchDir });
 * await Worker.create({ activities, taskQueue, workflowBundle });
 */
import type { ActivityDeps } from './deps.ts';
import { createBatchScoringActivities } from './batch-scoring.ts';
import { createIngestActivities } from './ingest.ts';
import { createLabelActivities } from './labels.ts';
import { createLoopActivities } from './loop.ts';
import { createMaterializeActivities } from './materialize.ts';
import { createProjectGuardActivities } from './project-guard.ts';
import { createQuarantineActivities } from './quarantine.ts';
import { createOnlineRetentionActivities, createRetentionActivities } from './retention.ts';
import { createTrainingSetActivities } from './training-set.ts';

export type { ActivityDeps, RegistryReader, RegistryVersion } from './deps.ts';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createTrainingSetActivities(deps),
    ...createIngestActivities(deps),
    ...createQuarantineActivities(deps),
    ...createMaterializeActivities(deps),
    ...createLabelActivities(deps),
    ...createLoopActivities(deps),
    ...createRetentionActivities(deps),
    ...createOnlineRetentionActivities(deps),
    ...createProjectGuardActivities(deps),
    ...createBatchScoringActivities(deps),
  };
}

export type FlywheelActivities = ReturnType<typeof createActivities>;
