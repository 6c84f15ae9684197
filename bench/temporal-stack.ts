import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { ObjectStore } from '../connectors/object-store/object-store.ts';
import type { OnlineStore } from '../connectors/online-store/online-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { WarehouseMaterializationState } from '../connectors/registry/materialization-state.ts';
import { startDevServer } from '../cli/dev/dev-server.ts';
import { locateTemporalCli } from '../cli/dev/temporal-cli.ts';
import { createFlywheelWorker } from '../worker/create-worker.ts';

/**
 * What a workflow benchmark runs on: its own Temporal dev server (database in `dir`, so runs never
 * mix with a developer's), a client, and a Flywheel worker over a DuckDB file and an object store.
 */
export async function startBenchStack(options: { dir: string; port: number; taskQueue: string; project: string; warehousePath: string; objectStore: ObjectStore; scratchDir: string; onlineStore?: OnlineStore }) {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const server = await startDevServer({ cliPath: await locateTemporalCli(), dbFile: join(options.dir, 'temporal.db'), port: options.port, uiPort: options.port + 1000 });
  const connection = await NativeConnection.connect({ address: server.address });
  const clientConnection = await Connection.connect({ address: server.address });
  const worker = await createFlywheelWorker({
    connection, namespace: 'default', taskQueue: options.taskQueue,
    deps: { project: options.project, openEngine: () => openDuckDBEngine({ path: options.warehousePath }), registry: (e) => new WarehouseRegistry(e), objectStore: options.objectStore, scratchDir: options.scratchDir,
      materializationState: (e) => new WarehouseMaterializationState(e), ...(options.onlineStore ? { onlineStore: options.onlineStore } : {}) },
  });
  const running = worker.run();
  return {
    client: new Client({ connection: clientConnection }),
    taskQueue: options.taskQueue,
    async stop(): Promise<void> {
      worker.shutdown();
      await running;
      await connection.close();
      await clientConnection.close();
      await server.stop();
    },
  };
}
