/**
 * The embedded stack both demos run on (examples/card-fraud/demo.ts, examples/slates/demo.ts): a
 * fresh local state, a Temporal dev server, and a Flywheel worker in the demo's own process.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../cli/dev/dev-server.ts';
import { locateTemporalCli } from '../cli/dev/temporal-cli.ts';
import type { ResolvedConfig } from '../runtime/load-config.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { createOnlineStore } from '../connectors/online-store/create-online-store.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { activityDepsFromConfig } from '../worker/activity-deps.ts';
import { createFlywheelWorker } from '../worker/create-worker.ts';

/**
 * Removes the warehouse file, the SQLite online store, the object store folder and the log segments,
 * so each demo run starts fresh. Temporal's database is kept, so earlier runs stay visible in the Web UI.
 */
export async function resetLocalState(config: ResolvedConfig, warehousePath: string): Promise<void> {
  const online = config.profile.onlineStore.type === 'sqlite' ? config.profile.onlineStore.path : undefined;
  for (const path of [warehousePath, `${warehousePath}.wal`, ...(online ? [online, `${online}-wal`, `${online}-shm`] : [])]) await rm(path, { force: true });
  for (const dir of ['objects', 'segments']) await rm(join(config.stateDir, dir), { recursive: true, force: true });
}

/** Starts (or reuses) the Temporal dev server at the profile's address, building the CLI on first use. */
export async function startLocalTemporal(config: ResolvedConfig, say: (line: string) => void): Promise<DevServer> {
  const cliPath = await locateTemporalCli({ onProgress: (message) => say(message) });
  const [host, port] = config.profile.temporal.address.split(':');
  const server = await startDevServer({ cliPath, dbFile: join(config.stateDir, 'temporal.db'), port: Number(port), ip: host === 'localhost' ? '127.0.0.1' : host! });
  say(`Temporal ${server.reused ? 'already running' : 'started'} at ${server.address}; Web UI ${server.uiUrl}`);
  return server;
}

/**
 * Runs `fn` with a worker polling the profile's task queue in this process; materializations it runs
 * write to the profile's online store, which the project server the demos start reads.
 */
export async function withLocalWorker<T>(config: ResolvedConfig, say: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  const { temporal } = config.profile;
  const connection = await NativeConnection.connect({ address: temporal.address });
  const onlineStore = await createOnlineStore(config.profile.onlineStore, { project: config.project });
  const worker = await createFlywheelWorker({ connection, namespace: temporal.namespace, taskQueue: temporal.taskQueue, deps: { ...activityDepsFromConfig(config), onlineStore } });
  const running = worker.run();
  say(`Worker polling task queue "${temporal.taskQueue}"`);
  try {
    return await fn();
  } finally {
    worker.shutdown();
    await running;
    await onlineStore.close();
    await connection.close();
  }
}

/**
 * Runs one query on the warehouse file, holding it only for that query: the worker running in the
 * same process opens the same DuckDB file for each of its activities.
 */
export async function queryWarehouse<Row extends Record<string, unknown>>(warehousePath: string, text: string, parameters: readonly unknown[] = []): Promise<Row[]> {
  const engine = await openDuckDBEngine({ path: warehousePath });
  try {
    return await engine.all<Row>(sql(text, parameters));
  } finally {
    await engine.close();
  }
}
