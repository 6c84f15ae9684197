import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { ObjectStoreSegmentStore } from '../connectors/log-store/index.ts';
import { encodeRecords } from '../connectors/log-store/segment-log/index.ts';
import { ingestSegment, ingestSegmentWorkflowId, loadStreamSegment, streamLoadWorkflowId } from '../workflows/ingest.ts';
import { replayQuarantine, replayQuarantineWorkflowId } from '../workflows/quarantine.ts';
import { connectClient, runWorker, testTaskQueue } from './setup/temporal.ts';
import { putSealedSegment } from './support/sealed-segments.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * One loader per stream at a time (docs/collect.md): a batch a client sent to two nodes lands in a
 * segment of each, and both segments' ingestions start within a second of each other. Loaded at once,
 * each anti-join sees only what was committed when its transaction began: DuckDB then fails one at its
 * COMMIT (a primary-key violation, not retryable, so its segment waited for the 10-minute sweep: the
 * cluster test's flake), and Snowflake, which enforces no key, would store the shared ids twice. Each
 * segment's load runs as the stream's one load workflow id, so they take turns.
 */

const PROJECT = 'one_load_test';
let project: TempProject;
let warehouse: string;
let stateDir: string;
let client: Client;
const taskQueue = testTaskQueue();

function deps(): ActivityDeps {
  const scratchDir = join(stateDir, 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return { project: PROJECT, openEngine: () => openDuckDBEngine({ path: warehouse }), registry: (e) => new WarehouseRegistry(e), objectStore: new LocalObjectStore(join(stateDir, 'objects')), scratchDir, stateDir };
}

const click = (id: string, user: number) => ({ _event_id: id, user_id: user, ts: '2024-05-01T10:00:00.000Z', item_id: user * 10, _received_at: '2024-05-01T12:00:00.000Z' });
const ref = (node: string, segmentId: string) => ({ stream: 'clicks', node, segmentId });

async function writeSegment(node: string, segmentId: string, ids: string[]): Promise<void> {
  await putSealedSegment(deps().objectStore, { stream: 'clicks', node, segmentId }, encodeRecords(ids.map((id, i) => JSON.stringify(click(id, i + 1)))));
}

async function query(sql: string) {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    return await engine.all({ sql, parameters: [] });
  } finally {
    await engine.close();
  }
}

const start = (segment: ReturnType<typeof ref>) =>
  client.workflow.start(ingestSegment, { taskQueue, workflowId: ingestSegmentWorkflowId(PROJECT, segment), args: [{ project: PROJECT, ...segment }] });

/** Tries the workflow made to take its stream's load while another held it. */
async function refusedStarts(segmentOrWorkflowId: ReturnType<typeof ref> | string): Promise<number> {
  const workflowId = typeof segmentOrWorkflowId === 'string' ? segmentOrWorkflowId : ingestSegmentWorkflowId(PROJECT, segmentOrWorkflowId);
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((event) => event.startChildWorkflowExecutionFailedEventAttributes).length;
}

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';\nexport default defineConfig({ project: '${PROJECT}', definitions: './definitions', profiles: { local: localProfile() } });\n`,
    'definitions/streams.ts': `
import { entity, eventStream } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { item_id: 'int64' } });
`,
  });
  stateDir = join(project.dir, '.flywheel');
  warehouse = join(stateDir, 'warehouse.duckdb');
  const applied = project.cli('apply');
  expect(applied.code, applied.stderr).toBe(0);
  client = await connectClient();
});

afterAll(async () => {
  await client?.connection.close();
  project?.remove();
});

describe("a stream's segments load one at a time", () => {
  it("waits while the stream's load is taken, and loads once it is free", async () => {
    await writeSegment('api-b', 'seg-b1', ['e1', 'e2']);
    // Another segment's load, holding the stream's load id: a run on a queue nobody polls stays open.
    const holder = await client.workflow.start(loadStreamSegment, {
      taskQueue: `${taskQueue}-nobody`, workflowId: streamLoadWorkflowId(PROJECT, 'clicks'), args: [{ project: PROJECT, ...ref('api-x', 'held') }],
    });
    const result = await runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
      const handle = await start(ref('api-b', 'seg-b1'));
      // Bounded by the test's timeout: two refused tries are 250 ms + 500 ms of waits on a quiet server.
      while ((await refusedStarts(ref('api-b', 'seg-b1'))) < 2) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await query(`SELECT count(*)::INTEGER AS n FROM flywheel.stream_clicks`)).toEqual([{ n: 0 }]);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      await holder.terminate('the other load ended');
      return handle.result();
    });
    expect(result).toEqual({ stream: 'clicks', batch: 'api-b/seg-b1', rows: 2, quarantined: 0, alreadyLoaded: false });
    expect(await query(`SELECT _event_id, _batch FROM flywheel.stream_clicks ORDER BY _event_id`)).toEqual([
      { _event_id: 'e1', _batch: 'api-b/seg-b1' }, { _event_id: 'e2', _batch: 'api-b/seg-b1' },
    ]);
    expect(await new ObjectStoreSegmentStore(deps().objectStore).list('clicks')).toEqual([]);
  }, 60_000);

  it('loads segments of two nodes sharing ids, started at once, without overlapping loads: each id once', async () => {
    // Batch [e3..e6] went to api-a, its answer was lost, and the client sent it again to api-b with more.
    await writeSegment('api-a', 'seg-a1', ['e3', 'e4', 'e5', 'e6']);
    await writeSegment('api-b', 'seg-b2', ['e3', 'e4', 'e5', 'e6', 'e7']);
    await writeSegment('api-a', 'seg-a2', ['e7', 'e8']);
    const segments = [ref('api-a', 'seg-a1'), ref('api-b', 'seg-b2'), ref('api-a', 'seg-a2')];
    const results = await runWorker({ taskQueue, activities: createActivities(deps()), workerOptions: { maxConcurrentActivityTaskExecutions: 4 } }, async () => {
      const handles = await Promise.all(segments.map(start));
      return Promise.all(handles.map((handle) => handle.result()));
    });
    // Whoever loaded first stored the shared ids; the rows of the three add up to the 6 distinct ids.
    expect(results.map((r) => r.alreadyLoaded)).toEqual([false, false, false]);
    expect(results.reduce((sum, r) => sum + r.rows, 0)).toBe(6);
    const stored = await query(`SELECT _event_id, count(*)::INTEGER AS n FROM flywheel.stream_clicks GROUP BY _event_id ORDER BY _event_id`);
    expect(stored).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8'].map((_event_id) => ({ _event_id, n: 1 })));
    expect(await query(`SELECT sum(rows)::INTEGER AS n, count(*)::INTEGER AS batches FROM flywheel.ingest_ledger WHERE stream = 'clicks'`)).toEqual([{ n: 8, batches: 4 }]);
    // The stream's load runs (1 terminated in the first case, then one per segment here) never overlap.
    const completedLoads = async () => {
      const runs = [];
      for await (const run of client.workflow.list({ query: `WorkflowId = '${streamLoadWorkflowId(PROJECT, 'clicks')}' AND ExecutionStatus = 'Completed'` })) runs.push(run);
      return runs.map((run) => [run.startTime.getTime(), run.closeTime!.getTime()] as const).sort((a, b) => a[0] - b[0]);
    };
    // The list is eventually consistent: it shows the last close shortly after the result.
    let closed = await completedLoads();
    while (closed.length < 4) closed = await new Promise((resolve) => setTimeout(resolve, 200)).then(completedLoads);
    expect(closed).toHaveLength(4);
    for (let i = 1; i < closed.length; i++) expect(closed[i]![0]).toBeGreaterThanOrEqual(closed[i - 1]![1]);
  }, 60_000);

  it("replays the quarantine only while no load of the stream runs: it waits for the stream's load like a segment", async () => {
    const holder = await client.workflow.start(loadStreamSegment, {
      taskQueue: `${taskQueue}-nobody`, workflowId: streamLoadWorkflowId(PROJECT, 'clicks'), args: [{ project: PROJECT, ...ref('api-x', 'held-2') }],
    });
    const replayId = replayQuarantineWorkflowId(PROJECT, 'clicks');
    const result = await runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
      const handle = await client.workflow.start(replayQuarantine, { taskQueue, workflowId: replayId, args: [{ project: PROJECT, stream: 'clicks' }] });
      while ((await refusedStarts(replayId)) < 2) await new Promise((resolve) => setTimeout(resolve, 100));
      // Nothing replayed while the load is held: no ledger row of a replay yet.
      expect(await query(`SELECT count(*)::INTEGER AS n FROM flywheel.ingest_ledger WHERE starts_with(batch, 'replay:')`)).toEqual([{ n: 0 }]);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      await holder.terminate('the other load ended');
      return { replayed: await handle.result(), runId: handle.firstExecutionRunId };
    });
    // The quarantine is empty here: the replay tries nothing, and records its batch (named after the replay's run) once.
    expect(result.replayed).toEqual({ stream: 'clicks', batch: `replay:${result.runId}`, events: 0, loaded: 0, alreadyStored: 0, refused: 0, alreadyReplayed: false });
    expect(await query(`SELECT batch, rows::INTEGER AS rows FROM flywheel.ingest_ledger WHERE starts_with(batch, 'replay:')`)).toEqual([{ batch: `replay:${result.runId}`, rows: 0 }]);
  }, 60_000);
});
