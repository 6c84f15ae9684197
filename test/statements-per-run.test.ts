import { mkdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import type { PartitionManifest } from '../core/training-set/manifest.ts';
import { buildTrainingSet } from '../workflows/build-training-set.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { countingEngine, totalStatements, type StatementCounts } from './support/counting-engine.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * Round trips per run (issue 14, item 5): each statement costs ~100 ms or more on Snowflake, so a
 * training set's run must issue as many statements for 90 daily partitions as for 3. Every call the
 * activities make on the engine is counted (test/support/counting-engine.ts) while the workflow runs
 * on the shared Temporal dev server over a real DuckDB file and a local object store.
 */

const definitions = `
import { entity, featureView, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const spend = source({ name: 'spend_src', table: 'spend', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
export const checks = source({ name: 'checks', table: 'checks', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' } });
export const spendView = featureView({ name: 'user_spend', entities: [user], source: spend, features: { amount: 'float64' } });
export const daily = trainingSet({ name: 'daily_checks', spine: checks, features: [spendView], output: { path: 'datasets/daily', partitionBy: 'day' } });
`;

let project: TempProject;
let warehouse: string;
let objectsRoot: string;
const taskQueue = testTaskQueue();

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: 'rounds', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': definitions,
  });
  warehouse = join(project.dir, '.flywheel', 'warehouse.duckdb');
  objectsRoot = join(project.dir, '.flywheel', 'objects');
  const engine = await openDuckDBEngine({ path: warehouse });
  // Day d of 2024 (d = 0 … 89, 2024-01-01 … 2024-03-30): user 1 spends d at 06:00 and is checked at 12:00.
  await engine.run({
    sql: `
    CREATE TABLE spend AS SELECT 1::BIGINT AS user_id, TIMESTAMPTZ '2024-01-01 06:00:00+00' + to_days(d::INTEGER) AS ts, d::DOUBLE AS amount FROM range(90) t(d);
    CREATE TABLE checks AS SELECT 1::BIGINT AS user_id, TIMESTAMPTZ '2024-01-01 12:00:00+00' + to_days(d::INTEGER) AS ts FROM range(90) t(d);
    `,
    parameters: [],
  });
  await engine.close();
  const applied = project.cli('apply');
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
});

afterAll(() => project?.remove());

/** Runs the training set over [from, to) and returns the statements its activities issued, by method. */
async function countedRun(from: string, to: string): Promise<{ counts: StatementCounts; partitions: number; rowCount: number }> {
  const counts: StatementCounts = new Map();
  const scratchDir = join(project.dir, '.flywheel', 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  const activities = createActivities({
    project: 'rounds',
    openEngine: async () => countingEngine(await openDuckDBEngine({ path: warehouse }), counts),
    registry: (engine) => new WarehouseRegistry(engine),
    objectStore: new LocalObjectStore(objectsRoot),
    scratchDir,
  });
  const client = await connectClient();
  try {
    const result = await runWorker({ taskQueue, activities }, () =>
      client.workflow.execute(buildTrainingSet, { taskQueue, workflowId: `rounds-${from}-${to}-${taskQueue}`, args: [{ project: 'rounds', trainingSet: 'daily_checks', from, to }] }));
    return { counts, partitions: result.partitions.length, rowCount: result.rowCount };
  } finally {
    await client.connection.close();
  }
}

describe('statements per training-set run', () => {
  it('issues as many statements for 90 daily partitions as for 3: one partitioned write, not one per partition', async () => {
    const three = await countedRun('2024-01-01T00:00:00.000Z', '2024-01-04T00:00:00.000Z');
    const ninety = await countedRun('2024-01-01T00:00:00.000Z', '2024-03-31T00:00:00.000Z');
    expect([three.partitions, three.rowCount]).toEqual([3, 3]);
    expect([ninety.partitions, ninety.rowCount]).toEqual([90, 90]);

    expect(Object.fromEntries(ninety.counts)).toEqual(Object.fromEntries(three.counts));
    // As measured on DuckDB: registry reads, the sources described, the two tables' facts, the working table,
    // its statistics (the null-timestamp count among them), one partitioned write, the working table dropped, one watermark per view.
    expect(Object.fromEntries(ninety.counts)).toEqual({ all: 6, describe: 2, tableFacts: 2, createWorkingTable: 1, exportPartitionedParquet: 1, run: 1 });
    // Every partition in one write; no file of its own per partition.
    // The bound docs/snowflake.md states ("Statements per run"), measured here.
    expect(totalStatements(ninety.counts)).toBeLessThanOrEqual(STATEMENTS_PER_RUN_BOUND);

    // What was written: day d's row has spend d (the value of 06:00 that day, as of 12:00).
    const folder = join(objectsRoot, 'datasets', 'daily');
    expect((await readdir(folder)).filter((name) => name.startsWith('day=')).length).toBe(90);
    const engine = await openDuckDBEngine({ path: ':memory:' });
    try {
      const rows = await engine.all({ sql: `SELECT * FROM read_parquet('${join(folder, 'day=2024-02-15', '*.parquet')}', hive_partitioning = false)`, parameters: [] });
      expect(rows).toEqual([{ user_id: 1, ts: '2024-02-15T12:00:00.000Z', amount: 45 }]);
      const manifest = JSON.parse(await readFile(join(folder, '_partitions', 'day=2024-03-30.json'), 'utf8')) as PartitionManifest;
      expect(manifest).toMatchObject({ rowCount: 1, files: [{ key: 'datasets/daily/day=2024-03-30/part-00000.parquet', rowCount: 1 }], columnStats: { amount: { nulls: 0, min: 89, max: 89 } } });
    } finally {
      await engine.close();
    }
  });

  it('writes a single partition in a constant number of statements too, through its own file', async () => {
    const one = await countedRun('2024-01-10T00:00:00.000Z', '2024-01-11T00:00:00.000Z');
    expect([one.partitions, one.rowCount]).toEqual([1, 1]);
    // The join straight into the partition's file, then its statistics read back through a stage.
    expect(Object.fromEntries(one.counts)).toEqual({ all: 6, describe: 2, tableFacts: 2, exportParquet: 1, stageFiles: 1, unstageFiles: 1 });
    expect(totalStatements(one.counts)).toBeLessThanOrEqual(STATEMENTS_PER_RUN_BOUND);
  });
});

/** The most statements a run of this training set (one source, one view, a table spine) issues, whatever its partitions. */
const STATEMENTS_PER_RUN_BOUND = 13;
