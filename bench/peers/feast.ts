/**
 * Flywheel side by side with Feast 0.67.0 (issue 17, item 1), on one generated dataset of Parquet
 * files, the same Redis, in one run, the two taking turns in every case:
 *
 * - training set: spine × 3 feature views from Parquet files (no keys). Feast:
 *   `get_historical_features(...).to_arrow()` (DuckDB offline store) in a fresh Python process;
 *   Flywheel: the build-training-set workflow (daily Parquet files, the default layout) started by a
 *   fresh Node process on a worker that keeps running. Each reports its own call's time ("without
 *   process start") and the driver times the whole process ("with process start").
 * - materialization into Redis of the smaller and the larger item view (50 float64 features):
 *   Feast's `materialize()` (in time slices of at most ~50,000 entities: one call of 1M entities
 *   took 21 GB) against Flywheel's materializeFeatureView workflow (full, 4 chunks).
 * - serving, 1 and 100 entities per request, 1 and 10 connections: `feast serve` (one worker,
 *   `--max-requests 0`) against `flywheel serve`'s server (bench/serving.ts --serve flywheel), both
 *   reading what their materialization wrote into the same redis-server; autocannon as the client.
 *
 * Every case first checks that both return the same values (the whole training set compared row
 * by row; online values and served values of sample items against the Parquet file), and stops
 * with an error if not. Prints one table: case, Flywheel, Feast, Flywheel's advantage, load. Each figure is
 * the best of its runs (the run least slowed by whatever else shares the machine).
 *
 *   npx tsx bench/peers/feast.ts [--scale small|full] [--runs 2] [--materialize-runs 1 (full) | 2 (small)] [--duration 10 (full) | 3 (small)]
 *   npm run bench -- --peers [--scale small|full]
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createObjectStore } from '../../connectors/object-store/create-object-store.ts';
import { openDuckDBEngine, type DuckDBEngine } from '../../connectors/offline/duckdb/duckdb-engine.ts';
import { RedisOnlineStore } from '../../connectors/online-store/redis/redis-online-store.ts';
import { WarehouseRegistry } from '../../connectors/registry/warehouse-registry.ts';
import { warehouseObjectStatements } from '../../core/sql/warehouse-objects.ts';
import { materializeFeatureView } from '../../workflows/materialize.ts';
import { startRedis } from '../redis-server.ts';
import { startBenchStack } from '../temporal-stack.ts';
import { ensureFeast, FEAST_ENV_DIR, REPO_ROOT } from './feast-env.ts';
import { generatePeerData, itemFeatureNames, PEER_PROJECT, PEER_SCALES, peerProject, type PeerDataSizes } from './feast-data.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const FEAST_SCRIPT = join(HERE, 'feast_bench.py');
const TASK_QUEUE = 'bench-peers';
const TOKEN = 'bench-token';
/** The key prefix bench/serving-server.ts serves from (project `bench`). */
const KEY_PREFIX = 'fw:bench:';
const TRAINING_COLUMNS = ['event_id', 'amount_sum_1d', 'txn_count_1d', 'night_share', 'distinct_merchants', 'chargeback_rate', 'txn_count_30d'];

/** One line of the printed table. `advantage` > 1 means Flywheel is faster. */
interface Row {
  readonly case: string;
  readonly flywheel: string;
  readonly feast: string;
  readonly advantage: number;
  readonly load: string;
}

/** Thrown when the two answer differently: no figure of that case counts. */
class PeerMismatchError extends Error {}

// --- processes ------------------------------------------------------------------------------------------

/** Runs a command to completion; returns its wall time and the JSON object on its last stdout line. Throws with its output if it fails. */
function runJson<T>(executable: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ wallSeconds: number; result: T }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(executable, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-6_000)));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallSeconds = (performance.now() - started) / 1000;
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) return reject(new Error(`${executable} ${args.join(' ')} exited with ${code}:\n${err}${out.slice(-2_000)}`));
      try {
        resolve({ wallSeconds, result: JSON.parse(last) as T });
      } catch {
        reject(new Error(`${executable} ${args.join(' ')} printed no JSON on its last line:\n${out.slice(-2_000)}${err}`));
      }
    });
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A long-running server child; resolves once `ready()` says so. */
async function startServer(name: string, executable: string, args: string[], env: NodeJS.ProcessEnv, ready: (output: string) => Promise<string | undefined>): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(executable, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-10_000)));
  child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-10_000)));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`${name} exited before it was ready:\n${output}`);
    const url = await ready(output);
    if (url) {
      return {
        url,
        stop: async () => {
          if (!exited) child.kill('SIGTERM');
          await exit;
        },
      };
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} was not ready within 60 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// --- load and formatting --------------------------------------------------------------------------------

/** The 1-minute load average at the start and end of a case. */
async function withLoad<T>(work: () => Promise<T>): Promise<{ value: T; load: string }> {
  const before = loadavg()[0]!;
  const value = await work();
  return { value, load: `${before.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}` };
}

/** The fastest of a case's runs: on a shared machine, the run least slowed by others. */
const best = (xs: readonly number[]) => Math.min(...xs);
const secs = (s: number) => `${s.toFixed(2)} s`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');

// --- checks ---------------------------------------------------------------------------------------------

/** Compares the two training sets row by row on every feature column (EXCEPT ALL both ways). */
async function checkTrainingSets(engine: DuckDBEngine, flywheelGlob: string, feastFile: string, spineRows: number): Promise<string> {
  const columns = TRAINING_COLUMNS.join(', ');
  const [row] = await engine.all<Record<string, bigint | number>>({
    sql: `WITH fw AS (SELECT ${columns} FROM read_parquet('${flywheelGlob}')), fe AS (SELECT ${columns} FROM read_parquet('${feastFile}'))
      SELECT (SELECT count(*) FROM fw) AS fw_rows, (SELECT count(*) FROM fe) AS fe_rows,
        (SELECT count(*) FROM (SELECT * FROM fw EXCEPT ALL SELECT * FROM fe)) AS only_fw,
        (SELECT count(*) FROM (SELECT * FROM fe EXCEPT ALL SELECT * FROM fw)) AS only_fe,
        (SELECT count(amount_sum_1d) FROM fw) AS spend_found, (SELECT count(chargeback_rate) FROM fw) AS risk_found`,
    parameters: [],
  });
  const n = (k: string) => Number(row![k]);
  if (n('fw_rows') !== spineRows || n('fe_rows') !== spineRows || n('only_fw') !== 0 || n('only_fe') !== 0) {
    throw new PeerMismatchError(`training sets differ: Flywheel ${n('fw_rows')} rows, Feast ${n('fe_rows')} (spine ${spineRows}); ${n('only_fw')} rows only in Flywheel's, ${n('only_fe')} only in Feast's`);
  }
  return `${int(spineRows)} rows equal on ${TRAINING_COLUMNS.length - 1} features (user_spend found for ${int(n('spend_found'))}, merchant_risk for ${int(n('risk_found'))})`;
}

/** The values of `ids` as the Parquet file has them, in feature order. */
async function expectedItems(engine: DuckDBEngine, file: string, ids: readonly number[], features: number): Promise<Map<number, number[]>> {
  const names = itemFeatureNames(features);
  const rows = await engine.all<Record<string, number | bigint>>({ sql: `SELECT item_id, ${names.join(', ')} FROM read_parquet('${file}') WHERE item_id IN (${ids.join(', ')})`, parameters: [] });
  return new Map(rows.map((r) => [Number(r.item_id), names.map((n) => Number(r[n]))]));
}

function compareValues(what: string, ids: readonly number[], expected: Map<number, number[]>, got: (id: number) => unknown[] | undefined): void {
  for (const id of ids) {
    const want = expected.get(id);
    const have = got(id);
    if (!want || JSON.stringify(have) !== JSON.stringify(want)) {
      throw new PeerMismatchError(`${what}: item ${id} is ${JSON.stringify(have)?.slice(0, 200)}, the Parquet file has ${JSON.stringify(want)?.slice(0, 200)}`);
    }
  }
}

function sampleIds(count: number): number[] {
  const ids = new Set([0, 1, Math.floor(count / 2), count - 1]);
  while (ids.size < 20) ids.add(Math.floor(Math.random() * count));
  return [...ids];
}

// --- serving --------------------------------------------------------------------------------------------

interface AutocannonResult {
  readonly duration: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly '2xx': number;
  readonly latency: { readonly p50: number; readonly p99: number };
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

type Subject = 'flywheel' | 'feast';
const servingPath: Record<Subject, string> = { flywheel: '/v1/features', feast: '/get-online-features' };
function servingBody(subject: Subject, ids: readonly number[]): string {
  return subject === 'flywheel'
    ? JSON.stringify({ service: 'ranking', entities: ids.map((id) => ({ item_id: id })) })
    : JSON.stringify({ feature_service: 'ranking', entities: { item_id: ids } });
}

/** The served values of `ids`, per item in feature order, from either server's answer. */
async function served(subject: Subject, origin: string, ids: readonly number[], features: number): Promise<Map<number, unknown[]>> {
  const response = await fetch(origin + servingPath[subject], { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: servingBody(subject, ids) });
  const text = await response.text();
  if (response.status !== 200) throw new PeerMismatchError(`${subject} answered ${response.status}: ${text.slice(0, 300)}`);
  if (subject === 'flywheel') {
    const body = JSON.parse(text) as { rows: { values: unknown[] }[] };
    return new Map(ids.map((id, i) => [id, body.rows[i]!.values]));
  }
  const body = JSON.parse(text) as { metadata: { feature_names: string[] }; results: { values: unknown[] }[] };
  const column = new Map(body.metadata.feature_names.map((name, j) => [name, body.results[j]!.values]));
  return new Map(ids.map((id, i) => [id, itemFeatureNames(features).map((n) => column.get(n)?.[i])]));
}

async function hammer(subject: Subject, origin: string, rows: number, items: number, connections: number, duration: number): Promise<{ rps: number; p50: number; p99: number }> {
  const requests = Array.from({ length: 64 }, () => ({ method: 'POST', path: servingPath[subject], body: servingBody(subject, Array.from({ length: rows }, () => Math.floor(Math.random() * items))) }));
  const result = await autocannon({ url: origin, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, requests, connections, duration });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) throw new Error(`${subject}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  return { rps: result['2xx'] / result.duration, p50: result.latency.p50, p99: result.latency.p99 };
}

// --- the run --------------------------------------------------------------------------------------------

export async function benchPeersFeast(options: { scale: 'small' | 'full'; runs: number; materializeRuns: number; duration: number; port: number }): Promise<Row[]> {
  const sizes: PeerDataSizes = PEER_SCALES[options.scale];
  const python = await ensureFeast((m) => process.stderr.write(`${m}\n`));
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-peers-'));
  const data = join(dir, 'data');
  const repo = join(dir, 'feast-repo');
  await mkdir(data);
  const rows: Row[] = [];
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const stops: (() => Promise<void>)[] = [];
  try {
    const { stdout: uptime } = await runText('uptime');
    say(`node ${process.version}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Feast 0.67.0 in ${FEAST_ENV_DIR}; scale ${options.scale}; uptime: ${uptime.trim()}`);

    // The data and both projects over it.
    const engine = await openDuckDBEngine({ path: join(dir, 'check.duckdb') });
    stops.push(() => engine.close());
    const generated = performance.now();
    const generatedAt = new Date();
    await generatePeerData(engine, data, sizes, generatedAt);
    say(`data: ${int(sizes.spineRows)} spine rows, ${int(2 * sizes.userRowsPerView + sizes.merchantRows)} feature rows, ${int(sizes.items)} items × ${sizes.features} features, as Parquet in ${((performance.now() - generated) / 1000).toFixed(1)} s`);
    const redis = await startRedis(dir);
    stops.push(() => redis.stop());
    const redisHostPort = redis.url.replace('redis://', '');
    await runJson(python, [FEAST_SCRIPT, 'apply', '--repo', repo, '--data', data, '--redis', redisHostPort, '--features', String(sizes.features)]);

    const warehousePath = join(dir, 'warehouse.duckdb');
    const project = peerProject(data, sizes.features);
    {
      const warehouse = await openDuckDBEngine({ path: warehousePath });
      await new WarehouseRegistry(warehouse).save(PEER_PROJECT, project, { statements: warehouseObjectStatements({ desired: project, resolvePath: (p) => p, dialect: warehouse.dialect }) });
      await warehouse.close();
    }
    const store = new RedisOnlineStore({ url: redis.url, keyPrefix: KEY_PREFIX });
    stops.push(() => store.close());
    const scratchDir = join(dir, 'scratch');
    await mkdir(scratchDir);
    const objectsRoot = join(dir, 'objects');
    const stack = await startBenchStack({ dir, port: options.port, taskQueue: TASK_QUEUE, project: PEER_PROJECT, warehousePath, objectStore: createObjectStore({ type: 'local', root: objectsRoot }), scratchDir, onlineStore: store });
    stops.push(() => stack.stop());

    // 1. Training set.
    const flywheelTraining = () =>
      runJson<{ seconds: number; rows: number; datasetUri: string }>(process.execPath, ['--import', 'tsx', join(HERE, 'flywheel-training-client.ts'), '--address', `127.0.0.1:${options.port}`, '--task-queue', TASK_QUEUE, '--project', PEER_PROJECT, '--training-set', 'peer'], { ...process.env, NODE_OPTIONS: '' });
    const feastTraining = (out?: string) =>
      runJson<{ seconds: number; rows: number }>(python, [FEAST_SCRIPT, 'train', '--repo', repo, '--data', data, ...(out ? ['--out', out] : [])]);
    {
      const { value: checked, load } = await withLoad(async () => {
        const fw = await flywheelTraining();
        const feastFile = join(dir, 'feast-training-set.parquet');
        await feastTraining(feastFile);
        const datasetDir = fileURLToPath(fw.result.datasetUri);
        return checkTrainingSets(engine, `${datasetDir}/**/*.parquet`, feastFile, sizes.spineRows);
      });
      say(`training set check (untimed, load ${load}): ${checked}`);
      const fw = { inner: [] as number[], wall: [] as number[] };
      const fe = { inner: [] as number[], wall: [] as number[] };
      const { load: trainingLoad } = await withLoad(async () => {
        for (let i = 0; i < options.runs; i++) {
          const a = await flywheelTraining();
          fw.inner.push(a.result.seconds);
          fw.wall.push(a.wallSeconds);
          const b = await feastTraining();
          fe.inner.push(b.result.seconds);
          fe.wall.push(b.wallSeconds);
          say(`  training run ${i + 1}: Flywheel ${secs(a.result.seconds)} (process ${secs(a.wallSeconds)}), Feast ${secs(b.result.seconds)} (process ${secs(b.wallSeconds)}), load ${loadavg()[0]!.toFixed(2)}`);
        }
      });
      const name = `training set, ${int(sizes.spineRows)} spine × 3 views × ${int(2 * sizes.userRowsPerView + sizes.merchantRows)} rows, Parquet, no keys`;
      rows.push({ case: `${name}: the call`, flywheel: secs(best(fw.inner)), feast: secs(best(fe.inner)), advantage: best(fe.inner) / best(fw.inner), load: trainingLoad });
      rows.push({ case: `${name}: with process start`, flywheel: secs(best(fw.wall)), feast: secs(best(fe.wall)), advantage: best(fe.wall) / best(fw.wall), load: trainingLoad });
    }

    // 2. Materialization into Redis.
    // The items' event times lie in the day before generatedAt: Feast materializes that day.
    const materializeStart = new Date(generatedAt.getTime() - 86_400_000 - 60_000).toISOString();
    for (const [view, count, file] of [['item_features_small', sizes.smallItems, 'items_small.parquet'], ['item_features', sizes.items, 'items.parquet']] as const) {
      const flywheelMaterialize = async () => {
        const started = performance.now();
        const result = await stack.client.workflow.execute(materializeFeatureView, { taskQueue: TASK_QUEUE, workflowId: `bench-peers-materialize-${Date.now()}`, args: [{ project: PEER_PROJECT, view, full: true, chunks: 4 }] });
        if (result.rows !== count) throw new Error(`Flywheel materialized ${result.rows} rows of ${view}, expected ${count}`);
        return (performance.now() - started) / 1000;
      };
      // At most ~50,000 entities per materialize() call (time slices of that day, one after another, timed together):
      // one call of 1M entities × 50 features took 21 GB of memory.
      const slices = String(Math.ceil(count / 50_000));
      const feastMaterialize = async () => (await runJson<{ seconds: number }>(python, [FEAST_SCRIPT, 'materialize', '--repo', repo, '--view', view, '--start', materializeStart, '--end', new Date().toISOString(), '--slices', slices])).result.seconds;
      const fw: number[] = [];
      const fe: number[] = [];
      const { load } = await withLoad(async () => {
        for (let i = 0; i < options.materializeRuns; i++) {
          fw.push(await flywheelMaterialize());
          fe.push(await feastMaterialize());
          if (i === 0) {
            // The check: both stores hold the Parquet file's values for sample items. Timings are reported only if it passes.
            const ids = sampleIds(count);
            const expected = await expectedItems(engine, join(data, file), ids, sizes.features);
            const names = itemFeatureNames(sizes.features);
            const fromFlywheel = await store.read(ids.map((id) => ({ view, key: [id], ttlSeconds: 30 * 86_400 })), new Date());
            compareValues(`Flywheel's online store, ${view}`, ids, expected, (id) => {
              const found = fromFlywheel[ids.indexOf(id)]!;
              return found.status === 'present' ? names.map((n) => found.values[n]) : undefined;
            });
            const fromFeast = (await runJson<{ values: Record<string, unknown[]> }>(python, [FEAST_SCRIPT, 'online', '--repo', repo, '--view', view, '--features', String(sizes.features), '--ids', ids.join(',')])).result.values;
            compareValues(`Feast's online store, ${view}`, ids, expected, (id) => fromFeast[String(id)]);
            say(`materialization check, ${view}: ${ids.length} sample items equal in both stores and the Parquet file`);
          }
          say(`  materialization run ${i + 1}, ${int(count)} entities: Flywheel ${secs(fw.at(-1)!)}, Feast ${secs(fe.at(-1)!)}, load ${loadavg()[0]!.toFixed(2)}`);
        }
      });
      const rate = (s: number) => `${secs(s)} (${int(count / s)} rows/s)`;
      rows.push({ case: `materialization into Redis, ${int(count)} entities × ${sizes.features} features`, flywheel: rate(best(fw)), feast: rate(best(fe)), advantage: best(fe) / best(fw), load });
    }

    // 3. Serving, from what materialization wrote into the same Redis.
    const flywheelServer = await startServer('flywheel serve (bench/serving.ts --serve flywheel)', process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'bench', 'serving.ts'), '--serve', 'flywheel', '--redis-url', redis.url, '--features', String(sizes.features)],
      { ...process.env, FLYWHEEL_TOKENS: `${TOKEN}=read` },
      async (output) => /listening on (http:\/\/\S+)/.exec(output)?.[1]);
    stops.push(() => flywheelServer.stop());
    const feastPort = await freePort();
    const feastOrigin = `http://127.0.0.1:${feastPort}`;
    const feastServer = await startServer('feast serve', join(FEAST_ENV_DIR, 'bin', 'feast'),
      ['-c', repo, 'serve', '-h', '127.0.0.1', '-p', String(feastPort), '--no-access-log', '--workers', '1', '--max-requests', '0'],
      process.env,
      async () => ((await fetch(`${feastOrigin}/health`).catch(() => undefined))?.status === 200 ? feastOrigin : undefined));
    stops.push(() => feastServer.stop());
    const origins: Record<Subject, string> = { flywheel: flywheelServer.url, feast: feastServer.url };
    {
      const ids = sampleIds(sizes.items);
      const expected = await expectedItems(engine, join(data, 'items.parquet'), ids, sizes.features);
      for (const subject of ['flywheel', 'feast'] as const) {
        const answer = await served(subject, origins[subject], ids, sizes.features);
        compareValues(`${subject}'s served values`, ids, expected, (id) => answer.get(id));
      }
      say(`serving check: ${ids.length} sample items served with the Parquet file's values by both servers`);
    }
    for (const [entities, connections] of [[1, 1], [1, 10], [100, 1], [100, 10]] as const) {
      const results: Record<Subject, { rps: number; p50: number; p99: number }[]> = { flywheel: [], feast: [] };
      const { load } = await withLoad(async () => {
        for (const subject of ['flywheel', 'feast'] as const) await hammer(subject, origins[subject], entities, sizes.items, connections, 2);
        for (let i = 0; i < options.runs; i++) {
          for (const subject of ['flywheel', 'feast'] as const) results[subject].push(await hammer(subject, origins[subject], entities, sizes.items, connections, options.duration));
        }
      });
      const top = (subject: Subject) => [...results[subject]].sort((a, b) => b.rps - a.rps)[0]!;
      const cell = (subject: Subject) => `${int(top(subject).rps)} req/s, p50 ${top(subject).p50} ms, p99 ${top(subject).p99} ms`;
      rows.push({ case: `serving ${entities === 1 ? '1 entity' : `${entities} entities`} × ${sizes.features} features, ${connections} connection${connections === 1 ? '' : 's'}`, flywheel: cell('flywheel'), feast: cell('feast'), advantage: top('flywheel').rps / top('feast').rps, load });
      say(`  serving ${entities} × ${connections}: Flywheel ${cell('flywheel')}; Feast ${cell('feast')}`);
    }
    const { stdout: uptimeEnd } = await runText('uptime');
    say(`uptime at the end: ${uptimeEnd.trim()}`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => process.stderr.write(`cleanup: ${String(error)}\n`));
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

function runText(command: string): Promise<{ stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, [], { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', () => resolve({ stdout: '(unavailable)' }));
    child.on('close', () => resolve({ stdout }));
  });
}

export function printPeerTable(rows: readonly Row[]): void {
  process.stdout.write(
    `\n| case | Flywheel | Feast 0.67.0 | Flywheel's advantage | load (1 min, start → end) |\n|---|---|---|---|---|\n` +
      rows.map((r) => `| ${r.case} | ${r.flywheel} | ${r.feast} | ${r.advantage.toFixed(1)}× | ${r.load} |`).join('\n') +
      '\n',
  );
}

/** Parses the peer benchmark's options (shared with `npm run bench -- --peers`). */
export function peerOptions(args: string[]) {
  const { values } = parseArgs({ args, strict: false, options: { scale: { type: 'string', default: 'small' }, runs: { type: 'string' }, 'materialize-runs': { type: 'string' }, duration: { type: 'string' }, port: { type: 'string', default: '7311' } } });
  const scale = values.scale === 'full' ? 'full' : values.scale === 'small' ? 'small' : undefined;
  if (!scale) throw new Error(`--scale must be small or full, not ${String(values.scale)}`);
  return {
    scale,
    runs: Number(values.runs ?? 2),
    // Feast writes about 1,000–8,000 rows/s: at full scale one run of 1M entities takes minutes.
    materializeRuns: Number(values['materialize-runs'] ?? (scale === 'full' ? 1 : 2)),
    duration: Number(values.duration ?? (scale === 'full' ? 10 : 3)),
    port: Number(values.port),
  } as const;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printPeerTable(await benchPeersFeast(peerOptions(process.argv.slice(2))));
}
