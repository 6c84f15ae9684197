import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { formatWorkerLogEntry } from './worker-log.ts';
import type { ResolvedConfig } from '../runtime/load-config.ts';
import { createOnlineStore } from '../connectors/online-store/create-online-store.ts';
import { activityDepsFromConfig } from './activity-deps.ts';
import { createFlywheelWorker } from './create-worker.ts';
import { connectWorker } from '../runtime/temporal-connection.ts';

/** A running worker: `finished` settles when it stops; `shutdown` stops it (safe to call twice). */
export interface RunningWorker {
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}

/** Connects to the profile's Temporal, wires its connectors and starts polling the project's task queue. */
export async function startProjectWorker(config: ResolvedConfig): Promise<RunningWorker> {
  installWorkerLogger();
  const { temporal } = config.profile;
  const connection = await connectWorker(temporal);
  // Materialization writes here; credentials come from the worker's environment (passwordEnv).
  const onlineStore = await createOnlineStore(config.profile.onlineStore, { project: config.project });
  const worker = await createFlywheelWorker({ connection, namespace: temporal.namespace, taskQueue: temporal.taskQueue, deps: { ...activityDepsFromConfig(config), onlineStore } });
  const finished = worker.run().finally(async () => {
    await onlineStore.close();
    await connection.close();
  });
  return {
    finished,
    shutdown: async () => {
      // The SDK already stops the worker on SIGINT/SIGTERM; a second shutdown() would throw.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await finished;
    },
  };
}

let loggerInstalled = false;

/**
 * The SDK logs every bundle build and state change at INFO, which buries the CLI's own output.
 * Flywheel workers log at WARN unless FLYWHEEL_LOG_LEVEL says otherwise (TRACE, DEBUG, INFO, WARN, ERROR).
 */
function installWorkerLogger(): void {
  if (loggerInstalled) return;
  loggerInstalled = true;
  const asked = (process.env.FLYWHEEL_LOG_LEVEL?.toUpperCase() ?? 'WARN') as LogLevel;
  const level = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(asked) ? asked : 'WARN';
  const detailed = level === 'TRACE' || level === 'DEBUG';
  Runtime.install({ logger: new DefaultLogger(level, (entry) => process.stderr.write(`${formatWorkerLogEntry(entry, { detailed })}\n`)) });
}
