import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import { encodeRecords, streamSegmentsDir } from '../connectors/log-store/segment-log/index.ts';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import type { ObjectStore } from '../connectors/object-store/object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { createOfflineEngine } from '../connectors/offline/create-offline-engine.ts';
import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { ingestSweepWorkflowId } from '../core/ingest/sweep.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { loadConfig, type ResolvedConfig } from '../runtime/load-config.ts';
import { activityDepsFromConfig } from '../worker/activity-deps.ts';
import type { FlywheelLoopResult } from '../workflows/flywheel-loop.ts';
import { createTestBucket, deleteTestBucket, s3TestConfig } from './setup/s3.ts';
import { startRedisCluster, type RunningRedisCluster } from './setup/redis-cluster.ts';
import { SNOWFLAKE_EMULATOR_TIMEOUT_MS, startSnowflakeEmulator, type SnowflakeEmulator } from './setup/snowflake-emulator.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { killHard, startServeProcess, startWorkerProcess, stopGracefully, type FlywheelProcess } from './support/flywheel-processes.ts';
import { putSealedSegment } from './support/sealed-segments.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * The cluster test (issue 15, item 5; docs/deployment.md, "What the cluster test proves"): Flywheel
 * spread over real processes that share nothing but Temporal (the dev server), the object store
 * (versitygw, S3), the online store (a 3-node Redis Cluster) and the warehouse (the Snowflake
 * emulator). Two `flywheel serve` nodes and two `flywheel worker` processes, each started in a
 * project folder of its own (its own `.flywheel` state folder); clients send events with ids to both
 * nodes, some retried on the other node; one node and one worker are SIGKILLed mid-run and restarted
 * on their folders; the loop turns (ingest, labels, training set, materialization). Then:
 * acknowledged events missing from the warehouse 0, duplicated 0; the training set and labels equal
 * those of a single-machine run (DuckDB, one worker process) on the same events; served values from
 * either node equal the warehouse's values as of the loop's instant.
 */

const PASSWORD_ENV = 'FW_TEST_CLUSTER_PASSWORD';
const TOKEN = 'cluster-token';
const TOKENS = `${TOKEN}=write:*,read`;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const USERS = [1, 2, 3, 4, 5, 6] as const;
/** Events per request; 24 requests, 12 per stream. */
const BATCH = 10;
const BATCHES = 24;
/** After this batch (sent to node A and acknowledged), node A and worker A are SIGKILLed. */
const KILL_AFTER = 10;
/** Batches sent while they are down (each refused by A, then sent to B) before they restart. */
const WHILE_DOWN = 4;

const DEFINITIONS = `
import { entity, eventStream, featureService, featureView, labels, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { item_id: 'int64' } });
export const orders = eventStream({ name: 'orders', entities: [user], timestampField: 'ts', retention: '90d', fields: { amount: 'float64' } });
export const spine = source({ name: 'spine', table: 'raw.spine', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', label: 'bool' } });
export const userClicks = featureView({ name: 'user_clicks', entities: [user], source: clicks, aggregations: [{ function: 'count', windows: ['1d'] }] });
export const userOrders = featureView({ name: 'user_orders', entities: [user], source: orders, aggregations: [{ column: 'amount', function: 'sum', windows: ['1d'] }] });
export const ordersTraining = trainingSet({ name: 'orders_training', spine, features: [userOrders, userClicks] });
export const scoring = featureService({ name: 'scoring', features: [userOrders, userClicks] });
// An order is a decision; a click by the same user within the hour labels it.
export const clickedAfter = labels({ name: 'clicked_after', decisions: orders, outcomes: clicks, match: { by: 'keys' }, window: '1h', value: { kind: 'any' } });
`;

interface SentEvent {
  readonly stream: 'clicks' | 'orders';
  readonly body: { _event_id: string; user_id: number; ts: string; item_id?: number; amount?: number };
}

/**
 * Event times are minutes before BASE (the test's start, to the minute), spread over 48 hours, none
 * within 40 minutes of a day before it (the 1-day windows' edge as of an instant a few minutes later).
 */
const BASE = Math.floor(Date.now() / MINUTE) * MINUTE;
const minutesBefore = (i: number, step: number) => {
  const m = 5 + ((i * step) % (48 * 60));
  return m > 23 * 60 + 20 && m < 24 * 60 + 40 ? m + 90 : m;
};
const at = (ms: number) => new Date(ms).toISOString();

function batchOf(k: number): SentEvent[] {
  const stream = k % 2 === 0 ? 'clicks' : 'orders';
  return Array.from({ length: BATCH }, (_, j) => {
    const i = Math.floor(k / 2) * BATCH + j;
    const id = `${stream === 'clicks' ? 'c' : 'o'}-${String(i).padStart(3, '0')}`;
    const user = USERS[(i * (stream === 'clicks' ? 1 : 5)) % USERS.length]!;
    const ts = at(BASE - minutesBefore(i, stream === 'clicks' ? 37 : 53) * MINUTE);
    return stream === 'clicks'
      ? { stream, body: { _event_id: id, user_id: user, ts, item_id: i } }
      : { stream, body: { _event_id: id, user_id: user, ts, amount: (i % 7) * 2.5 + 1 } };
  });
}

/**
 * The spine: each user at 1 h, 5 h and 20 h before the start of BASE's day (UTC), so all 18 rows fall
 * in yesterday's partition, which is complete whenever the test runs (the loop builds complete days);
 * the events' 48 hours cover the day before each of them.
 */
const DAY0 = Math.floor(BASE / (24 * HOUR)) * 24 * HOUR;
const SPINE = USERS.flatMap((user) => [1, 5, 20].map((hours) => ({ user_id: user, ts: at(DAY0 - hours * HOUR), label: (user + hours) % 2 === 0 })));

function spineStatements(kind: 'duckdb' | 'snowflake'): string[] {
  const [int, tz] = kind === 'duckdb' ? ['BIGINT', 'TIMESTAMPTZ'] : ['NUMBER(19,0)', 'TIMESTAMP_TZ'];
  const ts = (text: string) => (kind === 'duckdb' ? `TIMESTAMPTZ '${text}'` : `'${text}'::TIMESTAMP_TZ`);
  return [
    'CREATE SCHEMA raw',
    `CREATE TABLE raw.spine (user_id ${int}, ts ${tz}, label BOOLEAN)`,
    `INSERT INTO raw.spine VALUES ${SPINE.map((row) => `(${row.user_id}, ${ts(row.ts)}, ${row.label})`).join(', ')}`,
  ];
}

const project = `cluster_${randomBytes(3).toString('hex')}`;
let emulator: SnowflakeEmulator;
let redis: RunningRedisCluster;
let bucket: string;
let temporal: Client;
/** One project folder per process: the admin CLI, two serve nodes, two workers. */
const folders: Record<'admin' | 'serveA' | 'serveB' | 'workerA' | 'workerB', TempProject> = {} as never;
let config: ResolvedConfig;
let objects: ObjectStore;
const running: FlywheelProcess[] = [];
const track = (process: FlywheelProcess) => (running.push(process), process);
let serveA: FlywheelProcess;
let serveB: FlywheelProcess;
let workerA: FlywheelProcess;
let workerB: FlywheelProcess;
/** Acknowledged ids (a 200 from some node), by stream, and the events themselves. */
const acknowledged = new Map<string, SentEvent>();
let asOf: string;

function clusterConfig(): string {
  const options = emulator.connectionOptions({ database: `FW_CLUSTER_${randomBytes(4).toString('hex').toUpperCase()}`, schema: 'PUBLIC' });
  process.env[PASSWORD_ENV] = options.password;
  const offline = { type: 'snowflake', account: options.account, username: options.username, database: options.database, schema: options.schema, accessUrl: options.accessUrl, passwordEnv: PASSWORD_ENV };
  return `import { defineConfig } from 'flywheel';
export default defineConfig({ project: '${project}', definitions: './definitions',
  profiles: { cluster: {
    offline: ${JSON.stringify(offline)},
    objectStore: ${JSON.stringify(s3TestConfig(bucket))},
    onlineStore: { type: 'redis-cluster', urls: ${JSON.stringify([redis.urls[0]])} },
    temporal: { address: '${temporalAddress()}', namespace: 'default', taskQueues: 'per-workload' },
  } } });
`;
}

const env = { FLYWHEEL_PROFILE: 'cluster', FLYWHEEL_TOKENS: TOKENS };
const startServe = (folder: TempProject, nodeId: string) =>
  startServeProcess({ cwd: folder.dir, env, args: ['--node-id', nodeId, '--segment-size', '4KiB', '--segment-age', '2s'] }).then(track);
/**
 * A worker compiles the CLI through tsx, bundles the workflows with webpack and creates one Temporal
 * worker per queue (five) before it says it is ready: at load 34-41 (this file beside four others and
 * two busy loops on 2 cores) that took more than the default 120 s, the bundle alone 29.5 s, while the
 * four processes start at once. 240 s stays within beforeAll's 10 minutes.
 */
const WORKER_READY_TIMEOUT_MS = 240_000;
const startWorker = (folder: TempProject) => startWorkerProcess({ cwd: folder.dir, env, args: ['--max-concurrent-activities', '2'], readyTimeoutMs: WORKER_READY_TIMEOUT_MS }).then(track);

async function withWarehouse<T>(use: (engine: OfflineEngine) => Promise<T>): Promise<T> {
  const engine = await createOfflineEngine(config.profile.offline);
  try {
    return await use(engine);
  } finally {
    await engine.close();
  }
}

/**
 * The engine's internal stage and both its file formats (JSON lines for ingestion, Parquet for the
 * label and training-set partitions), made once before the workers start: on the emulator, two
 * sessions running `CREATE STAGE IF NOT EXISTS` or `CREATE FILE FORMAT IF NOT EXISTS` at once can both
 * try to create it, and one fails with a duplicate-key error
 * (EMULATOR_CANNOT.concurrentCreateIfNotExists), which would fail the first ingestion, or the first
 * label partition (two built at once, one per worker), on one of the two workers. On Snowflake the
 * statements are atomic.
 */
async function createEngineStage(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-cluster-stage-'));
  try {
    const path = join(dir, 'nothing');
    await writeFile(path, '');
    await withWarehouse(async (engine) => {
      for (const format of ['jsonLines', 'parquet'] as const) await engine.unstageFiles(await engine.stageFiles([path], { name: 'cluster-setup', format }));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  const setupStarted = Date.now();
  [emulator, redis, bucket] = await Promise.all([startSnowflakeEmulator(), startRedisCluster(), createTestBucket()]);
  temporal = await connectClient();
  const files = { 'flywheel.config.ts': clusterConfig(), 'definitions/all.ts': DEFINITIONS };
  for (const name of ['admin', 'serveA', 'serveB', 'workerA', 'workerB'] as const) folders[name] = createTempProject(files);
  config = await loadConfig({ cwd: folders.admin.dir, profile: 'cluster' });
  objects = createObjectStore(config.profile.objectStore);
  await withWarehouse(async (engine) => {
    for (const statement of spineStatements('snowflake')) await engine.run(sql(statement));
  });
  const applied = await folders.admin.cliAsync('--profile', 'cluster', 'apply');
  expect(applied.code, applied.stderr).toBe(0);
  await createEngineStage();
  [serveA, serveB, workerA, workerB] = await Promise.all([
    startServe(folders.serveA, 'api-a'), startServe(folders.serveB, 'api-b'), startWorker(folders.workerA), startWorker(folders.workerB),
  ]);
  process.stderr.write(`[cluster] set up in ${((Date.now() - setupStarted) / 1000).toFixed(1)} s: emulator, Redis Cluster, bucket, apply, two nodes and two workers\n`);
}, SNOWFLAKE_EMULATOR_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(running.map((p) => killHard(p)));
  // The sweep `flywheel serve` started sleeps for ten minutes; nothing polls its queue after this file.
  await temporal?.workflow.getHandle(ingestSweepWorkflowId(project)).terminate('cluster test done').catch(() => undefined);
  await temporal?.connection.close();
  for (const folder of Object.values(folders)) folder.remove();
  if (bucket) await deleteTestBucket(bucket);
  await redis?.stop();
  await emulator?.stop();
}, 60_000);

async function post(url: string, stream: string, events: readonly object[]): Promise<number> {
  const response = await fetch(`${url}/v1/streams/${stream}/events`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(events),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Sends to `first`; a refused connection or a non-200 goes to `second`, as a client behind a load balancer retries. Returns who acknowledged it. */
async function send(batch: readonly SentEvent[], first: FlywheelProcess, second: FlywheelProcess): Promise<'first' | 'second'> {
  const stream = batch[0]!.stream;
  const body = batch.map((e) => e.body);
  const status = await post(first.url, stream, body).catch(() => 0);
  const by = status === 200 ? 'first' : (await post(second.url, stream, body)) === 200 ? 'second' : undefined;
  if (!by) throw new Error(`batch of ${stream} ${body[0]!._event_id} refused by both nodes`);
  for (const event of batch) acknowledged.set(event.body._event_id, event);
  return by;
}

async function until(done: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

const localFiles = (dir: string) => readdirSync(dir, { recursive: true }).map(String).filter((path) => statSync(join(dir, path)).isFile());

/** Every event id in a stream's warehouse table, with how many rows carry it. */
async function warehouseIds(stream: string): Promise<Map<string, number>> {
  const rows = await withWarehouse((engine) => engine.all(sql(`SELECT _event_id AS "id", COUNT(*) AS "n" FROM flywheel.stream_${stream} GROUP BY _event_id`)));
  return new Map(rows.map((row) => [String(row['id']), Number(row['n'])]));
}

describe('Flywheel on two serve nodes and two workers sharing only Temporal, S3, a Redis Cluster and the warehouse', () => {
  const log = (line: string) => process.stderr.write(`[cluster] ${line}\n`);

  it('loads every acknowledged event exactly once, through a SIGKILL of a node and a worker mid-run', async () => {
    let retriedOnOther = 0;
    let refusedWhileDown = 0;
    let onDiskAtKill: string[] = [];
    let workerRestart: Promise<FlywheelProcess> | undefined;
    for (let k = 0; k < BATCHES; k++) {
      const batch = batchOf(k);
      const [first, second] = k % 2 === 0 ? [serveA, serveB] : [serveB, serveA];
      if ((await send(batch, first, second)) === 'second') refusedWhileDown++;
      // Every third batch's answer is "lost": the client sends it again, and the load balancer picks the
      // other node (A to B, B to A; batch 12, which A refused, goes to B again).
      if (k % 3 === 0 && second.child.exitCode === null && second.child.signalCode === null) {
        expect(await post(second.url, batch[0]!.stream, batch.map((e) => e.body))).toBe(200);
        retriedOnOther++;
      }
      if (k === KILL_AFTER) {
        // Batch 10 went to node A a moment ago: its events are acknowledged and still in A's open segment.
        await Promise.all([killHard(serveA), killHard(workerA)]);
        onDiskAtKill = [...readdirSync(streamSegmentsDir(join(folders.serveA.dir, '.flywheel'), 'clicks'))];
        log(`SIGKILLed node api-a and worker A after batch ${k}; api-a left ${onDiskAtKill.length} file(s) of clicks on its disk`);
      }
      if (k === KILL_AFTER + WHILE_DOWN) {
        // Back on the same folders (same node id): node A uploads what it left; worker A polls again once
        // it has bundled its workflows, while the clients go on.
        workerRestart = startWorker(folders.workerA);
        serveA = await startServe(folders.serveA, 'api-a');
        log('restarted node api-a on its own folder; worker A is starting on its own');
      }
    }
    workerA = await workerRestart!;
    asOf = at(Math.ceil(Date.now() / 1000) * 1000);
    // The open segment of batch 10 was on A's disk when it died, then uploaded by A after its restart.
    expect(onDiskAtKill.some((name) => name.endsWith('.seg') || name.endsWith('.open'))).toBe(true);
    expect(serveA.stderr()).toMatch(/clicks segment \S+ \(\d+ events\)/);
    // Half the batches sent while A was down went to A first (refused), then to B.
    expect(refusedWhileDown).toBe(WHILE_DOWN / 2);
    expect(retriedOnOther).toBe(BATCHES / 3);
    expect(acknowledged.size).toBe(BATCHES * BATCH);

    // Ingestion, started by each node as its segments reach the object store, runs on either worker.
    // The wait's bound, worst case: the load worker A ran when it was killed is noticed at its heartbeat
    // timeout (60 s, workflows/ingest.ts) and retried 1 s later on worker B, while its stream's later
    // segments wait behind it (one load per stream at a time): 14 segments in a run, 7 per stream (a
    // segment seals at 4 KiB or 2 s), each load 5-39 s on the emulator at load 17-33, mean 9-20 s (the
    // load runs' durations are logged below), so 60 + 1 + 7 x 20 = 201 s after the kill, of which the
    // 13 batches sent after it and worker A's restart take 20 s or more: 181 s after the last send at
    // most. Measured: 19-38 s when no load was interrupted. The 10-minute sweep is never needed.
    const ingestStarted = Date.now();
    const expected = (stream: string) => [...acknowledged.values()].filter((e) => e.stream === stream).length;
    await until(async () => {
      const [clicks, orders] = [await warehouseIds('clicks').catch(() => new Map()), await warehouseIds('orders').catch(() => new Map())];
      const sealed = await objects.list('_log/sealed/');
      return clicks.size === expected('clicks') && orders.size === expected('orders') && sealed.length === 0;
    }, 'every acknowledged event in the warehouse and no sealed segment left in the object store', 185_000).catch(async (error: unknown) => {
      log(`warehouse: clicks ${(await warehouseIds('clicks')).size}/${expected('clicks')}, orders ${(await warehouseIds('orders')).size}/${expected('orders')}; sealed left: ${(await objects.list('_log/sealed/')).map((o) => o.key).join(', ')}`);
      // Segment ingestions (`<project>/ingest/…`) and their stream's loads (`<project>/ingest-load/<stream>`, where the activities run).
      for await (const run of temporal.workflow.list({ query: `WorkflowId STARTS_WITH '${project}/ingest'` })) {
        const described = await temporal.workflow.getHandle(run.workflowId, run.runId).describe();
        const pending = described.raw.pendingActivities?.map((a) => `${a.activityType?.name} attempt ${a.attempt} ${a.lastFailure?.message ?? ''}`).join('; ');
        const failure = run.status.name === 'FAILED' ? await temporal.workflow.getHandle(run.workflowId, run.runId).result().catch((e: Error) => `${e.message}: ${(e.cause as Error | undefined)?.message ?? ''} ${((e.cause as Error | undefined)?.cause as Error | undefined)?.message ?? ''}`) : '';
        log(`${run.workflowId} ${run.status.name} ${pending ?? ''}${String(failure)}`);
      }
      throw error;
    });
    log(`ingestion settled ${((Date.now() - ingestStarted) / 1000).toFixed(1)} s after the last send`);
    // What the kill interrupted, for the record (timing decides it): activities that ran more than once.
    let runs = 0;
    let retried = 0;
    const loadSeconds: number[] = [];
    for await (const run of temporal.workflow.list({ query: `WorkflowId STARTS_WITH '${project}/ingest' AND WorkflowId != '${ingestSweepWorkflowId(project)}'` })) {
      if (run.workflowId.startsWith(`${project}/ingest/`)) runs++;
      else if (run.closeTime) loadSeconds.push((run.closeTime.getTime() - run.startTime.getTime()) / 1000);
      const history = await temporal.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      retried += (history.events ?? []).filter((event) => (event.activityTaskStartedEventAttributes?.attempt ?? 1) > 1).length;
    }
    const loadTotal = loadSeconds.reduce((sum, seconds) => sum + seconds, 0);
    log(`${runs} segment ingestion runs, ${loadSeconds.length} loads (${loadTotal.toFixed(1)} s in all, the longest ${Math.max(0, ...loadSeconds).toFixed(1)} s); ${retried} activity attempt(s) after a first one failed or timed out`);

    for (const stream of ['clicks', 'orders'] as const) {
      const stored = await warehouseIds(stream);
      const ids = [...acknowledged.values()].filter((e) => e.stream === stream).map((e) => e.body._event_id);
      const missing = ids.filter((id) => !stored.has(id)).length;
      const duplicated = [...stored.values()].filter((n) => n > 1).length;
      const unacknowledged = [...stored.keys()].filter((id) => !acknowledged.has(id)).length;
      log(`${stream}: acknowledged ${ids.length}, in the warehouse ${stored.size}, missing ${missing}, duplicated ${duplicated}, never acknowledged ${unacknowledged}`);
      expect({ missing, duplicated, unacknowledged, stored: stored.size }).toEqual({ missing: 0, duplicated: 0, unacknowledged: 0, stored: 120 });
    }
    // Both nodes' segments were loaded: the ledger's batches are `<node>/<segment>`.
    const ledger = await withWarehouse((engine) => engine.all(sql(`SELECT "batch" AS "batch", "rows" AS "rows" FROM flywheel.ingest_ledger`)));
    const nodes = new Set(ledger.map((row) => String(row['batch']).split('/')[0]));
    expect([...nodes].sort()).toEqual(['api-a', 'api-b']);
    // Segments hold retried events twice; the ledger's rows count each event the load stored: 240 in all.
    expect(ledger.reduce((sum, row) => sum + Number(row['rows']), 0)).toBe(BATCHES * BATCH);
    // The sends and worker A's restart (130 s at load 30), then the wait above (185 s at most).
  }, 330_000);

  it('turns the loop on the two workers: labels, training set, materialization into the Redis Cluster', async () => {
    const run = await folders.admin.cliAsync('--profile', 'cluster', 'loop', 'run', '--as-of', asOf, '--json');
    expect(run.stdout.trim(), run.stderr).not.toBe('');
    const result = JSON.parse(run.stdout) as FlywheelLoopResult;
    expect(result.stages.map((s) => [s.id, s.status])).toEqual([
      'ingest:clicks', 'ingest:orders', 'labels:clicked_after', 'trainingSet:orders_training', 'materialize:user_clicks', 'materialize:user_orders',
    ].map((id) => [id, 'succeeded']));
    for (const stage of result.stages) log(`loop ${stage.id}: ${stage.summary ?? ''}`);
    // A stage succeeds with some partitions failed (they are retried by the next run): none may here.
    expect(result.stages.filter((stage) => /\b[1-9]\d* failed/.test(stage.summary ?? '')).map((stage) => stage.summary)).toEqual([]);
  }, 240_000);

  it('no process used a folder of another: each has its own, and nothing is left in any but the state a process keeps', () => {
    const dirs = Object.values(folders).map((f) => f.dir);
    expect(new Set(dirs).size).toBe(5);
    for (const a of dirs) for (const b of dirs) if (a !== b) expect(relative(a, b).startsWith('..')).toBe(true);
    // Workers keep no segment and no scratch file (each activity's scratch is removed); nodes keep no sealed segment.
    for (const name of ['workerA', 'workerB', 'admin'] as const) {
      const state = join(folders[name].dir, '.flywheel');
      mkdirSync(state, { recursive: true });
      expect(localFiles(state).filter((path) => path.startsWith('segments') || path.startsWith('scratch'))).toEqual([]);
    }
    for (const name of ['serveA', 'serveB'] as const) {
      const state = join(folders[name].dir, '.flywheel');
      expect(localFiles(state).filter((path) => path.endsWith('.seg'))).toEqual([]);
      expect(localFiles(state).filter((path) => path.startsWith('scratch'))).toEqual([]);
    }
  });

  describe('against a single-machine run on the same events (DuckDB, one worker process)', () => {
    let reference: TempProject;
    let referenceStore: SqliteOnlineStore;

    beforeAll(async () => {
      const started = Date.now();
      const taskQueue = testTaskQueue();
      reference = createTempProject({
        'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${project}_ref', definitions: './definitions', profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
        'definitions/all.ts': DEFINITIONS,
      });
      mkdirSync(join(reference.dir, '.flywheel'), { recursive: true });
      const refConfig = await loadConfig({ cwd: reference.dir });
      const engine = await openDuckDBEngine({ path: join(reference.dir, '.flywheel', 'warehouse.duckdb') });
      try {
        for (const statement of spineStatements('duckdb')) await engine.run(sql(statement));
      } finally {
        await engine.close();
      }
      const applied = reference.cli('apply');
      expect(applied.code, applied.stderr).toBe(0);
      // The acknowledged events, one segment per stream, as one node would have written them.
      const deps = activityDepsFromConfig(refConfig);
      for (const stream of ['clicks', 'orders'] as const) {
        const lines = [...acknowledged.values()].filter((e) => e.stream === stream).map((e) => JSON.stringify({ ...e.body, _received_at: asOf }));
        await putSealedSegment(deps.objectStore, { stream, segmentId: `all-${stream}` }, encodeRecords(lines));
      }
      referenceStore = new SqliteOnlineStore({ path: join(reference.dir, '.flywheel', 'online.sqlite') });
      const run = await runWorker({ taskQueue, activities: createActivities({ ...deps, onlineStore: referenceStore }) }, () => reference.cliAsync('loop', 'run', '--as-of', asOf, '--json'));
      const result = JSON.parse(run.stdout) as FlywheelLoopResult;
      expect(result.stages.every((s) => s.status === 'succeeded'), run.stdout).toBe(true);
      log(`single-machine run in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }, 180_000);

    afterAll(async () => {
      await referenceStore?.close();
      reference?.remove();
    });

    /** Rows of every Parquet file of `name` in `store`, read with DuckDB after a download, sorted. */
    async function datasetRows(store: ObjectStore, name: string, orderBy: string): Promise<Record<string, unknown>[]> {
      const keys = (await store.list('')).map((o) => o.key).filter((key) => key.includes(name) && key.endsWith('.parquet') && !key.includes('_staging'));
      if (keys.length === 0) throw new Error(`no Parquet file of ${name} in the object store`);
      const dir = await mkdtemp(join(tmpdir(), 'flywheel-cluster-read-'));
      const reader = await openDuckDBEngine({ path: ':memory:' });
      try {
        const paths = await Promise.all(keys.map(async (key, i) => {
          const path = join(dir, `${i}.parquet`);
          await store.getFile(key, path);
          return `'${path}'`;
        }));
        return await reader.all(sql(`SELECT * FROM read_parquet([${paths.join(', ')}], hive_partitioning = false, union_by_name = true) ORDER BY ${orderBy}`));
      } finally {
        await reader.close();
        await rm(dir, { recursive: true, force: true });
      }
    }

    it('the training set and the labels equal the single-machine ones, row for row', async () => {
      const referenceObjects = activityDepsFromConfig(await loadConfig({ cwd: reference.dir })).objectStore;
      const [clusterSet, singleSet] = [await datasetRows(objects, 'orders_training', 'ALL'), await datasetRows(referenceObjects, 'orders_training', 'ALL')];
      log(`training set: ${clusterSet.length} rows on the cluster, ${singleSet.length} on one machine`);
      expect(clusterSet).toHaveLength(SPINE.length);
      expect(clusterSet).toEqual(singleSet);
      // Not all zeros: the features saw the events.
      expect(clusterSet.filter((row) => Number(row['count_1d']) > 0).length).toBeGreaterThan(SPINE.length / 2);
      const [clusterLabels, singleLabels] = [await datasetRows(objects, 'clicked_after', 'ALL'), await datasetRows(referenceObjects, 'clicked_after', 'ALL')];
      log(`labels: ${clusterLabels.length} rows on the cluster, ${singleLabels.length} on one machine`);
      expect(clusterLabels.length).toBeGreaterThan(0);
      expect(clusterLabels).toEqual(singleLabels);
    }, 120_000);

    it("serves from either node the warehouse's values as of the loop's instant", async () => {
      const since = Date.parse(asOf) - 24 * HOUR;
      const inWindow = (e: SentEvent) => Date.parse(e.body.ts) > since && Date.parse(e.body.ts) <= Date.parse(asOf);
      const events = [...acknowledged.values()].filter(inWindow);
      // Hand-computed from the acknowledged events: sum of amounts and count of clicks per user in the day before.
      const expected = USERS.map((user) => [
        events.filter((e) => e.stream === 'orders' && e.body.user_id === user).reduce((sum, e) => sum + e.body.amount!, 0),
        events.filter((e) => e.stream === 'clicks' && e.body.user_id === user).length,
      ]);
      // The warehouse's own answer, as of the same instant.
      const offline = await withWarehouse(async (engine) => {
        const window = `ts > '${at(since)}'::TIMESTAMP_TZ AND ts <= '${asOf}'::TIMESTAMP_TZ`;
        const sums = await engine.all(sql(`SELECT user_id AS "u", SUM(amount) AS "v" FROM flywheel.stream_orders WHERE ${window} GROUP BY user_id`));
        const counts = await engine.all(sql(`SELECT user_id AS "u", COUNT(*) AS "v" FROM flywheel.stream_clicks WHERE ${window} GROUP BY user_id`));
        const of = (rows: Record<string, unknown>[], user: number) => Number(rows.find((row) => Number(row['u']) === user)?.['v'] ?? 0);
        return USERS.map((user) => [of(sums, user), of(counts, user)]);
      });
      expect(offline).toEqual(expected);
      const single = await referenceStore.read(USERS.flatMap((user) => ['user_orders', 'user_clicks'].map((view) => ({ view, key: [user], ttlSeconds: null }))), new Date(asOf));
      expect(USERS.map((_, i) => [single[2 * i]!.values?.['amount_sum_1d'], single[2 * i + 1]!.values?.['count_1d']])).toEqual(expected);

      const body = JSON.stringify({ service: 'scoring', entities: [...USERS, 99].map((user) => ({ user_id: user })) });
      for (const node of [serveA, serveB]) {
        const response = await fetch(`${node.url}/v1/features`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body });
        const answer = (await response.json()) as { features: string[]; rows: { values: unknown[]; statuses: string[] }[] };
        expect(response.status).toBe(200);
        expect(answer.features).toEqual(['amount_sum_1d', 'count_1d']);
        expect(answer.rows.map((row) => row.values)).toEqual([...expected, [null, null]]);
        expect(answer.rows.at(-1)!.statuses).toEqual(['missing', 'missing']);
      }
      log(`served (user: amount_sum_1d, count_1d) from both nodes = offline as of ${asOf}: ${USERS.map((u, i) => `${u}: ${expected[i]!.join(', ')}`).join('; ')}`);
      for (const node of [serveA, serveB, workerA, workerB]) expect(await stopGracefully(node)).toBe(0);
    }, 60_000);
  });
});
