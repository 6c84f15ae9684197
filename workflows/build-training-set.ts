import {
  CancellationScope,
  defineQuery,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { TrainingSetActivities } from '../activities/training-set.ts';
import { FLYWHEEL_KIND, FLYWHEEL_OBJECT, FLYWHEEL_PROJECT, FLYWHEEL_RANGE_END, FLYWHEEL_RANGE_START } from './search-attributes.ts';

export interface BuildTrainingSetInput {
  readonly project: string;
  readonly trainingSet: string;
  /** Inclusive lower bound on spine time (ISO-8601 instant); omitted means from the beginning. */
  readonly from?: string;
  /** Exclusive upper bound on spine time; omitted means up to now. */
  readonly to?: string;
  /** Registry version to read; omitted means the latest applied when the run starts. */
  readonly registryVersion?: number;
}

export interface BuildTrainingSetResult {
  readonly trainingSet: string;
  readonly version: string;
  readonly registryVersion: number;
  readonly rowCount: number;
  readonly datasetUri: string;
  readonly manifestUri: string;
}

export const TRAINING_SET_STAGES = ['plan', 'join', 'export', 'publish', 'cleanup'] as const;
export type TrainingSetStage = (typeof TRAINING_SET_STAGES)[number] | 'done';

export interface TrainingSetProgress {
  readonly stage: TrainingSetStage;
  readonly completedStages: number;
  readonly totalStages: number;
  readonly rowCount?: number;
}

/** Query the CLI polls to draw its progress bar; also visible in the Temporal UI's Queries tab. */
export const trainingSetProgressQuery = defineQuery<TrainingSetProgress>('progress');

const { planTrainingSet, joinTrainingSet, exportTrainingSet, publishTrainingSet, dropRunTable } = proxyActivities<TrainingSetActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * Builds one version of a training set: pin the registry version, point-in-time join the spine with
 * the feature views in the warehouse, export Parquet to the object store, then publish the manifest.
 * Only names, times and URIs pass through here; the rows stay in the warehouse and object store.
 */
export async function buildTrainingSet(input: BuildTrainingSetInput): Promise<BuildTrainingSetResult> {
  let progress: TrainingSetProgress = { stage: 'plan', completedStages: 0, totalStages: TRAINING_SET_STAGES.length };
  setHandler(trainingSetProgressQuery, () => progress);
  const advance = (stage: TrainingSetStage, rowCount?: number) => {
    progress = { stage, completedStages: progress.completedStages + 1, totalStages: TRAINING_SET_STAGES.length, ...(rowCount !== undefined ? { rowCount } : progress.rowCount !== undefined ? { rowCount: progress.rowCount } : {}) };
  };

  // Set here as well as by the client, so runs started by a Schedule are just as easy to find.
  upsertSearchAttributes([
    { key: FLYWHEEL_PROJECT, value: input.project },
    { key: FLYWHEEL_KIND, value: 'training-set' },
    { key: FLYWHEEL_OBJECT, value: input.trainingSet },
    ...(input.from ? [{ key: FLYWHEEL_RANGE_START, value: new Date(input.from) }] : []),
    ...(input.to ? [{ key: FLYWHEEL_RANGE_END, value: new Date(input.to) }] : []),
  ]);

  const info = workflowInfo();
  const runKey = datasetVersion(info.runStartTime, info.runId);

  const plan = await planTrainingSet({ trainingSet: input.trainingSet, ...(input.registryVersion !== undefined ? { registryVersion: input.registryVersion } : {}) });
  advance('join');
  const run = {
    trainingSet: input.trainingSet,
    registryVersion: plan.registryVersion,
    runKey,
    ...(input.from !== undefined ? { from: input.from } : {}),
    ...(input.to !== undefined ? { to: input.to } : {}),
  };

  const joined = await joinTrainingSet(run);
  try {
    advance('export', joined.rowCount);
    const files = await exportTrainingSet({ table: joined.table, outputPath: plan.outputPath, runKey });
    advance('publish');
    const published = await publishTrainingSet({ run, plan, table: joined.table, files, createdAt: info.runStartTime.toISOString() });
    advance('cleanup');
    return {
      trainingSet: input.trainingSet,
      version: published.version,
      registryVersion: plan.registryVersion,
      rowCount: published.rowCount,
      datasetUri: published.datasetUri,
      manifestUri: published.manifestUri,
    };
  } finally {
    // Runs even when the workflow is cancelled, so working tables do not pile up in the warehouse.
    await CancellationScope.nonCancellable(() => dropRunTable({ table: joined.table }));
    advance('done');
  }
}

/** `20261126T190012_3f2a9c1e`: sortable by start time, unique per run, the same on every replay. */
function datasetVersion(start: Date, runId: string): string {
  const stamp = start.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
  return `${stamp}_${runId.replace(/-/g, '').slice(0, 8)}`;
}
