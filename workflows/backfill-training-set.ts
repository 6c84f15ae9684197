import {
  ApplicationFailure,
  continueAsNew,
  defineQuery,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { TrainingSetActivities } from '../activities/training-set.ts';
import { partitionFromKey } from '../core/training-set/partitions.ts';
import { buildTrainingSet, type BuildTrainingSetResult } from './build-training-set.ts';
import { FLYWHEEL_PARTITIONS_DONE, FLYWHEEL_PARTITIONS_FAILED, FLYWHEEL_PARTITIONS_TOTAL, runSearchAttributes } from './search-attributes.ts';
import { trainingSetRunId } from '../core/run-ids.ts';
import { PartitionRunner } from './partition-runner.ts';

export interface BackfillTrainingSetInput {
  readonly project: string;
  readonly trainingSet: string;
  /** Partition-aligned range [from, to) of spine time (ISO-8601 instants). */
  readonly from: string;
  readonly to: string;
  /** Only these partitions of the range (`--only-failed`); default: all of them. */
  readonly only?: readonly string[];
  /** How many partitions build at once (default 2). */
  readonly concurrency?: number;
  /** Newest partition first. */
  readonly reverse?: boolean;
  /** Attempts per partition (each one a whole child run, on top of activity retries); default 2. */
  readonly maxAttempts?: number;
  /** Partitions started per run before continuing as new, keeping the history bounded (default 100). */
  readonly partitionsPerRun?: number;
  /** Carried across continue-as-new; not for callers. */
  readonly state?: BackfillState;
}

interface BackfillState {
  readonly registryVersion: number;
  readonly outputPath: string;
  readonly partitionBy: 'day' | 'hour' | 'month' | 'none';
  /** Partitions still to start, in the order they will start: key, start, end. */
  readonly pending: readonly PartitionRef[];
  readonly total: number;
  readonly done: number;
  readonly rowCount: number;
  readonly failed: readonly FailedPartition[];
}

interface PartitionRef {
  readonly key: string;
  readonly start: string;
  readonly end: string;
}

export interface FailedPartition {
  readonly key: string;
  readonly error: string;
}

export interface BackfillProgress {
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  readonly running: readonly string[];
  readonly pending: number;
}

export interface BackfillTrainingSetResult {
  readonly trainingSet: string;
  readonly registryVersion: number;
  readonly total: number;
  readonly succeeded: number;
  readonly rowCount: number;
  /** Partitions that still failed after every attempt; re-run them with `flywheel backfill --only-failed`. */
  readonly failed: readonly FailedPartition[];
}

/** The CLI polls this for its progress bar; it is also in the Temporal UI's Queries tab. */
export const backfillProgressQuery = defineQuery<BackfillProgress>('progress');

const { planTrainingSet, rebuildDatasetIndex } = proxyActivities<TrainingSetActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * Rebuilds every partition of a training set in a range, each as its own `buildTrainingSet` child
 * workflow (so each can be inspected, retried and cancelled on its own), a few at a time. A partition
 * that still fails after its attempts is recorded and the backfill goes on; the result lists them.
 * After `partitionsPerRun` partitions the workflow continues as new, so three years of days keep the
 * history small. Cancelling it cancels the running children, which stop their activities.
 */
export async function backfillTrainingSet(input: BackfillTrainingSetInput): Promise<BackfillTrainingSetResult> {
  const concurrency = Math.max(1, input.concurrency ?? 2);
  const partitionsPerRun = Math.max(concurrency, input.partitionsPerRun ?? 100);

  let state: BackfillState = input.state ?? (await firstState(input));
  setHandler(backfillProgressQuery, () => ({ total: state.total, done: state.done, failed: state.failed.length, running: runner.running(), pending: state.pending.length }));

  const publishProgress = () =>
    upsertSearchAttributes([
      { key: FLYWHEEL_PARTITIONS_TOTAL, value: state.total },
      { key: FLYWHEEL_PARTITIONS_DONE, value: state.done },
      { key: FLYWHEEL_PARTITIONS_FAILED, value: state.failed.length },
    ]);
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'backfill', object: input.trainingSet, from: input.from, to: input.to }));
  publishProgress();

  /** One partition as a child run; a failure after its attempts is recorded, a cancellation ends the backfill. */
  const runOne = async (partition: PartitionRef): Promise<void> => {
    let handle: ChildWorkflowHandle<typeof buildTrainingSet> | undefined;
    try {
      handle = await startChild(buildTrainingSet, {
        // The partition's own run id: the one `flywheel run training-set --from --to` and schedules give it.
        workflowId: trainingSetRunId(input.project, input.trainingSet, partition.start, partition.end),
        args: [{ project: input.project, trainingSet: input.trainingSet, from: partition.start, to: partition.end, registryVersion: state.registryVersion, updateIndex: false }],
        retry: { maximumAttempts: Math.max(1, input.maxAttempts ?? 2), initialInterval: '5 seconds' },
        // Cancelling the backfill cancels its children; if the backfill is terminated, they are too.
        parentClosePolicy: ParentClosePolicy.TERMINATE,
      });
      const result: BuildTrainingSetResult = await handle.result();
      state = { ...state, done: state.done + 1, rowCount: state.rowCount + result.rowCount };
    } catch (error) {
      if (isCancellation(error)) throw error;
      state = { ...state, failed: [...state.failed, { key: partition.key, error: rootMessage(error) }] };
    }
  };

  const runner = new PartitionRunner<PartitionRef>({
    concurrency,
    startLimit: partitionsPerRun,
    next: () => {
      const [next, ...rest] = state.pending;
      if (next) state = { ...state, pending: rest };
      return next;
    },
    keyOf: (partition) => partition.key,
    run: (partition) => runOne(partition),
    afterEach: () => publishProgress(),
  });
  const { limitReached } = await runner.run();
  // History stays bounded: after partitionsPerRun partitions the next run starts fresh with what is left.
  if (limitReached && state.pending.length > 0) await continueAsNew<typeof backfillTrainingSet>({ ...input, state });

  await rebuildDatasetIndex({ trainingSet: input.trainingSet, outputPath: state.outputPath, partitionBy: state.partitionBy });
  return { trainingSet: input.trainingSet, registryVersion: state.registryVersion, total: state.total, succeeded: state.done, rowCount: state.rowCount, failed: state.failed };
}

async function firstState(input: BackfillTrainingSetInput): Promise<BackfillState> {
  const plan = await planTrainingSet({ trainingSet: input.trainingSet, from: input.from, to: input.to });
  const inRange = (plan.partitions ?? []).map((key) => partitionRef(key, plan.partitionBy));
  let selected = inRange;
  if (input.only) {
    const known = new Set(inRange.map((p) => p.key));
    const outside = input.only.filter((key) => !known.has(key));
    if (outside.length > 0) throw ApplicationFailure.nonRetryable(`partitions outside ${input.from} .. ${input.to}: ${outside.join(', ')}`, 'PartitionRangeError');
    const wanted = new Set(input.only);
    selected = inRange.filter((p) => wanted.has(p.key));
  }
  const pending = input.reverse ? [...selected].reverse() : selected;
  return { registryVersion: plan.registryVersion, outputPath: plan.outputPath, partitionBy: plan.partitionBy, pending, total: pending.length, done: 0, rowCount: 0, failed: [] };
}

function partitionRef(key: string, unit: BackfillState['partitionBy']): PartitionRef {
  const partition = partitionFromKey(key, unit);
  if (!partition?.start || !partition.end) throw ApplicationFailure.nonRetryable(`"${key}" is not a ${unit} partition`, 'PartitionRangeError');
  return { key, start: partition.start, end: partition.end };
}

function rootMessage(error: unknown): string {
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return cause instanceof Error ? cause.message : String(cause);
}
