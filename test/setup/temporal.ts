import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { expect, inject } from 'vitest';
import type {} from './global-setup.ts'; // the `ProvidedContext` keys

/**
 * Helpers for test files that run workflows on the shared Temporal dev server started by
 * global-setup.ts. Every test file gets its own task queue, so files running in parallel never
 * pick up each other's tasks.
 *
 * @example
 * const taskQueue = testTaskQueue();
 * const client = await connectClient();
 * const result = await runWorker({ taskQueue, activities: createActivities(deps) }, () =>
 *   client.workflow.execute(buildTrainingSet, { taskQueue, workflowId: `t-${taskQueue}`, args: [input] }),
 * );
 * await client.connection.close();
 */

export function temporalAddress(): string {
  return inject('temporalAddress');
}

export function temporalNamespace(): string {
  return inject('temporalNamespace');
}

/**
 * A task queue unique to this test file and run: the file's name plus a random suffix.
 * `file` (a path or `import.meta.url`) defaults to the test file being run.
 */
export function testTaskQueue(file?: string): string {
  const path = file ?? expect.getState().testPath ?? 'test';
  const name = basename(path.startsWith('file:') ? fileURLToPath(path) : path).replace(/\.test\.ts$|\.ts$/, '');
  return `test-${name}-${randomUUID().slice(0, 8)}`;
}

/** A Client for the shared server. The caller closes it: `await client.connection.close()`. */
export async function connectClient(): Promise<Client> {
  const connection = await Connection.connect({ address: temporalAddress() });
  return new Client({ connection, namespace: temporalNamespace() });
}

export interface RunWorkerOptions {
  taskQueue: string;
  /** The activities, built by their factory with real connectors. */
  activities?: object;
  /** Anything else for Worker.create (e.g. `maxConcurrentActivityTaskExecutions`). */
  workerOptions?: Partial<Omit<WorkerOptions, 'connection' | 'namespace' | 'taskQueue' | 'activities' | 'workflowBundle' | 'workflowsPath'>>;
}

/**
 * Runs a Worker of the bundled workflows on `taskQueue` while `fn` runs, then shuts it down
 * and returns what `fn` returned (or throws what it threw).
 */
export async function runWorker<R>(options: RunWorkerOptions, fn: () => Promise<R>): Promise<R> {
  installQuietRuntime();
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  try {
    const worker = await Worker.create({
      ...options.workerOptions,
      connection,
      namespace: temporalNamespace(),
      taskQueue: options.taskQueue,
      ...(options.activities ? { activities: options.activities } : {}),
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    return await worker.runUntil(fn);
  } finally {
    await connection.close();
  }
}

let runtimeChecked = false;

/** Workers log every start and stop at INFO; keep warnings and errors only. Once per process. */
function installQuietRuntime(): void {
  if (runtimeChecked) return;
  runtimeChecked = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // A Runtime already exists in this process; keep it.
  }
}
