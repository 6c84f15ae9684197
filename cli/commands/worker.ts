import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { loadConfigFor } from './global-options.ts';

interface WorkerCommandOptions {
  taskQueue?: string[];
  maxConcurrentActivities?: number;
  maxConcurrentWorkflowTasks?: number;
  metricsPort?: number;
  metricsHost: string;
}

/**
 * `flywheel worker`: runs the project's workflows and activities until Ctrl-C. Without --task-queue
 * it polls every queue of the profile (one, unless temporal.taskQueues splits them); with it, only
 * those, so a fleet can give ingestion its own workers and backfills theirs (docs/deployment.md).
 */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description("run a worker for the project's workflows and activities")
    .option('--task-queue <queue...>', 'poll only these queues: a workload (ingest, training-sets, labels, materialization, project) or a queue name (default: every queue of the profile)')
    .option('--max-concurrent-activities <n>', 'activities run at once on each queue (default 4)', positiveInt('--max-concurrent-activities'))
    .option('--max-concurrent-workflow-tasks <n>', 'workflow tasks handled at once on each queue (default: the Temporal SDK\'s)', positiveInt('--max-concurrent-workflow-tasks'))
    .option('--metrics-port <port>', "serve Temporal's worker metrics (task slots, poll latencies) for Prometheus at http://<host>:<port>/metrics", port)
    .option('--metrics-host <host>', 'address the metrics endpoint listens on (0.0.0.0 for every interface)', '127.0.0.1')
    .action(async (options: WorkerCommandOptions, command: Command) => {
      const config = await loadConfigFor(command);
      const { temporal } = config.profile;
      const { selectTaskQueues } = await import('../../core/task-queues.ts');
      const { startProjectWorker } = await import('../../worker/start-project-worker.ts');
      const worker = await startProjectWorker(config, {
        ...(options.taskQueue ? { taskQueues: selectTaskQueues(temporal.taskQueues, options.taskQueue) } : {}),
        ...(options.maxConcurrentActivities !== undefined ? { maxConcurrentActivities: options.maxConcurrentActivities } : {}),
        ...(options.maxConcurrentWorkflowTasks !== undefined ? { maxConcurrentWorkflowTasks: options.maxConcurrentWorkflowTasks } : {}),
        ...(options.metricsPort !== undefined ? { metrics: { host: options.metricsHost, port: options.metricsPort } } : {}),
      });
      const queues = worker.taskQueues.length === 1 ? `task queue ${worker.taskQueues[0]}` : `task queues ${worker.taskQueues.join(', ')}`;
      const metrics = options.metricsPort !== undefined ? `, metrics on http://${options.metricsHost}:${options.metricsPort}/metrics` : '';
      process.stderr.write(`Worker for ${config.project} (profile ${config.profileName}) on ${temporal.address}, namespace ${temporal.namespace}, ${queues}${metrics}. Ctrl-C stops it.\n`);
      // The worker handles SIGINT/SIGTERM itself: it stops polling, lets running activities finish, then resolves.
      await worker.finished;
    });
}

function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} takes a whole number from 1 up, got "${value}"`);
    return n;
  };
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > 65_535) throw new InvalidArgumentError(`--metrics-port takes a port from 1 to 65535, got "${value}"`);
  return n;
}
