import { join } from 'node:path';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import type { ActivityDeps } from '../activities/deps.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import type { PlanDocumentWithSchedules } from '../core/plan/schedules.ts';
import type { RetentionChange } from '../core/retention/cutoff.ts';
import { enforceRetention, retentionProgressQuery, type EnforceRetentionInput, type EnforceRetentionResult } from '../workflows/enforce-retention.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * Retention end to end: streams applied with the real CLI into a real DuckDB file, events put in
 * their tables by hand, the enforceRetention workflow on the shared Temporal dev server deleting
 * exactly the events older than each stream's retention (counted by hand below), `flywheel plan`
 * counting what a retention change deletes, and `flywheel apply` keeping the retention schedule.
 */

const PROJECT = 'retention_test';
const SCHEDULE_ID = `flywheel:${PROJECT}:retention:clicks`;
const DAY = 86_400;

const definitions = (clicks: { retention: string; schedule?: string }) => `
import { entity, eventStream } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', fields: { item_id: 'int64' },
  retention: '${clicks.retention}'${clicks.schedule ? `, retentionSchedule: ${clicks.schedule}` : ''} });
export const orders = eventStream({ name: 'orders', entities: [user], timestampField: 'ts', fields: { amount: 'float64' }, retention: '10d' });
`;

/**
 * As of 2024-03-31T00:00:00Z: clicks (30d) keep events at or after 2024-03-01T00:00:00Z, orders (10d)
 * at or after 2024-03-21T00:00:00Z. An event exactly at its cutoff is kept.
 */
const AS_OF = '2024-03-31T00:00:00.000Z';
const CLICKS = [
  ['c1', '2023-12-31 23:00:00+00'], // deleted
  ['c2', '2024-01-01 00:00:00+00'], // deleted
  ['c3', '2024-02-01 12:00:00+00'], // deleted
  ['c4', '2024-02-29 23:59:59.999999+00'], // deleted: 1 µs before the cutoff
  ['c5', '2024-03-01 00:00:00+00'], // kept: exactly 30 days old
  ['c6', '2024-03-15 00:00:00+00'], // kept
] as const;
const ORDERS = [
  ['o1', '2024-03-20 23:59:59+00'], // deleted
  ['o2', '2024-03-21 00:00:00+00'], // kept: exactly 10 days old
  ['o3', '2024-03-30 00:00:00+00'], // kept
] as const;

let project: TempProject;
let warehouse: string;
let client: Client;
const taskQueue = testTaskQueue();
let runs = 0;

function deps(): ActivityDeps {
  return {
    project: PROJECT,
    openEngine: () => openDuckDBEngine({ path: warehouse }),
    registry: (engine) => new WarehouseRegistry(engine),
    objectStore: new LocalObjectStore(join(project.dir, '.flywheel', 'objects')),
    scratchDir: join(project.dir, '.flywheel', 'scratch'),
  };
}

function cli(...args: string[]) {
  const result = project.cli(...args);
  return { ...result, ok: () => { expect(result.stderr).toBe(''); expect(result.code).toBe(0); return result.stdout; } };
}

async function sqlRun(text: string): Promise<void> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    await engine.run({ sql: text, parameters: [] });
  } finally {
    await engine.close();
  }
}

async function ids(table: string): Promise<string[]> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    return (await engine.all<{ id: string }>({ sql: `SELECT _event_id AS id FROM flywheel.${table} ORDER BY _event_id`, parameters: [] })).map((row) => row.id);
  } finally {
    await engine.close();
  }
}

/** (stream, event id) of the quarantined events left. */
async function quarantined(): Promise<[string, string][]> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    return (await engine.all<{ stream: string; id: string }>({ sql: 'SELECT stream, event_id AS id FROM flywheel.ingest_quarantine ORDER BY stream, event_id', parameters: [] })).map((row) => [row.stream, row.id]);
  } finally {
    await engine.close();
  }
}

const insert = (table: string, rows: readonly (readonly [string, string])[], field: string) =>
  sqlRun(`INSERT INTO flywheel.${table} (_event_id, user_id, ts, ${field}, _received_at, _batch) VALUES ${rows.map(([id, ts], i) => `('${id}', ${i}, TIMESTAMPTZ '${ts}', ${i}, TIMESTAMPTZ '${ts}', 'by-hand')`).join(', ')}`);

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': definitions({ retention: '30d' }),
  });
  warehouse = join(project.dir, '.flywheel', 'warehouse.duckdb');
  cli('apply').ok();
  await insert('stream_clicks', CLICKS, 'item_id');
  await insert('stream_orders', ORDERS, 'amount');
  // Quarantined events are kept for their stream's retention after they were quarantined.
  await sqlRun(`INSERT INTO flywheel.ingest_quarantine (stream, batch, event_index, event_id, event, error, quarantined_at) VALUES
    ('clicks', 's1', 0, 'q1', '{}', 'refused', TIMESTAMPTZ '2024-02-29 23:59:59+00'),  -- deleted
    ('clicks', 's1', 1, 'q2', '{}', 'refused', TIMESTAMPTZ '2024-03-01 00:00:00+00'),  -- kept: exactly 30 days
    ('orders', 's2', 0, 'q3', '{}', 'refused', TIMESTAMPTZ '2024-03-01 00:00:00+00'),  -- deleted
    ('orders', 's2', 1, 'q4', '{}', 'refused', TIMESTAMPTZ '2024-03-25 00:00:00+00'),  -- kept until the 04-10 run
    ('other', 's3', 0, 'q5', '{}', 'refused', TIMESTAMPTZ '2000-01-01 00:00:00+00')`); // no such stream: untouched
  client = await connectClient();
});

afterAll(async () => {
  await client?.schedule.getHandle(SCHEDULE_ID).delete().catch(() => undefined);
  await client?.connection.close();
  project?.remove();
});

async function run(input: Omit<EnforceRetentionInput, 'project'>): Promise<{ result: EnforceRetentionResult; activities: number; progress: unknown }> {
  return runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
    const handle = await client.workflow.start(enforceRetention, { taskQueue, workflowId: `retention-${++runs}-${taskQueue}`, args: [{ project: PROJECT, ...input }] });
    const result = await handle.result();
    const progress = await handle.query(retentionProgressQuery);
    let activities = 0;
    for (const event of (await handle.fetchHistory()).events ?? []) {
      if (event.activityTaskScheduledEventAttributes?.activityType?.name === 'deleteExpiredEvents') activities++;
    }
    return { result, activities, progress };
  });
}

describe('the retention workflow', () => {
  it('deletes exactly the events older than each stream\'s retention, in bounded batches, and a second run deletes nothing', async () => {
    const first = await run({ asOf: AS_OF, batchRows: 2 });
    expect(first.result).toEqual({
      asOf: AS_OF,
      registryVersion: 1,
      streams: [
        // c1-c4: batches of 2 and 2; a third statement finds none left and ends the stream.
        { stream: 'clicks', retentionSeconds: 30 * DAY, cutoff: '2024-03-01T00:00:00.000Z', deleted: 4, batches: 2, quarantineDeleted: 1 },
        { stream: 'orders', retentionSeconds: 10 * DAY, cutoff: '2024-03-21T00:00:00.000Z', deleted: 1, batches: 1, quarantineDeleted: 1 },
      ],
      deleted: 5,
    });
    expect(first.progress).toEqual({ stage: 'done', stream: null, streams: first.result.streams, deleted: 5 });
    expect(first.activities).toBe(2); // one per stream: 20 batches fit in one activity
    expect(await ids('stream_clicks')).toEqual(['c5', 'c6']);
    expect(await ids('stream_orders')).toEqual(['o2', 'o3']);
    expect(await quarantined()).toEqual([['clicks', 'q2'], ['orders', 'q4'], ['other', 'q5']]);

    const second = await run({ asOf: AS_OF, batchRows: 2 });
    expect(second.result.streams.map((s) => [s.stream, s.deleted, s.batches, s.quarantineDeleted])).toEqual([['clicks', 0, 0, 0], ['orders', 0, 0, 0]]);
    expect(await quarantined()).toEqual([['clicks', 'q2'], ['orders', 'q4'], ['other', 'q5']]);
    expect(second.result.deleted).toBe(0);
    expect(await ids('stream_clicks')).toEqual(['c5', 'c6']);
    expect(await ids('stream_orders')).toEqual(['o2', 'o3']);
  });

  it('runs one stream when asked, and refuses a stream the registry does not have and a bad batch size', async () => {
    const one = await run({ asOf: '2024-04-10T00:00:00.000Z', stream: 'orders', batchRows: 1 });
    // Cutoff 2024-03-31: o2 and o3 go, one per batch.
    expect(one.result.streams).toEqual([{ stream: 'orders', retentionSeconds: 10 * DAY, cutoff: '2024-03-31T00:00:00.000Z', deleted: 2, batches: 2, quarantineDeleted: 1 }]);
    expect(await ids('stream_orders')).toEqual([]);
    expect(await ids('stream_clicks')).toEqual(['c5', 'c6']);
    const cause = async (input: Omit<EnforceRetentionInput, 'project'>) => {
      const error = (await run(input).catch((e: unknown) => e)) as { cause?: { message?: string; cause?: { message?: string } } };
      return error.cause?.cause?.message ?? error.cause?.message;
    };
    expect(await cause({ stream: 'nope' })).toBe('event stream "nope" not found. Project "retention_test" v1');
    expect(await cause({ batchRows: 0 })).toBe('batchRows must be a positive whole number, got 0');
  });

  it('deletes at most maxBatches batches per activity and heartbeats its count, which a retry continues', async () => {
    await insert('stream_orders', [['o4', '2024-01-01 00:00:00+00'], ['o5', '2024-01-02 00:00:00+00'], ['o6', '2024-01-03 00:00:00+00']], 'amount');
    const input = { stream: 'orders', registryVersion: 1, cutoff: '2024-02-01T00:00:00.000Z', batchRows: 1, maxBatches: 2 };
    const beats: unknown[] = [];
    const attempt = new MockActivityEnvironment();
    attempt.on('heartbeat', (details: unknown) => beats.push(details));
    expect(await attempt.run(createActivities(deps()).deleteExpiredEvents, input)).toEqual({ deleted: 2, batches: 2, done: false });
    expect(beats).toContainEqual({ deleted: 1, batches: 1, statements: 1 });
    expect(beats.at(-1)).toEqual({ deleted: 2, batches: 2, statements: 2 });
    expect(await ids('stream_orders')).toHaveLength(1);
    // A retry of an attempt that had run one batch counts on from its heartbeat.
    const retry = new MockActivityEnvironment({ heartbeatDetails: { deleted: 1, batches: 1, statements: 1 } });
    expect(await retry.run(createActivities(deps()).deleteExpiredEvents, input)).toEqual({ deleted: 2, batches: 2, done: false });
    expect(await ids('stream_orders')).toEqual([]);
    expect(await new MockActivityEnvironment().run(createActivities(deps()).deleteExpiredEvents, input)).toEqual({ deleted: 0, batches: 0, done: true });

    // Past its time budget an activity starts no further batch (it always runs one).
    await insert('stream_orders', [['o9', '2024-01-01 00:00:00+00'], ['o10', '2024-01-02 00:00:00+00']], 'amount');
    const timed = { ...input, maxBatches: 10, maxMillis: 0 };
    expect(await new MockActivityEnvironment().run(createActivities(deps()).deleteExpiredEvents, timed)).toEqual({ deleted: 1, batches: 1, done: false });
    expect(await new MockActivityEnvironment().run(createActivities(deps()).deleteExpiredEvents, timed)).toEqual({ deleted: 1, batches: 1, done: false });
    expect(await new MockActivityEnvironment().run(createActivities(deps()).deleteExpiredEvents, timed)).toEqual({ deleted: 0, batches: 0, done: true });
  });
});

describe('plan and apply', () => {
  it('plan counts the stored events a shorter retention deletes as of now', async () => {
    // c5 and c6 are older than 10 days as of now; an event from a minute ago is not.
    await sqlRun(`INSERT INTO flywheel.stream_clicks (_event_id, user_id, ts, item_id, _received_at, _batch) VALUES ('c7', 7, now() - INTERVAL 1 MINUTE, 7, now(), 'by-hand')`);
    project.write('definitions/all.ts', definitions({ retention: '10d' }));
    const before = Date.now();
    const document = JSON.parse(cli('plan', '--json').ok()) as PlanDocumentWithSchedules & { retention: RetentionChange[] };
    const after = Date.now();
    expect(document.retention).toHaveLength(1);
    const [change] = document.retention;
    expect(change).toMatchObject({ stream: 'clicks', beforeSeconds: 30 * DAY, afterSeconds: 10 * DAY, rows: 2 });
    const cutoff = Date.parse(change!.cutoff);
    expect(cutoff).toBeGreaterThanOrEqual(before - 10 * DAY * 1000);
    expect(cutoff).toBeLessThanOrEqual(after - 10 * DAY * 1000);
    expect(document.changes.find((c) => c.name === 'clicks')?.reasons).toEqual(['event stream "clicks": retention shrinks 30d → 10d; stored events older than 10d will be deleted']);

    const text = cli('plan').ok();
    expect(text).toMatch(/\nRetention \(stored events counted now, \d{4}-\d\d-\d\dT[\d:.]+Z\):\n {2}clicks: 30d → 10d; the next retention run deletes 2 events older than \d{4}-\d\d-\d\dT[\d:.]+Z\n/);
    // Planned, not applied: nothing was deleted.
    expect(await ids('stream_clicks')).toEqual(['c5', 'c6', 'c7']);
  });

  it('apply creates, updates and removes the retention schedule, which starts enforceRetention for the stream', async () => {
    project.write('definitions/all.ts', definitions({ retention: '10d', schedule: `{ every: '1d' }` }));
    const planned = JSON.parse(cli('plan', '--json').ok()) as PlanDocumentWithSchedules;
    expect(planned.schedules).toEqual([{ action: 'create', id: SCHEDULE_ID, retention: 'clicks', spec: 'every 1d' }]);
    const applied = cli('apply', '--allow-breaking').ok();
    expect(applied).toContain(`  + schedule ${SCHEDULE_ID}: every 1d`);
    const description = await client.schedule.getHandle(SCHEDULE_ID).describe();
    expect(description.spec.intervals).toEqual([{ every: 86_400_000, offset: 0 }]);
    expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'enforceRetention', workflowId: `${PROJECT}/retention/clicks/scheduled`, taskQueue, args: [{ project: PROJECT, stream: 'clicks' }] });

    // A triggered run enforces the stream's retention (10d) as of when it started: c5, c6 and q2 go, c7 stays.
    const triggered = await runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
      const handle = client.schedule.getHandle(SCHEDULE_ID);
      await handle.trigger();
      let recent = (await handle.describe()).info.recentActions;
      for (let attempt = 0; attempt < 100 && recent.length === 0; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        recent = (await handle.describe()).info.recentActions;
      }
      return (await client.workflow.getHandle(recent[0]!.action.workflow.workflowId).result()) as EnforceRetentionResult;
    });
    expect(triggered.streams).toMatchObject([{ stream: 'clicks', retentionSeconds: 10 * DAY, deleted: 2, batches: 1, quarantineDeleted: 1 }]);
    expect(await ids('stream_clicks')).toEqual(['c7']);
    expect(await quarantined()).toEqual([['other', 'q5']]);

    project.write('definitions/all.ts', definitions({ retention: '10d', schedule: `{ cron: '15 4 * * *' }` }));
    const updated = JSON.parse(cli('plan', '--json').ok()) as PlanDocumentWithSchedules;
    expect(updated.schedules).toEqual([{ action: 'update', id: SCHEDULE_ID, retention: 'clicks', spec: 'cron "15 4 * * *" UTC', fields: [{ path: 'spec', before: 'every 1d', after: 'cron "15 4 * * *" UTC' }] }]);
    cli('apply').ok();
    expect((await client.schedule.getHandle(SCHEDULE_ID).describe()).spec.calendars?.[0]?.comment).toBe('15 4 * * *');

    project.write('definitions/all.ts', definitions({ retention: '10d' }));
    const removed = JSON.parse(cli('plan', '--json').ok()) as PlanDocumentWithSchedules;
    expect(removed.schedules).toEqual([{ action: 'delete', id: SCHEDULE_ID, retention: 'clicks' }]);
    cli('apply').ok();
    await expect(client.schedule.getHandle(SCHEDULE_ID).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  it('flywheel retention run deletes what is older than the retention now, and prints what it did', async () => {
    await insert('stream_clicks', [['c8', '2024-03-10 00:00:00+00'], ['c9', '2024-03-20 23:00:00+00']], 'item_id');
    await sqlRun(`INSERT INTO flywheel.stream_orders (_event_id, user_id, ts, amount, _received_at, _batch) VALUES
      ('o7', 7, TIMESTAMPTZ '2024-01-01 00:00:00+00', 7, now(), 'by-hand'), ('o8', 8, now() - INTERVAL 1 MINUTE, 8, now(), 'by-hand')`);
    const before = Date.now();
    const { json, text } = await runWorker({ taskQueue, activities: createActivities(deps()) }, async () => ({
      json: await project.cliAsync('retention', 'run', 'orders', '--json'),
      text: await project.cliAsync('retention', 'run', '--as-of', '2024-03-31T00:00:00Z', '--batch-rows', '5'),
    }));
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout) as EnforceRetentionResult;
    expect(result.streams).toMatchObject([{ stream: 'orders', retentionSeconds: 10 * DAY, deleted: 1, batches: 1 }]);
    expect(Date.parse(result.asOf)).toBeGreaterThanOrEqual(before);
    expect(result.streams[0]!.cutoff).toBe(new Date(Date.parse(result.asOf) - 10 * DAY * 1000).toISOString());
    expect(await ids('stream_orders')).toEqual(['o8']);
    // Every stream as of a past instant (clicks is 10d now): c8 (03-10) and c9 (03-20 23:00) are older than 03-21.
    expect(text.code).toBe(0);
    expect(text.stdout).toBe([
      'Retention as of 2024-03-31T00:00:00.000Z (registry version 4): 2 events deleted.',
      '  clicks: kept 10d, deleted 2 older than 2024-03-21T00:00:00.000Z in 1 batch',
      '  orders: kept 10d, deleted 0 older than 2024-03-21T00:00:00.000Z in 0 batches',
      '',
    ].join('\n'));
    expect(await ids('stream_clicks')).toEqual(['c7']);
    expect(await quarantined()).toEqual([['other', 'q5']]);

    // A stream that is not applied is refused before any workflow starts.
    const unknown = cli('retention', 'run', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('"nope"');
  });
});
