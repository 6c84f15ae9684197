import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { ingestSweepWorkflowId } from '../cli/serve/ingestion-starter.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { encodeRecords } from '../connectors/log-store/segment-log/index.ts';
import { ingestSweep, ingestSweepQuery, type IngestSweepTotals } from '../workflows/ingest-sweep.ts';
import { runSearchAttributes } from '../workflows/search-attributes.ts';
import { connectClient, runWorker, testTaskQueue } from './setup/temporal.ts';
import { putSealedSegment } from './support/sealed-segments.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * The ingestion safety net as one long-lived workflow (issue 13): sweeps that find nothing leave no
 * run in the workflow list, and a segment nobody ingested is loaded by the next sweep, as its own
 * per-segment run; retention of the streams without a schedule of their own runs from the sweep (issue 12).
 */

const PROJECT = 'sweep_test';
let project: TempProject;
let stateDir: string;
const taskQueue = testTaskQueue();

function deps(): ActivityDeps {
  const scratchDir = join(stateDir, 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return { project: PROJECT, openEngine: () => openDuckDBEngine({ path: join(stateDir, 'warehouse.duckdb') }), registry: (e) => new WarehouseRegistry(e), objectStore: new LocalObjectStore(join(stateDir, 'objects')), scratchDir, stateDir };
}

beforeAll(() => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';\nexport default defineConfig({ project: '${PROJECT}', definitions: './definitions', profiles: { local: localProfile() } });\n`,
    'definitions/streams.ts': `
import { entity, eventStream } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { item_id: 'int64' } });
`,
  });
  stateDir = join(project.dir, '.flywheel');
  expect(project.cli('apply').code).toBe(0);
});

afterAll(() => project?.remove());

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const value = await read().catch(() => undefined);
    if (value !== undefined && done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('the ingest sweep', () => {
  it('leaves one run in the list while it finds nothing, and loads a forgotten segment as its own run', async () => {
    const client = await connectClient();
    const workflowId = ingestSweepWorkflowId(PROJECT);
    try {
      const handle = await client.workflow.start(ingestSweep, {
        taskQueue, workflowId, args: [{ project: PROJECT, everySeconds: 1, retentionEverySeconds: 4 }], typedSearchAttributes: runSearchAttributes({ project: PROJECT, kind: 'ingest', object: 'sweep' }),
      });
      await runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
        const idle = await until(() => handle.query(ingestSweepQuery), (t) => t.sweeps >= 3, 'three sweeps');
        // The first sweep ran retention (the stream declares no retentionSchedule); nothing was stored yet.
        expect(idle).toEqual({ sweeps: idle.sweeps, sweepsWithWork: 0, segments: 0, rows: 0, retentionRuns: 1, retentionDeleted: 0 } satisfies IngestSweepTotals);

        // A segment uploaded to the object store whose ingestion was never started (its node was cut off from Temporal).
        await putSealedSegment(deps().objectStore, { stream: 'clicks', segmentId: 'seg-0001' }, encodeRecords([
          JSON.stringify({ _event_id: 'e1', user_id: 1, ts: '2024-05-01T10:00:00Z', item_id: 7, _received_at: '2024-05-01T10:00:01.000Z' }),
          JSON.stringify({ _event_id: 'e2', user_id: 2, ts: '2024-05-01T10:00:02Z', item_id: 8, _received_at: '2024-05-01T10:00:03.000Z' }),
        ]));
        const worked = await until(() => handle.query(ingestSweepQuery), (t) => t.segments === 1, 'the segment to be swept');
        expect(worked).toMatchObject({ sweepsWithWork: 1, segments: 1, rows: 2 });
        // Both events are older than the stream's 90 days: the next retention run deletes them.
        const retained = await until(() => handle.query(ingestSweepQuery), (t) => (t.retentionDeleted ?? 0) === 2, 'retention to delete the old events');
        expect(retained.retentionFailures).toBeUndefined();
      });
      const engine = await openDuckDBEngine({ path: join(stateDir, 'warehouse.duckdb') });
      try {
        expect(await engine.all({ sql: 'SELECT count(*)::INTEGER AS n FROM flywheel.stream_clicks', parameters: [] })).toEqual([{ n: 0 }]);
      } finally {
        await engine.close();
      }

      const runs = await until(async () => {
        const ids: string[] = [];
        for await (const run of client.workflow.list({ query: `FlywheelProject = '${PROJECT}'` })) ids.push(run.workflowId);
        return ids.sort();
      }, (ids) => ids.filter((id) => id.includes('/retention/')).length >= 2, 'the list to show the retention runs');
      // Every empty sweep happened inside the one run; the others are the segment's run and the daily
      // (here every 4 s) retention runs, each named by the instant it was as of.
      expect(runs.filter((id) => !id.includes('/retention/'))).toEqual([`${PROJECT}/ingest/clicks/node-1/seg-0001`, workflowId]);
      for (const id of runs.filter((r) => r.includes('/retention/'))) expect(id).toMatch(new RegExp(`^${PROJECT}/retention/all/\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z$`));
      expect((await handle.describe()).status.name).toBe('RUNNING');
    } finally {
      await client.workflow.getHandle(workflowId).terminate('test over').catch(() => undefined);
      await client.connection.close();
    }
  }, 120_000);
});
