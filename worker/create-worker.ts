import { fileURLToPath } from 'node:url';
import type { NativeConnection} from '@temporalio/worker';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { holdOutcomeWhileServerAway, type HoldOptions } from './hold-outcome-while-server-away.ts';

/** .ts running from the sources, .js compiled into the package's dist/: the workflows sit beside this file either way. */
const MODULE_EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL(`../workflows/index${MODULE_EXTENSION}`, import.meta.url));

/** The workflow interceptor that refuses another project's runs; a prebuilt bundle must include it (workflowInterceptorModules). */
export const PROJECT_GUARD_PATH = fileURLToPath(new URL(`../workflows/project-guard${MODULE_EXTENSION}`, import.meta.url));

export interface FlywheelWorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly deps: ActivityDeps;
  /** A prebuilt workflow bundle (tests build one per run); otherwise the workflows are bundled at start. */
  readonly workflowBundle?: WorkerOptions['workflowBundle'];
  /** Activities run at once on this queue (default 4): 1 makes a queue's runs take turns. */
  readonly maxConcurrentActivities?: number;
  /** Workflow tasks handled at once on this queue (the SDK's default otherwise). */
  readonly maxConcurrentWorkflowTasks?: number;
  /** Told when a finished activity's outcome is held because the server does not answer, and when it goes out. */
  readonly onOutcomeHeld?: HoldOptions;
}

/** Bundles the workflows and the project guard once, for the workers of one process (one per task queue). */
export async function bundleFlywheelWorkflows(): Promise<{ code: string }> {
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: [PROJECT_GUARD_PATH] });
}

/**
 * A worker that runs every Flywheel workflow and activity on one task queue. Activities get the
 * connectors through `deps`; workflows are loaded from `workflows/index.ts`, each behind the project
 * guard (workflows/project-guard.ts): a run of another project fails at once, before any activity.
 */
export function createFlywheelWorker(options: FlywheelWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities(options.deps),
    // Bundled from source, the workflows get the project guard; a prebuilt bundle brings its own interceptors.
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    interceptors: {
      ...(options.workflowBundle ? {} : { workflowModules: [PROJECT_GUARD_PATH] }),
      // An activity that ends while the server is away keeps its outcome until the server answers,
      // instead of the SDK dropping it after 10 s and the run waiting for the heartbeat timeout.
      activity: [holdOutcomeWhileServerAway(options.connection, options.onOutcomeHeld)],
    },
    // DuckDB runs one writer per file; a few concurrent activities keep both cores busy without contention.
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 4,
    ...(options.maxConcurrentWorkflowTasks !== undefined ? { maxConcurrentWorkflowTaskExecutions: options.maxConcurrentWorkflowTasks } : {}),
    // Heartbeats reach the server at most this often (the SDK's default is up to 60 s): the CLI's
    // progress bars read a running activity's last heartbeat (the training set's partitions written).
    maxHeartbeatThrottleInterval: '5 seconds',
  });
}
