import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { atBoundary } from '../activities/failures.ts';
import { activityScratch } from '../activities/scratch.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { FlywheelError } from '../core/errors.ts';
import type { DatasetManifest } from '../core/training-set/manifest.ts';
import { buildTrainingSet } from '../workflows/build-training-set.ts';
import { connectClient, temporalAddress, temporalNamespace, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * Nothing an activity writes to a worker's disk is read by another activity (docs/deployment.md,
 * "Workers"): one training-set run whose files are written on worker A, which then goes away with its
 * whole scratch folder, and are published by worker B, whose scratch is elsewhere. Each attempt's
 * scratch folder is its own and is gone when the attempt ends.
 */

let project: TempProject;
let warehouse: string;
let objectsRoot: string;
const taskQueue = testTaskQueue();

function deps(scratchDir: string): ActivityDeps {
  mkdirSync(scratchDir, { recursive: true });
  return { project: 'scratch_test', openEngine: () => openDuckDBEngine({ path: warehouse }), registry: (e) => new WarehouseRegistry(e), objectStore: new LocalObjectStore(objectsRoot), scratchDir };
}

/** Every file under a folder, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: 'scratch_test', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': `
import { entity, featureView, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const stats = source({ name: 'stats', table: 'stats', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', clicks: 'int64' } });
export const spine = source({ name: 'impressions', table: 'impressions', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', clicked: 'bool' } });
export const view = featureView({ name: 'user_clicks', entities: [user], source: stats, features: { clicks: 'int64' } });
export const training = trainingSet({ name: 'clicks', spine, features: [view], output: { path: 'datasets/clicks' } });
`,
  });
  warehouse = join(project.dir, '.flywheel', 'warehouse.duckdb');
  objectsRoot = join(project.dir, '.flywheel', 'objects');
  const engine = await openDuckDBEngine({ path: warehouse });
  // Day d (1..3): user 1 had d*10 clicks at midnight; impressions at 06:00 and 18:00.
  await engine.run({
    sql: `CREATE TABLE stats AS SELECT 1::BIGINT AS user_id, TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_days(d - 1) AS ts, (d * 10)::BIGINT AS clicks FROM range(1, 4) t(d);
          CREATE TABLE impressions AS SELECT 1::BIGINT AS user_id, TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_days(d) + to_hours(h) AS ts, (h = 18) AS clicked FROM range(0, 3) t(d), (VALUES (6), (18)) v(h);`,
    parameters: [],
  });
  await engine.close();
  expect(project.cli('apply').code).toBe(0);
}, 60_000);

afterAll(() => project?.remove());

describe('scratch per activity', () => {
  it('a training set written on one worker is published by another that never saw its disk', async () => {
    const scratchA = join(project.dir, 'worker-a', 'scratch');
    const scratchB = join(project.dir, 'worker-b', 'scratch');
    const client = await connectClient();
    const connection = await NativeConnection.connect({ address: temporalAddress() });
    const workflowBundle = { codePath: inject('workflowBundlePath') };
    try {
      // Worker A writes, then is gone before it publishes: its publish fails once, as a worker lost mid-run would.
      let reachedPublish!: () => void;
      const publishReached = new Promise<void>((resolve) => (reachedPublish = resolve));
      const activitiesA = createActivities(deps(scratchA));
      const workerA = await Worker.create({
        connection, namespace: temporalNamespace(), taskQueue, workflowBundle, identity: 'worker-a',
        activities: {
          ...activitiesA,
          publishTrainingSet: async () => {
            reachedPublish();
            throw ApplicationFailure.retryable('worker A stops before publishing', 'WorkerGone');
          },
        },
      });
      const runningA = workerA.run();
      const handle = await client.workflow.start(buildTrainingSet, { taskQueue, workflowId: `scratch-${taskQueue}`, args: [{ project: 'scratch_test', trainingSet: 'clicks' }] });
      await publishReached;
      workerA.shutdown();
      await runningA;
      // What A's activities left on its disk: nothing (each attempt's folder went with it). Then its disk goes entirely.
      expect(await filesUnder(scratchA)).toEqual([]);
      await rm(join(project.dir, 'worker-a'), { recursive: true, force: true });

      const workerB = await Worker.create({ connection, namespace: temporalNamespace(), taskQueue, workflowBundle, identity: 'worker-b', activities: createActivities(deps(scratchB)) });
      const result = await workerB.runUntil(handle.result());

      expect(result.rowCount).toBe(6);
      const index = JSON.parse(await readFile(join(objectsRoot, 'datasets', 'clicks', '_manifest.json'), 'utf8')) as DatasetManifest;
      expect(index.partitions.map((p) => [p.key, p.rowCount])).toEqual([['day=2024-03-01', 2], ['day=2024-03-02', 2], ['day=2024-03-03', 2]]);
      expect(await filesUnder(scratchB)).toEqual([]);

      // Who did what, from the run's history: A planned and wrote, B published (after A's one failed attempt).
      const history = await handle.fetchHistory();
      const typeOf = new Map<string, string>();
      const ranBy: [string, string][] = [];
      for (const event of history.events ?? []) {
        if (event.activityTaskScheduledEventAttributes) typeOf.set(String(event.eventId), event.activityTaskScheduledEventAttributes.activityType?.name ?? '');
        const started = event.activityTaskStartedEventAttributes;
        if (started) ranBy.push([typeOf.get(String(started.scheduledEventId)) ?? '', `${started.identity} (attempt ${started.attempt})`]);
      }
      expect(ranBy).toEqual([
        ['planTrainingSet', 'worker-a (attempt 1)'],
        ['writeTrainingSetFiles', 'worker-a (attempt 1)'],
        ['publishTrainingSet', 'worker-b (attempt 2)'],
      ]);
    } finally {
      await connection.close();
      await client.connection.close();
    }
  }, 120_000);

  it('gives each attempt its own folder and removes it when the attempt fails', async () => {
    const root = join(project.dir, 'unit-scratch');
    let folder = '';
    const failure = await atBoundary(async () => {
      folder = activityScratch(root, 'part');
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, 'file.parquet'), 'x');
      throw new FlywheelError('disk full');
    }).catch((e: unknown) => e);
    expect((failure as ApplicationFailure).message).toBe('disk full');
    // Outside a workflow the attempt gets a fresh folder under local/; it is gone, files and all.
    expect(folder.startsWith(join(root, 'local'))).toBe(true);
    expect(existsSync(join(folder, '..'))).toBe(false);
    expect(await filesUnder(root)).toEqual([]);
  });
});
