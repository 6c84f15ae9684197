import { defaultTaskQueue } from './config.ts';
import { LOOP_STAGE_WORKFLOWS, type LoopStageKind } from './loop/plan-loop.ts';

/**
 * Which Temporal task queue each kind of run is started on (docs/deployment.md). Pure: the config
 * loader resolves a profile's queues once, and every starter (the CLI's run commands, the schedules
 * `flywheel apply` keeps, `flywheel serve`'s ingestion, the loop's stages) asks here.
 *
 * A project that names no queues keeps one, `temporal.taskQueue` (default `flywheel-<project>`),
 * for everything: a single `flywheel worker` runs it all, as before. Splitting gives each workload
 * its own queue, so workers polling only the ingest queue never wait behind a backfill.
 *
 * @example
 * const queues = resolveTaskQueues('shop', { taskQueues: 'per-workload' });
 * queues.ingest;                                  // 'flywheel-shop-ingest'
 * taskQueueOf(queues, 'backfillTrainingSet');     // 'flywheel-shop-training-sets'
 * taskQueueOf(queues, 'flywheelLoop');            // 'flywheel-shop' (the project queue)
 */

export const WORKLOADS = ['ingest', 'trainingSets', 'labels', 'materialization'] as const;
export type Workload = (typeof WORKLOADS)[number];

/** How a workload is written in queue names and on `flywheel worker --task-queue`. */
export const WORKLOAD_SLUGS = {
  ingest: 'ingest',
  trainingSets: 'training-sets',
  labels: 'labels',
  materialization: 'materialization',
} as const satisfies Record<Workload, string>;

/**
 * `temporal.taskQueues` in a profile: `'per-workload'` gives every workload `flywheel-<project>-<workload>`;
 * an object names the queues of some workloads, and the others stay on `temporal.taskQueue`.
 */
export type TaskQueuesConfig = 'per-workload' | { readonly [W in Workload]?: string };

/** Every workload's queue, and the project queue (`temporal.taskQueue`), which carries the flywheel loop. */
export type TaskQueues = { readonly project: string } & { readonly [W in Workload]: string };

/**
 * Where each workflow type runs. `project`: the project queue. The loop only orchestrates (one short
 * planning activity, then children on their own queues), so it stays off the workload queues, whose
 * activity slots a long run may fill. Retention deletes stream rows in bounded batches, started by the
 * ingest sweep, so it is ingestion's. Checked exhaustively against workflows/index.ts by a test.
 */
export const WORKFLOW_WORKLOADS = {
  ingestSegment: 'ingest',
  loadStreamSegment: 'ingest',
  ingestPending: 'ingest',
  ingestStream: 'ingest',
  ingestSweep: 'ingest',
  replayQuarantine: 'ingest',
  replayStreamQuarantine: 'ingest',
  enforceRetention: 'ingest',
  buildTrainingSet: 'trainingSets',
  scheduledTrainingSet: 'trainingSets',
  backfillTrainingSet: 'trainingSets',
  buildLabels: 'labels',
  buildLabelPartition: 'labels',
  materializeFeatureView: 'materialization',
  batchScore: 'trainingSets',
  flywheelLoop: 'project',
} as const satisfies Record<string, Workload | 'project'>;

export type FlywheelWorkflowType = keyof typeof WORKFLOW_WORKLOADS;

export function resolveTaskQueues(project: string, temporal: { readonly taskQueue?: string; readonly taskQueues?: TaskQueuesConfig }): TaskQueues {
  const projectQueue = temporal.taskQueue ?? defaultTaskQueue(project);
  const named = temporal.taskQueues;
  const queueOf = (workload: Workload): string => {
    if (named === 'per-workload') return `flywheel-${project}-${WORKLOAD_SLUGS[workload]}`;
    return named?.[workload] ?? projectQueue;
  };
  return {
    project: projectQueue,
    ingest: queueOf('ingest'),
    trainingSets: queueOf('trainingSets'),
    labels: queueOf('labels'),
    materialization: queueOf('materialization'),
  };
}

export function taskQueueOf(queues: TaskQueues, workflowType: FlywheelWorkflowType): string {
  return queues[WORKFLOW_WORKLOADS[workflowType]];
}

/** The queue a loop stage's child runs on. */
export function loopStageTaskQueue(queues: Partial<Record<Workload, string>>, kind: LoopStageKind): string | undefined {
  // Every stage's workflow belongs to a workload (the loop alone is the project queue's).
  return queues[WORKFLOW_WORKLOADS[LOOP_STAGE_WORKFLOWS[kind]]];
}

/**
 * The workload queues that differ from the project queue, for the loop's input: its stages start
 * there. Undefined when nothing is split, so an unsplit project's loop input (and schedule) is as before.
 */
export function splitWorkloadQueues(queues: TaskQueues): Partial<Record<Workload, string>> | undefined {
  const split = Object.fromEntries(WORKLOADS.filter((w) => queues[w] !== queues.project).map((w) => [w, queues[w]]));
  return Object.keys(split).length > 0 ? split : undefined;
}

/** Each queue once, the project queue first: what a worker started without `--task-queue` polls. */
export function distinctTaskQueues(queues: TaskQueues): string[] {
  return [...new Set([queues.project, ...WORKLOADS.map((w) => queues[w])])];
}

/**
 * The queues named on `flywheel worker --task-queue`: a workload (`ingest`, `training-sets`, `labels`,
 * `materialization`, `project`) stands for its queue; anything else is a queue's own name.
 */
export function selectTaskQueues(queues: TaskQueues, asked: readonly string[]): string[] {
  const bySlug = new Map<string, string>([['project', queues.project], ...WORKLOADS.map((w) => [WORKLOAD_SLUGS[w], queues[w]] as [string, string])]);
  return [...new Set(asked.map((name) => bySlug.get(name) ?? name))];
}
