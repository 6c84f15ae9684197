import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import type { MaterializeDeps } from '../activities/materialize.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { WarehouseMaterializationState } from '../connectors/registry/materialization-state.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { materializeFeatureView, materializeProgressQuery, type MaterializeProgress } from '../workflows/materialize.ts';
import { startRedisServer, type RunningRedis } from './setup/redis.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * Fault injection with real processes (docs/development.md, "Faults we test"): a redis-server of the
 * test's own, persistent (append-only file, fsync'd before each answer), is killed (SIGKILL) while a
 * materialization writes to it and started again on the same port and folder 1.5 s later. The run
 * must complete by itself (chunk activities fail as retryable, are retried after 2 s and write their bucket again), and
 * afterwards every value must be the offline value as of the run's instant, none older than before.
 *
 * The data: USERS users; each has an event at T1 (amount = user id); all but every tenth also one at
 * T2 (amount = id + 0.5). A first run as of T1 writes the T1 values; the faulted run as of T2 then
 * replaces nine in ten of them. Ten users hold a value newer than T2 in Redis before the runs (as the
 * log API's push would leave): the store's newer-wins rule must keep it.
 */

const PROJECT = 'fault_redis';
const USERS = 200_000;
const T1 = '2024-05-01T00:00:00.000Z';
const T2 = '2024-05-02T00:00:00.000Z';
const AS_OF_T1 = '2024-05-01T12:00:00.000Z';
const AS_OF_T2 = '2024-05-02T12:00:00.000Z';
const PUSHED = '2024-06-01T00:00:00.000Z';
/** Users 0..9 hold a pushed value newer than any offline one. */
const PUSHED_USERS = 10;

const definitions = `
import { entity, featureView, source } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const spend = source({ name: 'spend_src', table: 'spend', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
export const spendView = featureView({ name: 'user_amount', entities: [user], source: spend, features: { amount: 'float64' } });
`;

/** What the online store must hold for `user` after the run as of T2: the offline value as of T2, or the newer pushed one. */
function expectedAfter(user: number): { amount: number; eventTime: string } {
  if (user < PUSHED_USERS) return { amount: -1, eventTime: PUSHED };
  return user % 10 === 0 ? { amount: user, eventTime: T1 } : { amount: user + 0.5, eventTime: T2 };
}

let project: TempProject;
let warehouse: string;
let redis: RunningRedis;
let store: RedisOnlineStore;
let client: Client;
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

/** Every user's stored value, read in batches, as `[amount, eventTime]`; a missing one as null. */
async function readAll(): Promise<([number, string] | null)[]> {
  const found: ([number, string] | null)[] = [];
  for (let start = 0; start < USERS; start += 10_000) {
    const keys = Array.from({ length: Math.min(10_000, USERS - start) }, (_, i) => ({ view: 'user_amount', key: [start + i], ttlSeconds: null }));
    for (const value of await store.read(keys, new Date(PUSHED))) {
      found.push(value.status === 'missing' ? null : [value.values.amount as number, value.eventTime!]);
    }
  }
  return found;
}

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': definitions,
  });
  warehouse = join(project.dir, '.flywheel', 'warehouse.duckdb');
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    await engine.run({
      sql: `
      CREATE TABLE spend AS
        SELECT range AS user_id, TIMESTAMPTZ '${T1}' AS ts, range::DOUBLE AS amount FROM range(${USERS})
        UNION ALL
        SELECT range AS user_id, TIMESTAMPTZ '${T2}' AS ts, range + 0.5 AS amount FROM range(${USERS}) WHERE range % 10 <> 0`,
      parameters: [],
    });
  } finally {
    await engine.close();
  }
  const applied = project.cli('apply');
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  redis = await startRedisServer({ persist: true });
  store = new RedisOnlineStore({ url: redis.url, keyPrefix: 'fw:fault:' });
  client = await connectClient();
}, 120_000);

afterAll(async () => {
  await client?.connection.close();
  await store?.close();
  await redis?.stop();
  project?.remove();
});

describe('Redis killed during a materialization, then started again', () => {
  it('the run completes; every value is the offline value as of the run, none older than before', async () => {
    await store.write(Array.from({ length: PUSHED_USERS }, (_, user) => ({ view: 'user_amount', key: [user], values: { amount: -1 }, eventTime: PUSHED })));

    await runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
      // Before: every user's T1 value (the pushed ones kept).
      const first = await client.workflow.execute(materializeFeatureView, { taskQueue, workflowId: `fault-redis-t1-${taskQueue}`, args: [{ project: PROJECT, view: 'user_amount', to: AS_OF_T1, chunks: 4 }] });
      expect(first).toMatchObject({ rows: USERS, written: USERS - PUSHED_USERS, skippedOlder: PUSHED_USERS, watermark: AS_OF_T1 });
      const before = await readAll();
      expect(before.slice(0, 12)).toEqual([...Array.from({ length: PUSHED_USERS }, () => [-1, PUSHED]), [10, T1], [11, T1]]);

      // The faulted run: Redis is killed once the first of 8 chunks is written, and comes back 1.5 s later.
      const handle = await client.workflow.start(materializeFeatureView, { taskQueue, workflowId: `fault-redis-t2-${taskQueue}`, args: [{ project: PROJECT, view: 'user_amount', to: AS_OF_T2, chunks: 8 }] });
      let atKill: MaterializeProgress;
      for (;;) {
        atKill = await handle.query(materializeProgressQuery);
        if (atKill.chunksDone >= 1) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await redis.kill();
      const killedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await redis.restart();
      const result = await handle.result();
      const tookMs = Date.now() - killedAt;

      // The kill fell in the middle of the run, and some chunk had to be attempted again.
      expect(atKill.stage).toBe('writing');
      expect(atKill.chunksDone).toBeLessThan(8);
      const retried = (await handle.fetchHistory()).events!.filter((event) => (event.activityTaskStartedEventAttributes?.attempt ?? 1) > 1).length;
      expect(retried).toBeGreaterThan(0);
      // An incremental run from T1's watermark: the 180,000 users with a T2 event change.
      expect(result).toMatchObject({ mode: 'incremental', chunks: 8, rows: USERS - USERS / 10, watermarkAdvanced: true, watermark: AS_OF_T2 });

      const after = await readAll();
      const wrong: string[] = [];
      for (let user = 0; user < USERS && wrong.length < 5; user++) {
        const want = expectedAfter(user);
        const got = after[user];
        if (!got || got[0] !== want.amount || got[1] !== want.eventTime) wrong.push(`user ${user}: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
        // None older than before the run.
        if (got && before[user] && got[1] < before[user]![1]) wrong.push(`user ${user}: ${got[1]} is older than ${before[user]![1]}`);
      }
      expect(wrong).toEqual([]);
      process.stderr.write(`fault-redis-materialize: killed after ${atKill.chunksDone}/8 chunks (${atKill.written} written), ${retried} chunk attempt(s) retried, the run ended ${tookMs} ms after the kill\n`);
    });
  }, 120_000);
});
