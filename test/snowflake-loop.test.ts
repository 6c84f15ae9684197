import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import { createOfflineEngine } from '../connectors/offline/create-offline-engine.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { encodeRecords } from '../connectors/log-store/segment-log/index.ts';
import type { OfflineStoreConfig } from '../core/config.ts';
import { sql } from '../core/sql/compiled-query.ts';
import type { ConsistencyReport } from '../core/training-set/consistency.ts';
import { loadConfig } from '../runtime/load-config.ts';
import { activityDepsFromConfig } from '../worker/activity-deps.ts';
import type { FlywheelLoopResult, LoopStageOutcome } from '../workflows/flywheel-loop.ts';
import { SNOWFLAKE_EMULATOR_TIMEOUT_MS, startSnowflakeEmulator, type SnowflakeEmulator } from './setup/snowflake-emulator.ts';
import { deleteTestKeys, redisUrl, testKeyPrefix } from './setup/redis.ts';
import { runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { putSealedSegment } from './support/sealed-segments.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * The whole loop (issue 14, item 4) through the real CLI and a worker on the Temporal dev server, once
 * on DuckDB and once on the Snowflake engine over the wire-level emulator, on the same data: apply,
 * ingestion of a log segment (twice: loaded once), incremental ingestion of a `from` table by
 * watermark, labels, a point-in-time training set, materialization into SQLite, labels rebuilt for a
 * late outcome. Each step asserts the same hand-computed result on both engines.
 */

const AS_OF = '2024-05-02T06:00:00.000Z';
const PASSWORD_ENV = 'FW_TEST_SNOWFLAKE_LOOP_PASSWORD';

const DEFINITIONS = `
import { entity, eventStream, featureService, featureView, labels, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { item_id: 'int64' } });
export const orders = eventStream({ name: 'orders', entities: [user], timestampField: 'ts', eventIdField: 'order_id', retention: '365d',
  fields: { order_id: 'string', amount: 'float64' }, from: { table: 'raw.raw_orders', watermark: 'ts', lookback: '1h' } });
export const profile = source({ name: 'profile', table: 'profile', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', country: 'string' } });
export const spine = source({ name: 'spine', table: 'raw.spine', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', label: 'bool' } });
export const userClicks = featureView({ name: 'user_clicks', entities: [user], source: clicks, aggregations: [{ function: 'count', windows: ['1d'] }] });
export const userOrders = featureView({ name: 'user_orders', entities: [user], source: orders, aggregations: [{ column: 'amount', function: 'sum', windows: ['1d'] }] });
export const userProfile = featureView({ name: 'user_profile', entities: [user], source: profile, features: { country: 'string' } });
export const ordersTraining = trainingSet({ name: 'orders_training', spine, features: [userOrders, userClicks] });
export const scoring = featureService({ name: 'scoring', features: [userOrders, userProfile] });
// A logged service: what it served, labelled by a click within the hour, is the spine of a training set from the log.
export const ranker = featureService({ name: 'ranker', features: [userOrders], logging: { sampleRate: 1 } });
export const rankerClicked = labels({ name: 'ranker_clicked', decisions: ranker, outcomes: clicks, match: { by: 'keys' }, window: '1h', value: { kind: 'any' } });
export const rankerTraining = trainingSet({ name: 'ranker_training', spine: { labels: rankerClicked }, features: [userOrders] });
// An order is a decision; a click by the same user within the hour labels it.
export const clickedAfter = labels({ name: 'clicked_after', decisions: orders, outcomes: clicks, match: { by: 'keys' }, window: '1h', value: { kind: 'any' } });
`;

/** The warehouse tables another system made (unquoted, as dbt makes them), the same on both engines (types per engine). */
function seedStatements(kind: 'duckdb' | 'snowflake'): string[] {
  const [int, tz, text, float, bool] = kind === 'duckdb' ? ['BIGINT', 'TIMESTAMPTZ', 'VARCHAR', 'DOUBLE', 'BOOLEAN'] : ['NUMBER(19,0)', 'TIMESTAMP_TZ', 'VARCHAR', 'FLOAT', 'BOOLEAN'];
  const ts = (text: string) => (kind === 'duckdb' ? `TIMESTAMPTZ '${text}'` : `'${text}'::TIMESTAMP_TZ`);
  return [
    // profile in the session's schema, named without one: the engine's dialect qualifies it with the session's
    // database and schema, where Snowflake would otherwise look in the view's (flywheel). First: on Snowflake,
    // CREATE SCHEMA makes the new schema the session's current one.
    `CREATE TABLE profile (user_id ${int}, ts ${tz}, country ${text})`,
    `INSERT INTO profile VALUES (1, ${ts('2024-04-01 00:00:00+00:00')}, 'DE'), (2, ${ts('2024-04-02 00:00:00+00:00')}, 'FR')`,
    // The others in a schema of their own, named with it (raw.raw_orders).
    'CREATE SCHEMA raw',
    `CREATE TABLE raw.raw_orders (user_id ${int}, ts ${tz}, order_id ${text}, amount ${float})`,
    `INSERT INTO raw.raw_orders VALUES (1, ${ts('2024-05-01 10:00:00+00:00')}, 'o1', 20.0), (1, ${ts('2024-05-01 12:00:00+00:00')}, 'o2', 5.0), (2, ${ts('2024-05-01 11:00:00+00:00')}, 'o3', 7.5)`,
    `CREATE TABLE raw.spine (user_id ${int}, ts ${tz}, label ${bool})`,
    `INSERT INTO raw.spine VALUES (1, ${ts('2024-05-01 13:00:00+00:00')}, true), (2, ${ts('2024-05-01 14:00:00+00:00')}, false), (1, ${ts('2024-04-30 13:00:00+00:00')}, false)`,
  ];
}

let emulator: SnowflakeEmulator | undefined;

/** stderr without Node's process warnings (snowflake-sdk's AWS SDK warns that it will soon need Node 22). */
const withoutNodeWarnings = (stderr: string) => stderr.replace(/\(node:\d+\) Warning: [\s\S]*?\(Use `node --trace-warnings \.\.\.` to show where the warning was created\)\n/g, '');

beforeAll(async () => {
  emulator = await startSnowflakeEmulator();
}, SNOWFLAKE_EMULATOR_TIMEOUT_MS);

afterAll(async () => {
  await emulator?.stop();
}, 30_000);

/** The profile's offline store for one engine; the Snowflake password is read from PASSWORD_ENV by the CLI and the worker. */
function offlineFor(kind: 'duckdb' | 'snowflake'): string {
  if (kind === 'duckdb') return `{ type: 'duckdb', path: '.flywheel/warehouse.duckdb' }`;
  const options = emulator!.connectionOptions({ database: `FW_LOOP_${randomBytes(4).toString('hex').toUpperCase()}`, schema: 'PUBLIC' });
  process.env[PASSWORD_ENV] = options.password;
  return JSON.stringify({ type: 'snowflake', account: options.account, username: options.username, database: options.database, schema: options.schema, accessUrl: options.accessUrl, passwordEnv: PASSWORD_ENV });
}

describe.each(['duckdb', 'snowflake'] as const)('the whole loop on %s', (kind) => {
  const projectName = `loop_${kind}`;
  const taskQueue = testTaskQueue();
  let project: TempProject;
  let store: SqliteOnlineStore;
  let offline: OfflineStoreConfig;

  async function withEngine<T>(use: (engine: Awaited<ReturnType<typeof createOfflineEngine>>) => Promise<T>): Promise<T> {
    const engine = await createOfflineEngine(offline);
    try {
      return await use(engine);
    } finally {
      await engine.close();
    }
  }

  async function deps() {
    const config = await loadConfig({ cwd: project.dir });
    return { ...activityDepsFromConfig(config), onlineStore: store };
  }

  async function loopRun(...only: string[]): Promise<FlywheelLoopResult> {
    const activities = createActivities(await deps());
    const run = await runWorker({ taskQueue, activities }, () => project.cliAsync('loop', 'run', ...only.flatMap((stage) => ['--only', stage]), '--as-of', AS_OF, '--json'));
    if (run.stdout.trim() === '') throw new Error(`flywheel loop run printed nothing (exit ${run.code}): ${run.stderr}`);
    return JSON.parse(run.stdout) as FlywheelLoopResult;
  }

  /** Every row of the Parquet files under `folder` of the object store whose path contains `name`, read with DuckDB, sorted. */
  async function datasetRows(name: string, orderBy: string): Promise<Record<string, unknown>[]> {
    const root = join(project.dir, '.flywheel', 'objects');
    const files = (readdirSync(root, { recursive: true }) as string[]).filter((file) => file.includes(name) && file.endsWith('.parquet'));
    if (files.length === 0) throw new Error(`no Parquet file of ${name} under ${root}`);
    const reader = await openDuckDBEngine({ path: ':memory:' });
    try {
      const list = files.map((file) => `'${join(root, file)}'`).join(', ');
      return await reader.all(sql(`SELECT * FROM read_parquet([${list}], hive_partitioning = false, union_by_name = true) ORDER BY ${orderBy}`));
    } finally {
      await reader.close();
    }
  }

  const stage = (result: FlywheelLoopResult, id: string) => {
    const found = result.stages.find((s) => s.id === id) as LoopStageOutcome;
    return { status: found.status, summary: found.summary ?? found.reason ?? null };
  };

  beforeAll(async () => {
    project = createTempProject({
      'flywheel.config.ts': `import { defineConfig } from 'flywheel';
export default defineConfig({ project: '${projectName}', definitions: './definitions',
  profiles: { local: {
    offline: ${offlineFor(kind)},
    objectStore: { type: 'local', root: '.flywheel/objects' },
    onlineStore: { type: 'sqlite', path: '.flywheel/online.sqlite' },
    temporal: { address: '${temporalAddress()}', namespace: 'default', taskQueue: '${taskQueue}' },
  } } });
`,
      'definitions/all.ts': DEFINITIONS,
    });
    mkdirSync(join(project.dir, '.flywheel'), { recursive: true });
    offline = (await loadConfig({ cwd: project.dir })).profile.offline;
    await withEngine(async (engine) => {
      for (const statement of seedStatements(kind)) await engine.run(sql(statement));
    });
    store = new SqliteOnlineStore({ path: join(project.dir, '.flywheel', 'online.sqlite') });
  }, SNOWFLAKE_EMULATOR_TIMEOUT_MS);

  afterAll(async () => {
    await store?.close();
    project?.remove();
  });

  it('flywheel apply creates the registry, views, stream tables and ledger', () => {
    const result = project.cli('apply');
    expect(withoutNodeWarnings(result.stderr)).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Registry version 1 saved');
  }, 120_000);

  it('ingests a log segment exactly once, however often ingestion runs', async () => {
    const config = await loadConfig({ cwd: project.dir });
    const records = [{ id: 'c1', user: 1, ts: '2024-05-01T09:00:00Z', item: 10 }, { id: 'c2', user: 1, ts: '2024-05-01T10:30:00Z', item: 11 }, { id: 'c3', user: 2, ts: '2024-05-01T20:00:00Z', item: 12 }]
      .map((e) => JSON.stringify({ _event_id: e.id, user_id: e.user, ts: e.ts, item_id: e.item, _received_at: '2024-05-01T21:00:00.000Z' }));
    await putSealedSegment(activityDepsFromConfig(config).objectStore, { stream: 'clicks', segmentId: 'seg-0001' }, encodeRecords(records));
    const first = await loopRun('ingest:clicks');
    expect(stage(first, 'ingest:clicks')).toEqual({ status: 'succeeded', summary: '1 segment loaded, 3 rows' });
    const second = await loopRun('ingest:clicks');
    expect(stage(second, 'ingest:clicks').status).toBe('succeeded');
    const count = await withEngine((engine) => engine.all(sql('SELECT COUNT(*) AS "n" FROM flywheel.stream_clicks')));
    expect(Number(count[0]!['n'])).toBe(3);
    const ledger = await withEngine((engine) => engine.all(sql(`SELECT "batch", "rows" FROM flywheel.ingest_ledger WHERE "stream" = 'clicks'`)));
    expect(ledger.map((row) => [row['batch'], Number(row['rows'])])).toEqual([['node-1/seg-0001', 3]]);
  }, 180_000);

  it('ingests the from table by watermark, incrementally', async () => {
    const first = await loopRun('ingest:orders');
    expect(stage(first, 'ingest:orders')).toEqual({ status: 'succeeded', summary: '3 rows loaded from the table, watermark 2024-05-01T12:00:00.000Z' });
    await withEngine((engine) => engine.run(sql(kind === 'duckdb'
      ? "INSERT INTO raw.raw_orders VALUES (2, TIMESTAMPTZ '2024-05-01 13:00:00+00:00', 'o4', 2.5)"
      : "INSERT INTO raw.raw_orders VALUES (2, '2024-05-01 13:00:00+00:00'::TIMESTAMP_TZ, 'o4', 2.5)")));
    const second = await loopRun('ingest:orders');
    // The lookback (1h) re-reads o2 (12:00); the event id keeps it once.
    expect(stage(second, 'ingest:orders').status).toBe('succeeded');
    const rows = await withEngine((engine) => engine.all(sql('SELECT order_id, amount FROM flywheel.stream_orders ORDER BY order_id')));
    expect(rows.map((row) => [row['order_id'], Number(row['amount'])])).toEqual([['o1', 20], ['o2', 5], ['o3', 7.5], ['o4', 2.5]]);
  }, 180_000);

  it('builds labels: a click by the same user within the hour after an order', async () => {
    const result = await loopRun('labels:clicked_after');
    expect(stage(result, 'labels:clicked_after')).toEqual({ status: 'succeeded', summary: 'partitions: 1 built' });
    // Only o1 (user 1, 10:00) has a click of its user in the hour after it (c2, 10:30).
    const rows = await datasetRows('clicked_after', 'order_id');
    const labeled = { labeled_at: AS_OF };
    expect(rows).toEqual([
      { order_id: 'o1', user_id: 1, ts: '2024-05-01T10:00:00.000Z', label: 1, outcome_count: 1, first_outcome_at: '2024-05-01T10:30:00.000Z', ...labeled },
      { order_id: 'o2', user_id: 1, ts: '2024-05-01T12:00:00.000Z', label: 0, outcome_count: 0, first_outcome_at: null, ...labeled },
      { order_id: 'o3', user_id: 2, ts: '2024-05-01T11:00:00.000Z', label: 0, outcome_count: 0, first_outcome_at: null, ...labeled },
      { order_id: 'o4', user_id: 2, ts: '2024-05-01T13:00:00.000Z', label: 0, outcome_count: 0, first_outcome_at: null, ...labeled },
    ]);
  }, 180_000);

  it('builds a point-in-time training set with windowed aggregations', async () => {
    const result = await loopRun('trainingSet:orders_training');
    expect(stage(result, 'trainingSet:orders_training').summary).toMatch(/^2 rows in 1 partition, version \d{8}T\d{6}_[0-9a-f]{12}$/);
    const rows = await datasetRows('orders_training', 'ts');
    // The day before AS_OF: user 1 at 13:00 has o1 + o2 (20 + 5) and clicks c1, c2 in the day before;
    // user 2 at 14:00 has o3 + o4 (7.5 + 2.5) and no click yet (c3 is at 20:00).
    expect(rows).toEqual([
      { user_id: 1, ts: '2024-05-01T13:00:00.000Z', label: true, amount_sum_1d: 25, count_1d: 2 },
      { user_id: 2, ts: '2024-05-01T14:00:00.000Z', label: false, amount_sum_1d: 10, count_1d: 0 },
    ]);
  }, 180_000);

  it('materializes the views into SQLite', async () => {
    const result = await loopRun('materialize');
    expect(stage(result, 'materialize:user_orders')).toEqual({ status: 'succeeded', summary: `full (no watermark yet): 2 entities, 2 written, watermark ${AS_OF}` });
    const values = await store.read([1, 2].map((user) => ({ view: 'user_orders', key: [user], ttlSeconds: null })), new Date(AS_OF));
    // As of 2024-05-02T06:00Z, the last day: user 1 has o1 + o2 (20 + 5), user 2 o3 + o4 (7.5 + 2.5).
    expect(values.map((value) => value.values)).toEqual([{ amount_sum_1d: 25 }, { amount_sum_1d: 10 }]);
    const [profileOne] = await store.read([{ view: 'user_profile', key: [1], ttlSeconds: null }], new Date(AS_OF));
    expect(profileOne?.values).toEqual({ country: 'DE' });
    // Clicks in the day before AS_OF: c1, c2 of user 1 (09:00, 10:30), c3 of user 2 (20:00).
    const clicks = await store.read([1, 2].map((user) => ({ view: 'user_clicks', key: [user], ttlSeconds: null })), new Date(AS_OF));
    expect(clicks.map((value) => value.values)).toEqual([{ count_1d: 2 }, { count_1d: 1 }]);
  }, 180_000);

  it('rebuilds labels when a late outcome arrives', async () => {
    // A click of user 1 at 12:40, sent late (in a second segment): it labels o2 (12:00) within the hour.
    const config = await loadConfig({ cwd: project.dir });
    const late = JSON.stringify({ _event_id: 'c4', user_id: 1, ts: '2024-05-01T12:40:00Z', item_id: 13, _received_at: '2024-05-02T05:00:00.000Z' });
    await putSealedSegment(activityDepsFromConfig(config).objectStore, { stream: 'clicks', segmentId: 'seg-0002' }, encodeRecords([late]));
    const result = await loopRun('ingest:clicks', 'labels:clicked_after');
    expect(stage(result, 'ingest:clicks')).toEqual({ status: 'succeeded', summary: '1 segment loaded, 1 row' });
    expect(stage(result, 'labels:clicked_after')).toEqual({ status: 'succeeded', summary: 'partitions: 0 built, 1 rebuilt' });
    const rows = await datasetRows('clicked_after', 'order_id');
    expect(rows.map((row) => [row['order_id'], row['label'], row['first_outcome_at']])).toEqual([
      ['o1', 1, '2024-05-01T10:30:00.000Z'], ['o2', 1, '2024-05-01T12:40:00.000Z'], ['o3', 0, null], ['o4', 0, null],
    ]);
  }, 180_000);

  it('backfills the training set with windowed aggregations over daily partitions', async () => {
    const activities = createActivities(await deps());
    const run = await runWorker({ taskQueue, activities }, () => project.cliAsync('backfill', 'orders_training', '--from', '2024-04-30', '--to', '2024-05-02', '--json'));
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ workflowId: `${projectName}/backfill/orders_training/2024-04-30..2024-05-02`, total: 2, succeeded: 2, rowCount: 3, failed: [] });
    // Each spine row as of its time, the day before it: user 1 on 04-30 has no order nor click yet; on 05-01 at 13:00,
    // o1 + o2 (20 + 5) and clicks c1, c2 and the late c4 (12:40); user 2 at 14:00, o3 + o4 (7.5 + 2.5) and no click.
    expect(await datasetRows('orders_training', 'ts')).toEqual([
      { user_id: 1, ts: '2024-04-30T13:00:00.000Z', label: false, amount_sum_1d: null, count_1d: 0 },
      { user_id: 1, ts: '2024-05-01T13:00:00.000Z', label: true, amount_sum_1d: 25, count_1d: 3 },
      { user_id: 2, ts: '2024-05-01T14:00:00.000Z', label: false, amount_sum_1d: 10, count_1d: 0 },
    ]);
  }, 240_000);

  it('builds a training set from the decision log, with its consistency report', async () => {
    // What ranker served (logged): r1 user 1 at 11:00 amount_sum_1d 20 (the join computes o1: 20); r2 user 1 at 12:30
    // logged 20 (stale: the join computes o1 + o2 = 25); r3 user 2 at 12:00 logged missing (the join computes o3: 7.5).
    const config = await loadConfig({ cwd: project.dir });
    const served = (id: string, user: number, at: string, value: number | null) => JSON.stringify({
      _event_id: `${id}:0`, user_id: user, served_at: at, decision_id: id, row_index: 0, amount_sum_1d: value, amount_sum_1d__status: value === null ? 'missing' : 'present',
      user_orders__event_time: value === null ? null : at, context: null, _received_at: '2024-05-01T21:00:00.000Z',
    });
    await putSealedSegment(activityDepsFromConfig(config).objectStore, { stream: 'ranker_decisions', segmentId: 'seg-0001' },
      encodeRecords([served('r1', 1, '2024-05-01T11:00:00Z', 20), served('r2', 1, '2024-05-01T12:30:00Z', 20), served('r3', 2, '2024-05-01T12:00:00Z', null)]));
    const result = await loopRun('ingest:ranker_decisions', 'labels:ranker_clicked', 'trainingSet:ranker_training');
    expect(stage(result, 'ingest:ranker_decisions')).toEqual({ status: 'succeeded', summary: '1 segment loaded, 3 rows' });
    expect(stage(result, 'labels:ranker_clicked')).toEqual({ status: 'succeeded', summary: 'partitions: 1 built' });
    expect(stage(result, 'trainingSet:ranker_training').summary).toMatch(/^3 rows in 1 partition, version \d{8}T\d{6}_[0-9a-f]{12}$/);
    // Labels: a click of the user within the hour after the decision: only r2 (12:30; c4 at 12:40).
    const rows = await datasetRows('ranker_training', 'decision_id');
    expect(rows.map((row) => [row['decision_id'], row['user_id'], row['served_at'], row['label'], row['amount_sum_1d']])).toEqual([
      ['r1', 1, '2024-05-01T11:00:00.000Z', 0, 20], ['r2', 1, '2024-05-01T12:30:00.000Z', 1, 20], ['r3', 2, '2024-05-01T12:00:00.000Z', 0, null],
    ]);
    const report = JSON.parse(readFileSync(join(project.dir, '.flywheel', 'objects', 'training_sets', 'ranker_training', '_consistency.json'), 'utf8')) as ConsistencyReport;
    // Compared 3 (every row has its log row); r2 differs by 5 (5 / 25 relative), r3 is null against 7.5.
    expect({ ...report, updatedAt: undefined }).toEqual({
      formatVersion: 1, project: projectName, trainingSet: 'ranker_training', labels: 'ranker_clicked', decisionStream: 'ranker_decisions', service: 'ranker', updatedAt: undefined,
      tolerance: { relative: { float64: 1e-9, float32: 0.000001 }, otherTypes: 'exact' },
      rows: 3, rowsWithLog: 3,
      partitions: [{
        key: 'day=2024-05-01', version: expect.stringMatching(/^\d{8}T\d{6}_[0-9a-f]{12}$/), rows: 3, rowsWithLog: 3,
        features: { amount_sum_1d: expect.objectContaining({ compared: 3, differing: 2, differingShare: 2 / 3 }) },
      }],
      features: {
        amount_sum_1d: {
          type: 'float64', source: { log: 3, join: 0 }, compared: 3, differing: 2, differingShare: 2 / 3, nullMismatches: 1,
          absoluteDifference: { mean: 5, max: 5 }, relativeDifference: { mean: 0.2, max: 0.2 },
        },
      },
    });
  }, 240_000);

  it('materializes a windowed view into Redis, in chunks', async () => {
    const redis = new RedisOnlineStore({ url: redisUrl(), keyPrefix: testKeyPrefix() });
    try {
      const activities = createActivities({ ...(await deps()), onlineStore: redis });
      const run = await runWorker({ taskQueue, activities }, () => project.cliAsync('materialize', 'user_orders', '--full', '--to', AS_OF, '--chunks', '3', '--json'));
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ view: 'user_orders', mode: 'full', from: null, to: AS_OF, chunks: 3, rows: 2, written: 2, skippedOlder: 0 });
      const values = await redis.read([1, 2, 3].map((user) => ({ view: 'user_orders', key: [user], ttlSeconds: null })), new Date(AS_OF));
      // As in SQLite: user 1 o1 + o2 (20 + 5), user 2 o3 + o4 (7.5 + 2.5); user 3 has no order.
      expect(values.map((value) => value.values)).toEqual([{ amount_sum_1d: 25 }, { amount_sum_1d: 10 }, {}]);
    } finally {
      await deleteTestKeys(redisUrl(), redis.keyPrefix);
      await redis.close();
    }
  }, 240_000);

  it('runs every stage of the loop at once, each after what it depends on, all succeeding', async () => {
    const result = await loopRun();
    expect(result.stages.map((s) => [s.id, s.status])).toEqual([
      'ingest:clicks', 'ingest:orders', 'ingest:ranker_decisions', 'labels:clicked_after', 'labels:ranker_clicked', 'trainingSet:orders_training', 'trainingSet:ranker_training',
      'materialize:user_clicks', 'materialize:user_orders', 'materialize:user_profile',
    ].map((id) => [id, 'succeeded']));
    expect(stage(result, 'ingest:clicks').summary).toBe('0 segments loaded, 0 rows');
  }, 240_000);
});
