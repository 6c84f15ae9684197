import { join } from 'node:path';
import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import type { MaterializeDeps } from '../activities/materialize.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { WarehouseMaterializationState } from '../connectors/registry/materialization-state.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import type { PlanDocumentWithSchedules } from '../core/plan/schedules.ts';
import type { StatusDocument } from '../cli/commands/status.ts';
import type { MaterializeFeatureViewResult } from '../workflows/materialize.ts';
import { FLYWHEEL_KIND, FLYWHEEL_OBJECT, FLYWHEEL_PROJECT } from '../workflows/search-attributes.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * Scheduled materialization and `flywheel status` end to end: `flywheel apply` (the real CLI)
 * creates, updates and deletes the Temporal Schedule of a feature view on the shared dev server; a
 * triggered run materializes into a real SQLite online store; `flywheel materialize` runs on demand;
 * `flywheel status` reports each view's watermark and staleness.
 */

const PROJECT = 'matsched_test';
const SCHEDULE_ID = `flywheel:${PROJECT}:materialization:user_spend`;

const definitions = (materialize?: string) => `
import { entity, featureView, source } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const spend = source({ name: 'spend_src', table: 'spend', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
export const spendView = featureView({ name: 'user_spend', entities: [user], source: spend, features: { amount: 'float64' }${materialize ? `, materialize: ${materialize}` : ''} });
export const daily = featureView({ name: 'user_daily', entities: [user], source: spend, features: { amount: 'float64' }, materialize: { cron: '0 3 * * *' } });
export const adhoc = featureView({ name: 'user_adhoc', entities: [user], source: spend, features: { amount: 'float64' } });
export const offline = featureView({ name: 'user_offline', entities: [user], source: spend, online: false, features: { amount: 'float64' } });
`;
const DAILY_ID = `flywheel:${PROJECT}:materialization:user_daily`;

let project: TempProject;
let client: Client;
let warehouse: string;
let store: SqliteOnlineStore;
const taskQueue = testTaskQueue();

function deps(): MaterializeDeps {
  return {
    project: PROJECT,
    openEngine: () => openDuckDBEngine({ path: warehouse }),
    registry: (engine) => new WarehouseRegistry(engine),
    materializationState: (engine) => new WarehouseMaterializationState(engine),
    objectStore: new LocalObjectStore(join(project.dir, '.flywheel', 'objects')),
    scratchDir: join(project.dir, '.flywheel', 'scratch'),
    onlineStore: store,
  };
}

function cli(...args: string[]) {
  const result = project.cli(...args);
  return { ...result, ok: () => { expect(result.stderr).toBe(''); expect(result.code).toBe(0); return result.stdout; } };
}

const status = () => JSON.parse(cli('status', '--json').ok()) as StatusDocument;
const describeSchedule = (id = SCHEDULE_ID) => client.schedule.getHandle(id).describe();

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let attempt = 0; attempt < 100; attempt++) {
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
    'definitions/all.ts': definitions(`{ every: '1h' }`),
  });
  warehouse = join(project.dir, '.flywheel', 'warehouse.duckdb');
  const engine = await openDuckDBEngine({ path: warehouse });
  await engine.run({
    sql: `CREATE TABLE spend (user_id BIGINT, ts TIMESTAMPTZ, amount DOUBLE);
      INSERT INTO spend VALUES (1, '2024-05-01 10:00:00+00', 10), (1, '2024-05-01 11:00:00+00', 11), (2, '2024-05-01 09:00:00+00', 20), (3, '2024-04-30 12:00:00+00', 30);`,
    parameters: [],
  });
  await engine.close();
  store = new SqliteOnlineStore({ path: join(project.dir, '.flywheel', 'online.sqlite') });
  client = await connectClient();
});

afterAll(async () => {
  for (const id of [SCHEDULE_ID, DAILY_ID]) await client?.schedule.getHandle(id).delete().catch(() => undefined);
  await client?.connection.close();
  await store?.close();
  project?.remove();
});

describe('materialization schedules', () => {
  it('plan shows them and apply creates them on Temporal', async () => {
    const planned = JSON.parse(cli('plan', '--json').ok()) as PlanDocumentWithSchedules;
    expect(planned.schedules).toEqual([
      { action: 'create', id: DAILY_ID, featureView: 'user_daily', spec: 'cron "0 3 * * *" UTC' },
      { action: 'create', id: SCHEDULE_ID, featureView: 'user_spend', spec: 'every 1h' },
    ]);
    const stdout = cli('apply').ok();
    expect(stdout).toContain([
      `Schedules on Temporal (${temporalAddress()}, namespace "default"):`,
      '',
      `  + schedule ${DAILY_ID}: cron "0 3 * * *" UTC`,
      `  + schedule ${SCHEDULE_ID}: every 1h`,
      '',
      'Schedules: 2 to create, 0 to update, 0 to delete, 0 unchanged.',
    ].join('\n'));
    expect(stdout).toContain(`  schedule ${DAILY_ID} (created)\n  schedule ${SCHEDULE_ID} (created)\nRegistry version 1 saved`);

    const description = await describeSchedule();
    expect(description.spec.intervals).toEqual([{ every: 3_600_000, offset: 0 }]);
    expect(description.spec.calendars ?? []).toEqual([]);
    expect(description.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: 86_400_000 });
    expect(description.state.paused).toBe(false);
    expect(description.action).toMatchObject({
      type: 'startWorkflow', workflowType: 'materializeFeatureView', workflowId: `${PROJECT}/materialize/user_spend/scheduled`, taskQueue,
      args: [{ project: PROJECT, view: 'user_spend' }],
    });
    for (const attributes of [description.typedSearchAttributes, description.action.typedSearchAttributes as ScheduleDescription['typedSearchAttributes']]) {
      expect(attributes.get(FLYWHEEL_PROJECT)).toBe(PROJECT);
      expect(attributes.get(FLYWHEEL_KIND)).toBe('materialization');
      expect(attributes.get(FLYWHEEL_OBJECT)).toBe('user_spend');
    }
    expect(cli('plan').ok()).toBe(`No changes. The registry (version 1) matches the definitions.\n  schedule ${DAILY_ID} (unchanged)\n  schedule ${SCHEDULE_ID} (unchanged)\n`);
  });

  it('status says every online view is stale before its first run', () => {
    const document = status();
    expect(document).toMatchObject({ format: 'flywheel.status/v1', project: PROJECT, registryVersion: 1 });
    const never = { watermark: null, ageSeconds: null, state: 'never', stale: true, mode: null, rows: null, finishedAt: null, definitionChanged: false, paused: false };
    expect(document.featureViews).toEqual([
      { view: 'user_adhoc', schedule: null, intervalSeconds: null, ...never },
      { view: 'user_daily', schedule: 'cron "0 3 * * *" UTC', intervalSeconds: 86_400, ...never },
      { view: 'user_spend', schedule: 'every 1h', intervalSeconds: 3600, ...never },
    ]);
  });

  it('a triggered run materializes the view as of when it started, and status shows it fresh', async () => {
    const handle = client.schedule.getHandle(SCHEDULE_ID);
    const { workflowId, result, startedAt } = await runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
      await handle.trigger();
      const description = await eventually(() => handle.describe(), (d) => d.info.recentActions.length > 0, 'the triggered run to start');
      const run = client.workflow.getHandle(description.info.recentActions[0]!.action.workflow.workflowId);
      const result = (await run.result()) as MaterializeFeatureViewResult;
      return { workflowId: run.workflowId, result, startedAt: (await run.describe()).startTime };
    });
    expect(workflowId.startsWith(`${PROJECT}/materialize/user_spend/scheduled-`)).toBe(true);
    // `to` is when the run's first task started: the run's start, give or take the time to schedule it.
    expect(Math.abs(Date.parse(result.to) - startedAt.getTime())).toBeLessThan(2000);
    expect(result).toEqual({
      view: 'user_spend', mode: 'full', reason: 'no watermark yet', from: null, to: result.to, chunks: 4,
      rows: 3, written: 3, skippedOlder: 0, watermarkAdvanced: true, watermarkReason: 'first watermark', watermark: result.to,
    });
    const values = await store.read([1, 2, 3].map((user) => ({ view: 'user_spend', key: [user], ttlSeconds: null })), new Date());
    expect(values.map((v) => [v.values, v.eventTime])).toEqual([
      [{ amount: 11 }, '2024-05-01T11:00:00.000Z'],
      [{ amount: 20 }, '2024-05-01T09:00:00.000Z'],
      [{ amount: 30 }, '2024-04-30T12:00:00.000Z'],
    ]);

    const spend = status().featureViews.find((s) => s.view === 'user_spend')!;
    expect(spend).toMatchObject({ watermark: result.to, state: 'fresh', stale: false, mode: 'full', rows: 3 });
    expect(spend.ageSeconds).toBeLessThan(600);
    expect(cli('status').ok()).toMatch(new RegExp(`\\n {2}user_spend {4}every 1h {14}${result.to.replaceAll('.', '\\.')} {2}\\d+[sm]( \\d+s)? +3 {5}fresh\\n`));
  });

  it('flywheel materialize runs on demand with a range, and an old watermark is stale', async () => {
    const cliRun = await runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
      project.cliAsync('materialize', 'user_daily', '--to', '2024-05-01T10:30:00Z', '--chunks', '2'));
    expect(cliRun.code).toBe(0);
    expect(cliRun.stderr).toMatch(new RegExp(`^Started ${PROJECT}/materialize/user_daily/`));
    // As of 10:30, user 1's latest row is 10:00 (the 11:00 one is later).
    expect(cliRun.stdout.split('\n')).toEqual([
      'Materialized user_daily: full run as of 2024-05-01T10:30:00.000Z (no watermark yet).',
      '  3 entities in 2 chunks: 3 written, 0 skipped (the store had newer values).',
      '  Watermark: 2024-05-01T10:30:00.000Z.',
      expect.stringMatching(/^ {2}took \d+\.\d s; in the Temporal UI: http:\/\/localhost:8233\/namespaces\/default\/workflows\/\S+$/),
      '',
    ]);
    const [user1] = await store.read([{ view: 'user_daily', key: [1], ttlSeconds: null }], new Date());
    expect(user1).toMatchObject({ values: { amount: 10 }, eventTime: '2024-05-01T10:00:00.000Z' });

    // From 10:30 to 11:30: only user 1 has a row in between.
    const again = await runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
      project.cliAsync('materialize', 'user_daily', '--to', '2024-05-01T11:30:00Z', '--json'));
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ mode: 'incremental', from: '2024-05-01T10:30:00.000Z', to: '2024-05-01T11:30:00.000Z', rows: 1, written: 1, watermark: '2024-05-01T11:30:00.000Z' });

    // Its watermark is far more than twice a day old.
    const daily = status().featureViews.find((s) => s.view === 'user_daily')!;
    expect(daily).toMatchObject({ watermark: '2024-05-01T11:30:00.000Z', state: 'stale', stale: true, mode: 'incremental', rows: 1 });
    expect(cli('status').ok()).toMatch(/\n {2}user_daily {4}cron "0 3 \* \* \*" UTC {2}2024-05-01T11:30:00\.000Z {2}\d+d( \d+h)? +1 {5}stale\n/);

    // Usage errors are refused before anything starts.
    expect(project.cli('materialize', 'user_daily', '--from', '2024-05-02', '--to', '2024-05-01')).toMatchObject({ code: 1, stderr: expect.stringContaining('--from 2024-05-02 must be before --to 2024-05-01') });
    expect(project.cli('materialize', 'user_daily', '--from', '2024-05-01', '--full')).toMatchObject({ code: 1, stderr: expect.stringContaining('--from and --full cannot be used together') });
  });

  it('a changed schedule updates it, and a removed one deletes it', async () => {
    project.write('definitions/all.ts', definitions(`{ every: '30m', paused: true }`));
    const planned = cli('plan').ok();
    expect(planned).toContain([
      `  ~ schedule ${SCHEDULE_ID}`,
      '      ~ spec: every 1h → every 30m',
      '      ~ paused: false → true',
    ].join('\n'));
    cli('apply').ok();
    const description = await describeSchedule();
    expect(description.spec.intervals).toEqual([{ every: 1_800_000, offset: 0 }]);
    expect(description.state.paused).toBe(true);
    // The schedule is not part of the values: the watermark still holds (no "definition changed").
    expect(status().featureViews.find((s) => s.view === 'user_spend')).toMatchObject({ schedule: 'every 30m', paused: true, intervalSeconds: 1800, definitionChanged: false });

    project.write('definitions/all.ts', definitions());
    expect(cli('plan').ok()).toContain(`  - schedule ${SCHEDULE_ID}`);
    expect(cli('apply').ok()).toContain(`  schedule ${SCHEDULE_ID} (deleted)`);
    await expect(describeSchedule()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    expect(status().featureViews.find((s) => s.view === 'user_spend')).toMatchObject({ schedule: null, state: 'unscheduled', stale: false });
  });
});
