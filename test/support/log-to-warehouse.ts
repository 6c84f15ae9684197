import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createIngestActivities, type IngestedBatch } from '../../activities/ingest.ts';
import { createObjectStore } from '../../connectors/object-store/create-object-store.ts';
import { openDuckDBEngine, type DuckDBEngine } from '../../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../../connectors/registry/warehouse-registry.ts';
import type { Definition } from '../../core/definitions/definition.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { sql } from '../../core/sql/compiled-query.ts';
import { warehouseObjectStatements } from '../../core/sql/warehouse-objects.ts';
import { validateProject } from '../../core/validation/validate-project.ts';
import { startLogServer, streamSchemasOf, TokenTable, type RunningLogServer } from '../../server/index.ts';
import { ObjectStoreSegmentStore, openNodeSegmentLog, type SealedSegmentStore } from '../../connectors/log-store/index.ts';
import type { ObjectStore } from '../../connectors/object-store/object-store.ts';

/**
 * The collect path end to end, on real parts: the log API (in this process, 127.0.0.1, a free port)
 * writing segments to a temporary state folder and uploading each sealed one to an object store (a
 * local folder), and the `ingestSegment` activity loading them from there into a DuckDB warehouse
 * file where `apply`'s statements created the stream tables.
 */
export interface LogToWarehouse {
  readonly project: ProjectSpec;
  readonly stateDir: string;
  /** POSTs `body` to a stream; the answer's status and parsed JSON. */
  post(stream: string, body: string | Buffer, contentType?: string): Promise<{ status: number; body: any }>;
  /** Stops the server (closing its segments), loads every closed segment into the warehouse, starts the server again. */
  ingest(): Promise<IngestedBatch[]>;
  /** The rows of a stream's table, by `_event_id`. */
  rows(stream: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export const TOKEN = 'load-test-token';

/** A DuckDB warehouse where `apply` created the project's tables, and ingestion from a state folder beside it. */
export interface WarehouseForSegments {
  readonly project: ProjectSpec;
  readonly dir: string;
  readonly stateDir: string;
  /** The object store log API nodes upload their sealed segments to, and ingestion reads them from (`<dir>/objects`). */
  readonly objects: ObjectStore;
  /** The folder of `objects`, for a log API process's `--object-store`. */
  readonly objectsDir: string;
  readonly segments: SealedSegmentStore;
  /**
   * Uploads what a log API left sealed in `stateDir` (as node `node-1`, the way a node does when it
   * starts again), then loads every sealed segment of every stream in the object store, oldest
   * first, deleting each after its load (a segment loaded before is found in the ledger and skipped).
   */
  ingestClosed(): Promise<IngestedBatch[]>;
  rows(stream: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function openWarehouseForSegments(definitions: readonly Definition[]): Promise<WarehouseForSegments> {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-log-to-warehouse-'));
  const project = validateProject(definitions.map((definition) => ({ definition })));
  const stateDir = join(dir, 'state');
  const path = join(dir, 'warehouse.duckdb');
  const engine: DuckDBEngine = await openDuckDBEngine({ path });
  for (const statement of warehouseObjectStatements({ desired: project, dialect: engine.dialect, resolvePath: (p) => p })) await engine.run(statement);
  await new WarehouseRegistry(engine).save('load_test', project);
  await mkdir(join(dir, 'scratch'), { recursive: true });
  const objects = createObjectStore({ type: 'local', root: join(dir, 'objects') });
  const segments = new ObjectStoreSegmentStore(objects);
  const activities = createIngestActivities({
    project: 'load_test', openEngine: () => openDuckDBEngine({ path }), registry: (e) => new WarehouseRegistry(e),
    objectStore: objects, scratchDir: join(dir, 'scratch'), stateDir,
  });
  return {
    project,
    dir,
    stateDir,
    objects,
    objectsDir: join(dir, 'objects'),
    segments,
    async ingestClosed() {
      const streams = Object.keys(project.eventStreams);
      await (await openNodeSegmentLog({ stateDir, streams, nodeId: 'node-1', store: segments, log: () => undefined })).close();
      const loaded: IngestedBatch[] = [];
      for (const stream of Object.keys(project.eventStreams)) {
        for (const segment of await segments.list(stream)) {
          loaded.push(await new MockActivityEnvironment().run(activities.ingestSegment, segment));
          await new MockActivityEnvironment().run(activities.archiveSegment, { ...segment, keep: false });
        }
      }
      return loaded;
    },
    rows: (stream) => engine.all(sql(`SELECT * EXCLUDE (_batch, _received_at) FROM flywheel.stream_${stream} ORDER BY _event_id`)),
    async close() {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function openLogToWarehouse(definitions: readonly Definition[]): Promise<LogToWarehouse> {
  const warehouse = await openWarehouseForSegments(definitions);
  const { project, stateDir } = warehouse;
  const start = () =>
    startLogServer({
      stateDir, streams: streamSchemasOf(project), tokens: TokenTable.parse(`${TOKEN}=write:*`), port: 0, log: () => undefined,
      sealedSegments: { store: warehouse.segments, nodeId: 'node-1' },
    });
  let server: RunningLogServer | undefined = await start();

  return {
    project,
    stateDir,
    async post(stream, body, contentType = 'application/json') {
      const response = await fetch(`${server!.url}/v1/streams/${stream}/events`, {
        method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': contentType }, body,
      });
      return { status: response.status, body: await response.json() };
    },
    async ingest() {
      await server!.close();
      server = undefined;
      const loaded = await warehouse.ingestClosed();
      server = await start();
      return loaded;
    },
    rows: (stream) => warehouse.rows(stream),
    async close() {
      await server?.close();
      await warehouse.close();
    },
  };
}
