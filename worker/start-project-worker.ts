import { DefaultLogger, Runtime, type LogLevel, type Worker, type WorkerOptions } from '@temporalio/worker';
import { formatWorkerLogEntry } from './worker-log.ts';
import type { ResolvedConfig } from '../runtime/load-config.ts';
import { createOnlineStore } from '../connectors/online-store/create-online-store.ts';
import { distinctTaskQueues } from '../core/task-queues.ts';
import { FlywheelError } from '../core/errors.ts';
import { activityDepsFromConfig } from './activity-deps.ts';
import { bundleFlywheelWorkflows, createFlywheelWorker } from './create-worker.ts';
import { connectWorker } from '../runtime/temporal-connection.ts';

/** A running worker: `finished` settles when it stops; `shutdown` stops it (safe to call twice). */
export interface RunningWorker {
  /** The task queues it polls, one Temporal worker each. */
  readonly taskQueues: readonly string[];
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}

export interface ProjectWorkerOptions {
  /** The queues to poll (`flywheel worker --task-queue`); default every queue of the profile (core/task-queues.ts). */
  readonly taskQueues?: readonly string[];
  /** Activities run at once on each queue (`--max-concurrent-activities`; default 4). */
  readonly maxConcurrentActivities?: number;
  /** Workflow tasks handled at once on each queue (`--max-concurrent-workflow-tasks`). */
  readonly maxConcurrentWorkflowTasks?: number;
  /** Serve Temporal's worker metrics for Prometheus at `http://<host>:<port>/metrics` (`--metrics-port`). */
  readonly metrics?: { readonly host: string; readonly port: number };
  /** A prebuilt workflow bundle; default: bundled once at start. */
  readonly workflowBundle?: WorkerOptions['workflowBundle'];
}

/** Thrown when metrics are asked for in a process whose Temporal runtime was installed without them. */
export class WorkerMetricsUnavailableError extends FlywheelError {
  readonly port: number;
  constructor(port: number) {
    super(`Cannot serve worker metrics on port ${port}: this process started Temporal's runtime already, without metrics. Start the worker in a process of its own (flywheel worker --metrics-port ${port}).`);
    this.port = port;
  }
}

/**
 * Connects to the profile's Temporal, wires its connectors and starts polling the project's task
 * queues: one Temporal worker per queue, sharing the connection, the connectors and one workflow
 * bundle. Each queue has its own activity and workflow-task slots, so a queue full of backfill
 * activities never holds up another queue's ingestion in the same process.
 */
export async function startProjectWorker(config: ResolvedConfig, options: ProjectWorkerOptions = {}): Promise<RunningWorker> {
  installWorkerRuntime(options.metrics);
  const { temporal } = config.profile;
  const taskQueues = options.taskQueues && options.taskQueues.length > 0 ? [...options.taskQueues] : distinctTaskQueues(temporal.taskQueues);
  const connection = await connectWorker(temporal);
  // Materialization writes here; credentials come from the worker's environment (passwordEnv).
  const onlineStore = await createOnlineStore(config.profile.onlineStore, { project: config.project });
  const workers: Worker[] = [];
  try {
    const workflowBundle = options.workflowBundle ?? (await bundleFlywheelWorkflows());
    const deps = { ...activityDepsFromConfig(config), onlineStore };
    for (const taskQueue of taskQueues) {
      workers.push(await createFlywheelWorker({
        connection, namespace: temporal.namespace, taskQueue, deps, workflowBundle,
        ...(options.maxConcurrentActivities !== undefined ? { maxConcurrentActivities: options.maxConcurrentActivities } : {}),
        ...(options.maxConcurrentWorkflowTasks !== undefined ? { maxConcurrentWorkflowTasks: options.maxConcurrentWorkflowTasks } : {}),
      }));
    }
  } catch (error) {
    await onlineStore.close();
    await connection.close();
    throw error;
  }
  // One stops (SIGINT/SIGTERM reach them all, or a fatal error): the others are asked to stop too.
  const stopAll = () => workers.forEach((worker) => { if (worker.getState() === 'RUNNING') worker.shutdown(); });
  const finished = Promise.all(workers.map((worker) => worker.run().finally(stopAll))).then(() => undefined).finally(async () => {
    await onlineStore.close();
    await connection.close();
  });
  return {
    taskQueues,
    finished,
    shutdown: async () => {
      // The SDK already stops the workers on SIGINT/SIGTERM; a second shutdown() would throw.
      stopAll();
      await finished;
    },
  };
}

let runtimeInstalled: { metricsPort?: number } | undefined;

/**
 * The SDK logs every bundle build and state change at INFO, which buries the CLI's own output.
 * Flywheel workers log at WARN unless FLYWHEEL_LOG_LEVEL says otherwise (TRACE, DEBUG, INFO, WARN, ERROR).
 * With `metrics`, the runtime also serves Temporal's worker metrics (task slots available and used,
 * poll and schedule-to-start latencies, per task queue) for Prometheus. Once per process.
 */
function installWorkerRuntime(metrics: ProjectWorkerOptions['metrics']): void {
  if (runtimeInstalled) {
    if (metrics && runtimeInstalled.metricsPort !== metrics.port) throw new WorkerMetricsUnavailableError(metrics.port);
    return;
  }
  const asked = (process.env.FLYWHEEL_LOG_LEVEL?.toUpperCase() ?? 'WARN') as LogLevel;
  const level = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(asked) ? asked : 'WARN';
  const detailed = level === 'TRACE' || level === 'DEBUG';
  try {
    Runtime.install({
      logger: new DefaultLogger(level, (entry) => process.stderr.write(`${formatWorkerLogEntry(entry, { detailed })}\n`)),
      ...(metrics ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `${metrics.host}:${metrics.port}` } } } } : {}),
    });
  } catch (error) {
    const installedAlready = error instanceof Error && /already been (instantiated|installed)/i.test(error.message);
    if (!installedAlready) {
      if (metrics) throw new FlywheelError(`Cannot serve worker metrics on ${metrics.host}:${metrics.port}: ${(error as Error).message}`, { cause: error });
      throw error;
    }
    // Another part of this process (a test harness, an embedding program) installed it first.
    if (metrics) throw new WorkerMetricsUnavailableError(metrics.port);
  }
  runtimeInstalled = metrics ? { metricsPort: metrics.port } : {};
}
