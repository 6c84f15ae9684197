import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entity, featureView, source, trainingSet } from '../index.ts';
import { createActivities } from '../activities/index.ts';
import { objectOfRunId } from '../activities/statement-context.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import type { OpenEngineOptions } from '../connectors/offline/create-offline-engine.ts';
import { openSnowflakeEngine, type SentStatement } from '../connectors/offline/snowflake/snowflake-engine.ts';
import type { SnowflakeProfile } from '../connectors/offline/snowflake/snowflake-credentials.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { definitionHash } from '../core/plan/definition-hash.ts';
import { trainingSetRunId } from '../core/run-ids.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { registryStatements } from '../core/sql/registry-sql.ts';
import { warehouseObjectStatements } from '../core/sql/warehouse-objects.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { buildTrainingSet } from '../workflows/build-training-set.ts';
import { SNOWFLAKE_EMULATOR_TIMEOUT_MS, startSnowflakeEmulator, type SnowflakeEmulator } from './setup/snowflake-emulator.ts';
import { connectClient, runWorker, testTaskQueue } from './setup/temporal.ts';

/**
 * Activities hand their statement context to the engine (activities/statement-context.ts): on the
 * Snowflake engine over the emulator, a training-set run on the Temporal dev server sends every
 * statement with the run's QUERY_TAG, and cancelling the run while a statement runs cancels that
 * statement on Snowflake. The emulator records INFORMATION_SCHEMA.QUERY_HISTORY with QUERY_TAG.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const spend = source({ name: 'spend_src', table: 'public.spend', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
const checks = source({ name: 'checks', table: 'public.checks', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' } });
// A spine over a view that takes minutes to read: a statement to cancel.
const slowChecks = source({ name: 'slow_checks_src', table: 'public.slow_checks', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' } });
const spendView = featureView({ name: 'user_spend', entities: [user], source: spend, features: { amount: 'float64' } });
const daily = trainingSet({ name: 'daily_checks', spine: checks, features: [spendView], output: { path: 'datasets/daily', partitionBy: 'day' } });
const slow = trainingSet({ name: 'slow_checks', spine: slowChecks, features: [spendView], output: { path: 'datasets/slow', partitionBy: 'day' } });
const project = validateProject([user, spend, checks, slowChecks, spendView, daily, slow].map((definition) => ({ definition })));

let emulator: SnowflakeEmulator;
let profile: SnowflakeProfile;
let dir: string;
const env: NodeJS.ProcessEnv = {};
const taskQueue = testTaskQueue();

type HistoryRow = {
  QUERY_TEXT: string;
  QUERY_TAG: string;
  EXECUTION_STATUS: string;
  ERROR_CODE: string | null;
};

/** Every statement the emulator answered, oldest first (read by an untagged session). */
async function history(): Promise<HistoryRow[]> {
  const engine = await openSnowflakeEngine(profile, { env });
  try {
    const rows = await engine.all<HistoryRow>(sql('SELECT QUERY_TEXT, QUERY_TAG, EXECUTION_STATUS, ERROR_CODE FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY())'));
    return rows.reverse();
  } finally {
    await engine.close();
  }
}

const tagOf = (row: { QUERY_TAG: string }): Record<string, unknown> | undefined => (row.QUERY_TAG ? (JSON.parse(row.QUERY_TAG) as Record<string, unknown>) : undefined);

beforeAll(async () => {
  emulator = await startSnowflakeEmulator();
  const options = emulator.connectionOptions({ database: `FW_${randomBytes(4).toString('hex').toUpperCase()}`, schema: 'PUBLIC' });
  env['FW_TEST_SNOWFLAKE_PASSWORD'] = options.password;
  profile = { type: 'snowflake', account: options.account, username: options.username, database: options.database, schema: options.schema, accessUrl: options.accessUrl, passwordEnv: 'FW_TEST_SNOWFLAKE_PASSWORD' };
  dir = await mkdtemp(join(tmpdir(), 'flywheel-statement-context-'));
  const engine = await openSnowflakeEngine(profile, { env });
  try {
    // Day d of 90: spend d at 06:00, a check at 12:00.
    await engine.run(sql('CREATE TABLE spend (user_id NUMBER(19,0), ts TIMESTAMP_TZ, amount FLOAT)'));
    await engine.run(sql('CREATE TABLE checks (user_id NUMBER(19,0), ts TIMESTAMP_TZ)'));
    const day = (d: number, hour: string) => new Date(Date.UTC(2024, 0, 1 + d)).toISOString().replace('T00:00:00.000Z', `T${hour}:00:00Z`);
    const days = Array.from({ length: 90 }, (_, d) => d);
    await engine.run(sql(`INSERT INTO spend VALUES ${days.map(() => '(1, ?::TIMESTAMP_TZ, ?)').join(', ')}`, days.flatMap((d) => [day(d, '06'), d])));
    await engine.run(sql(`INSERT INTO checks VALUES ${days.map(() => '(1, ?::TIMESTAMP_TZ)').join(', ')}`, days.map((d) => day(d, '12'))));
    await engine.run(sql('CREATE VIEW slow_checks AS SELECT user_id, ts FROM checks WHERE (SELECT COUNT(*) FROM TABLE(GENERATOR(ROWCOUNT => 300000000000))) > 0'));
    for (const statement of warehouseObjectStatements({ desired: project, dialect: engine.dialect, resolvePath: (p) => p })) await engine.run(statement);
    // The registry row as WarehouseRegistry.save writes it, without its transaction (the emulator cannot run DDL in one).
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

/** Activities whose engines are opened as the worker opens them (the context passed on), recording what they send. */
function activitiesSending(sent: SentStatement[]) {
  return createActivities({
    project: 'rounds',
    openEngine: (options: OpenEngineOptions = {}) =>
      openSnowflakeEngine(profile, { env, ...(options.statementContext ? { context: options.statementContext } : {}), onStatement: (statement) => sent.push(statement) }),
    registry: (engine) => new WarehouseRegistry(engine),
    objectStore: new LocalObjectStore(join(dir, 'objects')),
    scratchDir: join(dir, 'scratch'),
  });
}

describe('the activity statement context, Snowflake engine on the emulator', () => {
  it('reads the object from a run id of the form <project>/<kind>/<object>/<when>', () => {
    expect(objectOfRunId('rounds', 'rounds/training-set/daily_checks/2024-01-01..2024-01-04')).toBe('daily_checks');
    expect(objectOfRunId('rounds', 'other/training-set/daily_checks/all')).toBeUndefined();
    expect(objectOfRunId('rounds', 'rounds-sf-1')).toBeUndefined();
    expect(objectOfRunId('rounds', 'rounds/training-set')).toBeUndefined();
  });

  /** Runs daily_checks over [from, to) on the worker, returning the run's id, its partitions and the statements its engines sent. */
  async function taggedRun(from: string, to: string): Promise<{ workflowId: string; partitions: number; sent: SentStatement[] }> {
    const sent: SentStatement[] = [];
    const workflowId = `${trainingSetRunId('rounds', 'daily_checks', from, to)}-${taskQueue}`;
    const client = await connectClient();
    try {
      const result = await runWorker({ taskQueue, activities: activitiesSending(sent) }, () =>
        client.workflow.execute(buildTrainingSet, { taskQueue, workflowId, args: [{ project: 'rounds', trainingSet: 'daily_checks', from, to }] }));
      expect(result.rowCount).toBe(result.partitions.length);
      return { workflowId, partitions: result.partitions.length, sent };
    } finally {
      await client.connection.close();
    }
  }

  it('tags every statement of a training-set run with the run, its object, activity and attempt, as many for 90 partitions as for 3', async () => {
    const three = await taggedRun('2024-01-01T00:00:00.000Z', '2024-01-04T00:00:00.000Z');
    const ninety = await taggedRun('2024-01-01T00:00:00.000Z', '2024-03-31T00:00:00.000Z');
    expect([three.partitions, ninety.partitions]).toEqual([3, 90]);
    const rows = await history();
    for (const { workflowId, sent } of [three, ninety]) {
      const ofRun = rows.filter((row) => tagOf(row)?.['run'] === workflowId);
      // Every statement the activities' engines sent is in the history under the run's tag, and nothing else is.
      expect(ofRun.map((row) => row.QUERY_TEXT)).toEqual(sent.map((statement) => statement.sqlText));
      // Two activities open the engine (publishTrainingSet writes only to the object store): planTrainingSet sends 8
      // statements (3 session set-up, CURRENT_DATABASE, registry exists and latest, 2 source descriptions),
      // writeTrainingSetFiles 17 (set-up 3, CURRENT_DATABASE, registry exists and get, tableFacts of 2 tables at 3 each,
      // the working table, its statistics (which count the null-timestamp rows too), the partitioned export, the drop,
      // the view's watermark).
      const tag = (activity: string) => JSON.stringify({ flywheel: 1, project: 'rounds', object: 'daily_checks', run: workflowId, activity, attempt: 1 });
      const byTag = new Map<string, number>();
      for (const row of ofRun) byTag.set(row.QUERY_TAG, (byTag.get(row.QUERY_TAG) ?? 0) + 1);
      expect(Object.fromEntries(byTag)).toEqual({ [tag('planTrainingSet')]: 8, [tag('writeTrainingSetFiles')]: 17 });
      expect(ofRun.every((row) => row.EXECUTION_STATUS === 'SUCCESS')).toBe(true);
    }
  }, SNOWFLAKE_EMULATOR_TIMEOUT_MS);

  it('cancels the running statement on Snowflake when the run is cancelled', async () => {
    const sent: SentStatement[] = [];
    const workflowId = `${trainingSetRunId('rounds', 'slow_checks', '2024-01-01T00:00:00.000Z', '2024-01-04T00:00:00.000Z')}-${taskQueue}`;
    // The working table of the run's rows reads the slow view: the statement to cancel.
    const slowStatement = () => sent.find((statement) => statement.sqlText.startsWith('CREATE OR REPLACE TRANSIENT TABLE') && statement.sqlText.includes('src_slow_checks_src'));
    const client = await connectClient();
    try {
      // Heartbeats reach the server (and cancellation comes back) at most once a second, not once a minute.
      const cancelled = await runWorker({ taskQueue, activities: activitiesSending(sent), workerOptions: { maxHeartbeatThrottleInterval: '1 second' } }, async () => {
        const handle = await client.workflow.start(buildTrainingSet, { taskQueue, workflowId, args: [{ project: 'rounds', trainingSet: 'slow_checks', from: '2024-01-01T00:00:00.000Z', to: '2024-01-04T00:00:00.000Z' }] });
        for (let waited = 0; !slowStatement() && waited < 60_000; waited += 100) await sleep(100);
        await sleep(1_000);
        await handle.cancel();
        const outcome = await handle.result().catch((error: unknown) => error);
        // The workflow ends at once; the activity hears of it on its next heartbeat and cancels its statement: wait for that.
        for (let waited = 0; waited < 60_000; waited += 250) {
          if ((await history()).some((row) => tagOf(row)?.['run'] === workflowId && row.ERROR_CODE === '000604')) break;
          await sleep(250);
        }
        return outcome;
      });
      expect(cancelled).toBeInstanceOf(WorkflowFailedError);
      expect((cancelled as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    } finally {
      await client.connection.close();
    }
    const ofRun = (await history()).filter((row) => tagOf(row)?.['run'] === workflowId);
    // 19 statements ran under the run's tag (8 plan, 11 write up to the working table), the last one cancelled
    // (000604: "SQL execution canceled"); the cancel itself went as SYSTEM$CANCEL_QUERY, after it.
    expect(ofRun.map((row) => [row.EXECUTION_STATUS, row.ERROR_CODE])).toEqual([...Array.from({ length: 18 }, () => ['SUCCESS', null]), ['FAILED_WITH_ERROR', '000604']]);
    expect(ofRun.at(-1)?.QUERY_TEXT).toBe(slowStatement()?.sqlText);
    expect(tagOf(ofRun.at(-1)!)).toEqual({ flywheel: 1, project: 'rounds', object: 'slow_checks', run: workflowId, activity: 'writeTrainingSetFiles', attempt: 1 });
    expect(sent.slice(sent.indexOf(slowStatement()!)).map((statement) => statement.sqlText)).toEqual([slowStatement()?.sqlText, 'SELECT SYSTEM$CANCEL_QUERY(?)']);
  }, SNOWFLAKE_EMULATOR_TIMEOUT_MS);
});
