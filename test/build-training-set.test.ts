import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import type { ObjectStore } from '../connectors/object-store/object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { TransientError } from '../core/errors.ts';
import type { TrainingSetManifest } from '../core/training-set/manifest.ts';
import { buildTrainingSet, trainingSetProgressQuery } from '../workflows/build-training-set.ts';
import { FLYWHEEL_KIND, FLYWHEEL_OBJECT, FLYWHEEL_RANGE_START } from '../workflows/search-attributes.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * The training-set workflow end to end on the shared Temporal dev server: a project applied with
 * the real CLI, a real DuckDB file, a real local object store, expected rows computed by hand.
 */

const definitions = `
import { entity, featureService, featureView, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const spend = source({ name: 'spend_src', table: 'spend', timestampField: 'ts', createdTimestampField: 'created',
  columns: { user_id: 'int64', ts: 'timestamp', created: 'timestamp', amount: 'float64' } });
export const profile = source({ name: 'profile_src', table: 'profile', timestampField: 'updated',
  columns: { user_id: 'int64', updated: 'timestamp', country: 'string' } });
export const labels = source({ name: 'labels', table: 'labels', timestampField: 'ts',
  columns: { user_id: 'int64', ts: 'timestamp', is_fraud: 'bool' } });
export const spendView = featureView({ name: 'user_spend', entities: [user], source: spend, ttl: '1d', features: { amount: 'float64' } });
export const profileView = featureView({ name: 'user_profile', entities: [user], source: profile, features: { country: 'string' } });
export const model = featureService({ name: 'fraud_model', features: [spendView, profileView] });
export const training = trainingSet({ name: 'fraud_training', spine: labels, features: model, output: { path: 'datasets/fraud' } });
`;

let project: TempProject;
let warehouse: string;
let objectsRoot: string;
const taskQueue = testTaskQueue();

function depsWith(objectStore: ObjectStore): ActivityDeps {
  const scratchDir = join(project.dir, '.flywheel', 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return {
    project: 'pit_test',
    openEngine: () => openDuckDBEngine({ path: warehouse }),
    registry: (engine) => new WarehouseRegistry(engine),
    objectStore,
    scratchDir,
  };
}

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: 'pit_test', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': definitions,
  });
  warehouse = join(project.dir, '.flywheel', 'warehouse.duckdb');
  objectsRoot = join(project.dir, '.flywheel', 'objects');
  const engine = await openDuckDBEngine({ path: warehouse });
  await engine.run({
    sql: `
    CREATE TABLE spend (user_id BIGINT, ts TIMESTAMPTZ, created TIMESTAMPTZ, amount DOUBLE);
    INSERT INTO spend VALUES
      (1, '2024-03-01 00:00:00+00', '2024-03-01 00:00:00+00', 10.0),
      (1, '2024-03-01 00:00:00+00', '2024-03-01 05:00:00+00', 12.5),  -- a correction: later created time wins
      (1, '2024-03-02 12:00:00+00', NULL, 30.0),
      (2, '2024-03-01 00:00:00+00', NULL, 7.0);
    CREATE TABLE profile (user_id BIGINT, updated TIMESTAMPTZ, country VARCHAR);
    INSERT INTO profile VALUES (1, '2024-01-01 00:00:00+00', 'DE'), (1, '2024-03-02 00:00:00+00', 'FR'), (2, '2024-02-01 00:00:00+00', 'US');
    CREATE TABLE labels (user_id BIGINT, ts TIMESTAMPTZ, is_fraud BOOLEAN);
    INSERT INTO labels VALUES
      (1, '2024-03-01 06:00:00+00', false),
      (1, '2024-03-02 12:00:00+00', true),
      (2, '2024-03-02 00:00:00+00', false),
      (2, '2024-03-02 00:00:01+00', true),
      (3, '2024-03-03 00:00:00+00', false);
    `,
    parameters: [],
  });
  await engine.close();
  const applied = project.cli('apply');
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
});

afterAll(() => project?.remove());

async function readDataset(folder: string) {
  const engine = await openDuckDBEngine({ path: ':memory:' });
  try {
    return await engine.all({ sql: `SELECT * FROM read_parquet('${join(folder, '*.parquet')}')`, parameters: [] });
  } finally {
    await engine.close();
  }
}

describe('buildTrainingSet workflow', () => {
  it('joins point in time, writes Parquet and then the manifest, and is easy to find', async () => {
    const client = await connectClient();
    try {
      const workflowId = `fraud-training-${taskQueue}`;
      const result = await runWorker({ taskQueue, activities: createActivities(depsWith(new LocalObjectStore(objectsRoot))) }, async () => {
        const handle = await client.workflow.start(buildTrainingSet, { taskQueue, workflowId, args: [{ project: 'pit_test', trainingSet: 'fraud_training' }] });
        const done = await handle.result();
        expect(await handle.query(trainingSetProgressQuery)).toEqual({ stage: 'done', completedStages: 5, totalStages: 5, rowCount: 5 });
        return done;
      });
      expect(result).toMatchObject({ trainingSet: 'fraud_training', registryVersion: 1, rowCount: 5 });
      expect(result.version).toMatch(/^\d{8}T\d{6}_[0-9a-f]{8}$/);

      const folder = join(objectsRoot, 'datasets', 'fraud', result.version);
      expect(result.datasetUri).toBe(`file://${folder}`);
      expect(await readDataset(folder)).toEqual([
        { user_id: 1, ts: '2024-03-01T06:00:00.000Z', is_fraud: false, amount: 12.5, country: 'DE' },
        { user_id: 1, ts: '2024-03-02T12:00:00.000Z', is_fraud: true, amount: 30, country: 'FR' },
        { user_id: 2, ts: '2024-03-02T00:00:00.000Z', is_fraud: false, amount: 7, country: 'US' },
        { user_id: 2, ts: '2024-03-02T00:00:01.000Z', is_fraud: true, amount: null, country: 'US' }, // 1 s past the 1d ttl
        { user_id: 3, ts: '2024-03-03T00:00:00.000Z', is_fraud: false, amount: null, country: null },
      ]);

      const manifest = JSON.parse(await readFile(join(folder, 'manifest.json'), 'utf8')) as TrainingSetManifest;
      expect(manifest).toMatchObject({
        formatVersion: 1, project: 'pit_test', trainingSet: 'fraud_training', version: result.version, registryVersion: 1,
        timeRange: { from: null, to: null }, rowCount: 5,
        schema: [
          { name: 'user_id', type: 'int64' }, { name: 'ts', type: 'timestamp' }, { name: 'is_fraud', type: 'bool' },
          { name: 'amount', type: 'float64' }, { name: 'country', type: 'string' },
        ],
        files: [{ key: `datasets/fraud/${result.version}/part-00000.parquet`, rowCount: 5 }],
        columnStats: {
          user_id: { nulls: 0, min: 1, max: 3, mean: 1.8 },
          amount: { nulls: 2, min: 7, max: 30 },
          country: { nulls: 1 },
          ts: { nulls: 0, min: '2024-03-01T06:00:00.000Z', max: '2024-03-03T00:00:00.000Z' },
        },
      });
      expect(manifest.featureViews.map((v) => v.name)).toEqual(['user_spend', 'user_profile']);
      expect(manifest.featureViews.every((v) => /^[0-9a-f]{64}$/.test(v.definitionHash))).toBe(true);
      expect(JSON.parse(await readFile(join(objectsRoot, 'datasets', 'fraud', '_latest.json'), 'utf8'))).toEqual({
        version: result.version, manifest: `datasets/fraud/${result.version}/manifest.json`,
      });

      // Findable in the UI by training set name and kind; the run's working table is gone.
      const description = await client.workflow.getHandle(workflowId).describe();
      expect(description.typedSearchAttributes.get(FLYWHEEL_OBJECT)).toBe('fraud_training');
      expect(description.typedSearchAttributes.get(FLYWHEEL_KIND)).toBe('training-set');
      const engine = await openDuckDBEngine({ path: warehouse });
      const leftovers = await engine.all({ sql: `SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'run_%'`, parameters: [] });
      await engine.close();
      expect(leftovers).toEqual([]);
    } finally {
      await client.connection.close();
    }
  });

  it('runs a time range through the CLI, with the range as search attributes', async () => {
    const client = await connectClient();
    try {
      const cli = await runWorker({ taskQueue, activities: createActivities(depsWith(new LocalObjectStore(objectsRoot))) }, async () =>
        // spawnSync would block this process's event loop, and with it the worker; run the CLI asynchronously.
        project.cliAsync('run', 'training-set', 'fraud_training', '--from', '2024-03-02', '--to', '2024-03-02T00:00:01Z', '--json'),
      );
      expect(cli.code).toBe(0);
      const result = JSON.parse(cli.stdout) as { workflowId: string; rowCount: number; datasetUri: string; version: string };
      expect(result.rowCount).toBe(1);
      expect(await readDataset(new URL(result.datasetUri).pathname)).toEqual([
        { user_id: 2, ts: '2024-03-02T00:00:00.000Z', is_fraud: false, amount: 7, country: 'US' },
      ]);
      const description = await client.workflow.getHandle(result.workflowId).describe();
      expect(description.typedSearchAttributes.get(FLYWHEEL_RANGE_START)).toEqual(new Date('2024-03-02T00:00:00Z'));
      const manifest = JSON.parse(await readFile(join(new URL(result.datasetUri).pathname, 'manifest.json'), 'utf8')) as TrainingSetManifest;
      expect(manifest.timeRange).toEqual({ from: '2024-03-02T00:00:00.000Z', to: '2024-03-02T00:00:01.000Z' });
    } finally {
      await client.connection.close();
    }
  });

  it('retries a step that failed midway without writing anything twice', async () => {
    const store = new LocalObjectStore(objectsRoot);
    let manifestWrites = 0;
    // The first manifest write fails after the data file was uploaded, as if the store dropped the connection.
    const flaky: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
      putBytes: async (key: string, body: Uint8Array | string) => {
        if (key.endsWith('manifest.json') && manifestWrites++ === 0) throw new TransientError('connection reset by the object store');
        return store.putBytes(key, body);
      },
    });
    const client = await connectClient();
    try {
      const result = await runWorker({ taskQueue, activities: createActivities(depsWith(flaky)) }, () =>
        client.workflow.execute(buildTrainingSet, { taskQueue, workflowId: `retry-${taskQueue}`, args: [{ project: 'pit_test', trainingSet: 'fraud_training' }] }),
      );
      expect(manifestWrites).toBe(2);
      const keys = (await store.list(`datasets/fraud/${result.version}/`)).map((o) => o.key);
      expect(keys).toEqual([`datasets/fraud/${result.version}/manifest.json`, `datasets/fraud/${result.version}/part-00000.parquet`]);
      expect(await readDataset(join(objectsRoot, 'datasets', 'fraud', result.version))).toHaveLength(5);
    } finally {
      await client.connection.close();
    }
  });

  it('fails at once, without retries, for a training set that is not applied', async () => {
    const client = await connectClient();
    try {
      const failure = await runWorker({ taskQueue, activities: createActivities(depsWith(new LocalObjectStore(objectsRoot))) }, () =>
        client.workflow.execute(buildTrainingSet, { taskQueue, workflowId: `missing-${taskQueue}`, args: [{ project: 'pit_test', trainingSet: 'nope' }] }).catch((e: unknown) => e),
      );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const cause = (failure as WorkflowFailedError).cause?.cause as { message: string; type: string; nonRetryable: boolean };
      expect(cause.type).toBe('NotFoundError');
      expect(cause.nonRetryable).toBe(true);
      expect(cause.message).toBe('training set "nope" not found. Known training sets: fraud_training');
    } finally {
      await client.connection.close();
    }
  });
});
