import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import type { MaterializeDeps } from '../activities/materialize.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { compileLatestValues } from '../core/sql/latest-values.ts';
import { materializeFeatureView, materializeProgressQuery } from '../workflows/materialize.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * Materialization end to end: a project applied with the real CLI, a real DuckDB file, the workflow
 * on the shared Temporal dev server, and a real SQLite online store read back. Expected rows by hand.
 */

const definitions = `
import { entity, featureView, source } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const spend = source({ name: 'spend_src', table: 'spend', timestampField: 'ts', createdTimestampField: 'created',
  columns: { user_id: 'int64', ts: 'timestamp', created: 'timestamp', amount: 'float64' } });
export const spendView = featureView({ name: 'user_spend', entities: [user], source: spend, ttl: '1d', online: true, features: { amount: 'float64' } });
export const windows = featureView({ name: 'user_spend_windows', entities: [user], source: spend, online: true,
  aggregations: [{ function: 'count', windows: ['1d'] }, { column: 'amount', function: 'sum', windows: ['1d'] }] });
export const offlineOnly = featureView({ name: 'user_spend_offline', entities: [user], source: spend, online: false, features: { amount: 'float64' } });
`;

const AS_OF = '2024-03-03T00:00:00.000Z';
const DAY = 86_400;

/** The latest value of each user as of AS_OF (rules 1-4 of docs/point-in-time.md). */
const EXPECTED_LATEST = [
  { user_id: 1, __fw_event_time: '2024-03-02T12:00:00.000Z', amount: 30 }, // the 03-03 00:00:00.000001 row is in the future
  { user_id: 2, __fw_event_time: '2024-03-02T00:00:00.000Z', amount: 7 }, // exactly ttl old: kept
  // user 3: 1 s past the ttl, no row
  { user_id: 4, __fw_event_time: '2024-03-02T06:00:00.000Z', amount: 3 }, // tie: later created time, then the smallest amount
  { user_id: 5, __fw_event_time: '2024-03-02T08:00:00.000Z', amount: 2 }, // tie without created times: nulls last
];

let project: TempProject;
let warehouse: string;
const taskQueue = testTaskQueue();

function deps(onlineStore?: SqliteOnlineStore): MaterializeDeps {
  return {
    project: 'mat_test',
    openEngine: () => openDuckDBEngine({ path: warehouse }),
    registry: (engine) => new WarehouseRegistry(engine),
    objectStore: new LocalObjectStore(join(project.dir, '.flywheel', 'objects')),
    scratchDir: join(project.dir, '.flywheel', 'scratch'),
    ...(onlineStore ? { onlineStore } : {}),
  };
}

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: 'mat_test', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': definitions,
  });
  warehouse = join(project.dir, '.flywheel', 'warehouse.duckdb');
  const engine = await openDuckDBEngine({ path: warehouse });
  await engine.run({
    sql: `
    CREATE TABLE spend (user_id BIGINT, ts TIMESTAMPTZ, created TIMESTAMPTZ, amount DOUBLE);
    INSERT INTO spend VALUES
      (1, '2024-03-01 00:00:00+00', '2024-03-01 00:00:00+00', 10.0),
      (1, '2024-03-01 00:00:00+00', '2024-03-01 05:00:00+00', 12.5),
      (1, '2024-03-02 12:00:00+00', NULL, 30.0),
      (1, '2024-03-03 00:00:00.000001+00', NULL, 99.0),
      (2, '2024-03-02 00:00:00+00', NULL, 7.0),
      (3, '2024-03-01 23:59:59+00', NULL, 5.0),
      (4, '2024-03-02 06:00:00+00', '2024-03-02 07:00:00+00', 4.0),
      (4, '2024-03-02 06:00:00+00', '2024-03-02 07:00:00+00', 3.0),
      (4, '2024-03-02 06:00:00+00', NULL, 1.0),
      (5, '2024-03-02 08:00:00+00', NULL, NULL),
      (5, '2024-03-02 08:00:00+00', NULL, 2.0),
      (NULL, '2024-03-02 09:00:00+00', NULL, 50.0);
    `,
    parameters: [],
  });
  await engine.close();
  const applied = project.cli('apply');
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
});

afterAll(() => project?.remove());

describe('compileLatestValues on DuckDB', () => {
  it('gives each entity its latest row as of an instant, and buckets that split the entities', async () => {
    const engine = await openDuckDBEngine({ path: warehouse });
    try {
      const { spec } = (await new WarehouseRegistry(engine).latest('mat_test'))!;
      const view = spec.featureViews.user_spend!;
      expect(await engine.all(compileLatestValues(view, spec, engine.dialect, { asOf: AS_OF }))).toEqual(EXPECTED_LATEST);

      // One microsecond later, user 2's value is past its ttl and user 1's future row is the latest.
      expect(await engine.all(compileLatestValues(view, spec, engine.dialect, { asOf: '2024-03-03T00:00:00.000001Z' }))).toEqual([
        { user_id: 1, __fw_event_time: '2024-03-03T00:00:00.000001Z', amount: 99 },
        EXPECTED_LATEST[2],
        EXPECTED_LATEST[3],
      ]);

      const buckets = [];
      for (let chunk = 0; chunk < 3; chunk++) buckets.push(await engine.all(compileLatestValues(view, spec, engine.dialect, { asOf: AS_OF, bucket: { chunk, chunks: 3 } })));
      expect(buckets.flat().sort((a, b) => Number(a.user_id) - Number(b.user_id))).toEqual(EXPECTED_LATEST);

      // An aggregation view: its aggregates as of the instant, which is their event time. Window (03-02 00:00, 03-03 00:00].
      const aggregates = await engine.all(compileLatestValues(spec.featureViews.user_spend_windows!, spec, engine.dialect, { asOf: AS_OF, bucket: { chunk: 0, chunks: 1 } }));
      expect(aggregates).toEqual([
        { user_id: 1, __fw_event_time: AS_OF, count_1d: 1, amount_sum_1d: 30 },
        { user_id: 4, __fw_event_time: AS_OF, count_1d: 3, amount_sum_1d: 8 },
        { user_id: 5, __fw_event_time: AS_OF, count_1d: 2, amount_sum_1d: 2 },
      ]);
    } finally {
      await engine.close();
    }
  });
});

describe('materializeFeatureView workflow', () => {
  it('writes the latest values to the online store, chunk by chunk, and is idempotent', async () => {
    const store = new SqliteOnlineStore({ path: join(project.dir, '.flywheel', 'online.sqlite') });
    const client = await connectClient();
    try {
      const run = (id: string) =>
        runWorker({ taskQueue, activities: createActivities(deps(store)) }, async () => {
          const handle = await client.workflow.start(materializeFeatureView, { taskQueue, workflowId: `${id}-${taskQueue}`, args: [{ project: 'mat_test', view: 'user_spend', asOf: AS_OF, chunks: 3 }] });
          const result = await handle.result();
          expect(await handle.query(materializeProgressQuery)).toEqual({ chunksDone: 3, chunks: 3, rows: 4, written: 4, skippedOlder: 0 });
          return result;
        });

      const read = (now: string) => store.read([1, 2, 3, 4, 5].map((user) => ({ view: 'user_spend', key: [user], ttlSeconds: DAY })), new Date(now));
      const expected = [
        { status: 'present', key: [1], values: { amount: 30 }, eventTime: '2024-03-02T12:00:00.000Z' },
        { status: 'present', key: [2], values: { amount: 7 }, eventTime: '2024-03-02T00:00:00.000Z' },
        { status: 'missing', key: [3], values: {}, eventTime: null },
        { status: 'present', key: [4], values: { amount: 3 }, eventTime: '2024-03-02T06:00:00.000Z' },
        { status: 'present', key: [5], values: { amount: 2 }, eventTime: '2024-03-02T08:00:00.000Z' },
      ];

      expect(await run('first')).toEqual({ view: 'user_spend', asOf: AS_OF, chunks: 3, rows: 4, written: 4, skippedOlder: 0 });
      expect(await read(AS_OF)).toMatchObject(expected);
      // A second later user 2's value has expired, as in a training set.
      expect((await read('2024-03-03T00:00:01Z'))[1]).toMatchObject({ status: 'expired', values: {} });

      // The same instant again writes the same records: equal event times replace.
      expect(await run('again')).toEqual({ view: 'user_spend', asOf: AS_OF, chunks: 3, rows: 4, written: 4, skippedOlder: 0 });
      expect(await read(AS_OF)).toMatchObject(expected);
    } finally {
      await client.connection.close();
      await store.close();
    }
  });

  it('fails without retrying for a view that is not online, or a worker without an online store', async () => {
    const client = await connectClient();
    const store = new SqliteOnlineStore({ path: join(project.dir, '.flywheel', 'online-2.sqlite') });
    try {
      const failure = async (activities: object, view: string) =>
        runWorker({ taskQueue, activities }, () =>
          client.workflow.execute(materializeFeatureView, { taskQueue, workflowId: `fail-${view}-${Object.keys(activities).length}-${taskQueue}`, args: [{ project: 'mat_test', view, chunks: 1 }] }).then(
            () => 'succeeded',
            (error: unknown) => String((error as { cause?: { cause?: Error } }).cause?.cause?.message),
          ),
        );
      expect(await failure(createActivities(deps(store)), 'user_spend_offline')).toMatch(/Cannot materialize feature view "user_spend_offline": it is not online/);
      expect(await failure(createActivities(deps()), 'user_spend')).toMatch(/Cannot materialize feature view "user_spend": this worker has no online store/);
    } finally {
      await client.connection.close();
      await store.close();
    }
  });
});
