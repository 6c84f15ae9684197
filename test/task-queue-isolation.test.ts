import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { loadConfig, type ResolvedConfig } from '../runtime/load-config.ts';
import { startBackfill } from '../cli/runs/backfill-run.ts';
import { startLoopRun } from '../cli/runs/loop-run.ts';
import { backfillProgressQuery } from '../workflows/backfill-training-set.ts';
import { ingestStream } from '../workflows/ingest.ts';
import { startProjectWorker, type RunningWorker } from '../worker/start-project-worker.ts';
import { connectClient, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * Task queues per workload (docs/deployment.md, "Workers"): two workers as a fleet runs them, one
 * polling the training-set queue with a single activity slot, the other the ingest and project
 * queues. A long backfill fills its worker's slot for many seconds; an ingest run started meanwhile
 * on its own queue finishes at once, long before the backfill does. The loop's stages start on their
 * workloads' queues.
 */

const PROJECT = 'fleet_test';
const base = testTaskQueue();
const QUEUES = { project: base, ingest: `${base}-ingest`, trainingSets: `${base}-training-sets` };
/** Twenty day partitions, each a child run of three activities, one activity at a time. */
const DAYS = 20;

let project: TempProject;
let config: ResolvedConfig;
let client: Client;
const workers: RunningWorker[] = [];

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
const local = localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${QUEUES.project}' });
export default defineConfig({ project: '${PROJECT}', definitions: './definitions', profiles: {
  local: { ...local, temporal: { ...local.temporal, taskQueues: { ingest: '${QUEUES.ingest}', trainingSets: '${QUEUES.trainingSets}' } } },
} });
`,
    'definitions/all.ts': `
import { entity, eventStream, featureView, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const stats = source({ name: 'stats', table: 'stats', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', clicks: 'int64' } });
export const spine = source({ name: 'impressions', table: 'impressions', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', clicked: 'bool' } });
export const view = featureView({ name: 'user_clicks', entities: [user], source: stats, features: { clicks: 'int64' } });
export const training = trainingSet({ name: 'daily', spine, features: [view], output: { path: 'datasets/daily' } });
export const orders = eventStream({ name: 'orders', entities: [user], timestampField: 'ts', retention: '30d',
  fields: { order_id: 'string', amount: 'float64' }, from: { table: 'raw_orders', watermark: 'ts', lookback: '1h' } });
`,
  });
  const engine = await openDuckDBEngine({ path: join(project.dir, '.flywheel', 'warehouse.duckdb') });
  // Day d (1..20): user 1 had d clicks at midnight, impressions at 06:00 and 18:00. Three orders.
  await engine.run({
    sql: `CREATE TABLE stats AS SELECT 1::BIGINT AS user_id, TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_days(d - 1) AS ts, d::BIGINT AS clicks FROM range(1, ${DAYS + 1}) t(d);
          CREATE TABLE impressions AS SELECT 1::BIGINT AS user_id, TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_days(d) + to_hours(h) AS ts, (h = 18) AS clicked FROM range(0, ${DAYS}) t(d), (VALUES (6), (18)) v(h);
          CREATE TABLE raw_orders (user_id BIGINT, ts TIMESTAMPTZ, order_id VARCHAR, amount DOUBLE);
          INSERT INTO raw_orders VALUES (1, '2024-03-01 10:00:00+00', 'o1', 20.0), (1, '2024-03-01 12:00:00+00', 'o2', 5.0), (2, '2024-03-01 11:00:00+00', 'o3', 7.5);`,
    parameters: [],
  });
  await engine.close();
  const applied = project.cli('apply');
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  config = await loadConfig({ cwd: project.dir });
  const workflowBundle = { codePath: inject('workflowBundlePath') };
  // Two workers, as two `flywheel worker` processes would be (DuckDB allows one process per file, so here they share this one).
  workers.push(await startProjectWorker(config, { taskQueues: [QUEUES.trainingSets], maxConcurrentActivities: 1, workflowBundle }));
  workers.push(await startProjectWorker(config, { taskQueues: [QUEUES.ingest, QUEUES.project], workflowBundle }));
  client = await connectClient();
}, 120_000);

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.shutdown()));
  await client?.connection.close();
  project?.remove();
});

/** The task queue of every activity a run scheduled. */
async function activityQueues(workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((event) => (event.activityTaskScheduledEventAttributes ? [event.activityTaskScheduledEventAttributes.taskQueue?.name ?? ''] : []));
}

describe('task queues per workload', () => {
  it('an ingest run on its own queue does not wait for a long backfill on the training-set queue', async () => {
    expect(config.profile.temporal.taskQueues).toEqual({ ...QUEUES, labels: QUEUES.project, materialization: QUEUES.project });
    const backfillStarted = Date.now();
    const backfill = await startBackfill(client, config.profile.temporal, { project: PROJECT, trainingSet: 'daily', from: '2024-03-01', to: '2024-03-21', concurrency: 4 });
    // Wait until the backfill's children hold the training-set worker's one activity slot.
    // (The progress query answers once the backfill has planned its partitions.)
    const running = () => backfill.query(backfillProgressQuery).then((p) => p.running.length, () => 0);
    for (let i = 0; i < 200 && (await running()) === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));

    const ingestStarted = Date.now();
    const ingested = await client.workflow.execute(ingestStream, { taskQueue: config.profile.temporal.taskQueues.ingest, workflowId: `${PROJECT}/ingest/orders/${base}`, args: [{ project: PROJECT, stream: 'orders' }] });
    const ingestMs = Date.now() - ingestStarted;
    const atIngestEnd = await backfill.query(backfillProgressQuery);
    const statusAtIngestEnd = (await backfill.describe()).status.name;

    const result = await backfill.result();
    const backfillMs = Date.now() - backfillStarted;
    process.stderr.write(`[task-queue-isolation] ingest ${ingestMs} ms while the backfill ran; backfill ${backfillMs} ms; partitions done when the ingest ended: ${atIngestEnd.done}/${atIngestEnd.total}\n`);

    expect(ingested).toMatchObject({ stream: 'orders', from: 'table', segments: 0, rows: 3, quarantined: 0 });
    expect(result).toMatchObject({ total: DAYS, succeeded: DAYS, rowCount: 2 * DAYS, failed: [] });
    // The ingest ended while the backfill was still building, with most of its partitions to go.
    expect(statusAtIngestEnd).toBe('RUNNING');
    expect(atIngestEnd.done).toBeLessThan(DAYS / 2);
    // Generous bounds for a shared 2-core machine: seconds for the ingest, several times more for the backfill.
    expect(ingestMs).toBeLessThan(8_000);
    expect(backfillMs).toBeGreaterThan(2 * ingestMs);

    // Every activity ran on its workload's queue: the ingest's on the ingest queue, each partition's on the training-set queue.
    expect(new Set(await activityQueues(`${PROJECT}/ingest/orders/${base}`))).toEqual(new Set([QUEUES.ingest]));
    const children: string[] = [];
    for await (const child of client.workflow.list({ query: `ParentWorkflowId = '${backfill.workflowId}'` })) children.push(child.workflowId);
    expect(children).toHaveLength(DAYS);
    expect(new Set((await Promise.all(children.map(activityQueues))).flat())).toEqual(new Set([QUEUES.trainingSets]));
  }, 180_000);

  it("runs the loop on the project queue and each of its stages on its workload's queue", async () => {
    const handle = await startLoopRun(client, config.profile.temporal, { project: PROJECT, only: ['ingest', 'trainingSet'], asOf: '2024-03-05T06:00:00Z' });
    const result = await handle.result();
    expect(result.stages.map((stage) => [stage.id, stage.status])).toEqual([['ingest:orders', 'succeeded'], ['trainingSet:daily', 'succeeded']]);
    const description = await handle.describe();
    expect(description.taskQueue).toBe(QUEUES.project);
    const stageQueues = await Promise.all(result.stages.map(async (stage) => [stage.id, (await client.workflow.getHandle(stage.workflowId!).describe()).taskQueue]));
    expect(stageQueues).toEqual([['ingest:orders', QUEUES.ingest], ['trainingSet:daily', QUEUES.trainingSets]]);
  }, 120_000);
});
