import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import type { ActivityDeps } from '../activities/deps.ts';
import { freePort } from '../cli/dev/child-process.ts';
import { startDevServer, type DevServer } from '../cli/dev/dev-server.ts';
import { locateTemporalCli } from '../cli/dev/temporal-cli.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseMaterializationState } from '../connectors/registry/materialization-state.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { encodeRecords } from '../connectors/log-store/segment-log/index.ts';
import { REPO_ROOT, createTempProject, type TempProject } from './support/temp-project.ts';
import { putSealedSegment } from './support/sealed-segments.ts';

/**
 * Fault injection with real processes (docs/development.md, "Faults we test"): a Temporal dev server
 * of the test's own (`temporal server start-dev --db-filename`, free ports on 127.0.0.1) is stopped
 * while a training-set run, then a loop run, is in flight, and started again on the same database
 * file and port. The worker (in this process) and the CLI waiting for the result (a child process)
 * reconnect by themselves; both runs must complete with the results of a run without the outage.
 */

const PROJECT = 'fault_temporal';
const DAYS = 3;
const SPINE_PER_DAY = 100_000;

const DEFINITIONS = `
import { entity, eventStream, featureView, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { item_id: 'int64' } });
export const profile = source({ name: 'profile', table: 'profile', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', score: 'float64' } });
export const spine = source({ name: 'spine', table: 'spine', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', label: 'bool' } });
export const userProfile = featureView({ name: 'user_profile', entities: [user], source: profile, online: false, features: { score: 'float64' } });
export const userClicks = featureView({ name: 'user_clicks', entities: [user], source: clicks, online: false, aggregations: [{ function: 'count', windows: ['1d'] }] });
export const profileTraining = trainingSet({ name: 'profile_training', spine, features: [userProfile, userClicks] });
`;

let project: TempProject;
let stateDir: string;
let port: number;
let uiPort: number;
let cliPath: string;
let server: DevServer;
let worker: Worker | undefined;
let workerRun: Promise<void> | undefined;
let workerConnection: NativeConnection | undefined;
let clientConnection: Connection | undefined;
const taskQueue = 'fault-temporal';

function deps(): ActivityDeps {
  const scratchDir = join(stateDir, 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return {
    project: PROJECT,
    openEngine: () => openDuckDBEngine({ path: join(stateDir, 'warehouse.duckdb') }),
    registry: (engine) => new WarehouseRegistry(engine),
    materializationState: (engine) => new WarehouseMaterializationState(engine),
    objectStore: new LocalObjectStore(join(stateDir, 'objects')),
    scratchDir,
    stateDir,
  };
}

const startServer = () => startDevServer({ cliPath, dbFile: join(stateDir, 'temporal.db'), port, uiPort, logFile: join(stateDir, 'temporal-server.log') });

/** The CLI in the project, as a child process we can watch: its result, and whether it is still running. */
function cli(...args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.js'), ...args], { cwd: project.dir });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done };
}

/** Waits until a run of `workflowType` has an activity started (the server then holds work in flight). */
async function untilActivityStarted(client: Client, workflowType: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for await (const run of client.workflow.list({ query: `WorkflowType = '${workflowType}' AND ExecutionStatus = 'Running'` })) {
      const description = await client.workflow.getHandle(run.workflowId, run.runId).describe();
      if ((description.raw.pendingActivities ?? []).some((activity) => Number(activity.state) === 2 /* STARTED */)) return run.workflowId;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no activity of a ${workflowType} run started within ${timeoutMs} ms`);
}

/** Stops the dev server (SIGINT, as Ctrl-C would) and starts it again on the same file and port; returns how long it was away. */
async function restartServer(): Promise<number> {
  const stoppedAt = performance.now();
  await server.stop();
  server = await startServer();
  return performance.now() - stoppedAt;
}

async function withClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  clientConnection = await Connection.connect({ address: server.address });
  try {
    return await work(new Client({ connection: clientConnection }));
  } finally {
    await clientConnection.close();
    clientConnection = undefined;
  }
}

beforeAll(async () => {
  cliPath = await locateTemporalCli({ build: false });
  [port, uiPort] = [await freePort(), await freePort()];
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '127.0.0.1:${port}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': DEFINITIONS,
  });
  stateDir = join(project.dir, '.flywheel');
  mkdirSync(stateDir, { recursive: true });
  server = await startServer();
  const engine = await openDuckDBEngine({ path: join(stateDir, 'warehouse.duckdb') });
  try {
    // 1,000 users; a profile score per user per day; SPINE_PER_DAY spine rows a day over DAYS days from 2024-05-01.
    await engine.run({
      sql: `
      CREATE TABLE profile AS SELECT u::BIGINT AS user_id, TIMESTAMPTZ '2024-04-30 00:00:00+00' + to_days(d) AS ts, (u * 10 + d)::DOUBLE AS score FROM range(1000) a(u), range(${DAYS + 1}) b(d);
      CREATE TABLE spine AS SELECT (i % 1000)::BIGINT AS user_id, TIMESTAMPTZ '2024-05-01 00:00:00+00' + to_microseconds((i * ${Math.floor(86_400_000_000 / SPINE_PER_DAY)})::BIGINT) AS ts, (i % 2 = 0) AS label FROM range(${SPINE_PER_DAY * DAYS}) t(i);`,
      parameters: [],
    });
  } finally {
    await engine.close();
  }
  const applied = project.cli('apply');
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  // Two clicks in a sealed segment in the object store, for the loop's ingestion.
  await putSealedSegment(deps().objectStore, { stream: 'clicks', segmentId: 'seg-0001' }, encodeRecords(['{"_event_id":"c1","user_id":1,"ts":"2024-05-01T09:00:00Z","item_id":10,"_received_at":"2024-05-01T12:00:00.000Z"}', '{"_event_id":"c2","user_id":1,"ts":"2024-05-01T09:30:00Z","item_id":11,"_received_at":"2024-05-01T12:00:00.000Z"}']));

  workerConnection = await NativeConnection.connect({ address: server.address });
  worker = await Worker.create({ connection: workerConnection, namespace: 'default', taskQueue, activities: createActivities(deps()), workflowBundle: { codePath: inject('workflowBundlePath') } });
  workerRun = worker.run();
}, 120_000);

afterAll(async () => {
  worker?.shutdown();
  await workerRun?.catch(() => undefined);
  await workerConnection?.close();
  await server?.stop();
  project?.remove();
});

describe('the Temporal dev server stopped and started again (same database file)', () => {
  it('a training-set run in flight completes, with every row', async () => {
    const run = cli('run', 'training-set', 'profile_training', '--from', '2024-05-01T00:00:00Z', '--to', `2024-05-0${1 + DAYS}T00:00:00Z`, '--json');
    const workflowId = await withClient((client) => untilActivityStarted(client, 'buildTrainingSet'));
    expect(run.child.exitCode).toBeNull();
    const awayMs = await restartServer();
    const result = await run.done;
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ workflowId, rowCount: SPINE_PER_DAY * DAYS, partitions: Array.from({ length: DAYS }, (_, d) => ({ key: `day=2024-05-0${1 + d}`, rowCount: SPINE_PER_DAY })) });
    process.stderr.write(`fault-temporal-restart: training set: the server was away ${Math.round(awayMs)} ms during ${workflowId}\n`);
  }, 120_000);

  it('a loop run in flight completes, every stage succeeded', async () => {
    const run = cli('loop', 'run', '--as-of', '2024-05-02T06:00:00Z', '--json');
    const stage = await withClient((client) => untilActivityStarted(client, 'buildTrainingSet'));
    expect(run.child.exitCode).toBeNull();
    const awayMs = await restartServer();
    const result = await run.done;
    expect(result.code).toBe(0);
    const loop = JSON.parse(result.stdout) as { succeeded: number; failed: number; skipped: number; stages: { id: string; status: string; summary?: string }[] };
    expect(loop).toMatchObject({ succeeded: 2, failed: 0, skipped: 0 });
    expect(loop.stages.map((s) => [s.id, s.status, s.summary])).toEqual([
      ['ingest:clicks', 'succeeded', '1 segment loaded, 2 rows'],
      ['trainingSet:profile_training', 'succeeded', expect.stringMatching(/^100,?000 rows in 1 partition, version /)],
    ]);
    process.stderr.write(`fault-temporal-restart: loop: the server was away ${Math.round(awayMs)} ms during ${stage}\n`);
  }, 120_000);
});
