import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import type { FeaturesResponse, FeatureValue } from '../client/index.ts';
import { loadDefinitions } from '../cli/project/load-definitions.ts';
import { ingestScheduleId, ingestSweepWorkflowId } from '../cli/serve/ingestion-starter.ts';
import { createOfflineEngine } from '../connectors/offline/create-offline-engine.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { createOnlineStore } from '../connectors/online-store/create-online-store.ts';
import { materializationScheduleId } from '../core/plan/schedules.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { decisionStreamOf, FRAUD_SERVICE, onlineViewsOf, scoreAuthorization, startDemoServer, type Authorization } from '../examples/card-fraud/decision-loop.ts';
import type { CardFraudTable } from '../examples/card-fraud/generate-data.ts';
import type { loadCardFraudData } from '../examples/card-fraud/load-into-warehouse.ts';
import { loadConfig, type ResolvedConfig } from '../runtime/load-config.ts';
import { activityDepsFromConfig } from '../worker/activity-deps.ts';
import type { MaterializeFeatureViewResult } from '../workflows/materialize.ts';
import { deleteTestKeys, redisUrl, testKeyPrefix } from './setup/redis.ts';
import { SNOWFLAKE_EMULATOR_TIMEOUT_MS, startSnowflakeEmulator, type SnowflakeEmulator } from './setup/snowflake-emulator.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * The card-fraud example's `snowflake` profile (examples/card-fraud/flywheel.config.ts) end to end on
 * the Snowflake emulator, on a small generated dataset: the generated tables loaded into Snowflake
 * with the example's loader, `flywheel apply` (views, decision stream, the hourly materialization
 * schedule on Temporal), the fraud training set, which must hold the same rows as the same build on
 * DuckDB over the same data, every online view materialized from Snowflake into Redis, one
 * authorization served through the project server, and its logged decision loaded into
 * flywheel.stream_fraud_model_decisions on Snowflake with exactly what was served. Each project runs
 * the real CLI, with a worker in this process.
 */

const exampleDir = fileURLToPath(new URL('../examples/card-fraud/', import.meta.url));
const PROJECT = 'card_fraud_sf';
const DUCKDB_PROJECT = 'card_fraud_sf_duckdb';
const keyPrefix = testKeyPrefix(import.meta.filename);
const DAYS = 3;

let emulator: SnowflakeEmulator | undefined;
let snowflakeProject: TempProject;
let duckdbProject: TempProject;
let snowflakeConfig: ResolvedConfig;
let duckdbConfig: ResolvedConfig;
const snowflakeQueue = testTaskQueue();
const duckdbQueue = testTaskQueue();
/** The generated data's first and last (exclusive) days. */
let range: { start: string; end: string };
/**
 * The example's modules, imported once the environment names the emulator: generate-data.ts imports the
 * example's config, whose snowflake profile reads the environment when it is first evaluated.
 */
let example: { tables: readonly CardFraudTable[]; load: typeof loadCardFraudData };

/** stderr without Node's process warnings (snowflake-sdk's AWS SDK warns that it will soon need Node 22). */
const withoutNodeWarnings = (stderr: string) => stderr.replace(/\(node:\d+\) Warning: [\s\S]*?\(Use `node --trace-warnings \.\.\.` to show where the warning was created\)\n/g, '');

const exampleDefinitions = () => Object.fromEntries(
  readdirSync(join(exampleDir, 'definitions')).filter((f) => f.endsWith('.ts')).map((f) => [`definitions/${f}`, readFileSync(join(exampleDir, 'definitions', f), 'utf8')]),
);

async function onSnowflake<T>(use: (engine: Awaited<ReturnType<typeof createOfflineEngine>>) => Promise<T>): Promise<T> {
  const engine = await createOfflineEngine(snowflakeConfig.profile.offline);
  try {
    return await use(engine);
  } finally {
    await engine.close();
  }
}

/** Every row of the training set's Parquet files in a project's local object store, read with DuckDB, by transaction id. */
async function trainingRows(project: TempProject): Promise<Record<string, unknown>[]> {
  const root = join(project.dir, '.flywheel', 'objects', 'training_sets', 'fraud_training');
  const files = (readdirSync(root, { recursive: true }) as string[]).filter((file) => file.endsWith('.parquet')).map((file) => `'${join(root, file)}'`);
  const reader = await openDuckDBEngine({ path: ':memory:' });
  try {
    return await reader.all(sql(`SELECT * FROM read_parquet([${files.join(', ')}], hive_partitioning = false) ORDER BY transaction_id`));
  } finally {
    await reader.close();
  }
}

beforeAll(async () => {
  emulator = await startSnowflakeEmulator();
  const options = emulator.connectionOptions({ database: `RISK_${randomBytes(4).toString('hex').toUpperCase()}`, schema: 'CARD_FRAUD' });
  // What the example's snowflake profile reads (README, "On Snowflake"); the CLI children inherit them.
  Object.assign(process.env, {
    SNOWFLAKE_ACCOUNT: options.account, SNOWFLAKE_USER: options.username, SNOWFLAKE_DATABASE: options.database, SNOWFLAKE_SCHEMA: options.schema,
    SNOWFLAKE_ACCESS_URL: options.accessUrl, SNOWFLAKE_PASSWORD: options.password, REDIS_URL: redisUrl(),
  });
  const [generator, loader] = [await import('../examples/card-fraud/generate-data.ts'), await import('../examples/card-fraud/load-into-warehouse.ts')];
  example = { tables: generator.CARD_FRAUD_TABLES, load: loader.loadCardFraudData };
  const temporal = (taskQueue: string) => `{ address: '${temporalAddress()}', namespace: 'default', taskQueue: '${taskQueue}' }`;
  snowflakeProject = createTempProject({
    'flywheel.config.ts': `import { defineConfig } from 'flywheel';
import example from ${JSON.stringify(join(exampleDir, 'flywheel.config.ts'))};
const profile = example.profiles.snowflake!;
export default defineConfig({ project: '${PROJECT}', definitions: './definitions', defaultProfile: 'snowflake', profiles: { snowflake: {
  ...profile, onlineStore: { ...profile.onlineStore, keyPrefix: '${keyPrefix}' } as typeof profile.onlineStore, temporal: ${temporal(snowflakeQueue)},
} } });
`,
    ...exampleDefinitions(),
  });
  duckdbProject = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${DUCKDB_PROJECT}', definitions: './definitions', profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${duckdbQueue}' }) } });
`,
    ...exampleDefinitions(),
  });
  snowflakeConfig = await loadConfig({ cwd: snowflakeProject.dir, profile: 'snowflake' });
  duckdbConfig = await loadConfig({ cwd: duckdbProject.dir, profile: 'local' });
  if (duckdbConfig.profile.offline.type !== 'duckdb') throw new Error('expected the local profile');
  if (snowflakeConfig.profile.offline.type !== 'snowflake' || snowflakeConfig.profile.offline.accessUrl !== options.accessUrl) throw new Error('expected the snowflake profile pointed at the emulator');
  // Days up to yesterday (UTC): yesterday's daily stats are within their ttl now, for serving.
  const generated = await generator.generateCardFraudData({ warehousePath: duckdbConfig.profile.offline.path, users: 40, merchants: 10, days: DAYS, transactionsPerDay: 60, seed: 11 });
  range = { start: generated.start.slice(0, 10), end: generated.end.slice(0, 10) };
}, SNOWFLAKE_EMULATOR_TIMEOUT_MS);

afterAll(async () => {
  const client = await connectClient();
  try {
    for (const project of [PROJECT, DUCKDB_PROJECT]) {
      for (const id of [materializationScheduleId(project, 'user_txn_windows'), ingestScheduleId(project)]) await client.schedule.getHandle(id).delete().catch(() => undefined);
      await client.workflow.getHandle(ingestSweepWorkflowId(project)).terminate('test over').catch(() => undefined);
    }
  } finally {
    await client.connection.close();
  }
  await deleteTestKeys(redisUrl(), keyPrefix);
  snowflakeProject?.remove();
  duckdbProject?.remove();
  await emulator?.stop();
}, 60_000);

describe("the card-fraud example's Snowflake profile, end to end on the emulator", { timeout: 240_000 }, () => {
  it('loads the generated tables into Snowflake, row for row', async () => {
    const counts = await onSnowflake((engine) => example.load((duckdbConfig.profile.offline as { path: string }).path, engine));
    const duckdb = await openDuckDBEngine({ path: (duckdbConfig.profile.offline as { path: string }).path });
    try {
      for (const table of example.tables) {
        const [row] = await duckdb.all<{ n: number | bigint }>(sql(`SELECT COUNT(*) AS n FROM ${table}`));
        expect(counts[table], table).toBe(Number(row!.n));
      }
    } finally {
      await duckdb.close();
    }
    expect(counts.transactions).toBe(DAYS * 60);
    // Created without quotes, as dbt creates them: upper case in Snowflake's catalog, in the profile's schema.
    const tables = await onSnowflake((engine) => engine.all<{ name: string }>(sql(`SELECT TABLE_NAME AS "name" FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'CARD_FRAUD' ORDER BY 1`)));
    expect(tables.map((t) => t.name)).toEqual(example.tables.map((t) => t.toUpperCase()).sort());
  });

  it('applies on Snowflake: the views over the bare table names, the decision stream, and the materialization schedule on Temporal, created then updated', async () => {
    const applied = snowflakeProject.cli('apply');
    expect(withoutNodeWarnings(applied.stderr)).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('  table flywheel.stream_fraud_model_decisions (created if missing)\n');
    const scheduleId = materializationScheduleId(PROJECT, 'user_txn_windows');
    expect(applied.stdout).toContain(`  schedule ${scheduleId} (created)\n`);
    const client = await connectClient();
    try {
      const schedule = await client.schedule.getHandle(scheduleId).describe();
      expect((schedule.spec.intervals ?? []).map((interval) => interval.every)).toEqual([3_600_000]);
      expect(schedule.action.type).toBe('startWorkflow');
      expect(schedule.action.type === 'startWorkflow' ? schedule.action.taskQueue : undefined).toBe(snowflakeQueue);
    } finally {
      await client.connection.close();
    }
    // Applied again: nothing to change, the schedule as it is.
    const again = snowflakeProject.cli('apply');
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`No changes. Registry version 1 is current.\n  schedule ${scheduleId} (unchanged)\n`);
    // Every 2 hours instead: the schedule is updated in place, as on DuckDB (test/schedules.test.ts).
    const features = readFileSync(join(exampleDir, 'definitions', 'user-features.ts'), 'utf8');
    snowflakeProject.write('definitions/user-features.ts', features.replace("materialize: { every: '1h' }", "materialize: { every: '2h' }"));
    const updated = snowflakeProject.cli('apply');
    expect(withoutNodeWarnings(updated.stderr)).toBe('');
    expect(updated.stdout).toContain(`  schedule ${scheduleId} (updated)\n`);
    const client2 = await connectClient();
    try {
      expect(((await client2.schedule.getHandle(scheduleId).describe()).spec.intervals ?? []).map((interval) => interval.every)).toEqual([7_200_000]);
    } finally {
      await client2.connection.close();
    }
    expect(duckdbProject.cli('apply').code).toBe(0);
    // The cases below materialize each view themselves and expect its first (full) run. The hourly
    // schedule fires at the top of an hour, and if their worker polls then, a scheduled run takes that
    // first run (a CI run crossed 14:00 UTC just so): paused from here on.
    const client3 = await connectClient();
    try {
      await client3.schedule.getHandle(scheduleId).pause('test/card-fraud-snowflake.test.ts materializes each view itself');
    } finally {
      await client3.connection.close();
    }
  });

  it('builds the fraud training set on Snowflake with the same rows as on DuckDB', async () => {
    const build = async (project: TempProject, config: ResolvedConfig, taskQueue: string) => {
      const run = await runWorker({ taskQueue, activities: createActivities(activityDepsFromConfig(config)) }, () =>
        project.cliAsync('run', 'training-set', 'fraud_training', '--from', range.start, '--to', range.end, '--json'));
      expect(run.code, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as { rowCount: number; partitions: unknown[] };
    };
    const onSnowflakeResult = await build(snowflakeProject, snowflakeConfig, snowflakeQueue);
    const onDuckdbResult = await build(duckdbProject, duckdbConfig, duckdbQueue);
    expect(onSnowflakeResult.rowCount).toBe(onDuckdbResult.rowCount);
    expect(onSnowflakeResult.rowCount).toBeGreaterThan(0);
    const [snowflakeRows, duckdbRows] = [await trainingRows(snowflakeProject), await trainingRows(duckdbProject)];
    expect(snowflakeRows).toHaveLength(onDuckdbResult.rowCount);
    // Float sums and averages are added in another order on each engine, so they agree to the last few bits,
    // not bit for bit (250.24 against 250.24000000000004); every other value is equal.
    const closeFloats = (row: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(row).map(([key, value]) => [key, typeof value === 'number' && !Number.isInteger(value) ? expect.closeTo(value, 9) : value]));
    expect(snowflakeRows).toEqual(duckdbRows.map(closeFloats));
  });

  it('materializes every online view from Snowflake into Redis, serves one authorization, and its decision lands in Snowflake as served', async () => {
    const spec = await loadDefinitions(snowflakeConfig.definitionsDir, snowflakeConfig.projectRoot);
    const views = onlineViewsOf(spec);
    expect(views).toEqual(['merchant_risk', 'user_account', 'user_activity', 'user_spend', 'user_txn_windows']);
    const stream = decisionStreamOf(spec, FRAUD_SERVICE);
    const [latest] = await onSnowflake((engine) => engine.all<{ transaction_id: number; user_id: number; merchant_id: number; ts: string; amount: number }>(sql(
      'SELECT transaction_id AS "transaction_id", user_id AS "user_id", merchant_id AS "merchant_id", ts AS "ts", amount AS "amount" FROM transactions ORDER BY ts DESC, transaction_id DESC LIMIT 1')));
    const authorization: Authorization = { transactionId: latest!.transaction_id, userId: latest!.user_id, merchantId: latest!.merchant_id, ts: latest!.ts, amount: latest!.amount };

    const serverLog: string[] = [];
    const materialized: MaterializeFeatureViewResult[] = [];
    let response!: FeaturesResponse<Record<string, FeatureValue>>;
    let rows: Record<string, unknown>[] = [];
    const onlineStore = await createOnlineStore(snowflakeConfig.profile.onlineStore, { project: snowflakeConfig.project });
    try {
      await runWorker({ taskQueue: snowflakeQueue, activities: createActivities({ ...activityDepsFromConfig(snowflakeConfig), onlineStore }) }, async () => {
        for (const view of views) {
          const run = await snowflakeProject.cliAsync('materialize', view, '--json');
          expect(run.code, run.stderr).toBe(0);
          materialized.push(JSON.parse(run.stdout) as MaterializeFeatureViewResult);
        }
        const server = await startDemoServer(snowflakeConfig, { segmentAgeMs: 300, log: (line) => serverLog.push(line) });
        try {
          ({ response } = await scoreAuthorization(server.server.url, authorization));
          // Until the segment is sealed, uploaded and loaded by the ingestion workflow (bounded: 120 s).
          const deadline = Date.now() + 120_000;
          while (rows.length === 0 && Date.now() < deadline) {
            rows = await onSnowflake((engine) => engine.all(sql(`SELECT * FROM flywheel.stream_${stream} WHERE "decision_id" = ? ORDER BY "row_index"`, [response.decisionId])));
            if (rows.length === 0) await new Promise((resolve) => setTimeout(resolve, 500));
          }
        } finally {
          await server.close();
        }
      });
    } finally {
      await onlineStore.close();
    }

    expect(materialized.map((m) => [m.view, m.mode, m.watermarkAdvanced])).toEqual(views.map((view) => [view, 'full', true]));
    expect(materialized.every((m) => m.written > 0 && m.written === m.rows)).toBe(true);
    // The server says only that it warmed its request path (and its HTTP path): no error, no dropped log.
    expect(serverLog.filter((line) => !/^serving: warmed the (request|HTTP) path /.test(line))).toEqual([]);

    const features = spec.featureServices.fraud_model!.features.flatMap((selection) => selection.features);
    expect(response.features).toEqual(features);
    const served = response.rows[0]!;
    expect(response.rows).toHaveLength(1);
    expect(Object.values(served.statuses)).toEqual(features.map(() => 'present'));
    // The values are Snowflake's: the user's latest daily stats row, and the 7-day count as of the materialization.
    const [userDay] = await onSnowflake((engine) => engine.all(sql(
      'SELECT txn_count_1d AS "txn_count_1d", amount_avg_1d AS "amount_avg_1d", ts AS "ts" FROM user_daily_stats WHERE user_id = ? ORDER BY ts DESC LIMIT 1', [authorization.userId])));
    expect([served.values.txn_count_1d, served.values.amount_avg_1d, served.eventTimes.txn_count_1d]).toEqual([userDay!['txn_count_1d'], userDay!['amount_avg_1d'], userDay!['ts']]);
    const asOf = served.eventTimes.count_7d!;
    expect(asOf).toBe(materialized.find((m) => m.view === 'user_txn_windows')!.to);
    const [week] = await onSnowflake((engine) => engine.all(sql(
      'SELECT COUNT(*) AS "n" FROM transactions WHERE user_id = ? AND ts > DATEADD(day, -7, ?::TIMESTAMP_TZ) AND ts <= ?::TIMESTAMP_TZ', [authorization.userId, asOf, asOf])));
    expect(served.values.count_7d).toBe(Number(week!['n']));

    // Logged: one row, with the keys, every value and status served, and each view's event time.
    expect(rows).toHaveLength(1);
    const logged = rows[0]!;
    expect(logged).toMatchObject({
      _event_id: `${response.decisionId}:0`, decision_id: response.decisionId, row_index: 0,
      user_id: authorization.userId, merchant_id: authorization.merchantId, context: null,
      user_spend__event_time: served.eventTimes.txn_count_1d, user_txn_windows__event_time: asOf,
    });
    for (const feature of features) {
      expect(logged[feature], feature).toEqual(served.values[feature]);
      expect(logged[`${feature}__status`], feature).toBe(served.statuses[feature]);
    }
  });
});
