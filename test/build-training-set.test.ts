import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { S3ObjectStore } from '../connectors/object-store/s3/s3-object-store.ts';
import type { ObjectStore } from '../connectors/object-store/object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { TransientError } from '../core/errors.ts';
import type { DatasetManifest, PartitionManifest } from '../core/training-set/manifest.ts';
import { buildTrainingSet, trainingSetProgressQuery } from '../workflows/build-training-set.ts';
import { FLYWHEEL_KIND, FLYWHEEL_OBJECT, FLYWHEEL_RANGE_START } from '../workflows/search-attributes.ts';
import { pythonReaders, PYTHON_READERS_TIMEOUT_MS } from './setup/python.ts';
import { createTestBucket, deleteTestBucket, s3TestConfig, useTestCredentials } from './setup/s3.ts';
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

/** Every published row, partition by partition (sorted by folder), each file in its own order. */
async function readDataset(folder: string): Promise<Record<string, Record<string, unknown>[]>> {
  const engine = await openDuckDBEngine({ path: ':memory:' });
  try {
    const files = await engine.all<{ file: string }>({ sql: `SELECT file FROM glob('${join(folder, '*', '*.parquet')}') ORDER BY file`, parameters: [] });
    const byPartition: Record<string, Record<string, unknown>[]> = {};
    for (const { file } of files) {
      const partition = file.split('/').at(-2)!;
      byPartition[partition] = [...(byPartition[partition] ?? []), ...(await engine.all({ sql: `SELECT * FROM read_parquet('${file}', hive_partitioning = false)`, parameters: [] }))];
    }
    return byPartition;
  } finally {
    await engine.close();
  }
}

const readJson = async <T>(path: string) => JSON.parse(await readFile(path, 'utf8')) as T;

describe('buildTrainingSet workflow', () => {
  it('joins point in time, writes Parquet and then the manifest, and is easy to find', async () => {
    const client = await connectClient();
    try {
      const workflowId = `fraud-training-${taskQueue}`;
      const result = await runWorker({ taskQueue, activities: createActivities(depsWith(new LocalObjectStore(objectsRoot))) }, async () => {
        const handle = await client.workflow.start(buildTrainingSet, { taskQueue, workflowId, args: [{ project: 'pit_test', trainingSet: 'fraud_training' }] });
        const done = await handle.result();
        expect(await handle.query(trainingSetProgressQuery)).toEqual({ stage: 'done', completedStages: 3, totalStages: 3, partitions: 3, rowCount: 5 });
        return done;
      });
      expect(result).toMatchObject({
        trainingSet: 'fraud_training', registryVersion: 1, rowCount: 5, empty: false, skippedNullTimestamps: 0,
        partitions: [{ key: 'day=2024-03-01', rowCount: 1 }, { key: 'day=2024-03-02', rowCount: 3 }, { key: 'day=2024-03-03', rowCount: 1 }],
      });
      expect(result.version).toMatch(/^\d{8}T\d{6}_[0-9a-f]{12}$/);

      const folder = join(objectsRoot, 'datasets', 'fraud');
      expect(result.datasetUri).toBe(`file://${folder}`);
      // One folder per UTC day of the spine timestamp; spine order within each.
      expect(await readDataset(folder)).toEqual({
        'day=2024-03-01': [{ user_id: 1, ts: '2024-03-01T06:00:00.000Z', is_fraud: false, amount: 12.5, country: 'DE' }],
        'day=2024-03-02': [
          { user_id: 1, ts: '2024-03-02T12:00:00.000Z', is_fraud: true, amount: 30, country: 'FR' },
          { user_id: 2, ts: '2024-03-02T00:00:00.000Z', is_fraud: false, amount: 7, country: 'US' },
          { user_id: 2, ts: '2024-03-02T00:00:01.000Z', is_fraud: true, amount: null, country: 'US' }, // 1 s past the 1d ttl
        ],
        'day=2024-03-03': [{ user_id: 3, ts: '2024-03-03T00:00:00.000Z', is_fraud: false, amount: null, country: null }],
      });

      const partition = await readJson<PartitionManifest>(join(folder, '_partitions', 'day=2024-03-02.json'));
      expect(partition).toMatchObject({
        formatVersion: 1, project: 'pit_test', trainingSet: 'fraud_training', version: result.version, registryVersion: 1,
        partition: { key: 'day=2024-03-02', value: '2024-03-02', start: '2024-03-02T00:00:00.000Z', end: '2024-03-03T00:00:00.000Z' },
        rowCount: 3,
        schema: [
          { name: 'user_id', type: 'int64' }, { name: 'ts', type: 'timestamp' }, { name: 'is_fraud', type: 'bool' },
          { name: 'amount', type: 'float64' }, { name: 'country', type: 'string' },
        ],
        sourceWatermarks: { user_spend: '2024-03-02T12:00:00.000Z', user_profile: '2024-03-02T00:00:00.000Z' },
        files: [{ key: 'datasets/fraud/day=2024-03-02/part-00000.parquet', rowCount: 3 }],
        columnStats: {
          user_id: { nulls: 0, min: 1, max: 2, mean: 5 / 3 },
          amount: { nulls: 1, min: 7, max: 30, mean: 18.5 },
          country: { nulls: 0 },
          ts: { nulls: 0, min: '2024-03-02T00:00:00.000Z', max: '2024-03-02T12:00:00.000Z' },
        },
      });
      expect(partition.featureViews.map((v) => v.name)).toEqual(['user_spend', 'user_profile']);
      expect(partition.featureViews.every((v) => /^[0-9a-f]{64}$/.test(v.definitionHash))).toBe(true);

      const index = await readJson<DatasetManifest>(join(folder, '_manifest.json'));
      expect(index).toMatchObject({
        trainingSet: 'fraud_training', partitionBy: 'day', rowCount: 5,
        timeRange: { from: '2024-03-01T00:00:00.000Z', to: '2024-03-04T00:00:00.000Z' },
        partitions: [
          { key: 'day=2024-03-01', rowCount: 1, version: result.version, manifest: 'datasets/fraud/_partitions/day=2024-03-01.json' },
          { key: 'day=2024-03-02', rowCount: 3, version: result.version },
          { key: 'day=2024-03-03', rowCount: 1, version: result.version },
        ],
      });
      expect(await readdir(join(folder))).toEqual(['_manifest.json', '_partitions', 'day=2024-03-01', 'day=2024-03-02', 'day=2024-03-03']);

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

  it('lists and shows the dataset from its manifests', () => {
    const list = project.cli('datasets', 'list');
    expect(list.stderr).toBe('');
    expect(list.stdout).toMatch(/^TRAINING SET\s+PARTITIONS\s+ROWS\s+FROM\s+TO\s+UPDATED\s+LOCATION\nfraud_training\s+3 \(day\)\s+5\s+2024-03-01T00:00:00.000Z\s+2024-03-04T00:00:00.000Z\s+\S+\s+file:\/\//);
    const show = project.cli('datasets', 'show', 'fraud_training', '--partition', 'day=2024-03-02');
    expect(show.stderr).toBe('');
    expect(show.stdout).toContain('Training set fraud_training: 5 rows in 3 partitions by day, 2024-03-01T00:00:00.000Z .. 2024-03-04T00:00:00.000Z');
    expect(show.stdout).toMatch(/amount\s+float64\s+1 \(33\.3%\)\s+7\s+30\s+18\.5\n/);
    expect(show.stdout).toMatch(/user_spend\s+[0-9a-f]{12}\s+watermark 2024-03-02T12:00:00.000Z/);
    const missing = project.cli('datasets', 'show', 'fraud_training', '--partition', 'day=1999-01-01');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('partition "day=1999-01-01" not found. Partitions: day=2024-03-01, day=2024-03-02, day=2024-03-03');
  });

  // With the pinned Python readers (.tools/python-readers): installed by .ci/run, else now; never skipped.
  it('reads from Python with pandas and polars', async () => {
    const python = await pythonReaders();
    const folder = join(objectsRoot, 'datasets', 'fraud');
    const script = [
      'import sys, pandas, polars',
      'p = pandas.read_parquet(sys.argv[1])',
      'q = polars.read_parquet(sys.argv[1] + "/*/*.parquet", hive_partitioning=True)',
      'print(len(p), sorted(p["day"].astype(str).unique()), round(float(p["amount"].sum()), 2), len(q), q["country"].null_count())',
    ].join('\n');
    const result = spawnSync(python, ['-c', script, folder], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe("5 ['2024-03-01', '2024-03-02', '2024-03-03'] 49.5 5 1");
  }, PYTHON_READERS_TIMEOUT_MS);

  it('rebuilds exactly the partitions of a range through the CLI, with the range as search attributes', async () => {
    const client = await connectClient();
    const folder = join(objectsRoot, 'datasets', 'fraud');
    const before = await readJson<DatasetManifest>(join(folder, '_manifest.json'));
    try {
      const cli = await runWorker({ taskQueue, activities: createActivities(depsWith(new LocalObjectStore(objectsRoot))) }, async () =>
        // spawnSync would block this process's event loop, and with it the worker; run the CLI asynchronously.
        project.cliAsync('run', 'training-set', 'fraud_training', '--from', '2024-03-02', '--to', '2024-03-03', '--json'),
      );
      expect(cli.stderr).not.toContain('error');
      expect(cli.code).toBe(0);
      const result = JSON.parse(cli.stdout) as { workflowId: string; rowCount: number; version: string; partitions: unknown[] };
      expect(result.partitions).toEqual([{ key: 'day=2024-03-02', rowCount: 3 }]);
      const description = await client.workflow.getHandle(result.workflowId).describe();
      expect(description.typedSearchAttributes.get(FLYWHEEL_RANGE_START)).toEqual(new Date('2024-03-02T00:00:00Z'));

      // Only that partition has a new version; its rows are the same, written once.
      const after = await readJson<DatasetManifest>(join(folder, '_manifest.json'));
      expect(after.partitions.map((p) => [p.key, p.version])).toEqual([
        ['day=2024-03-01', before.partitions[0]!.version],
        ['day=2024-03-02', result.version],
        ['day=2024-03-03', before.partitions[2]!.version],
      ]);
      expect((await readDataset(folder))['day=2024-03-02']).toHaveLength(3);
      expect(await readdir(join(folder, 'day=2024-03-02'))).toEqual(['part-00000.parquet']);
    } finally {
      await client.connection.close();
    }
  });

  it('writes an empty partition with its manifest for a range without spine rows, and says so', async () => {
    const cli = await runWorker({ taskQueue, activities: createActivities(depsWith(new LocalObjectStore(objectsRoot))) }, () =>
      project.cliAsync('run', 'training-set', 'fraud_training', '--from', '2024-04-01', '--to', '2024-04-03'),
    );
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('0 rows in 2 partitions: the range holds no spine rows');
    const folder = join(objectsRoot, 'datasets', 'fraud');
    expect(await readDataset(folder)).toMatchObject({ 'day=2024-04-01': [], 'day=2024-04-02': [] });
    expect(await readJson<PartitionManifest>(join(folder, '_partitions', 'day=2024-04-01.json'))).toMatchObject({ rowCount: 0, columnStats: { amount: { nulls: 0 } } });
  });

  it('refuses a range that does not fall on partition boundaries, before any work', async () => {
    const cli = await runWorker({ taskQueue, activities: createActivities(depsWith(new LocalObjectStore(objectsRoot))) }, () =>
      project.cliAsync('run', 'training-set', 'fraud_training', '--from', '2024-03-02', '--to', '2024-03-02T06:00:00Z'),
    );
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('--to 2024-03-02T06:00:00.000Z is not on a day boundary; partitions are rebuilt whole, so use e.g. 2024-03-02T00:00:00.000Z');
  });

  it('retries a publish that failed midway without writing anything twice', async () => {
    const store = new LocalObjectStore(objectsRoot);
    let failed = false;
    const manifestWrites: string[] = [];
    // The second partition's manifest write fails after its files were copied, as if the store dropped the connection.
    const flaky: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
      putBytes: async (key: string, body: Uint8Array | string) => {
        if (key.endsWith('_partitions/day=2024-03-02.json') && !failed) {
          failed = true;
          throw new TransientError('connection reset by the object store');
        }
        await store.putBytes(key, body);
        if (key.includes('/_partitions/')) manifestWrites.push(key.slice(key.lastIndexOf('/') + 1));
      },
    });
    const client = await connectClient();
    try {
      const result = await runWorker({ taskQueue, activities: createActivities(depsWith(flaky)) }, () =>
        client.workflow.execute(buildTrainingSet, { taskQueue, workflowId: `retry-${taskQueue}`, args: [{ project: 'pit_test', trainingSet: 'fraud_training', from: '2024-03-01', to: '2024-03-04' }] }),
      );
      expect(failed).toBe(true);
      // Partitions are published a few at a time; the retry skips the ones its first attempt finished.
      expect(manifestWrites.sort()).toEqual(['day=2024-03-01.json', 'day=2024-03-02.json', 'day=2024-03-03.json']);
      const folder = join(objectsRoot, 'datasets', 'fraud');
      for (const day of ['2024-03-01', '2024-03-02', '2024-03-03']) {
        expect(await readdir(join(folder, `day=${day}`))).toEqual(['part-00000.parquet']);
        expect((await readJson<PartitionManifest>(join(folder, '_partitions', `day=${day}.json`))).version).toBe(result.version);
      }
      expect(Object.values(await readDataset(folder)).flat()).toHaveLength(5);
      expect(await store.list('datasets/fraud/_staging/')).toEqual([]);
    } finally {
      await client.connection.close();
    }
  });

  it('publishes to S3 (a real S3-compatible server) the same way', async () => {
    useTestCredentials();
    const bucket = await createTestBucket();
    const store = new S3ObjectStore(s3TestConfig(bucket, { prefix: 'team/' }));
    try {
      const client = await connectClient();
      try {
        const result = await runWorker({ taskQueue, activities: createActivities(depsWith(store)) }, () =>
          client.workflow.execute(buildTrainingSet, { taskQueue, workflowId: `s3-${taskQueue}`, args: [{ project: 'pit_test', trainingSet: 'fraud_training' }] }),
        );
        expect(result.datasetUri).toBe(`s3://${bucket}/team/datasets/fraud`);
        expect(result.manifestUri).toBe(`s3://${bucket}/team/datasets/fraud/_manifest.json`);
      } finally {
        await client.connection.close();
      }
      expect((await store.list('datasets/fraud/')).map((o) => o.key)).toEqual([
        'datasets/fraud/_manifest.json',
        'datasets/fraud/_partitions/day=2024-03-01.json', 'datasets/fraud/_partitions/day=2024-03-02.json', 'datasets/fraud/_partitions/day=2024-03-03.json',
        'datasets/fraud/day=2024-03-01/part-00000.parquet', 'datasets/fraud/day=2024-03-02/part-00000.parquet', 'datasets/fraud/day=2024-03-03/part-00000.parquet',
      ]);
      const local = join(project.dir, 'from-s3.parquet');
      await store.getFile('datasets/fraud/day=2024-03-02/part-00000.parquet', local);
      const engine = await openDuckDBEngine({ path: ':memory:' });
      try {
        expect(await engine.all({ sql: `SELECT user_id, amount FROM read_parquet('${local}')`, parameters: [] })).toEqual([
          { user_id: 1, amount: 30 }, { user_id: 2, amount: 7 }, { user_id: 2, amount: null },
        ]);
      } finally {
        await engine.close();
      }
    } finally {
      store.destroy();
      await deleteTestBucket(bucket);
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

  it('fails before any work when the spine lost a column since apply, naming it', async () => {
    const engine = await openDuckDBEngine({ path: warehouse });
    await engine.run({ sql: 'ALTER TABLE labels RENAME COLUMN is_fraud TO fraud', parameters: [] });
    await engine.close();
    const client = await connectClient();
    try {
      const failure = await runWorker({ taskQueue, activities: createActivities(depsWith(new LocalObjectStore(objectsRoot))) }, () =>
        client.workflow.execute(buildTrainingSet, { taskQueue, workflowId: `drift-${taskQueue}`, args: [{ project: 'pit_test', trainingSet: 'fraud_training' }] }).catch((e: unknown) => e),
      );
      const cause = (failure as WorkflowFailedError).cause?.cause as { message: string; type: string; nonRetryable: boolean };
      expect(cause.type).toBe('WarehouseSchemaError');
      expect(cause.nonRetryable).toBe(true);
      expect(cause.message).toBe('The warehouse does not match a definition:\n  - source "labels", column "is_fraud": no such column in table "labels" (its columns are user_id, ts, fraud)');
    } finally {
      await client.connection.close();
      const restore = await openDuckDBEngine({ path: warehouse });
      await restore.run({ sql: 'ALTER TABLE labels RENAME COLUMN fraud TO is_fraud', parameters: [] });
      await restore.close();
    }
  });

  it('counts the spine rows left out for a null timestamp in the statistics pass, and publishes the rest', async () => {
    const engine = await openDuckDBEngine({ path: warehouse });
    await engine.run({ sql: `INSERT INTO labels VALUES (1, NULL, true), (4, NULL, false)`, parameters: [] });
    await engine.close();
    const client = await connectClient();
    try {
      const result = await runWorker({ taskQueue, activities: createActivities(depsWith(new LocalObjectStore(objectsRoot))) }, () =>
        client.workflow.execute(buildTrainingSet, { taskQueue, workflowId: `null-ts-${taskQueue}`, args: [{ project: 'pit_test', trainingSet: 'fraud_training' }] }),
      );
      expect(result).toMatchObject({
        rowCount: 5, skippedNullTimestamps: 2,
        partitions: [{ key: 'day=2024-03-01', rowCount: 1 }, { key: 'day=2024-03-02', rowCount: 3 }, { key: 'day=2024-03-03', rowCount: 1 }],
      });
    } finally {
      await client.connection.close();
      const restore = await openDuckDBEngine({ path: warehouse });
      await restore.run({ sql: 'DELETE FROM labels WHERE ts IS NULL', parameters: [] });
      await restore.close();
    }
  });
});
