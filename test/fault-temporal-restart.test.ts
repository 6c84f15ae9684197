import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Info as ActivityInfo } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ActivityDeps } from '../activities/deps.ts';
import { isTemporalReachable, startDevServer, type DevServer } from '../cli/dev/dev-server.ts';
import { locateTemporalCli } from '../cli/dev/temporal-cli.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseMaterializationState } from '../connectors/registry/materialization-state.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { encodeRecords } from '../connectors/log-store/segment-log/index.ts';
import { createFlywheelWorker } from '../worker/create-worker.ts';
import { REPO_ROOT, createTempProject, type TempProject } from './support/temp-project.ts';
import { putSealedSegment } from './support/sealed-segments.ts';
import { restartablePort } from './support/restartable-port.ts';

/**
 * Fault injection with real processes (docs/development.md, "Faults we test"): a Temporal dev server
 * of the test's own (`temporal server start-dev --db-filename`, free ports on 127.0.0.1) is stopped
 * while a training-set run, then a loop run, is in flight, and started again on the same database
 * file and port. The worker (in this process) and the CLI waiting for the result (a child process)
 * reconnect by themselves; both runs must complete with the results of a run without the outage.
 *
 * The third case keeps the server away longer than the SDK retries an activity's completion (10 s),
 * with an activity ending during the outage: the worker (createFlywheelWorker, as `flywheel worker`
 * runs it) holds that outcome until the server answers (worker/hold-outcome-while-server-away.ts).
 * Without the hold the SDK drops it and the run waits for the activity's 2-minute heartbeat timeout:
 * that is how "a loop run in flight" hung in CI, when a restart under load took over 10 s.
 *
 * A wait that runs out says what the server, the worker and the run were doing (server logs, whether
 * the process is alive, held outcomes, pending activities), instead of a bare test timeout.
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
/** One log file per server start, so a restart does not overwrite the log of the server it replaced. */
const serverLogs: string[] = [];
/** Outcomes the worker held while the server was away, and those it handed over once it answered. */
const held: ActivityInfo[] = [];
const released: ActivityInfo[] = [];
let worker: Worker | undefined;
let workerRun: Promise<void> | undefined;
let workerConnection: NativeConnection | undefined;
let clientConnection: Connection | undefined;
const taskQueue = 'fault-temporal';
/** How long sdk-core retries an activity completion before dropping it (its default RetryOptions.max_elapsed_time). */
const SDK_COMPLETION_RETRY_MS = 10_000;

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

function startServer(): Promise<DevServer> {
  const logFile = join(stateDir, `temporal-server-${serverLogs.length + 1}.log`);
  serverLogs.push(logFile);
  return startDevServer({ cliPath, dbFile: join(stateDir, 'temporal.db'), port, uiPort, logFile });
}

interface CliRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** What it wrote to stderr so far. */
  stderr(): string;
}

/** CLI processes still running; afterAll ends them (a failed case would otherwise leave one waiting up to 5 minutes for the server). */
const cliChildren = new Set<ChildProcess>();

/** The CLI in the project, as a child process we can watch: its result, and whether it is still running. */
function cli(...args: string[]): CliRun {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.js'), ...args], { cwd: project.dir });
  cliChildren.add(child);
  child.once('exit', () => cliChildren.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done, stderr: () => stderr };
}

/**
 * The CLI's result, waited for at most `timeoutMs` (less than the test's timeout, so a hang ends
 * here): on timeout the CLI is killed and the error says what the server, the worker and the run were
 * doing, so that a failure in CI can be told apart (server down, completion lost, CLI given up).
 */
async function resultOf(run: CliRun, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const timedOut = Symbol('timed out');
  const controller = new AbortController();
  const outcome = await Promise.race([run.done, sleep(timeoutMs, timedOut, { signal: controller.signal }).catch(() => undefined)]);
  controller.abort();
  if (outcome !== timedOut && outcome !== undefined) return outcome;
  const report = await diagnose(run);
  run.child.kill('SIGKILL');
  throw new Error(`the CLI did not finish within ${timeoutMs / 1000} s\n${report}`);
}

/** What a stuck run looks like from here: the server process and its logs, the worker's held outcomes, the run's pending activities, the CLI's stderr. */
async function diagnose(run: CliRun): Promise<string> {
  const lines: string[] = [];
  let alive = 'no process of ours (reused)';
  if (server.pid !== undefined) {
    try {
      process.kill(server.pid, 0);
      alive = `process ${server.pid} alive`;
    } catch {
      alive = `process ${server.pid} gone`;
    }
  }
  lines.push(`server ${server.address}: ${alive}, ${(await isTemporalReachable(server.address)) ? 'answering' : 'not answering'}`);
  lines.push(`worker: ${held.length} outcome(s) held (${held.map((a) => a.activityType).join(', ') || '-'}), ${released.length} handed over`);
  try {
    const pending = await Promise.race([
      withClient(async (client) => {
        const found: string[] = [];
        for await (const execution of client.workflow.list({ query: `ExecutionStatus = 'Running'` })) {
          const description = await client.workflow.getHandle(execution.workflowId, execution.runId).describe();
          for (const activity of description.raw.pendingActivities ?? []) {
            found.push(`${execution.workflowId}: ${activity.activityType?.name} state ${activity.state} attempt ${activity.attempt} last heartbeat ${activity.lastHeartbeatTime?.seconds?.toString() ?? '-'}`);
          }
        }
        return found;
      }),
      sleep(10_000).then(() => ['(no answer within 10 s)']),
    ]);
    lines.push(`pending activities:\n  ${pending.join('\n  ') || '(none)'}`);
  } catch (error) {
    lines.push(`pending activities: ${(error as Error).message}`);
  }
  for (const logFile of serverLogs.slice(-2)) {
    let tail: string;
    try {
      tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
    } catch (error) {
      tail = (error as Error).message;
    }
    lines.push(`last lines of ${logFile}:\n${tail}`);
  }
  lines.push(`CLI stderr so far:\n${run.stderr().slice(-2_000)}`);
  return lines.join('\n');
}

/** Waits until a run of `workflowType` has an activity (of `activityType`, if given) started (the server then holds work in flight). */
async function untilActivityStarted(client: Client, workflowType: string, activityType?: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for await (const run of client.workflow.list({ query: `WorkflowType = '${workflowType}' AND ExecutionStatus = 'Running'` })) {
      const description = await client.workflow.getHandle(run.workflowId, run.runId).describe();
      const started = (description.raw.pendingActivities ?? []).filter((activity) => Number(activity.state) === 2 /* STARTED */);
      if (started.some((activity) => activityType === undefined || activity.activityType?.name === activityType)) return run.workflowId;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no activity of a ${workflowType} run started within ${timeoutMs} ms`);
}

/**
 * Stops the dev server (SIGINT, as Ctrl-C would) and starts it again on the same file and port;
 * returns how long it was away. `whileAway` runs between the two (the third case's longer outage).
 */
async function restartServer(whileAway?: () => Promise<void>): Promise<number> {
  const stoppedAt = performance.now();
  await server.stop();
  await whileAway?.();
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
  // Restarted on the same ports: drawn where no client's local port can take them while it is down.
  port = await restartablePort();
  do uiPort = await restartablePort();
  while (uiPort === port);
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
  worker = await createFlywheelWorker({
    connection: workerConnection,
    namespace: 'default',
    taskQueue,
    deps: deps(),
    workflowBundle: { codePath: inject('workflowBundlePath') },
    onOutcomeHeld: { onHold: (activity) => held.push(activity), onRelease: (activity) => released.push(activity) },
  });
  workerRun = worker.run();
}, 120_000);

afterAll(async () => {
  for (const child of cliChildren) child.kill('SIGKILL');
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
    const result = await resultOf(run, 100_000);
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
    const result = await resultOf(run, 100_000);
    expect(result.code).toBe(0);
    const loop = JSON.parse(result.stdout) as { succeeded: number; failed: number; skipped: number; stages: { id: string; status: string; summary?: string }[] };
    expect(loop).toMatchObject({ succeeded: 2, failed: 0, skipped: 0 });
    expect(loop.stages.map((s) => [s.id, s.status, s.summary])).toEqual([
      ['ingest:clicks', 'succeeded', '1 segment loaded, 2 rows'],
      ['trainingSet:profile_training', 'succeeded', expect.stringMatching(/^100,?000 rows in 1 partition, version /)],
    ]);
    process.stderr.write(`fault-temporal-restart: loop: the server was away ${Math.round(awayMs)} ms during ${stage}\n`);
  }, 120_000);

  it('an activity that ends while the server is away longer than the SDK retries its completion: the worker holds the outcome, the run completes', async () => {
    const heldBefore = held.length;
    // Two days (200,000 rows) and the server stopped once their files are being written: that
    // activity takes seconds, so it is still running when the server goes and ends while it is away.
    const run = cli('run', 'training-set', 'profile_training', '--from', '2024-05-02T00:00:00Z', '--to', '2024-05-04T00:00:00Z', '--json');
    const workflowId = await withClient((client) => untilActivityStarted(client, 'buildTrainingSet', 'writeTrainingSetFiles'));
    expect(run.child.exitCode).toBeNull();
    const awayMs = await restartServer(async () => {
      // The activity in flight ends while the server is down (bounded: writing two days takes seconds).
      const deadline = Date.now() + 60_000;
      while (held.length === heldBefore && Date.now() < deadline) await sleep(50);
      if (held.length !== heldBefore + 1) throw new Error(`no outcome held by the worker within 60 s of the server stopping (held: ${held.length - heldBefore})\n${await diagnose(run)}`);
      // The fault itself: away for longer than the SDK's ~10 s of completion retries, counted from the hold.
      await sleep(SDK_COMPLETION_RETRY_MS + 1_000);
    });
    const result = await resultOf(run, 100_000);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ workflowId, rowCount: 2 * SPINE_PER_DAY, partitions: [{ key: 'day=2024-05-02', rowCount: SPINE_PER_DAY }, { key: 'day=2024-05-03', rowCount: SPINE_PER_DAY }] });
    // The held outcome went out once the server answered: the same activity attempt, not a retry after its heartbeat timeout.
    const heldActivity = held[heldBefore]!;
    expect(released.map((a) => [a.workflowExecution?.workflowId, a.activityId, a.attempt])).toContainEqual([heldActivity.workflowExecution?.workflowId, heldActivity.activityId, heldActivity.attempt]);
    expect(heldActivity.attempt).toBe(1);
    process.stderr.write(`fault-temporal-restart: held outcome: the server was away ${Math.round(awayMs)} ms, ${heldActivity.activityType} held and handed over\n`);
  }, 150_000);
});
