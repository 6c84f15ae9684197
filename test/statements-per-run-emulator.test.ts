import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entity, featureView, source, trainingSet } from '../index.ts';
import { createActivities } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import { openSnowflakeEngine } from '../connectors/offline/snowflake/snowflake-engine.ts';
import type { SnowflakeProfile } from '../connectors/offline/snowflake/snowflake-credentials.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { definitionHash } from '../core/plan/definition-hash.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { registryStatements } from '../core/sql/registry-sql.ts';
import { warehouseObjectStatements } from '../core/sql/warehouse-objects.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { buildTrainingSet } from '../workflows/build-training-set.ts';
import { SNOWFLAKE_EMULATOR_TIMEOUT_MS, startSnowflakeEmulator, type SnowflakeEmulator } from './setup/snowflake-emulator.ts';
import { connectClient, runWorker, testTaskQueue } from './setup/temporal.ts';
import { countingEngine, type StatementCounts } from './support/counting-engine.ts';

/**
 * test/statements-per-run.test.ts on the Snowflake engine over the wire-level emulator: the same
 * training set (one view over a table, a table spine, daily partitions) issues as many statements
 * for 90 partitions as for 3. The emulator cannot unload to a stage (EMULATOR_CANNOT.unloadToStage),
 * so results come through the worker: one partitioned export, whatever the partitions.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const spend = source({ name: 'spend_src', table: 'public.spend', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
const checks = source({ name: 'checks', table: 'public.checks', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' } });
const spendView = featureView({ name: 'user_spend', entities: [user], source: spend, features: { amount: 'float64' } });
const daily = trainingSet({ name: 'daily_checks', spine: checks, features: [spendView], output: { path: 'datasets/daily', partitionBy: 'day' } });
const project = validateProject([user, spend, checks, spendView, daily].map((definition) => ({ definition })));

let emulator: SnowflakeEmulator;
let profile: SnowflakeProfile;
let dir: string;
const env: NodeJS.ProcessEnv = {};
const taskQueue = testTaskQueue();

const open = () => openSnowflakeEngine(profile, { env });

beforeAll(async () => {
  emulator = await startSnowflakeEmulator();
  const options = emulator.connectionOptions({ database: `FW_${randomBytes(4).toString('hex').toUpperCase()}`, schema: 'PUBLIC' });
  env['FW_TEST_SNOWFLAKE_PASSWORD'] = options.password;
  profile = { type: 'snowflake', account: options.account, username: options.username, database: options.database, schema: options.schema, accessUrl: options.accessUrl, passwordEnv: 'FW_TEST_SNOWFLAKE_PASSWORD' };
  dir = await mkdtemp(join(tmpdir(), 'flywheel-rounds-sf-'));
  const engine = await open();
  try {
    // Tables another system created, without quotes (upper case in Snowflake), named with their schema: a view in
    // Flywheel's schema resolves an unqualified name there. Day d: spend d at 06:00, a check at 12:00.
    await engine.run(sql('CREATE TABLE spend (user_id NUMBER(19,0), ts TIMESTAMP_TZ, amount FLOAT)'));
    await engine.run(sql('CREATE TABLE checks (user_id NUMBER(19,0), ts TIMESTAMP_TZ)'));
    const day = (d: number, hour: string) => new Date(Date.UTC(2024, 0, 1 + d)).toISOString().replace('T00:00:00.000Z', `T${hour}:00:00Z`);
    const days = Array.from({ length: 90 }, (_, d) => d);
    await engine.run(sql(`INSERT INTO spend VALUES ${days.map(() => '(1, ?::TIMESTAMP_TZ, ?)').join(', ')}`, days.flatMap((d) => [day(d, '06'), d])));
    await engine.run(sql(`INSERT INTO checks VALUES ${days.map(() => '(1, ?::TIMESTAMP_TZ)').join(', ')}`, days.map((d) => day(d, '12'))));
    for (const statement of warehouseObjectStatements({ desired: project, dialect: engine.dialect, resolvePath: (p) => p })) await engine.run(statement);
    // The registry row as WarehouseRegistry.save writes it, without its transaction: the emulator cannot run DDL
    // inside one (fakesnow's catalog is a second DuckDB database, and a transaction writes to one only).
    const registry = registryStatements(engine.dialect);
    await engine.run(registry.createTable());
    await engine.run(registry.insert({ version: 1, applied_at: '2024-04-01T00:00:00.000Z', project: 'rounds', hash: definitionHash(project), spec: JSON.stringify(project), applied_by: 'test' }));
  } finally {
    await engine.close();
  }
}, SNOWFLAKE_EMULATOR_TIMEOUT_MS);

afterAll(async () => {
  await emulator?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

async function countedRun(from: string, to: string): Promise<{ counts: StatementCounts; partitions: number; rowCount: number }> {
  const counts: StatementCounts = new Map();
  const activities = createActivities({
    project: 'rounds',
    openEngine: async (): Promise<OfflineEngine> => countingEngine(await open(), counts),
    registry: (engine) => new WarehouseRegistry(engine),
    objectStore: new LocalObjectStore(join(dir, 'objects')),
    scratchDir: join(dir, 'scratch'),
  });
  const client = await connectClient();
  try {
    const result = await runWorker({ taskQueue, activities }, () =>
      client.workflow.execute(buildTrainingSet, { taskQueue, workflowId: `rounds-sf-${from}-${to}-${taskQueue}`, args: [{ project: 'rounds', trainingSet: 'daily_checks', from, to }] }));
    return { counts, partitions: result.partitions.length, rowCount: result.rowCount };
  } finally {
    await client.connection.close();
  }
}

describe('statements per training-set run, Snowflake engine on the emulator', () => {
  it('issues as many statements for 90 daily partitions as for 3', async () => {
    const three = await countedRun('2024-01-01T00:00:00.000Z', '2024-01-04T00:00:00.000Z');
    const ninety = await countedRun('2024-01-01T00:00:00.000Z', '2024-03-31T00:00:00.000Z');
    expect([three.partitions, three.rowCount]).toEqual([3, 3]);
    expect([ninety.partitions, ninety.rowCount]).toEqual([90, 90]);
    expect(Object.fromEntries(ninety.counts)).toEqual(Object.fromEntries(three.counts));
    expect(Object.fromEntries(ninety.counts)).toEqual({ all: 6, describe: 2, tableFacts: 2, createWorkingTable: 1, exportPartitionedParquet: 1, run: 1 });
    const folder = join(dir, 'objects', 'datasets', 'daily');
    expect((await readdir(folder)).filter((name) => name.startsWith('day=')).length).toBe(90);
    // The same rows as on DuckDB: day d's check has spend d (the value of 06:00 that day, as of 12:00).
    const reader = await openDuckDBEngine({ path: ':memory:' });
    try {
      const rows = await reader.all(sql(`SELECT * FROM read_parquet('${join(folder, 'day=2024-02-15', '*.parquet')}', hive_partitioning = false)`));
      expect(rows).toEqual([{ user_id: 1, ts: '2024-02-15T12:00:00.000Z', amount: 45 }]);
    } finally {
      await reader.close();
    }
  }, SNOWFLAKE_EMULATOR_TIMEOUT_MS);
});
