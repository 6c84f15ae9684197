import { join, relative } from 'node:path';
import { ConfigError } from '../../core/errors.ts';
import { isTemporalReachable, startDevServer, type DevServer } from './dev-server.ts';
import { locateTemporalCli } from './temporal-cli.ts';
import { distinctTaskQueues, type TaskQueues } from '../../core/task-queues.ts';

/**
 * `flywheel dev`: a local Temporal dev server (or the one already running), a Flywheel worker and
 * the project's API server (log and serving), until Ctrl-C. Shutdown order matters: the API server
 * first (its last segments start their ingestion while Temporal still answers), then the worker, so
 * it can finish or hand back its tasks while the server still answers, then the Temporal server, so
 * its SQLite file is closed cleanly.
 */

/** The project's API server, as started by the caller. */
export interface DevApiServer {
  /** What it serves, one line each (its URL first). */
  readonly description: readonly string[];
  close(): Promise<void>;
}

/** A running worker, as started by the caller. */
export interface DevWorker {
  /** Stops polling, lets running activities finish or cancel, and resolves when done. */
  shutdown(): Promise<void>;
  /** Settles if the worker stops on its own (a crash); `flywheel dev` then stops too. */
  readonly finished?: Promise<unknown>;
}

export interface RunDevOptions {
  projectRoot: string;
  /** Folder for local state; the server's database goes to `<stateDir>/temporal.db`. */
  stateDir: string;
  /** From the profile. The address must be local (`localhost:7233`) unless a server already answers there. */
  temporal: { address: string; namespace: string; taskQueue: string; /** Every workload's queue; the worker polls them all. */ taskQueues?: TaskQueues };
  startWorker: () => Promise<DevWorker>;
  /** Starts the project's API server once Temporal and the worker run. Default: none. */
  startServer?: () => Promise<DevApiServer>;
  /** Web UI port. Default 8233. */
  uiPort?: number;
  /** Where progress and addresses are printed. Default: stdout. */
  log?: (line: string) => void;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Resolves after a clean shutdown (SIGINT or SIGTERM); rejects if start-up fails or the worker crashes. */
export async function runDev(options: RunDevOptions): Promise<void> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));

  // Listen for Ctrl-C from the start: one pressed during start-up still shuts down what did start.
  const stopSignal = listenForStopSignal();
  try {
    await runUntilStopped(options, stopSignal.received, log);
  } finally {
    stopSignal.dispose();
  }
}

async function runUntilStopped(options: RunDevOptions, stopRequested: Promise<unknown>, log: (line: string) => void): Promise<void> {
  const { address, namespace, taskQueue } = options.temporal;
  const { host, port } = parseAddress(address);
  const dbFile = join(options.stateDir, 'temporal.db');

  if (!LOCAL_HOSTS.has(host) && !(await isTemporalReachable(address, namespace))) {
    throw new ConfigError(
      `flywheel dev starts a Temporal server on this machine only, but the profile's temporal.address is ${address} (not local), and nothing answers there`,
      { field: 'temporal.address' },
    );
  }

  const server: DevServer = LOCAL_HOSTS.has(host)
    ? await startDevServer({
        cliPath: () => locateTemporalCli({ build: true, onProgress: log }),
        dbFile,
        port,
        uiPort: options.uiPort ?? 8233,
        namespace,
      })
    : { address, uiUrl: '(see your Temporal deployment)', namespace, reused: true, logFile: undefined, stop: async () => {} };

  let worker: DevWorker;
  try {
    worker = await options.startWorker();
  } catch (error) {
    await server.stop();
    throw error;
  }

  let api: DevApiServer | undefined;
  try {
    api = await options.startServer?.();
  } catch (error) {
    await worker.shutdown();
    await server.stop();
    throw error;
  }

  const where = (path: string) => relative(options.projectRoot, path) || path;
  log('');
  log(`Temporal frontend  ${address}${server.reused ? '  (already running, reused)' : `  (started; state in ${where(dbFile)}${server.logFile ? `, log in ${where(server.logFile)}` : ''})`}`);
  log(`Temporal Web UI    ${server.uiUrl}`);
  log(`Namespace          ${namespace}`);
  const queues = options.temporal.taskQueues ? distinctTaskQueues(options.temporal.taskQueues) : [taskQueue];
  log(queues.length === 1 ? `Task queue         ${taskQueue}` : `Task queues        ${queues.join(', ')}`);
  for (const line of api?.description ?? []) log(line);
  log(`Worker running${api ? ', API serving' : ''}. Press Ctrl-C to stop.`);

  const crashed = worker.finished?.then(
    () => new Error('the worker stopped on its own'),
    (error: unknown) => error,
  );
  const outcome = await Promise.race([stopRequested.then(() => undefined), ...(crashed ? [crashed] : [])]);

  if (outcome !== undefined) log('\nThe worker stopped; stopping...');
  try {
    if (api) {
      log(`${outcome === undefined ? '\n' : ''}Stopping the API server...`);
      await api.close();
    }
    if (outcome === undefined) log(`${api ? '' : '\n'}Stopping the worker...`);
    await worker.shutdown();
  } finally {
    if (!server.reused) log('Stopping the Temporal dev server...');
    await server.stop();
  }
  if (outcome !== undefined) throw outcome;
  log('Stopped.');
}

/**
 * `received` resolves on the first SIGINT or SIGTERM; a second one exits at once, for a shutdown
 * that hangs. `dispose` gives the signals back to Node's default handling.
 */
function listenForStopSignal(): { received: Promise<NodeJS.Signals>; dispose(): void } {
  let count = 0;
  let resolve!: (signal: NodeJS.Signals) => void;
  const received = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const onSignal = (signal: NodeJS.Signals) => {
    if (++count > 1) {
      process.stderr.write(`\n${signal} again: exiting without a clean shutdown\n`);
      process.exit(130);
    }
    resolve(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    received,
    dispose: () => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
  };
}

/** `host:port`, `[::1]:port` or a bare host (port 7233, Temporal's default). */
function parseAddress(address: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(address);
  if (!match) throw new ConfigError(`temporal.address "${address}" is not host:port`, { field: 'temporal.address' });
  return { host: match[1]!, port: match[2] ? Number(match[2]) : 7233 };
}
