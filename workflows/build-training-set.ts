import { defineQuery, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { RunConsistency, TrainingSetActivities } from '../activities/training-set.ts';
import { runKey } from './run-key.ts';
import { runSearchAttributes } from './search-attributes.ts';

export interface BuildTrainingSetInput {
  readonly project: string;
  readonly trainingSet: string;
  /** Inclusive lower bound on spine time (ISO-8601 instant, on a partition boundary); omitted means every partition. */
  readonly from?: string;
  /** Exclusive upper bound on spine time (on a partition boundary). */
  readonly to?: string;
  /** Registry version to read; omitted means the latest applied when the run starts. */
  readonly registryVersion?: number;
  /** Rebuild the dataset's `_manifest.json` after publishing (default true; a backfill does it once at the end). */
  readonly updateIndex?: boolean;
}

export interface BuildTrainingSetResult {
  readonly trainingSet: string;
  /** This run's key, recorded as the version of every partition it wrote. */
  readonly version: string;
  readonly registryVersion: number;
  readonly rowCount: number;
  readonly partitions: readonly { readonly key: string; readonly rowCount: number }[];
  /** True when the range held no spine rows: the partitions exist, empty, with their manifests. */
  readonly empty: boolean;
  readonly skippedNullTimestamps: number;
  readonly datasetUri: string;
  readonly manifestUri: string;
  /** For a training set built from a decision log: where the values came from, and the skew of the logged ones (docs/training-from-logs.md). */
  readonly consistency?: RunConsistency;
}

export const TRAINING_SET_STAGES = ['plan', 'write', 'publish'] as const;
export type TrainingSetStage = (typeof TRAINING_SET_STAGES)[number] | 'done';

export interface TrainingSetProgress {
  readonly stage: TrainingSetStage;
  readonly completedStages: number;
  readonly totalStages: number;
  readonly partitions?: number;
  readonly rowCount?: number;
}

/** Query the CLI polls to draw its progress bar; also visible in the Temporal UI's Queries tab. */
export const trainingSetProgressQuery = defineQuery<TrainingSetProgress>('progress');

const { planTrainingSet, writeTrainingSetFiles, publishTrainingSet } = proxyActivities<TrainingSetActivities>({
  startToCloseTimeout: '4 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * Builds a training set, or the partitions of it in [from, to): pin the registry version, join the
 * spine with the feature views point in time and stage Parquet per partition, then publish each
 * partition (files, then its manifest) and the dataset index. Only names, times and keys pass through
 * here; rows stay in the warehouse and the object store.
 */
export async function buildTrainingSet(input: BuildTrainingSetInput): Promise<BuildTrainingSetResult> {
  let progress: TrainingSetProgress = { stage: 'plan', completedStages: 0, totalStages: TRAINING_SET_STAGES.length };
  setHandler(trainingSetProgressQuery, () => progress);
  const advance = (stage: TrainingSetStage, extra: Partial<TrainingSetProgress> = {}) => {
    progress = { ...progress, ...extra, stage, completedStages: progress.completedStages + 1 };
  };

  const info = workflowInfo();
  const key = runKey(info.runStartTime, info.runId);
  const range = { ...(input.from !== undefined ? { from: input.from } : {}), ...(input.to !== undefined ? { to: input.to } : {}) };
  // Set here as well as by the client, so runs started by a Schedule or a backfill are just as easy to find.
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'training-set', object: input.trainingSet, ...range }));

  const plan = await planTrainingSet({ trainingSet: input.trainingSet, ...range, ...(input.registryVersion !== undefined ? { registryVersion: input.registryVersion } : {}) });
  advance('write', plan.partitions ? { partitions: plan.partitions.length } : {});
  const run = { trainingSet: input.trainingSet, registryVersion: plan.registryVersion, runKey: key, ...range };

  const staged = await writeTrainingSetFiles({ run, plan });
  advance('publish', { partitions: staged.partitionCount, rowCount: staged.rowCount });
  const published = await publishTrainingSet({ run, plan, stagedRunKey: staged.stagedRunKey, createdAt: info.runStartTime.toISOString(), updateIndex: input.updateIndex ?? true });
  advance('done');
  return {
    trainingSet: input.trainingSet,
    version: key,
    registryVersion: plan.registryVersion,
    rowCount: published.rowCount,
    partitions: published.partitions,
    empty: published.rowCount === 0,
    skippedNullTimestamps: staged.skippedNullTimestamps,
    datasetUri: published.datasetUri,
    manifestUri: published.manifestUri,
    ...(published.consistency ? { consistency: published.consistency } : {}),
  };
}
