import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { ObjectStoreSegmentStore } from '../connectors/log-store/index.ts';
import { encodeRecords } from '../connectors/log-store/segment-log/index.ts';
import { ingestPending, ingestSegment, ingestSegmentWorkflowId } from '../workflows/ingest.ts';
import { connectClient, runWorker, testTaskQueue } from './setup/temporal.ts';
import { putSealedSegment, TEST_NODE } from './support/sealed-segments.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/** Ingestion of log segments and external tables into stream tables, on the shared Temporal dev server. */

let project: TempProject;
let warehouse: string;
let stateDir: string;
const taskQueue = testTaskQueue();

function deps(): ActivityDeps {
  const scratchDir = join(stateDir, 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return { project: 'collect_test', openEngine: () => openDuckDBEngine({ path: warehouse }), registry: (e) => new WarehouseRegistry(e), objectStore: new LocalObjectStore(join(stateDir, 'objects')), scratchDir, stateDir };
}

const click = (id: string, user: number, ts: string, item: number, dwell: number | null = null) => ({ _event_id: id, user_id: user, ts, item_id: item, dwell_ms: dwell, _received_at: '2024-05-01T12:00:00.000Z' });

/** A sealed segment as `flywheel serve` uploads it to the object store: framed, checksummed records of normalized events. */
async function writeSegment(segmentId: string, events: object[]): Promise<void> {
  await putSealedSegment(deps().objectStore, { stream: 'clicks', segmentId }, encodeRecords(events.map((e) => JSON.stringify(e))));
}

const segments = () => new ObjectStoreSegmentStore(deps().objectStore);
const ref = (segmentId: string) => ({ stream: 'clicks', node: TEST_NODE, segmentId });

async function query(sql: string) {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    return await engine.all({ sql, parameters: [] });
  } finally {
    await engine.close();
  }
}

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';\nexport default defineConfig({ project: 'collect_test', definitions: './definitions', profiles: { local: localProfile() } });\n`,
    'definitions/streams.ts': `
import { entity, eventStream } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d',
  fields: { item_id: 'int64', dwell_ms: { type: 'int64', nullable: true } } });
export const orders = eventStream({ name: 'orders', entities: [user], timestampField: 'ts', eventIdField: 'order_id', retention: '365d',
  fields: { order_id: 'string', amount: 'float64' },
  from: { table: 'raw_orders', watermark: { loadedAtColumn: 'loaded_at' }, lookback: '1h' } });
`,
  });
  stateDir = join(project.dir, '.flywheel');
  warehouse = join(stateDir, 'warehouse.duckdb');
  const engine = await openDuckDBEngine({ path: warehouse });
  await engine.run({ sql: `CREATE TABLE raw_orders (user_id BIGINT, ts TIMESTAMPTZ, order_id VARCHAR, amount DOUBLE, loaded_at TIMESTAMPTZ)`, parameters: [] });
  await engine.close();
  const applied = project.cli('apply');
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
});

afterAll(() => project?.remove());

describe('ingestion workflows', () => {
  it('loads a sealed segment from the object store exactly once, then deletes it there', async () => {
    await writeSegment('seg-0001', [
      click('e1', 1, '2024-05-01T10:00:00Z', 100, 350),
      click('e2', 2, '2024-04-30T23:59:00Z', 101), // late and out of order: placed by its event time
      click('e1', 1, '2024-05-01T10:00:00Z', 100, 350), // the same id twice in one batch
    ]);
    const client = await connectClient();
    try {
      const first = await runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
        client.workflow.execute(ingestSegment, { taskQueue, workflowId: ingestSegmentWorkflowId('collect_test', ref('seg-0001')), args: [{ project: 'collect_test', ...ref('seg-0001') }] }),
      );
      expect(ingestSegmentWorkflowId('collect_test', ref('seg-0001'))).toBe('collect_test/ingest/clicks/node-1/seg-0001');
      expect(first).toEqual({ stream: 'clicks', batch: 'node-1/seg-0001', rows: 2, quarantined: 0, alreadyLoaded: false });
      expect(await segments().list('clicks')).toEqual([]);
      expect(await deps().objectStore.list('_log/')).toEqual([]);
      expect(await query(`SELECT _event_id, user_id, ts, item_id, dwell_ms, _batch FROM flywheel.stream_clicks ORDER BY ts`)).toEqual([
        { _event_id: 'e2', user_id: 2, ts: '2024-04-30T23:59:00.000Z', item_id: 101, dwell_ms: null, _batch: 'node-1/seg-0001' },
        { _event_id: 'e1', user_id: 1, ts: '2024-05-01T10:00:00.000Z', item_id: 100, dwell_ms: 350, _batch: 'node-1/seg-0001' },
      ]);

      // The same segment again (restored from a backup, say): the ledger makes it a no-op.
      await writeSegment('seg-0001', [click('e1', 1, '2024-05-01T10:00:00Z', 100, 350), click('e3', 3, '2024-05-01T11:00:00Z', 102)]);
      const again = await runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
        client.workflow.execute(ingestSegment, { taskQueue, workflowId: `${ingestSegmentWorkflowId('collect_test', ref('seg-0001'))}/again`, args: [{ project: 'collect_test', ...ref('seg-0001'), keep: true }] }),
      );
      expect(again).toEqual({ stream: 'clicks', batch: 'node-1/seg-0001', rows: 2, quarantined: 0, alreadyLoaded: true });
      expect(await query(`SELECT count(*) AS n FROM flywheel.stream_clicks`)).toEqual([{ n: 2 }]);
      expect(await segments().list('clicks')).toEqual([]);
      expect(await segments().listArchived('clicks')).toEqual([ref('seg-0001')]);
      expect(await query(`SELECT stream, batch, rows FROM flywheel.ingest_ledger WHERE stream = 'clicks'`)).toEqual([{ stream: 'clicks', batch: 'node-1/seg-0001', rows: 2 }]);
    } finally {
      await client.connection.close();
    }
  });

  it('refuses a second start of the same segment while it runs, through its workflow id', async () => {
    await writeSegment('seg-0002', [click('e4', 4, '2024-05-01T12:00:00Z', 103)]);
    const client = await connectClient();
    try {
      const workflowId = ingestSegmentWorkflowId('collect_test', ref('seg-0002'));
      await client.workflow.start(ingestSegment, { taskQueue, workflowId, args: [{ project: 'collect_test', ...ref('seg-0002') }] });
      await expect(client.workflow.start(ingestSegment, { taskQueue, workflowId, args: [{ project: 'collect_test', ...ref('seg-0002') }] })).rejects.toThrow(/already started/i);
      const result = await runWorker({ taskQueue, activities: createActivities(deps()) }, () => client.workflow.getHandle(workflowId).result());
      expect(result).toMatchObject({ rows: 1, alreadyLoaded: false });
    } finally {
      await client.connection.close();
    }
  });

  it('the safety net loads segments nobody ingested, skipping ids already stored, and external tables by watermark', async () => {
    await writeSegment('seg-0003', [click('e5', 5, '2024-05-02T08:00:00Z', 104), click('e1', 1, '2024-05-01T10:00:00Z', 100, 350)]);
    await writeSegment('seg-0004', [click('e6', 6, '2024-05-02T09:00:00Z', 105)]);
    const engine = await openDuckDBEngine({ path: warehouse });
    await engine.run({ sql: `INSERT INTO raw_orders VALUES (1, '2024-05-01 10:00:00+00', 'o1', 20.0, '2024-05-01 10:05:00+00'), (2, '2024-05-01 11:00:00+00', 'o2', 35.5, '2024-05-01 11:05:00+00')`, parameters: [] });
    await engine.close();
    const client = await connectClient();
    try {
      const run = () => runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
        client.workflow.execute(ingestPending, { taskQueue, workflowId: `pending-${Date.now()}`, args: [{ project: 'collect_test' }] }),
      );
      expect(await run()).toEqual({ segments: 2, rows: 2, quarantined: 0, tables: [{ stream: 'orders', rows: 2, watermark: '2024-05-01T11:05:00.000Z' }] });
      expect(await query(`SELECT _event_id FROM flywheel.stream_clicks ORDER BY _event_id`)).toEqual(['e1', 'e2', 'e4', 'e5', 'e6'].map((_event_id) => ({ _event_id })));

      // A row loaded late but within the lookback is picked up; rows already stored are not stored again.
      const more = await openDuckDBEngine({ path: warehouse });
      await more.run({ sql: `INSERT INTO raw_orders VALUES (3, '2024-05-01 09:00:00+00', 'o3', 5.0, '2024-05-01 10:30:00+00')`, parameters: [] });
      await more.close();
      const second = await run();
      expect(second.segments).toBe(0);
      expect(await query(`SELECT _event_id, amount FROM flywheel.stream_orders ORDER BY _event_id`)).toEqual([
        { _event_id: 'o1', amount: 20 }, { _event_id: 'o2', amount: 35.5 }, { _event_id: 'o3', amount: 5 },
      ]);
    } finally {
      await client.connection.close();
    }
  });
});
