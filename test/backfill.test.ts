import { mkdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import type { ObjectStore } from '../connectors/object-store/object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { FlywheelError } from '../core/errors.ts';
import type { DatasetManifest, PartitionManifest } from '../core/training-set/manifest.ts';
import { backfillProgressQuery, backfillTrainingSet } from '../workflows/backfill-training-set.ts';
import { FLYWHEEL_KIND, FLYWHEEL_PARTITIONS_DONE, FLYWHEEL_PARTITIONS_FAILED, FLYWHEEL_PARTITIONS_TOTAL } from '../workflows/search-attributes.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/** Backfills on the shared Temporal dev server: a five-day range of a small training set. */

let project: TempProject;
let warehouse: string;
let objectsRoot: string;
const taskQueue = testTaskQueue();
const DAYS = ['2024-03-01', '2024-03-02', '2024-03-03', '2024-03-04', '2024-03-05'];

function deps(objectStore: ObjectStore = new LocalObjectStore(objectsRoot)): ActivityDeps {
  const scratchDir = join(project.dir, '.flywheel', 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return { project: 'backfill_test', openEngine: () => openDuckDBEngine({ path: warehouse }), registry: (e) => new WarehouseRegistry(e), objectStore, scratchDir };
}

/** A real local store whose staged uploads for `day` fail (or are slowed down), as a broken disk or network would. */
function faultyStore(options: { failDay?: string; delayMs?: number }): ObjectStore {
  const store = new LocalObjectStore(objectsRoot);
  return Object.assign(Object.create(store) as ObjectStore, {
    putFile: async (key: string, path: string, putOptions?: { move?: boolean }) => {
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      if (options.failDay && key.includes(`/day=${options.failDay}/`)) throw new FlywheelError(`disk full while writing ${key}`);
      return store.putFile(key, path, putOptions);
    },
  });
}

const readJson = async <T>(path: string) => JSON.parse(await readFile(path, 'utf8')) as T;
const folder = () => join(objectsRoot, 'datasets', 'clicks');

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: 'backfill_test', definitions: './definitions',
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
  // Each day d (1..5): user 1 had d*10 clicks by midnight; impressions at 06:00 and 18:00.
  await engine.run({
    sql: `CREATE TABLE stats AS SELECT 1::BIGINT AS user_id, TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_days(d - 1) AS ts, (d * 10)::BIGINT AS clicks FROM range(1, 6) t(d);
          CREATE TABLE impressions AS SELECT 1::BIGINT AS user_id, TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_days(d) + to_hours(h) AS ts, (h = 18) AS clicked FROM range(0, 5) t(d), (VALUES (6), (18)) v(h);`,
    parameters: [],
  });
  await engine.close();
  expect(project.cli('apply').code).toBe(0);
});

afterAll(() => project?.remove());

describe('flywheel backfill', () => {
  it('lists what a dry run would build and start nothing', () => {
    const result = project.cli('backfill', 'clicks', '--from', '2024-03-04', '--to', '2024-03-06', '--dry-run', '--reverse');
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('day=2024-03-05  new\nday=2024-03-04  new\nWould build 2 partitions of clicks (0 published ones replaced, 2 new), 2 at a time. Nothing was started.\n');
  });

  it('builds every partition as a child run, newest first, with progress in the UI, then the index', async () => {
    const cli = await runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
      project.cliAsync('backfill', 'clicks', '--from', '2024-03-01', '--to', '2024-03-06', '--concurrency', '1', '--reverse', '--json'),
    );
    expect(cli.code).toBe(0);
    const result = JSON.parse(cli.stdout) as { workflowId: string; total: number; succeeded: number; rowCount: number; failed: unknown[] };
    expect(result).toMatchObject({ total: 5, succeeded: 5, rowCount: 10, failed: [] });

    const index = await readJson<DatasetManifest>(join(folder(), '_manifest.json'));
    expect(index.partitions.map((p) => [p.key, p.rowCount])).toEqual(DAYS.map((d) => [`day=${d}`, 2]));
    // As of 2024-03-03 06:00 the latest stats row is 2024-03-03 00:00 (30 clicks).
    expect((await readJson<PartitionManifest>(join(folder(), '_partitions', 'day=2024-03-03.json'))).columnStats.clicks).toEqual({ nulls: 0, min: 30, max: 30, mean: 30 });

    const client = await connectClient();
    try {
      const backfill = client.workflow.getHandle(result.workflowId);
      const description = await backfill.describe();
      expect(description.typedSearchAttributes.get(FLYWHEEL_KIND)).toBe('backfill');
      expect(description.typedSearchAttributes.get(FLYWHEEL_PARTITIONS_TOTAL)).toBe(5);
      expect(description.typedSearchAttributes.get(FLYWHEEL_PARTITIONS_DONE)).toBe(5);
      expect(description.typedSearchAttributes.get(FLYWHEEL_PARTITIONS_FAILED)).toBe(0);
      const children = [];
      for await (const child of client.workflow.list({ query: `ParentWorkflowId = '${result.workflowId}'` })) children.push(child);
      // Each partition's child has the id a `flywheel run training-set --from --to` of it would (core/run-ids.ts).
      expect(result.workflowId).toBe('backfill_test/backfill/clicks/2024-03-01..2024-03-06');
      const next = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
      expect(children.sort((a, b) => a.startTime.getTime() - b.startTime.getTime()).map((c) => c.workflowId)).toEqual(DAYS.map((d) => `backfill_test/training-set/clicks/${d}..${next(d)}`).reverse());
    } finally {
      await client.connection.close();
    }
  });

  it('writes a partition twice with the same result as once', async () => {
    const before = await readFile(join(folder(), 'day=2024-03-02', 'part-00000.parquet'));
    const cli = await runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
      project.cliAsync('backfill', 'clicks', '--from', '2024-03-02', '--to', '2024-03-03'),
    );
    expect(cli.code).toBe(0);
    expect(await readdir(join(folder(), 'day=2024-03-02'))).toEqual(['part-00000.parquet']);
    expect(await readFile(join(folder(), 'day=2024-03-02', 'part-00000.parquet'))).toEqual(before);
  });

  it('reports a partition that keeps failing, and --only-failed re-runs just that one', async () => {
    const failing = await runWorker({ taskQueue, activities: createActivities(deps(faultyStore({ failDay: '2024-03-03' }))) }, () =>
      project.cliAsync('backfill', 'clicks', '--from', '2024-03-01', '--to', '2024-03-06', '--max-attempts', '2'),
    );
    expect(failing.code).toBe(3);
    expect(failing.stdout).toContain('Backfill of clicks: 4/5 partitions built, 8 rows');
    expect(failing.stdout).toMatch(/failed day=2024-03-03: disk full while writing datasets\/clicks\/_staging\/\S+\/day=2024-03-03\/part-00000.parquet/);
    expect(failing.stdout).toContain('Run `flywheel backfill clicks --only-failed` to retry the 1 failed partitions.');

    const retried = await runWorker({ taskQueue, activities: createActivities(deps()) }, () => project.cliAsync('backfill', 'clicks', '--only-failed', '--json'));
    expect(retried.stderr).toContain('Re-running 1 failed partitions of');
    expect(retried.code).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject({ total: 1, succeeded: 1, rowCount: 2, failed: [] });

    const nothing = await runWorker({ taskQueue, activities: createActivities(deps()) }, () => project.cliAsync('backfill', 'clicks', '--only-failed'));
    expect(nothing.stdout).toContain('had no failed partitions; nothing to re-run.');
  });

  it('continues as new to keep the history bounded over long ranges', async () => {
    const client = await connectClient();
    try {
      const workflowId = `long-${taskQueue}`;
      const result = await runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
        client.workflow.execute(backfillTrainingSet, {
          taskQueue, workflowId,
          args: [{ project: 'backfill_test', trainingSet: 'clicks', from: '2024-03-01', to: '2024-03-06', concurrency: 2, partitionsPerRun: 2 }],
        }),
      );
      expect(result).toMatchObject({ total: 5, succeeded: 5, failed: [] });
      const runs = [];
      for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(execution.status.name);
      expect(runs.sort()).toEqual(['COMPLETED', 'CONTINUED_AS_NEW', 'CONTINUED_AS_NEW']);
    } finally {
      await client.connection.close();
    }
  });

  it('cancels its running partitions when it is cancelled', async () => {
    const client = await connectClient();
    try {
      const workflowId = `cancel-${taskQueue}`;
      const outcome = await runWorker({ taskQueue, activities: createActivities(deps(faultyStore({ delayMs: 1500 }))) }, async () => {
        const handle = await client.workflow.start(backfillTrainingSet, {
          taskQueue, workflowId, args: [{ project: 'backfill_test', trainingSet: 'clicks', from: '2024-03-01', to: '2024-03-06', concurrency: 2 }],
        });
        for (let i = 0; i < 100; i++) {
          const progress = await handle.query(backfillProgressQuery).catch(() => undefined);
          if (progress?.running.length === 2) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await handle.cancel();
        return handle.result().catch((error: unknown) => error);
      });
      expect(outcome).toBeInstanceOf(WorkflowFailedError);
      expect((outcome as WorkflowFailedError).cause?.name).toBe('CancelledFailure');
      const statuses = [];
      for await (const child of client.workflow.list({ query: `ParentWorkflowId = '${workflowId}'` })) statuses.push(child.status.name);
      expect(statuses.sort()).toEqual(['CANCELLED', 'CANCELLED']);
    } finally {
      await client.connection.close();
    }
  });
});
