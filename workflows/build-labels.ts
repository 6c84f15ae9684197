import {
  ApplicationFailure,
  continueAsNew,
  defineQuery,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { LabelActivities, LabelBuildTask, LabelPartitionRun, LabelsPlan } from '../activities/labels.ts';
import { instantInput } from './instant-input.ts';
import { runKey } from './run-key.ts';
import { FLYWHEEL_PARTITIONS_DONE, FLYWHEEL_PARTITIONS_FAILED, FLYWHEEL_PARTITIONS_TOTAL, runSearchAttributes } from './search-attributes.ts';
import { labelPartitionRunId } from '../core/run-ids.ts';
import { PartitionRunner } from './partition-runner.ts';

export interface BuildLabelsInput {
  readonly project: string;
  readonly labels: string;
  /** Inclusive start of decision time (a partition boundary); with `to`. Omitted: every partition that is due. */
  readonly from?: string;
  /** Exclusive end of decision time (a partition boundary). */
  readonly to?: string;
  /** The instant the labels are as of; default the time the run was scheduled for, else when it started. */
  readonly asOf?: string;
  /** Also build partitions whose window is still open for some decisions (only their mature decisions are labeled). */
  readonly includeOpen?: boolean;
  /** Rebuild every partition of the range, up to date or not (reason `requested`). */
  readonly rebuild?: boolean;
  /** Partitions built at once (default 2). */
  readonly concurrency?: number;
  /** Partitions started per run before continuing as new (default 100), keeping the history small. */
  readonly partitionsPerRun?: number;
  /** Carried across continue-as-new; not for callers. */
  readonly state?: BuildLabelsState;
}

/** What happened to a partition in a run, and why: what the Temporal UI's memo and the CLI show. */
export interface LabelPartitionOutcome {
  readonly key: string;
  /** `built` the first time, `rebuilt` after; `up-to-date` and `open` were left alone; `superseded`: another run published first. */
  readonly action: 'built' | 'rebuilt' | 'up-to-date' | 'open' | 'superseded' | 'failed';
  readonly reason: string;
  readonly version?: number;
  readonly rowCount?: number;
  readonly positives?: number;
}

export interface BuildLabelsResult {
  readonly labels: string;
  readonly registryVersion: number;
  readonly asOf: string;
  readonly watermarks: LabelsPlan['watermarks'];
  /** Every partition the run looked at, in key order. */
  readonly partitions: readonly LabelPartitionOutcome[];
  readonly built: number;
  readonly rebuilt: number;
  readonly upToDate: number;
  readonly open: number;
  readonly failed: number;
  /** True when the run wrote nothing: every partition was up to date (or open). */
  readonly upToDateRun: boolean;
  readonly datasetUri?: string;
  readonly manifestUri?: string;
}

export interface LabelsProgress {
  readonly stage: 'planning' | 'building' | 'indexing' | 'done';
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  readonly running: readonly string[];
  readonly pending: number;
}

interface BuildLabelsState {
  readonly plan: Omit<LabelsPlan, 'builds' | 'skipped'>;
  readonly pending: readonly LabelBuildTask[];
  readonly total: number;
  readonly outcomes: readonly LabelPartitionOutcome[];
}

/** The CLI polls this for its progress bar; it is also in the Temporal UI's Queries tab. */
export const labelsProgressQuery = defineQuery<LabelsProgress>('progress');

const { planLabels, rebuildLabelIndex } = proxyActivities<LabelActivities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

const { writeLabelPartition, publishLabelPartition } = proxyActivities<LabelActivities>({
  startToCloseTimeout: '4 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/** Set by Temporal on every workflow a Schedule starts: the time it was scheduled for. */
const TEMPORAL_SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/**
 * Builds a labels dataset (docs/labels.md): plans which partitions of decision time need building and
 * why (new, late outcomes or decisions, definition changed, was open, requested), builds each as a
 * child `buildLabelPartition` workflow (a few at a time), then rebuilds the dataset index. A run with
 * nothing to do writes nothing. Started by `flywheel labels build` and by the labels' Schedule.
 */
export async function buildLabels(input: BuildLabelsInput): Promise<BuildLabelsResult> {
  const concurrency = Math.max(1, input.concurrency ?? 2);
  const partitionsPerRun = Math.max(concurrency, input.partitionsPerRun ?? 100);
  const info = workflowInfo();
  let progress: LabelsProgress = { stage: 'planning', total: 0, done: 0, failed: 0, running: [], pending: 0 };
  setHandler(labelsProgressQuery, () => progress);
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'labels', object: input.labels, from: input.from, to: input.to }));

  let state: BuildLabelsState = input.state ?? (await firstState(input, info));
  const outcomes: LabelPartitionOutcome[] = [...state.outcomes];
  // Builds the partitions a few at a time (runOne, below); report() lists the running ones.
  const runner = new PartitionRunner<LabelBuildTask>({
    concurrency,
    startLimit: partitionsPerRun,
    next: () => {
      const [next, ...rest] = state.pending;
      if (next) state = { ...state, pending: rest };
      return next;
    },
    keyOf: (task) => task.partition.key,
    run: (task) => runOne(task),
    afterEach: () => report(),
  });
  const report = () => {
    const done = outcomes.filter((o) => o.action === 'built' || o.action === 'rebuilt' || o.action === 'superseded').length;
    const failed = outcomes.filter((o) => o.action === 'failed').length;
    progress = { stage: progress.stage, total: state.total, done, failed, running: runner.running(), pending: state.pending.length };
    upsertSearchAttributes([
      { key: FLYWHEEL_PARTITIONS_TOTAL, value: state.total },
      { key: FLYWHEEL_PARTITIONS_DONE, value: done },
      { key: FLYWHEEL_PARTITIONS_FAILED, value: failed },
    ]);
    upsertMemo(memoOf(state.plan, outcomes));
  };
  progress = { ...progress, stage: 'building' };
  report();

  const { plan } = state;
  const runOne = async (task: LabelBuildTask): Promise<void> => {
    const run: Omit<LabelPartitionRun, 'build'> = {
      labels: plan.labels, registryVersion: plan.registryVersion, outputPath: plan.outputPath, partition: task.partition, asOf: plan.asOf, watermarks: plan.watermarks,
    };
    try {
      const handle = await startChild(buildLabelPartition, {
        // One id per partition, across runs: two builds of one partition never run at once.
        workflowId: labelPartitionRunId(input.project, plan.labels, task.partition.key),
        args: [{ project: input.project, run, task }],
        memo: { reason: task.reason },
        parentClosePolicy: ParentClosePolicy.TERMINATE,
      });
      outcomes.push(await handle.result());
    } catch (error) {
      if (isCancellation(error)) throw error;
      const message = error instanceof WorkflowExecutionAlreadyStartedError ? 'another run is building this partition now' : rootMessage(error);
      outcomes.push({ key: task.partition.key, action: 'failed', reason: `${task.reason}; failed: ${message}` });
    }
  };

  const { limitReached } = await runner.run();
  // History stays bounded: the next run starts fresh with what is left.
  if (limitReached && state.pending.length > 0) await continueAsNew<typeof buildLabels>({ ...input, state: { ...state, outcomes } });

  const published = outcomes.some((o) => o.action === 'built' || o.action === 'rebuilt');
  let index: { datasetUri: string; manifestUri: string } | undefined;
  if (published || !plan.indexCurrent) {
    progress = { ...progress, stage: 'indexing' };
    index = await rebuildLabelIndex({ labels: plan.labels, outputPath: plan.outputPath, partitionBy: plan.partitionBy });
  }
  progress = { ...progress, stage: 'done' };
  report();
  const sorted = [...outcomes].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const count = (action: LabelPartitionOutcome['action']) => sorted.filter((o) => o.action === action).length;
  return {
    labels: plan.labels, registryVersion: plan.registryVersion, asOf: plan.asOf, watermarks: plan.watermarks, partitions: sorted,
    built: count('built'), rebuilt: count('rebuilt'), upToDate: count('up-to-date'), open: count('open'), failed: count('failed'),
    upToDateRun: !published && index === undefined && count('failed') === 0,
    ...(index ? { datasetUri: index.datasetUri, manifestUri: index.manifestUri } : {}),
  };
}

async function firstState(input: BuildLabelsInput, info: ReturnType<typeof workflowInfo>): Promise<BuildLabelsState> {
  if ((input.from === undefined) !== (input.to === undefined)) {
    throw ApplicationFailure.nonRetryable('give both from and to, or neither: partitions are built whole', 'PartitionRangeError');
  }
  const asOf = instantInput(input.asOf, 'asOf', () => info.typedSearchAttributes.get(TEMPORAL_SCHEDULED_START_TIME) ?? info.runStartTime);
  const { builds, skipped, ...plan } = await planLabels({
    labels: input.labels, asOf,
    ...(input.from !== undefined && input.to !== undefined ? { from: input.from, to: input.to } : {}),
    ...(input.includeOpen ? { includeOpen: true } : {}),
    ...(input.rebuild ? { rebuild: true } : {}),
  });
  const left: LabelPartitionOutcome[] = skipped.map((s) => ({ key: s.key, action: s.action, reason: s.reason, ...(s.version !== undefined ? { version: s.version } : {}) }));
  return { plan, pending: builds, total: builds.length, outcomes: left };
}

export interface BuildLabelPartitionInput {
  readonly project: string;
  readonly run: Omit<LabelPartitionRun, 'build'>;
  readonly task: LabelBuildTask;
}

/**
 * Builds one partition of a labels dataset: computes its labels into a staged Parquet file, then
 * publishes it as the next version (the file, then the manifest with the reason). Its memo says why.
 */
export async function buildLabelPartition(input: BuildLabelPartitionInput): Promise<LabelPartitionOutcome> {
  const info = workflowInfo();
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'labels', object: input.run.labels, from: input.run.partition.start ?? undefined, to: input.run.partition.end ?? undefined }));
  const run: LabelPartitionRun = { ...input.run, build: runKey(info.runStartTime, info.runId) };
  const { task } = input;
  const staged = await writeLabelPartition(run);
  const published = await publishLabelPartition({
    run, staged, expectedVersion: task.expectedVersion, causes: task.causes, reason: task.reason, complete: task.complete, createdAt: info.runStartTime.toISOString(),
  });
  if (published.status === 'superseded') {
    return { key: task.partition.key, action: 'superseded', reason: `${task.reason}; dropped: another run published version ${published.current} meanwhile`, version: published.current };
  }
  return {
    key: task.partition.key, action: task.expectedVersion === 0 ? 'built' : 'rebuilt', reason: task.reason,
    version: published.version, rowCount: published.rowCount, positives: published.positives,
  };
}

/** What the Temporal UI shows of a run: the partitions built, rebuilt or failed with their reasons (lists only when not empty), and how many were left alone. */
function memoOf(plan: BuildLabelsState['plan'], outcomes: readonly LabelPartitionOutcome[]): Record<string, unknown> {
  const listed = (action: LabelPartitionOutcome['action']) =>
    outcomes.filter((o) => o.action === action).sort((a, b) => (a.key < b.key ? -1 : 1)).slice(0, 200).map((o) => `${o.key}${o.version !== undefined ? ` v${o.version}` : ''}: ${o.reason}`);
  const lists = Object.fromEntries((['built', 'rebuilt', 'superseded', 'failed'] as const).map((action) => [action, listed(action)]).filter(([, list]) => list!.length > 0));
  return {
    asOf: plan.asOf,
    watermarks: plan.watermarks,
    ...lists,
    upToDate: outcomes.filter((o) => o.action === 'up-to-date').length,
    open: outcomes.filter((o) => o.action === 'open').length,
  };
}

function rootMessage(error: unknown): string {
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return cause instanceof Error ? cause.message : String(cause);
}
