import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import {
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { LoopActivities } from '../activities/loop.ts';
import { dependentsOf, type LoopStage, type LoopStageKind } from '../core/loop/plan-loop.ts';
import { stageShortfall, summarizeStageResult } from '../core/loop/stage-summary.ts';
import { instantInput } from './instant-input.ts';
import { runSearchAttributes } from './search-attributes.ts';
import { PartitionRunner } from './partition-runner.ts';
import { loopStageTaskQueue, type Workload } from '../core/task-queues.ts';

export interface FlywheelLoopInput {
  readonly project: string;
  /** A declared loop (`loop({ name })`): its `only` and concurrency apply. Absent: every stage of the project. */
  readonly loop?: string;
  /** Stage kinds (`materialize`) or ids (`trainingSet:fraud_training`); replaces the declared loop's `only`. */
  readonly only?: readonly string[];
  /**
   * The instant the run is for (ISO-8601 with a zone): labels are built as of it, training sets build
   * their latest complete partition before it, materializations compute their values as of it.
   * Default: the time the run was scheduled for, else when it started.
   */
  readonly asOf?: string;
  /** Stages running at once (default: the declared loop's, else 2). */
  readonly concurrency?: number;
  /**
   * The task queues of the workloads split from the loop's own (core/task-queues.ts): each stage starts
   * on its workload's. A workload not named here runs on the loop's queue, as every stage did before.
   */
  readonly taskQueues?: { readonly [W in Workload]?: string };
}

export type LoopStageStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

/** What happened to one stage: references and one line, never the child's whole result. */
export interface LoopStageOutcome {
  readonly id: string;
  readonly kind: LoopStageKind;
  readonly object: string;
  readonly dependsOn: readonly string[];
  readonly status: LoopStageStatus;
  /** The child workflow's id (`<loop id>/<stage id>`), once started. */
  readonly workflowId?: string;
  readonly startedAt?: string;
  readonly durationMs?: number;
  /** What the child did (`1,204 rows in 1 partition, version …`): a succeeded stage, or a failed one whose child completed with partitions failed. */
  readonly summary?: string;
  /** Failed: the innermost cause of the child's failure, or which of its partitions failed (`2 of 9 label partitions failed; first: …`). */
  readonly error?: string;
  /** Skipped: why (`ingest:clicks failed`). */
  readonly reason?: string;
}

export interface FlywheelLoopResult {
  readonly project: string;
  readonly loop?: string;
  readonly asOf: string;
  readonly registryVersion: number;
  readonly concurrency: number;
  /** Every stage, in loop order. */
  readonly stages: readonly LoopStageOutcome[];
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
}

export interface LoopProgress {
  readonly stage: 'planning' | 'running' | 'done';
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  readonly running: readonly string[];
  readonly pending: number;
  readonly stages: readonly Pick<LoopStageOutcome, 'id' | 'status'>[];
}

/** The CLI polls this for its progress; it is also in the Temporal UI's Queries tab. */
export const loopProgressQuery = defineQuery<LoopProgress>('progress');

/** Set by Temporal on every workflow a Schedule starts: the time it was scheduled for. */
const TEMPORAL_SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

const DEFAULT_CONCURRENCY = 2;
/** Long enough for a line, short enough that hundreds of stages keep the result far below Temporal's 2 MB. */
const MAX_TEXT = 500;

const { planFlywheelLoop } = proxyActivities<LoopActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * The flywheel loop (docs/loop.md): plans the project's stages from its latest applied definitions
 * (ingest → labels → training sets, materialization), then runs each as a child workflow with the id
 * `<loop id>/<stage id>`, as many at once as `concurrency` and their dependencies allow. A stage that
 * fails makes every stage depending on it, directly or not, `skipped`; the others go on. The loop
 * itself succeeds with every stage's outcome in its result (the CLI exits 3 when one failed).
 * Cancelling it cancels the running stages; closing it otherwise asks them to cancel too.
 */
export async function flywheelLoop(input: FlywheelLoopInput): Promise<FlywheelLoopResult> {
  const info = workflowInfo();
  const asOf = instantInput(input.asOf, 'asOf', () => info.typedSearchAttributes.get(TEMPORAL_SCHEDULED_START_TIME) ?? info.runStartTime);
  if (input.concurrency !== undefined && (!Number.isSafeInteger(input.concurrency) || input.concurrency < 1)) {
    throw ApplicationFailure.nonRetryable(`concurrency must be a positive whole number, got ${input.concurrency}`, 'UsageError');
  }
  upsertSearchAttributes(runSearchAttributes({ project: input.project, kind: 'loop', ...(input.loop !== undefined ? { object: input.loop } : {}), to: asOf }));

  let phase: LoopProgress['stage'] = 'planning';
  let stages: readonly LoopStage[] = [];
  const outcomes = new Map<string, LoopStageOutcome>();
  // The stages running now; the runner's once the plan is known.
  let runningStages: () => readonly string[] = () => [];
  const listed = () => stages.map((stage) => outcomes.get(stage.id)!);
  const count = (status: LoopStageStatus) => listed().filter((outcome) => outcome.status === status).length;
  setHandler(loopProgressQuery, (): LoopProgress => ({
    stage: phase, total: stages.length, succeeded: count('succeeded'), failed: count('failed'), skipped: count('skipped'),
    running: runningStages(), pending: count('pending'), stages: listed().map(({ id, status }) => ({ id, status })),
  }));

  const plan = await planFlywheelLoop({ ...(input.loop !== undefined ? { loop: input.loop } : {}), ...(input.only ? { only: input.only } : {}), asOf });
  stages = plan.stages;
  const concurrency = input.concurrency ?? plan.concurrency ?? DEFAULT_CONCURRENCY;
  for (const stage of stages) outcomes.set(stage.id, { id: stage.id, kind: stage.kind, object: stage.object, dependsOn: stage.dependsOn, status: 'pending' });
  const update = (id: string, change: Partial<LoopStageOutcome>) => outcomes.set(id, { ...outcomes.get(id)!, ...change });
  phase = 'running';

  const skipDependents = (failedId: string) => {
    for (const id of dependentsOf(stages, failedId)) {
      if (outcomes.get(id)!.status === 'pending') update(id, { status: 'skipped', reason: `${failedId} failed` });
    }
  };

  const runStage = async (stage: LoopStage): Promise<void> => {
    const workflowId = `${info.workflowId}/${stage.id}`;
    // The sandbox's clock is the time of the workflow task, the same on every replay.
    const started = new Date();
    update(stage.id, { status: 'running', workflowId, startedAt: started.toISOString() });
    try {
      // By type name: the loop does not depend on each stage's module (buildLabels lives with the labels).
      const taskQueue = input.taskQueues ? loopStageTaskQueue(input.taskQueues, stage.kind) : undefined;
      const result: unknown = await executeChild(stage.workflowType, {
        workflowId,
        // On its workload's queue when split; otherwise the loop's own (Temporal's default for a child).
        ...(taskQueue !== undefined ? { taskQueue } : {}),
        args: [stage.args],
        // Terminating or timing out the loop asks its running stages to stop cleanly.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      const summary = clip(summarizeStageResult(stage.kind, result));
      // A child that completed with partitions failed (labels) is a failed stage: its dependents would
      // read what it left out. Loops in flight before this rule keep the old outcome on replay.
      const shortfall = stageShortfall(stage.kind, result);
      if (shortfall !== undefined && patched('loop-stage-fails-on-failed-partitions')) {
        update(stage.id, { status: 'failed', summary, error: clip(shortfall) });
        skipDependents(stage.id);
      } else {
        update(stage.id, { status: 'succeeded', summary });
      }
    } catch (error) {
      // The loop being cancelled ends it; a stage cancelled on its own (in the UI) is a failed stage.
      if (isCancellation(error) && CancellationScope.current().consideredCancelled) throw error;
      update(stage.id, { status: 'failed', error: clip(rootMessage(error)) });
      skipDependents(stage.id);
    } finally {
      update(stage.id, { durationMs: new Date().getTime() - started.getTime() });
    }
  };

  const runner = new PartitionRunner<LoopStage>({
    concurrency,
    // The first stage, in loop order, still pending whose dependencies all succeeded (runStage marks it running at once).
    next: () => stages.find((stage) => outcomes.get(stage.id)!.status === 'pending' && stage.dependsOn.every((id) => outcomes.get(id)!.status === 'succeeded')),
    keyOf: (stage) => stage.id,
    run: (stage) => runStage(stage),
  });
  runningStages = () => runner.running();
  await runner.run();
  phase = 'done';
  // Every stage has ended or been skipped by now; this only guards against a dependency outside the plan.
  for (const stage of stages) if (outcomes.get(stage.id)!.status === 'pending') update(stage.id, { status: 'skipped', reason: 'a dependency did not run' });

  return {
    project: input.project, ...(input.loop !== undefined ? { loop: input.loop } : {}), asOf, registryVersion: plan.registryVersion, concurrency,
    stages: listed(),
    succeeded: count('succeeded'), failed: count('failed'), skipped: count('skipped'),
  };
}

function rootMessage(error: unknown): string {
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return cause instanceof Error ? cause.message : String(cause);
}

function clip(text: string): string {
  return text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT - 1)}…`;
}
