import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import type { PlanDocumentWithSchedules } from '../core/plan/schedules.ts';
import type { PartitionManifest } from '../core/training-set/manifest.ts';
import type { BuildTrainingSetResult } from '../workflows/build-training-set.ts';
import { dayPartition } from '../workflows/scheduled-training-set.ts';
import { FLYWHEEL_KIND, FLYWHEEL_OBJECT, FLYWHEEL_PROJECT, FLYWHEEL_RANGE_END, FLYWHEEL_RANGE_START } from '../workflows/search-attributes.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * Scheduled training sets end to end on the shared Temporal dev server: `flywheel apply` (the real
 * CLI) creates, updates and deletes the Temporal Schedule; a triggered run builds the day partition
 * before the scheduled day into a real DuckDB file and a real local object store.
 */

const PROJECT = 'sched_test';
const SCHEDULE_ID = `flywheel:${PROJECT}:training-set:fraud_training`;
const GHOST_ID = `flywheel:${PROJECT}:training-set:ghost`;
const DAY_MS = 86_400_000;

const definitions = (schedule?: string) => `
import { entity, featureView, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const spend = source({ name: 'spend_src', table: 'spend', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
export const labels = source({ name: 'labels', table: 'labels', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', is_fraud: 'bool' } });
export const spendView = featureView({ name: 'user_spend', entities: [user], source: spend, features: { amount: 'float64' } });
export const training = trainingSet({ name: 'fraud_training', spine: labels, features: [spendView]${schedule ? `, schedule: ${schedule}` : ''} });
`;

let project: TempProject;
let client: Client;
let warehouse: string;
let objectsRoot: string;
const taskQueue = testTaskQueue();
/** Spine rows around today (UTC) and the output row each becomes, so any scheduled day has known contents. */
const expectedRows: { user_id: number; ts: string; is_fraud: boolean; amount: number | null }[] = [];
/** UTC midnight of the day the test started. */
let today: number;

function deps(): ActivityDeps {
  const scratchDir = join(project.dir, '.flywheel', 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return {
    project: PROJECT,
    openEngine: () => openDuckDBEngine({ path: warehouse }),
    registry: (engine) => new WarehouseRegistry(engine),
    objectStore: new LocalObjectStore(objectsRoot),
    scratchDir,
  };
}

function cli(...args: string[]) {
  const result = project.cli(...args);
  return { ...result, ok: () => { expect(result.stderr).toBe(''); expect(result.code).toBe(0); return result.stdout; } };
}

const planJson = () => JSON.parse(cli('plan', '--json').ok()) as PlanDocumentWithSchedules;
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
    // The same project with a Temporal nobody answers at.
    'unreachable.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '127.0.0.1:1', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': definitions(`{ cron: '0 3 * * *' }`),
  });
  warehouse = join(project.dir, '.flywheel', 'warehouse.duckdb');
  objectsRoot = join(project.dir, '.flywheel', 'objects');
  client = await connectClient();

  // Spine rows today and on each of the three days before; features from a week ago and yesterday.
  today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const at = (ms: number) => new Date(ms).toISOString();
  const spend = [{ user_id: 1, ts: at(today - 7 * DAY_MS), amount: 10 }, { user_id: 2, ts: at(today - DAY_MS), amount: 20 }];
  const labels = [
    { user_id: 1, ts: at(today - 3 * DAY_MS + 3_600_000), is_fraud: false },
    { user_id: 1, ts: at(today - 2 * DAY_MS + 43_200_000), is_fraud: true },
    { user_id: 1, ts: at(today - DAY_MS + 21_600_000), is_fraud: false },
    { user_id: 2, ts: at(today - DAY_MS + 64_800_000), is_fraud: true },
    { user_id: 3, ts: at(today + 60_000), is_fraud: false },
  ];
  for (const label of labels) {
    const known = spend.filter((s) => s.user_id === label.user_id && s.ts <= label.ts).at(-1);
    expectedRows.push({ ...label, amount: known?.amount ?? null });
  }
  const literal = (iso: string) => `TIMESTAMPTZ '${iso.replace('T', ' ').replace('Z', '+00')}'`;
  const engine = await openDuckDBEngine({ path: warehouse });
  await engine.run({
    sql: `
    CREATE TABLE spend (user_id BIGINT, ts TIMESTAMPTZ, amount DOUBLE);
    INSERT INTO spend VALUES ${spend.map((s) => `(${s.user_id}, ${literal(s.ts)}, ${s.amount})`).join(', ')};
    CREATE TABLE labels (user_id BIGINT, ts TIMESTAMPTZ, is_fraud BOOLEAN);
    INSERT INTO labels VALUES ${labels.map((l) => `(${l.user_id}, ${literal(l.ts)}, ${l.is_fraud})`).join(', ')};
    `,
    parameters: [],
  });
  await engine.close();
});

afterAll(async () => {
  for (const id of [SCHEDULE_ID, GHOST_ID]) await client?.schedule.getHandle(id).delete().catch(() => undefined);
  await client?.connection.close();
  project?.remove();
});

describe('scheduled training sets', () => {
  it('apply creates the Temporal Schedule', async () => {
    const stdout = cli('apply').ok();
    expect(stdout).toContain([
      'Schedules on Temporal (' + temporalAddress() + ', namespace "default"):',
      '',
      `  + schedule ${SCHEDULE_ID}: cron "0 3 * * *" UTC`,
      '',
      'Schedules: 1 to create, 0 to update, 0 to delete, 0 unchanged.',
    ].join('\n'));
    expect(stdout).toMatch(new RegExp(`  view flywheel.fv_user_spend \\(created or replaced\\)\\n  schedule ${SCHEDULE_ID} \\(created\\)\\nRegistry version 1 saved`));

    const description = await describeSchedule();
    expect(description.spec.calendars).toEqual([{
      second: [{ start: 0, end: 0, step: 1 }],
      minute: [{ start: 0, end: 0, step: 1 }],
      hour: [{ start: 3, end: 3, step: 1 }],
      dayOfMonth: [{ start: 1, end: 31, step: 1 }],
      month: [{ start: 'JANUARY', end: 'DECEMBER', step: 1 }],
      year: [],
      dayOfWeek: [{ start: 'SUNDAY', end: 'SATURDAY', step: 1 }],
      comment: '0 3 * * *',
    }]);
    expect(description.spec.intervals).toEqual([]);
    expect(description.spec.timezone ?? '').toBe('');
    expect(description.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: 86_400_000 });
    expect(description.state.paused).toBe(false);
    expect(description.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'scheduledTrainingSet',
      workflowId: `${PROJECT}/training-set/fraud_training/scheduled`,
      taskQueue,
      args: [{ project: PROJECT, trainingSet: 'fraud_training', partitionLag: 1 }],
    });
    for (const attributes of [description.typedSearchAttributes, description.action.typedSearchAttributes as ScheduleDescription['typedSearchAttributes']]) {
      expect(attributes.get(FLYWHEEL_PROJECT)).toBe(PROJECT);
      expect(attributes.get(FLYWHEEL_KIND)).toBe('training-set');
      expect(attributes.get(FLYWHEEL_OBJECT)).toBe('fraud_training');
    }
  });

  it('plans nothing to do afterwards, and a second apply changes nothing', async () => {
    expect(cli('plan').ok()).toBe(`No changes. The registry (version 1) matches the definitions.\n  schedule ${SCHEDULE_ID} (unchanged)\n`);
    expect(project.cli('plan', '--detailed-exitcode').code).toBe(0);
    expect(planJson()).toMatchObject({
      hasChanges: false, changes: [],
      schedules: [{ action: 'unchanged', id: SCHEDULE_ID, trainingSet: 'fraud_training', spec: 'cron "0 3 * * *" UTC' }],
    });
    const before = await describeSchedule();
    expect(cli('apply').ok()).toBe(`No changes. Registry version 1 is current.\n  schedule ${SCHEDULE_ID} (unchanged)\n`);
    expect((await describeSchedule()).info.lastUpdatedAt).toEqual(before.info.lastUpdatedAt);
  });

  it('a changed cron updates the schedule', async () => {
    project.write('definitions/all.ts', definitions(`{ cron: '30 4 * * *' }`));
    expect(cli('plan').ok()).toContain([
      '  ~ trainingSet fraud_training',
      '      ~ schedule.cron: "0 3 * * *" → "30 4 * * *"',
      '',
      'Plan: 0 to add, 1 to change, 0 to remove.',
      '',
      `Schedules on Temporal (${temporalAddress()}, namespace "default"):`,
      '',
      `  ~ schedule ${SCHEDULE_ID}`,
      '      ~ spec: cron "0 3 * * *" UTC → cron "30 4 * * *" UTC',
      '',
      'Schedules: 0 to create, 1 to update, 0 to delete, 0 unchanged.',
    ].join('\n'));
    expect(project.cli('plan', '--detailed-exitcode').code).toBe(2);
    expect(planJson().schedules).toEqual([{
      action: 'update', id: SCHEDULE_ID, trainingSet: 'fraud_training', spec: 'cron "30 4 * * *" UTC',
      fields: [{ path: 'spec', before: 'cron "0 3 * * *" UTC', after: 'cron "30 4 * * *" UTC' }],
    }]);

    const applied = JSON.parse(cli('apply', '--json').ok()) as PlanDocumentWithSchedules & { result: { version: number } | null };
    expect(applied).toMatchObject({ hasChanges: true, result: { version: 2 }, schedules: [{ action: 'update', id: SCHEDULE_ID }] });
    const description = await describeSchedule();
    expect(description.spec.calendars).toMatchObject([{ minute: [{ start: 30, end: 30 }], hour: [{ start: 4, end: 4 }], comment: '30 4 * * *' }]);
    expect(cli('plan').ok()).toBe(`No changes. The registry (version 2) matches the definitions.\n  schedule ${SCHEDULE_ID} (unchanged)\n`);
  });

  it('a triggered run builds the day partition before its scheduled day', async () => {
    const handle = client.schedule.getHandle(SCHEDULE_ID);
    const { scheduledRun, result } = await runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
      await handle.trigger();
      const description = await eventually(() => handle.describe(), (d) => d.info.recentActions.length > 0, 'the triggered run to start');
      const action = description.info.recentActions[0]!;
      const run = client.workflow.getHandle(action.action.workflow.workflowId);
      return { scheduledRun: { workflowId: run.workflowId, scheduledAt: action.scheduledAt }, result: (await run.result()) as BuildTrainingSetResult };
    });
    expect(scheduledRun.workflowId.startsWith(`${PROJECT}/training-set/fraud_training/scheduled-`)).toBe(true);

    // The partition is the UTC day before the scheduled day (partitionLag 1).
    const partition = dayPartition(scheduledRun.scheduledAt, 1);
    const rows = expectedRows.filter((row) => row.ts >= partition.start && row.ts < partition.end);
    expect(rows.length).toBeGreaterThan(0);
    expect(result).toMatchObject({
      trainingSet: 'fraud_training', registryVersion: 2, rowCount: rows.length, empty: false,
      partitions: [{ key: `day=${partition.date}`, rowCount: rows.length }],
    });

    // The build is a child workflow with the partition's training-set run id (core/run-ids.ts), and carries its range.
    const child = client.workflow.getHandle(`${PROJECT}/training-set/fraud_training/${partition.date}..${partition.end.slice(0, 10)}`);
    expect(await child.result()).toEqual(result);
    const childDescription = await child.describe();
    expect(childDescription.typedSearchAttributes.get(FLYWHEEL_RANGE_START)).toEqual(new Date(partition.start));
    expect(childDescription.typedSearchAttributes.get(FLYWHEEL_RANGE_END)).toEqual(new Date(partition.end));
    const runDescription = await client.workflow.getHandle(scheduledRun.workflowId).describe();
    expect(runDescription.type).toBe('scheduledTrainingSet');
    expect(runDescription.typedSearchAttributes.get(FLYWHEEL_OBJECT)).toBe('fraud_training');

    // Exactly that day's spine rows, with their features, in the day's folder, and its manifest.
    const folder = join(objectsRoot, 'training_sets', 'fraud_training');
    expect(result.datasetUri).toBe(`file://${folder}`);
    const engine = await openDuckDBEngine({ path: ':memory:' });
    try {
      const written = await engine.all({ sql: `SELECT * FROM read_parquet('${join(folder, `day=${partition.date}`, '*.parquet')}', hive_partitioning = false) ORDER BY ts`, parameters: [] });
      expect(written).toEqual(rows);
    } finally {
      await engine.close();
    }
    const manifest = JSON.parse(await readFile(join(folder, '_partitions', `day=${partition.date}.json`), 'utf8')) as PartitionManifest;
    expect(manifest).toMatchObject({
      trainingSet: 'fraud_training', version: result.version, rowCount: rows.length,
      partition: { key: `day=${partition.date}`, start: partition.start, end: partition.end },
    });
  });

  it('a backfilled run builds the partition of the time it was scheduled for, not of when it ran', async () => {
    const handle = client.schedule.getHandle(SCHEDULE_ID);
    const scheduledAt = new Date(today - 2 * DAY_MS + 4.5 * 3_600_000); // 04:30 two days ago
    const result = await runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
      await handle.backfill({ start: new Date(scheduledAt.getTime() - 3_600_000), end: new Date(scheduledAt.getTime() + 3_600_000) });
      const description = await eventually(() => handle.describe(), (d) => d.info.recentActions.some((a) => a.scheduledAt.getTime() === scheduledAt.getTime()), 'the backfilled run to start');
      const action = description.info.recentActions.find((a) => a.scheduledAt.getTime() === scheduledAt.getTime())!;
      return (await client.workflow.getHandle(action.action.workflow.workflowId).result()) as BuildTrainingSetResult;
    });
    const partition = dayPartition(scheduledAt, 1);
    expect(partition.start).toBe(new Date(today - 3 * DAY_MS).toISOString());
    const rows = expectedRows.filter((row) => row.ts >= partition.start && row.ts < partition.end);
    expect(result).toMatchObject({ rowCount: rows.length, partitions: [{ key: `day=${partition.date}`, rowCount: rows.length }] });
    expect(await client.workflow.getHandle(`${PROJECT}/training-set/fraud_training/${partition.date}..${partition.end.slice(0, 10)}`).result()).toEqual(result);
  });

  it('puts back a schedule changed by hand', async () => {
    await client.schedule.getHandle(SCHEDULE_ID).pause('by hand');
    expect(cli('plan').ok()).toBe([
      'The registry (version 2) matches the definitions; the schedules on Temporal do not.',
      '',
      `Schedules on Temporal (${temporalAddress()}, namespace "default"):`,
      '',
      `  ~ schedule ${SCHEDULE_ID}`,
      '      ~ paused: true → false',
      '',
      'Schedules: 0 to create, 1 to update, 0 to delete, 0 unchanged.',
      '',
    ].join('\n'));
    expect(cli('apply').ok()).toContain(`Applied:\n  schedule ${SCHEDULE_ID} (updated)\nRegistry version 2 is current; no new version was written.\n`);
    expect((await describeSchedule()).state.paused).toBe(false);
  });

  it('deletes a schedule of the project that no definition declares', async () => {
    await client.schedule.create({
      scheduleId: GHOST_ID,
      spec: { intervals: [{ every: '1d' }] },
      action: { type: 'startWorkflow', workflowType: 'scheduledTrainingSet', taskQueue, args: [{ project: PROJECT, trainingSet: 'ghost', partitionLag: 1 }] },
      typedSearchAttributes: [{ key: FLYWHEEL_PROJECT, value: PROJECT }],
      state: { paused: true },
    });
    // Found by listing, which is eventually consistent.
    const document = await eventually(async () => planJson(), (d) => d.schedules.length === 2, 'the ghost schedule to be listed');
    expect(document.schedules).toEqual([
      { action: 'unchanged', id: SCHEDULE_ID, trainingSet: 'fraud_training', spec: 'cron "30 4 * * *" UTC' },
      { action: 'delete', id: GHOST_ID, trainingSet: 'ghost' },
    ]);
    expect(cli('apply').ok()).toContain(`  schedule ${GHOST_ID} (deleted)\n`);
    await expect(describeSchedule(GHOST_ID)).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  it('switches to an interval, paused, with its own lag and catch-up window', async () => {
    project.write('definitions/all.ts', definitions(`{ every: '1d', offset: '3h', partitionLag: 2, catchupWindow: '6h', paused: true }`));
    expect(cli('plan').ok()).toContain([
      `  ~ schedule ${SCHEDULE_ID}`,
      '      ~ spec: cron "30 4 * * *" UTC → every 1d offset 3h',
      '      ~ paused: false → true',
      '      ~ catchupWindow: 1d → 6h',
      '      ~ action.input.partitionLag: 1 → 2',
    ].join('\n'));
    cli('apply').ok();
    const description = await describeSchedule();
    expect(description.spec).toMatchObject({ calendars: [], intervals: [{ every: 86_400_000, offset: 10_800_000 }] });
    expect(description.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: 21_600_000 });
    expect(description.state.paused).toBe(true);
    expect(description.action.args).toEqual([{ project: PROJECT, trainingSet: 'fraud_training', partitionLag: 2 }]);
    expect(cli('plan').ok()).toBe(`No changes. The registry (version 3) matches the definitions.\n  schedule ${SCHEDULE_ID} (unchanged)\n`);

    // Without an offset (which Temporal describes as absent) it is just as stable.
    project.write('definitions/all.ts', definitions(`{ every: '1d' }`));
    cli('apply').ok();
    expect(cli('plan').ok()).toBe(`No changes. The registry (version 4) matches the definitions.\n  schedule ${SCHEDULE_ID} (unchanged)\n`);
  });

  it('removing the schedule from the definition deletes it', async () => {
    project.write('definitions/all.ts', definitions());
    expect(cli('plan').ok()).toContain([
      `  - schedule ${SCHEDULE_ID}`,
      '',
      'Schedules: 0 to create, 0 to update, 1 to delete, 0 unchanged.',
    ].join('\n'));
    expect(cli('apply').ok()).toContain(`  schedule ${SCHEDULE_ID} (deleted)\nRegistry version 5 saved`);
    await expect(describeSchedule()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    // Nothing is scheduled now or in the applied version: plan does not even ask Temporal.
    expect(cli('plan').ok()).toBe('No changes. The registry (version 5) matches the definitions.\n');
    expect(planJson().schedules).toEqual([]);
  });

  it('needs Temporal only when something is scheduled, and says so when it is unreachable', () => {
    expect(cli('--config', 'unreachable.config.ts', 'plan').ok()).toBe('No changes. The registry (version 5) matches the definitions.\n');
    project.write('definitions/all.ts', definitions(`{ every: '1d', offset: '3h' }`));
    const { code, stdout, stderr } = project.cli('--config', 'unreachable.config.ts', 'apply');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'error: Cannot reach the Temporal server at 127.0.0.1:1 (namespace "default"). Start a local one with `flywheel dev`, or point the profile\'s temporal.address at your cluster.\n',
    );
    // Nothing was applied: the registry still holds version 5.
    expect(cli('plan').ok()).toContain('against registry version 5');
  });
});
