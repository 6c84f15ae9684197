import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Client, ScheduleDescription } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import type { MaterializeDeps } from '../activities/materialize.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { WarehouseMaterializationState } from '../connectors/registry/materialization-state.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import type { PlanDocumentWithSchedules } from '../core/plan/schedules.ts';
import { encodeRecords } from '../connectors/log-store/segment-log/index.ts';
import type { FlywheelLoopResult, LoopStageOutcome } from '../workflows/flywheel-loop.ts';
import { FLYWHEEL_KIND, FLYWHEEL_OBJECT, FLYWHEEL_PROJECT } from '../workflows/search-attributes.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';
import { putSealedSegment } from './support/sealed-segments.ts';

/**
 * The flywheel loop end to end on the shared Temporal dev server, with real DuckDB, SQLite and local
 * object store files: `flywheel loop plan` prints the DAG, `flywheel apply` keeps the loop's
 * schedule, `flywheel loop run` runs every stage as a child workflow in dependency order, a failed
 * ingestion skips only what reads its stream, `--only` runs a subset, and a triggered schedule runs
 * the declared loop.
 */

const PROJECT = 'loop_test';
const SCHEDULE_ID = `flywheel:${PROJECT}:loop:hourly`;
const AS_OF = '2024-05-02T06:00:00.000Z';

const DEFINITIONS = `
import { entity, eventStream, featureView, labels, loop, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { item_id: 'int64' } });
export const orders = eventStream({ name: 'orders', entities: [user], timestampField: 'ts', eventIdField: 'order_id', retention: '365d',
  fields: { order_id: 'string', amount: 'float64' }, from: { table: 'raw_orders', watermark: 'ts', lookback: '1h' } });
export const profile = source({ name: 'profile', table: 'profile', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', country: 'string' } });
export const spine = source({ name: 'spine', table: 'spine', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', label: 'bool' } });
export const userClicks = featureView({ name: 'user_clicks', entities: [user], source: clicks, aggregations: [{ function: 'count', windows: ['1d'] }] });
export const userOrders = featureView({ name: 'user_orders', entities: [user], source: orders, aggregations: [{ column: 'amount', function: 'sum', windows: ['1d'] }] });
export const userProfile = featureView({ name: 'user_profile', entities: [user], source: profile, features: { country: 'string' } });
export const ordersTraining = trainingSet({ name: 'orders_training', spine, features: [userOrders, userClicks] });
export const profileTraining = trainingSet({ name: 'profile_training', spine, features: [userProfile] });
// An order is a decision; a click by the same user within the hour labels it.
export const clickedAfter = labels({ name: 'clicked_after', decisions: orders, outcomes: clicks, match: { by: 'keys' }, window: '1h', value: { kind: 'any' } });
export const hourly = loop({ name: 'hourly', schedule: { every: '1h' }, only: ['ingest', 'materialize'] });
`;

let project: TempProject;
let client: Client;
let stateDir: string;
let warehouse: string;
let store: SqliteOnlineStore;
const taskQueue = testTaskQueue();

function deps(): MaterializeDeps {
  const scratchDir = join(stateDir, 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return {
    project: PROJECT,
    openEngine: () => openDuckDBEngine({ path: warehouse }),
    registry: (engine) => new WarehouseRegistry(engine),
    materializationState: (engine) => new WarehouseMaterializationState(engine),
    objectStore: new LocalObjectStore(join(stateDir, 'objects')),
    scratchDir,
    stateDir,
    onlineStore: store,
  };
}

async function sql(text: string): Promise<void> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    await engine.run({ sql: text, parameters: [] });
  } finally {
    await engine.close();
  }
}

/** A sealed log segment of `clicks`, as `flywheel serve` uploads it to the object store. */
async function writeClicks(segmentId: string, events: { id: string; user: number; ts: string; item: number }[]): Promise<void> {
  const records = events.map((e) => JSON.stringify({ _event_id: e.id, user_id: e.user, ts: e.ts, item_id: e.item, _received_at: '2024-05-01T12:00:00.000Z' }));
  await putSealedSegment(deps().objectStore, { stream: 'clicks', segmentId }, encodeRecords(records));
}

function cli(...args: string[]) {
  const result = project.cli(...args);
  return { ...result, ok: () => { expect(result.stderr).toBe(''); expect(result.code).toBe(0); return result.stdout; } };
}

/** Runs `flywheel loop run <args>` while a worker of the test's task queue runs. */
function loopRun(...args: string[]) {
  return runWorker({ taskQueue, activities: createActivities(deps()) }, () => project.cliAsync('loop', 'run', ...args));
}

const byId = (result: FlywheelLoopResult) => Object.fromEntries(result.stages.map((stage) => [stage.id, stage])) as Record<string, LoopStageOutcome>;
const statuses = (result: FlywheelLoopResult) => result.stages.map((stage) => [stage.id, stage.status, stage.reason ?? null]);

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let attempt = 0; attempt < 150; attempt++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': DEFINITIONS,
  });
  stateDir = join(project.dir, '.flywheel');
  warehouse = join(stateDir, 'warehouse.duckdb');
  mkdirSync(stateDir, { recursive: true });
  await sql(`
    CREATE TABLE raw_orders (user_id BIGINT, ts TIMESTAMPTZ, order_id VARCHAR, amount DOUBLE);
    INSERT INTO raw_orders VALUES (1, '2024-05-01 10:00:00+00', 'o1', 20.0), (1, '2024-05-01 12:00:00+00', 'o2', 5.0), (2, '2024-05-01 11:00:00+00', 'o3', 7.5);
    CREATE TABLE profile (user_id BIGINT, ts TIMESTAMPTZ, country VARCHAR);
    INSERT INTO profile VALUES (1, '2024-04-01 00:00:00+00', 'DE'), (2, '2024-04-02 00:00:00+00', 'FR');
    CREATE TABLE spine (user_id BIGINT, ts TIMESTAMPTZ, label BOOLEAN);
    INSERT INTO spine VALUES (1, '2024-05-01 13:00:00+00', true), (2, '2024-05-01 14:00:00+00', false), (1, '2024-04-30 13:00:00+00', false);`);
  store = new SqliteOnlineStore({ path: join(stateDir, 'online.sqlite') });
  client = await connectClient();
});

afterAll(async () => {
  await client?.schedule.getHandle(SCHEDULE_ID).delete().catch(() => undefined);
  await client?.connection.close();
  await store?.close();
  project?.remove();
});

describe('the flywheel loop', () => {
  it('flywheel loop plan prints the stages the definitions make, with what each depends on', () => {
    expect(cli('loop', 'plan', '--as-of', AS_OF).ok()).toBe([
      `The loop of project "${PROJECT}" as of ${AS_OF}: 8 stages.`,
      '',
      '  stage                         kind         depends on',
      '  ingest:clicks                 ingest       -',
      '  ingest:orders                 ingest       -',
      '  labels:clicked_after          labels       ingest:clicks, ingest:orders',
      '  trainingSet:orders_training   trainingSet  ingest:clicks, ingest:orders',
      '  trainingSet:profile_training  trainingSet  -',
      '  materialize:user_clicks       materialize  ingest:clicks',
      '  materialize:user_orders       materialize  ingest:orders',
      '  materialize:user_profile      materialize  -',
      '',
    ].join('\n'));
    expect(cli('loop', 'plan', 'hourly', '--as-of', AS_OF).ok()).toContain(`Loop "hourly" of project "${PROJECT}" as of ${AS_OF} (only ingest, materialize): 5 stages.`);
    const json = JSON.parse(cli('loop', 'plan', '--only', 'trainingSet:orders_training', '--as-of', '2024-05-02', '--json').ok()) as { stages: unknown[] };
    expect(json.stages).toEqual([{
      id: 'trainingSet:orders_training', kind: 'trainingSet', object: 'orders_training', dependsOn: [], workflowType: 'buildTrainingSet',
      args: { project: PROJECT, trainingSet: 'orders_training', from: '2024-05-01T00:00:00.000Z', to: '2024-05-02T00:00:00.000Z' },
    }]);
    expect(project.cli('loop', 'plan', '--only', 'trainingSet:nope')).toMatchObject({ code: 1, stderr: expect.stringContaining('Unknown loop stage "trainingSet:nope"') });
    expect(project.cli('loop', 'plan', 'daily')).toMatchObject({ code: 1, stderr: expect.stringContaining('No loop named "daily" is declared (declared: hourly)') });
  });

  it('plan lists the loop\'s schedule and apply creates it on Temporal', async () => {
    const planned = JSON.parse(cli('plan', '--json').ok()) as PlanDocumentWithSchedules;
    expect(planned.changes.find((change) => change.kind === 'loop')).toMatchObject({ action: 'add', name: 'hourly' });
    expect(planned.schedules).toEqual([{ action: 'create', id: SCHEDULE_ID, loop: 'hourly', spec: 'every 1h' }]);
    expect(cli('apply').ok()).toContain(`  schedule ${SCHEDULE_ID} (created)\nRegistry version 1 saved`);

    const description = await client.schedule.getHandle(SCHEDULE_ID).describe();
    expect(description.spec.intervals).toEqual([{ every: 3_600_000, offset: 0 }]);
    expect(description.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: 86_400_000 });
    expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'flywheelLoop', workflowId: `${PROJECT}/loop/hourly/scheduled`, taskQueue, args: [{ project: PROJECT, loop: 'hourly' }] });
    for (const attributes of [description.typedSearchAttributes, description.action.typedSearchAttributes as ScheduleDescription['typedSearchAttributes']]) {
      expect(attributes.get(FLYWHEEL_PROJECT)).toBe(PROJECT);
      expect(attributes.get(FLYWHEEL_KIND)).toBe('loop');
      expect(attributes.get(FLYWHEEL_OBJECT)).toBe('hourly');
    }
    expect(cli('plan').ok()).toBe(`No changes. The registry (version 1) matches the definitions.\n  schedule ${SCHEDULE_ID} (unchanged)\n\nStarted by \`flywheel serve\` (not by apply):\n  ingest sweep ${PROJECT}/ingest/sweep: every 10m, one long-lived workflow; loads the closed segments whose ingestion did not start as they closed, and \`from\` tables by watermark\n  retention of clicks, orders: every 1d from the sweep (streams without a retentionSchedule)\n`);
  });

  it('runs every stage as a child workflow, each after what it depends on, and all succeed', async () => {
    await writeClicks('seg-0001', [{ id: 'c1', user: 1, ts: '2024-05-01T09:00:00Z', item: 10 }, { id: 'c2', user: 1, ts: '2024-05-01T09:30:00Z', item: 11 }]);
    const run = await loopRun('--as-of', AS_OF, '--json');
    expect(run.stderr).toMatch(new RegExp(`^Started ${PROJECT}/loop/all/`));
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as FlywheelLoopResult & { workflowId: string };
    expect(result).toMatchObject({ project: PROJECT, asOf: AS_OF, registryVersion: 1, concurrency: 2, succeeded: 8, failed: 0, skipped: 0 });
    const stages = byId(result);
    expect(result.stages.map((stage) => stage.id)).toEqual([
      'ingest:clicks', 'ingest:orders', 'labels:clicked_after', 'trainingSet:orders_training', 'trainingSet:profile_training',
      'materialize:user_clicks', 'materialize:user_orders', 'materialize:user_profile',
    ]);
    expect(stages['ingest:clicks']).toMatchObject({ status: 'succeeded', summary: '1 segment loaded, 2 rows', workflowId: `${result.workflowId}/ingest:clicks` });
    expect(stages['ingest:orders']!.summary).toBe('3 rows loaded from the table, watermark 2024-05-01T12:00:00.000Z');
    // Day partitions as of 2024-05-02T06:00Z: the day before.
    expect(stages['trainingSet:orders_training']!.summary).toMatch(/^2 rows in 1 partition, version \d{8}T\d{6}_[0-9a-f]{12}$/);
    expect(stages['labels:clicked_after']!.summary).toBe('partitions: 1 built');
    expect(stages['materialize:user_orders']!.summary).toBe(`full (no watermark yet): 2 entities, 2 written, watermark ${AS_OF}`);

    // Each stage started after every stage it depends on had finished.
    const end = (stage: LoopStageOutcome) => Date.parse(stage.startedAt!) + stage.durationMs!;
    for (const stage of result.stages) {
      expect(stage.durationMs).toBeGreaterThanOrEqual(0);
      for (const dependency of stage.dependsOn) expect(Date.parse(stage.startedAt!)).toBeGreaterThanOrEqual(end(stages[dependency]!));
    }
    // The same, as Temporal saw it: the training set's child started after both ingestions closed.
    const describe = (id: string) => client.workflow.getHandle(`${result.workflowId}/${id}`).describe();
    const training = await describe('trainingSet:orders_training');
    for (const ingest of ['ingest:clicks', 'ingest:orders']) {
      const closed = (await describe(ingest)).closeTime!;
      expect(training.startTime.getTime()).toBeGreaterThanOrEqual(closed.getTime());
    }
    // One tree in the UI: each stage is a child of the loop, and finds it with the Flywheel search attributes.
    expect(training.parentExecution?.workflowId).toBe(result.workflowId);
    expect(training.status.name).toBe('COMPLETED');
    const loopRunDescription = await client.workflow.getHandle(result.workflowId).describe();
    expect(loopRunDescription.typedSearchAttributes.get(FLYWHEEL_KIND)).toBe('loop');
    expect(training.typedSearchAttributes.get(FLYWHEEL_OBJECT)).toBe('orders_training');

    // What the stages did: the online store holds the views as of the loop's instant.
    const values = await store.read([1, 2].map((user) => ({ view: 'user_orders', key: [user], ttlSeconds: null })), new Date(AS_OF));
    expect(values.map((value) => value.values)).toEqual([{ amount_sum_1d: 25 }, { amount_sum_1d: 7.5 }]);
    const [profileOne] = await store.read([{ view: 'user_profile', key: [1], ttlSeconds: null }], new Date(AS_OF));
    expect(profileOne?.values).toEqual({ country: 'DE' });
  });

  it('a failed stage fails alone: what depends on it is skipped, everything else runs', async () => {
    await sql('ALTER TABLE raw_orders RENAME TO raw_orders_away');
    try {
      const run = await loopRun('--as-of', AS_OF);
      expect(run.code).toBe(3);
      const out = run.stdout;
      expect(out).toMatch(new RegExp(`^The loop of project "${PROJECT}" as of ${AS_OF.replaceAll('.', '\\.')} \\(registry v1\\): 4 succeeded, 1 failed, 3 skipped\\.\\n`));
      expect(out).toMatch(/\n {2}ingest:orders {17}failed {5}\S+ +.*raw_orders/);
      expect(out).toMatch(/\n {2}labels:clicked_after {10}skipped {4}- {6}ingest:orders failed\n/);
      expect(out).toMatch(/\n {2}trainingSet:orders_training {3}skipped {4}- {6}ingest:orders failed\n/);
      expect(out).toMatch(/\n {2}materialize:user_orders {7}skipped {4}- {6}ingest:orders failed\n/);
      expect(out).toMatch(/\n {2}materialize:user_profile {6}succeeded {2}\S+ +incremental \(from the stored watermark\): 0 entities, 0 written, watermark /);
    } finally {
      await sql('ALTER TABLE raw_orders_away RENAME TO raw_orders');
    }
    const again = JSON.parse((await loopRun('--as-of', AS_OF, '--json')).stdout) as FlywheelLoopResult;
    expect(statuses(again).every(([, status]) => status === 'succeeded')).toBe(true);
  });

  it('--only runs the named stages and kinds, without what they depend on', async () => {
    await writeClicks('seg-0002', [{ id: 'c3', user: 2, ts: '2024-05-01T20:00:00Z', item: 12 }]);
    const run = await loopRun('--only', 'ingest:clicks', '--only', 'materialize:user_clicks,trainingSet', '--as-of', AS_OF, '--concurrency', '1', '--json');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as FlywheelLoopResult;
    expect(result.concurrency).toBe(1);
    expect(result.stages.map((stage) => [stage.id, stage.dependsOn, stage.status])).toEqual([
      ['ingest:clicks', [], 'succeeded'],
      ['trainingSet:orders_training', ['ingest:clicks'], 'succeeded'],
      ['trainingSet:profile_training', [], 'succeeded'],
      ['materialize:user_clicks', ['ingest:clicks'], 'succeeded'],
    ]);
    expect(byId(result)['ingest:clicks']!.summary).toBe('1 segment loaded, 1 row');
    // One at a time: each stage starts after the one before it ended.
    for (let i = 1; i < result.stages.length; i++) {
      const previous = result.stages[i - 1]!;
      expect(Date.parse(result.stages[i]!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(previous.startedAt!) + previous.durationMs!);
    }

    const unknown = await loopRun('--only', 'ingest:nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Unknown loop stage "ingest:nope": give a kind (ingest, labels, trainingSet, materialize) or a stage id; the loop\'s stages are ingest:clicks, ingest:orders, ');
  });

  it('a labels stage whose run completed with a partition failed is a failed stage: the loop says which, and exits 3', async () => {
    // Fault injection at the activity boundary: the partition's write fails for good (as a full disk
    // that outlived its retries would), the labels run completes with it counted as failed.
    const activities = createActivities(deps());
    const faulty = {
      ...activities,
      writeLabelPartition: async (run: Parameters<typeof activities.writeLabelPartition>[0]) => {
        throw ApplicationFailure.nonRetryable(`no space left writing ${run.partition.key} (injected)`, 'InjectedFault');
      },
    };
    // A new order of May 1st: its day's label partition has to be built again.
    await sql(`INSERT INTO raw_orders VALUES (2, '2024-05-01 15:00:00+00', 'o4', 3.0)`);
    const run = await runWorker({ taskQueue, activities: faulty }, () => project.cliAsync('loop', 'run', '--only', 'ingest:orders,labels', '--as-of', AS_OF, '--json'));
    expect(run.code).toBe(3);
    const result = JSON.parse(run.stdout) as FlywheelLoopResult;
    expect(result).toMatchObject({ succeeded: 1, failed: 1, skipped: 0 });
    expect(byId(result)['labels:clicked_after']).toMatchObject({ status: 'failed', summary: 'partitions: 0 built, 1 failed' });
    // May 1st is rebuilt for the click (c3) and the order (o4) loaded since version 1, and its write fails.
    expect(byId(result)['labels:clicked_after']!.error).toBe(
      '1 of 1 label partition failed; first: day=2024-05-01: late outcomes: 1 outcome loaded after version 1; late decisions: 1 decision loaded after version 1; failed: no space left writing day=2024-05-01 (injected)',
    );
  });

  it('the schedule starts the declared loop: its stages only, as of the time it was scheduled for', async () => {
    const handle = client.schedule.getHandle(SCHEDULE_ID);
    const { workflowId, result, parentOfChild } = await runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
      await handle.trigger();
      const description = await eventually(() => handle.describe(), (d) => d.info.recentActions.length > 0, 'the triggered run to start');
      const run = client.workflow.getHandle(description.info.recentActions[0]!.action.workflow.workflowId);
      const result = (await run.result()) as FlywheelLoopResult;
      const child = await client.workflow.getHandle(`${run.workflowId}/materialize:user_orders`).describe();
      return { workflowId: run.workflowId, result, parentOfChild: child.parentExecution?.workflowId };
    });
    expect(workflowId.startsWith(`${PROJECT}/loop/hourly/scheduled-`)).toBe(true);
    expect(parentOfChild).toBe(workflowId);
    expect(result).toMatchObject({ loop: 'hourly', failed: 0, skipped: 0 });
    expect(result.stages.map((stage) => stage.id)).toEqual(['ingest:clicks', 'ingest:orders', 'materialize:user_clicks', 'materialize:user_orders', 'materialize:user_profile']);
    expect(Math.abs(Date.parse(result.asOf) - Date.now())).toBeLessThan(120_000);
    expect(byId(result)['materialize:user_orders']!.summary).toMatch(/^incremental \(from the stored watermark\): /);
  });

  it('a loop removed from the definitions loses its schedule', () => {
    project.write('definitions/all.ts', DEFINITIONS.replace(/export const hourly = .*\n/, ''));
    expect(cli('plan').ok()).toContain(`  - schedule ${SCHEDULE_ID}`);
    expect(cli('apply').ok()).toContain(`  schedule ${SCHEDULE_ID} (deleted)`);
  });
});
