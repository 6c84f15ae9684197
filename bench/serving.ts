/**
 * The serving API (`POST /v1/features`) against a floor, with Redis on loopback (issue 17, item 4):
 *
 * - the floor (bench/floors/serving-floor.ts): a minimal node:http server that reads the same
 *   request, sends one `MGET` of the same keys in the same string layout and concatenates the stored
 *   JSON arrays into its answer, without validation, ttl, statuses, event times or decision id;
 * - Flywheel: `flywheel serve`'s server (the log API and serving, one process) over the
 *   RedisOnlineStore, for a feature service of `--features` features of one view;
 * - Flywheel on Redis Cluster: the same server over the RedisClusterOnlineStore, on a three-master
 *   cluster started here (test/setup/redis-cluster.ts; `--redis-cluster-urls` for another), loaded
 *   with the same entities: what one MGET per slot, pipelined per shard, costs against one MGET.
 *   `--skip-cluster` leaves it out. Not in the fresh-start phase.
 *
 * `--entities` entities are loaded once, by Flywheel's `writeEncoded`, into one redis-server started
 * here (or `--redis-url`); both servers read those records. Both run as child processes; this process
 * is the client. Every phase first checks that both answer the stored values for a sample of keys.
 *
 * 1. **The first requests after start** (the goal: p99 ≤ 2 ms for 1 entity, ≤ 3 ms for 100
 *    candidates): for each size, a fresh Flywheel and a fresh floor are started (Flywheel warms
 *    itself before it says it listens: requests of keys sampled from the store and of made-up keys
 *    through its request path, in process and over loopback; the floor does not), and answer `--first-requests` (1,000) sequential requests on a keep-alive
 *    connection, taking turns in blocks of 100; every one is measured. A third server, Flywheel started
 *    without its warm-up, takes the same turns, to show what the warm-up does. The client is a process
 *    of its own (`--measure-first`, with a young generation of 64 MB), warmed first (`--warm-client`
 *    requests to a throwaway floor) before the servers start, so neither the driver's heap (a million
 *    entities loaded) nor the client's own compilation is in the figures; its GC pauses are reported.
 * 2. **Steady state**: one Flywheel and one floor (and the cluster's) answer `--warm-servers`
 *    unmeasured requests of every size, then latency for 1, 100 and 500 candidates as above (after
 *    `--warm-up` more untimed, back to back and with `--pace` ms between requests; back to back, the
 *    client is a process of its own as in phase 1, `--steady`), then throughput:
 *    autocannon with `--connections` connections of `--throughput-rows`-candidate requests (100) for
 *    `--duration` seconds, best of 2 each, alternating, in entity rows per second (goal: Flywheel ≥ 70%
 *    of the floor); Flywheel both as asked by default (values, statuses and event times: an answer
 *    about six times the floor's) and asked for `"metadata": false` (the same values as the floor's);
 *    and a second floor answering the default answer's bytes (serving-floor.ts `--metadata`), to show
 *    what those bytes cost any server apart from building them.
 *
 *   npx tsx bench/serving.ts [--entities 1000000] [--features 50] [--first-requests 1000] [--warm-client 3000] [--requests 2000] [--warm-up 200] [--warm-servers 5000] [--pace 0] [--duration 10] [--connections 10] [--throughput-rows 100] [--redis-url redis://…] [--skip-cluster | --redis-cluster-urls redis://…,redis://…]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { percentile, timedPost } from './measure.ts';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { OnlineStore } from '../connectors/online-store/online-store.ts';
import { RedisClusterOnlineStore } from '../connectors/online-store/redis-cluster/redis-cluster-online-store.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { startRedisCluster } from '../test/setup/redis-cluster.ts';
import { startRedis } from './redis-server.ts';
import type { ServingWarmUpOptions } from '../server/serving/warm-up.ts';
import { startFlywheelServing } from './serving-server.ts';

export const VIEW = 'item_features';
export const SERVICE = 'ranking';
export const TOKEN = 'bench-token';
export const KEY_PREFIX = 'fw:bench:';

export const featureNames = (features: number): string[] => Array.from({ length: features }, (_, i) => `f${i}`);

/** The values of entity `id`: deterministic, two decimals, so both layouts hold the same numbers. */
export function valuesOf(id: number, features: number): number[] {
  const out = new Array<number>(features);
  let x = (id * 2_654_435_761) >>> 0;
  for (let i = 0; i < features; i++) {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    out[i] = (x % 1_000_000) / 100;
  }
  return out;
}

// --- child mode: one server, printing its URL, until SIGTERM -----------------------------------------

async function serveFlywheel(redis: { redisUrl: string } | { clusterUrls: string[] }, features: number, warmUp: boolean | ServingWarmUpOptions = true): Promise<void> {
  // Its start-up lines (what the warm-up did) on stdout: the driver reads only `listening on`; bench/serving-first-trace.ts keeps them.
  const server = await startFlywheelServing({ ...redis, features, warmUp, log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`listening on ${server.url}\n`);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

// --- client mode: the first requests after start, measured from a process of their own ---------------

/**
 * The client of phase 1 in a process of its own (`--measure-first`), so that what the driver did
 * before (loading a million entities, starting servers) leaves no heap to collect and no compiled
 * state behind in the process that measures. It warms itself against a throwaway floor
 * (`--warm-url`, `--warm-client` requests of 1 and 100 rows), prints `warmed`, then reads one line on
 * stdin, `{"flywheel": url, "floor": url, "unwarmed": url}` (fresh servers, started after it
 * warmed), measures `--first-requests` requests of `--rows` rows to each (takeTurns) and prints one
 * line `first-requests {…}`: each server's latencies and this process's GC pauses while measuring.
 */
async function measureFirstRequests(options: ServingBenchOptions & { rows: number; warmUrl: string }): Promise<void> {
  await takeTurns({ floor: new URL(options.warmUrl + PATH) }, options.warmClient, (i) => randomIds(i % 2 === 0 ? 1 : 100, options.entities));
  process.stdout.write('warmed\n');
  const line = await new Promise<string>((resolve) => {
    let input = '';
    process.stdin.on('data', (chunk: Buffer) => {
      input += chunk.toString();
      if (input.includes('\n')) resolve(input.slice(0, input.indexOf('\n')));
    });
  });
  process.stdin.pause();
  const urls = Object.fromEntries(Object.entries(JSON.parse(line) as Record<string, string>).map(([subject, url]) => [subject, new URL(url + PATH)])) as Partial<Record<Subject, URL>>;
  // Steady state (`--steady`): the servers are warm already; the first `--warm-up` requests go unmeasured as in the driver's own latencies().
  const measured = await latencies(urls, options.rows, options.firstRequests, options.entities, 0, options.steady ? options.warmUp : 0);
  process.stdout.write(`first-requests ${JSON.stringify(measured)}\n`);
}

/**
 * Starts the measuring client (measureFirstRequests) and waits until it has warmed; `measure` hands
 * it the fresh servers and resolves with what it measured. `--max-semi-space-size=64`: a young
 * generation large enough that the client's own scavenges (it reads answers of a few hundred
 * kilobytes) are rare, so they land in few of the servers' samples; they are still counted.
 */
async function startMeasuringClient(
  options: ServingBenchOptions,
  rows: number,
  warmUrl: string,
  steady?: { requests: number; warmUp: number },
): Promise<{ measure: (urls: Partial<Record<Subject, string>>) => Promise<Partial<Record<Subject, Latency>> & { clientGc: ClientGc }> }> {
  const args = [
    '--max-semi-space-size=64', '--import', 'tsx', fileURLToPath(import.meta.url), '--measure-first', '--rows', String(rows), '--warm-url', warmUrl,
    '--warm-client', String(options.warmClient), '--first-requests', String(steady?.requests ?? options.firstRequests), '--entities', String(options.entities),
    ...(steady ? ['--steady', '--warm-up', String(steady.warmUp)] : []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  /** Resolves with the first match of `pattern` in the client's output (polled: the output is a few lines). */
  const next = async (pattern: RegExp): Promise<RegExpExecArray> => {
    let code: number | null | undefined;
    void exited.then((c) => (code = c));
    for (;;) {
      const match = pattern.exec(out);
      if (match) return match;
      if (code !== undefined) throw new Error(`the measuring client exited with ${code}: ${out.slice(-300)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await next(/^warmed$/m);
  return {
    measure: async (urls) => {
      child.stdin.end(`${JSON.stringify(urls)}\n`);
      const match = await next(/^first-requests (.*)$/m);
      await exited;
      return JSON.parse(match[1]!) as Partial<Record<Subject, Latency>> & { clientGc: ClientGc };
    },
  };
}

// --- driver ------------------------------------------------------------------------------------------

/** Flywheel on one Redis, the floor on the same Redis, Flywheel on the Redis Cluster. */
/** `unwarmed`: Flywheel without its start-up warm-up, beside it in the first-requests phase, to show what the warm-up does. */
/** `metadataFloor`: the floor answering the bytes of Flywheel's default answer (serving-floor.ts `--metadata`), in the throughput phase only. */
type Subject = 'flywheel' | 'floor' | 'cluster' | 'unwarmed' | 'metadataFloor';
const SUBJECT_NAMES: Record<Subject, string> = { flywheel: 'Flywheel', floor: 'floor', cluster: 'Flywheel on Redis Cluster', unwarmed: 'Flywheel without warm-up', metadataFloor: 'floor with metadata' };

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

const FLOOR_SCRIPT = fileURLToPath(new URL('./floors/serving-floor.ts', import.meta.url));

/** The process id of each server started, by its URL's origin: throughput() reads its CPU time. */
const serverPids = new Map<string, number>();

/** CPU seconds (user + system) the process `pid` has used so far, from /proc (Linux). */
async function cpuSecondsOf(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Starts a server as a child process; `startMs` is how long it took from spawn to listening (its warm-up included). */
async function startChild(subject: Subject, redisUrl: string, features: number): Promise<{ url: string; startMs: number; stop: () => Promise<void> }> {
  const where = subject === 'cluster' ? ['--redis-cluster-urls', redisUrl] : ['--redis-url', redisUrl];
  const args =
    subject === 'floor' || subject === 'metadataFloor'
      ? [FLOOR_SCRIPT, '--redis-url', redisUrl, '--key-prefix', KEY_PREFIX, '--view', VIEW, ...(subject === 'metadataFloor' ? ['--metadata', String(features)] : [])]
      : [fileURLToPath(import.meta.url), '--serve', subject, ...where, '--features', String(features)];
  const spawned = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, FLYWHEEL_TOKENS: `${TOKEN}=read` },
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`${subject} server exited with ${code}`)));
  });
  serverPids.set(new URL(url).origin, child.pid!);
  return {
    url,
    startMs: performance.now() - spawned,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Both servers take the same path and body; the floor ignores `service`. */
const PATH = '/v1/features';

function bodyOf(_subject: Subject, ids: readonly number[]): string {
  return JSON.stringify({ service: SERVICE, entities: ids.map((id) => ({ item_id: id })) });
}

function randomIds(n: number, entities: number): number[] {
  return Array.from({ length: n }, () => Math.floor(Math.random() * entities));
}

/**
 * One POST on a keep-alive agent; resolves with the time it took, the status and the body. The body
 * is read whole but decoded only when asked for (errors, checks): decoding every answer (100 rows are
 * ~300 KB of JSON) made garbage whose GC pauses in this process landed in later samples of both servers.
 */


interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
}

type ClientGc = { count: number; major: number; longestMs: number; totalMs: number };

/** This process's GC pauses from now until `stop()`: the client's own pauses land in both servers' samples. */
function clientGcPauses(): { stop(): ClientGc } {
  const entries: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      entries.push(...observer.takeRecords());
      observer.disconnect();
      // detail.kind: 1 a scavenge, 2 minor mark-sweep, 4 mark-compact, 8 incremental marking, 16 weak callbacks.
      const major = entries.filter((e) => ((e as { detail?: { kind?: number } }).detail?.kind ?? 0) !== 1).length;
      return { count: entries.length, major, longestMs: Math.max(0, ...entries.map((e) => e.duration)), totalMs: entries.reduce((sum, e) => sum + e.duration, 0) };
    },
  };
}

/**
 * `count` requests to each server with the same keys (`keysOf(i)` for the i-th), one at a time on a
 * keep-alive connection, the servers taking turns in blocks of 100 requests (so drift in the
 * machine's load hits both alike, while a server stays busy long enough not to be measured waking up
 * from idle between two requests). `onBlock` runs before each block, `onAnswer` after each answer.
 */
async function takeTurns(
  urls: Partial<Record<Subject, URL>>,
  count: number,
  keysOf: (i: number) => number[],
  options: { readonly paceMs?: number; readonly onBlock?: (first: number) => void; readonly onAnswer?: (subject: Subject, i: number, ms: number) => void } = {},
): Promise<void> {
  const subjects = Object.keys(urls) as Subject[];
  const agents = Object.fromEntries(subjects.map((subject) => [subject, new Agent({ keepAlive: true, maxSockets: 1 })])) as Record<Subject, Agent>;
  const block = 100;
  try {
    for (let first = 0; first < count; first += block) {
      options.onBlock?.(first);
      const ids = Array.from({ length: Math.min(block, count - first) }, (_, j) => keysOf(first + j));
      for (const subject of subjects) {
        for (const [j, keys] of ids.entries()) {
          if (options.paceMs) await new Promise((resolve) => setTimeout(resolve, options.paceMs));
          const { ms, status, text } = await timedPost(agents[subject], urls[subject]!, TOKEN, bodyOf(subject, keys));
          if (status !== 200) throw new Error(`${subject} answered ${status}: ${text().slice(0, 300)}`);
          options.onAnswer?.(subject, first + j, ms);
        }
      }
    }
  } finally {
    for (const agent of Object.values(agents)) agent.destroy();
  }
}

/** Unmeasured requests of every size to both servers, until V8 has compiled their request paths. */
async function warmServers(urls: Partial<Record<Subject, URL>>, requests: number, entities: number): Promise<void> {
  const sizes = [1, 1, 1, 100, 500];
  await takeTurns(urls, requests, (i) => randomIds(sizes[i % sizes.length]!, entities));
}

/** Sequential requests of `rows` random entities to both servers (takeTurns), the first `warmUpRequests` unmeasured. */
async function latencies(urls: Partial<Record<Subject, URL>>, rows: number, requests: number, entities: number, paceMs: number, warmUpRequests: number): Promise<Partial<Record<Subject, Latency>> & { clientGc: ReturnType<ReturnType<typeof clientGcPauses>['stop']> }> {
  const samples: Record<Subject, number[]> = { flywheel: [], floor: [], cluster: [], unwarmed: [], metadataFloor: [] };
  const warmUp = Math.min(warmUpRequests, requests);
  let gc: ReturnType<typeof clientGcPauses> | undefined;
  await takeTurns(urls, requests + warmUp, () => randomIds(rows, entities), {
    paceMs,
    onBlock: (first) => {
      if (first >= warmUp) gc ??= clientGcPauses();
    },
    onAnswer: (subject, i, ms) => {
      if (i >= warmUp) samples[subject].push(ms);
    },
  });
  const summary = (xs: number[]): Latency => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9) };
  };
  return { ...Object.fromEntries((Object.keys(urls) as Subject[]).map((subject) => [subject, summary(samples[subject])])), clientGc: gc!.stop() };
}

/** `valuesOnly`: Flywheel asked for `"metadata": false`, an answer of the same values as the floor's (no statuses, no event times). */
/**
 * `serverCpuMs` and `clientCpuMs`: CPU milliseconds per request of the server's process and of this
 * one (autocannon) over the run: on a shared 2-core machine throughput swings with the load, CPU per
 * request much less.
 */
async function throughput(subject: Subject, url: URL, options: { connections: number; duration: number; entities: number; rows: number; valuesOnly?: boolean }): Promise<{ rowsPerSecond: number; p99Ms: number; serverCpuMs: number; clientCpuMs: number }> {
  const bodyOfIds = (ids: number[]) => (options.valuesOnly ? JSON.stringify({ service: SERVICE, metadata: false, entities: ids.map((id) => ({ item_id: id })) }) : bodyOf(subject, ids));
  const requests = Array.from({ length: 64 }, () => ({ method: 'POST', path: PATH, body: bodyOfIds(randomIds(options.rows, options.entities)) }));
  const pid = serverPids.get(url.origin)!;
  const serverBefore = await cpuSecondsOf(pid);
  const clientBefore = process.cpuUsage();
  const result = await autocannon({
    url: url.origin,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    requests,
    connections: options.connections,
    duration: options.duration,
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${subject}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  const client = process.cpuUsage(clientBefore);
  const answered = result['2xx'];
  return {
    rowsPerSecond: (answered * options.rows) / result.duration,
    p99Ms: result.latency.p99,
    serverCpuMs: ((await cpuSecondsOf(pid)) - serverBefore) * 1000 / answered,
    clientCpuMs: (client.user + client.system) / 1000 / answered,
  };
}

/** Writes every entity through a Flywheel store (writeEncoded, the newer-wins script); returns how long it took. */
async function loadStore(store: OnlineStore, entities: number, features: number): Promise<number> {
  const names = featureNames(features);
  const eventMicros = Date.now() * 1000;
  const batch = 10_000;
  const start = performance.now();
  for (let first = 0; first < entities; first += batch) {
    const rows = [];
    for (let id = first; id < Math.min(entities, first + batch); id++) rows.push({ key: [id], eventMicros, values: JSON.stringify(valuesOf(id, features)) });
    await store.writeEncoded({ view: VIEW, features: names, rows });
  }
  const ms = performance.now() - start;
  await store.close();
  return ms;
}

/** Checks that both servers answer the stored values for a few keys, so the two do the same work. */
async function checkAnswers(urls: Partial<Record<Subject, URL>>, entities: number, features: number): Promise<void> {
  const agent = new Agent({ keepAlive: false });
  const ids = [0, entities - 1, Math.floor(entities / 2)];
  const expected = ids.map((id) => valuesOf(id, features));
  for (const subject of Object.keys(urls) as Subject[]) {
    const answer = await timedPost(agent, urls[subject]!, TOKEN, bodyOf(subject, ids));
    const { status } = answer;
    const text = answer.text();
    const body = JSON.parse(text) as { rows: { values: unknown[]; statuses?: string[] }[] };
    const got = body.rows.map((r) => r.values);
    if (status !== 200 || JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`${subject} answered ${status} with other values: ${text.slice(0, 300)}`);
    if (subject !== 'floor' && body.rows.some((r) => r.statuses?.some((s) => s !== 'present'))) throw new Error(`flywheel: not every feature is present: ${text.slice(0, 300)}`);
  }
  agent.destroy();
}

export interface ServingBenchOptions {
  readonly entities: number;
  readonly features: number;
  /** Requests of each size measured from a fresh start (phase 1). */
  readonly firstRequests: number;
  /** Unmeasured requests this client sends a throwaway floor before phase 1. */
  readonly warmClient: number;
  readonly requests: number;
  readonly warmUp: number;
  readonly warmServers: number;
  readonly duration: number;
  readonly connections: number;
  readonly throughputRows: number;
  readonly paceMs: number[];
  readonly redisUrl?: string;
  readonly cluster: boolean;
  readonly clusterUrls?: string[];
  /** Phase 1 only. */
  readonly skipSteady?: boolean;
  /** The measuring client (`--measure-first`) measures warm servers, its first `warmUp` requests unmeasured. */
  readonly steady?: boolean;
}

/** What the run measured, for a caller that writes it down (bench/run.ts prints it). */
export interface ServingFigures {
  readonly firstRequests: Record<number, { flywheel: Latency; floor: Latency; unwarmed: Latency; flywheelStartMs: number; floorStartMs: number; unwarmedStartMs: number }>;
  readonly throughput: { flywheel: number; flywheelValuesOnly: number; floor: number; metadataFloor?: number; cluster?: number };
}

const fmtLatency = (l: Latency) => `p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, p99.9 ${l.p999.toFixed(2)} ms`;
const loadAverage = async () => (await readFile('/proc/loadavg', 'utf8').catch(() => '? ? ?')).split(' ').slice(0, 3).join(' ');

/** The p99 goals of the first requests after start, by request size. */
const FIRST_REQUESTS_P99_GOAL_MS: Record<number, number> = { 1: 2, 100: 3 };
/** Flywheel's throughput goal, as a share of the floor's. */
const THROUGHPUT_GOAL = 0.7;

export async function benchServing(options: ServingBenchOptions): Promise<ServingFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-serving-'));
  const redis = options.redisUrl ? { url: options.redisUrl, stop: async () => undefined } : await startRedis(dir);
  const cluster = !options.cluster ? undefined : options.clusterUrls ? { urls: options.clusterUrls, stop: async () => undefined } : await startRedisCluster({ startTimeoutMs: 60_000 });
  const children: { stop: () => Promise<void> }[] = [];
  const stopAll = async () => {
    for (const child of children.splice(0)) await child.stop();
  };
  const figures: { firstRequests: ServingFigures['firstRequests']; throughput?: ServingFigures['throughput'] } = { firstRequests: {} };
  try {
    process.stdout.write(`node ${process.version}, ${cpus().length} cores; ${options.entities.toLocaleString('en')} entities × ${options.features} features, Redis ${redis.url}${cluster ? `, Redis Cluster ${cluster.urls.join(',')}` : ''}; load average ${await loadAverage()}\n`);
    const loadedMs = await loadStore(new RedisOnlineStore({ url: redis.url, keyPrefix: KEY_PREFIX }), options.entities, options.features);
    process.stdout.write(`loaded (writeEncoded, newer-wins script) in ${(loadedMs / 1000).toFixed(1)} s = ${Math.round(options.entities / (loadedMs / 1000)).toLocaleString('en')} rows/s\n`);

    // --- 1. the first requests after start ---
    process.stdout.write(
      `\nThe first ${options.firstRequests} requests after start (fresh servers, started after the client warmed; ` +
        `the client a process of its own, warmed by ${options.warmClient} requests to a throwaway floor); load average ${await loadAverage()}\n`,
    );
    for (const rows of [1, 100]) {
      const warmer = await startChild('floor', redis.url, options.features);
      children.push(warmer);
      const client = await startMeasuringClient(options, rows, warmer.url);
      await stopAll();
      const flywheel = await startChild('flywheel', redis.url, options.features);
      children.push(flywheel);
      const floor = await startChild('floor', redis.url, options.features);
      children.push(floor);
      const unwarmed = await startChild('unwarmed', redis.url, options.features);
      children.push(unwarmed);
      const measured = await client.measure({ flywheel: flywheel.url, floor: floor.url, unwarmed: unwarmed.url });
      const urls: Partial<Record<Subject, URL>> = { flywheel: new URL(flywheel.url + PATH), floor: new URL(floor.url + PATH), unwarmed: new URL(unwarmed.url + PATH) };
      // Checked after the measured requests (a check before them would be a request after start), before the figures count.
      await checkAnswers(urls, options.entities, options.features);
      await stopAll();
      figures.firstRequests[rows] = { flywheel: measured.flywheel!, floor: measured.floor!, unwarmed: measured.unwarmed!, flywheelStartMs: flywheel.startMs, floorStartMs: floor.startMs, unwarmedStartMs: unwarmed.startMs };
      const goal = FIRST_REQUESTS_P99_GOAL_MS[rows]!;
      process.stdout.write(
        `  ${rows === 1 ? '1 entity' : `${rows} candidates`}: Flywheel ${fmtLatency(measured.flywheel!)} (started in ${Math.round(flywheel.startMs)} ms, warm-up included); ` +
          `floor ${fmtLatency(measured.floor!)} (started in ${Math.round(floor.startMs)} ms); ` +
          `Flywheel without warm-up ${fmtLatency(measured.unwarmed!)} (started in ${Math.round(unwarmed.startMs)} ms); ` +
          `goal p99 ≤ ${goal} ms: ${measured.flywheel!.p99 <= goal ? 'met' : 'not met'}; client GC ${measured.clientGc.count} pauses, ${measured.clientGc.totalMs.toFixed(1)} ms; load average ${await loadAverage()}\n`,
      );
    }

    if (options.skipSteady) return { firstRequests: figures.firstRequests, throughput: { flywheel: 0, flywheelValuesOnly: 0, floor: 0 } };
    // --- 2. steady state ---
    const flywheel = await startChild('flywheel', redis.url, options.features);
    children.push(flywheel);
    const floor = await startChild('floor', redis.url, options.features);
    children.push(floor);
    const urls: Partial<Record<Subject, URL>> = { flywheel: new URL(flywheel.url + PATH), floor: new URL(floor.url + PATH) };
    if (cluster) {
      const clusterMs = await loadStore(new RedisClusterOnlineStore({ urls: [...cluster.urls], keyPrefix: KEY_PREFIX }), options.entities, options.features);
      process.stdout.write(`loaded the Redis Cluster (${cluster.urls.length} masters; writeEncoded, one newer-wins script call per slot) in ${(clusterMs / 1000).toFixed(1)} s = ${Math.round(options.entities / (clusterMs / 1000)).toLocaleString('en')} rows/s\n`);
      const onCluster = await startChild('cluster', cluster.urls.join(','), options.features);
      children.push(onCluster);
      urls.cluster = new URL(onCluster.url + PATH);
    }
    await checkAnswers(urls, options.entities, options.features);
    // Throughput only: the bytes of the default answer from the least server that can send them.
    const metadataFloor = await startChild('metadataFloor', redis.url, options.features);
    children.push(metadataFloor);
    const metadataFloorUrl = new URL(metadataFloor.url + PATH);
    await checkAnswers({ metadataFloor: metadataFloorUrl }, options.entities, options.features);

    const warmed = performance.now();
    await warmServers(urls, options.warmServers, options.entities);
    process.stdout.write(`\nSteady state. Warm-up: ${options.warmServers} unmeasured requests to each server (1, 1, 1, 100 and 500 entities in turn) in ${((performance.now() - warmed) / 1000).toFixed(1)} s\n`);
    for (const rows of [1, 100, 500]) {
      const requests = rows === 1 ? options.requests : Math.max(200, Math.round(options.requests / (rows / 50)));
      for (const paceMs of options.paceMs) {
        // Back to back, the client is a process of its own as in phase 1 (warmed against the floor, which is warm already):
        // the driver, which loaded a million entities, collected its old generation 36-38 times over the 100-candidate
        // phase, mostly while it read Flywheel's larger answers, so its pauses were charged to Flywheel.
        const measured =
          paceMs === 0
            ? await (await startMeasuringClient(options, rows, floor.url, { requests, warmUp: options.warmUp })).measure(Object.fromEntries(Object.entries(urls).map(([s, u]) => [s, u.origin])))
            : await latencies(urls, rows, requests, options.entities, paceMs, options.warmUp);
        const line = (s: Subject) => `${SUBJECT_NAMES[s]} ${fmtLatency(measured[s]!)}`;
        const pace = paceMs === 0 ? 'back to back' : `${paceMs} ms between requests`;
        const { clientGc } = measured;
        process.stdout.write(
          `  ${rows === 1 ? '1 entity' : `${rows} candidates`}, one client, ${requests} requests ${pace}: ${(Object.keys(urls) as Subject[]).map(line).join('; ')} ` +
            `(client GC: ${clientGc.count} pauses (${clientGc.major} major), ${clientGc.totalMs.toFixed(1)} ms, longest ${clientGc.longestMs.toFixed(2)} ms)\n`,
        );
      }
    }
    const load = { connections: options.connections, duration: options.duration, entities: options.entities, rows: options.throughputRows };
    const subjects = Object.keys(urls) as Subject[];
    for (const subject of subjects) await throughput(subject, urls[subject]!, { ...load, duration: 2 });
    await throughput('metadataFloor', metadataFloorUrl, { ...load, duration: 2 });
    const loadBefore = await loadAverage();
    await throughput('flywheel', urls.flywheel!, { ...load, duration: 2, valuesOnly: true });
    const runs: Record<Subject, number[]> = { flywheel: [], floor: [], cluster: [], unwarmed: [], metadataFloor: [] };
    const valuesOnlyRuns: number[] = [];
    /** CPU ms per request (server, client), the least of the runs, by what was measured. */
    const cpu = new Map<string, { server: number; client: number }>();
    const keep = (name: string, run: Awaited<ReturnType<typeof throughput>>) => {
      const seen = cpu.get(name);
      cpu.set(name, { server: Math.min(seen?.server ?? Infinity, run.serverCpuMs), client: Math.min(seen?.client ?? Infinity, run.clientCpuMs) });
      return run.rowsPerSecond;
    };
    for (let i = 0; i < 2; i++) {
      for (const subject of subjects) {
        runs[subject].push(keep(SUBJECT_NAMES[subject], await throughput(subject, urls[subject]!, load)));
        if (subject === 'flywheel') valuesOnlyRuns.push(keep('Flywheel, values only', await throughput(subject, urls[subject]!, { ...load, valuesOnly: true })));
      }
      runs.metadataFloor.push(keep(SUBJECT_NAMES.metadataFloor, await throughput('metadataFloor', metadataFloorUrl, load)));
    }
    const best = (xs: number[]) => Math.max(...xs);
    const ratio = best(runs.flywheel) / best(runs.floor);
    const valuesOnlyRatio = best(valuesOnlyRuns) / best(runs.floor);
    figures.throughput = { flywheel: best(runs.flywheel), flywheelValuesOnly: best(valuesOnlyRuns), floor: best(runs.floor), metadataFloor: best(runs.metadataFloor), ...(urls.cluster ? { cluster: best(runs.cluster) } : {}) };
    process.stdout.write(
      `\nThroughput, ${options.connections} connections × ${options.throughputRows} candidates, ${options.duration} s, best of 2: Flywheel ${Math.round(best(runs.flywheel)).toLocaleString('en')} entity rows/s (runs ${runs.flywheel.map(Math.round).join(', ')}); ` +
        `Flywheel asked for values only ("metadata": false, the floor's answer) ${Math.round(best(valuesOnlyRuns)).toLocaleString('en')} entity rows/s (runs ${valuesOnlyRuns.map(Math.round).join(', ')}); ` +
        `floor ${Math.round(best(runs.floor)).toLocaleString('en')} entity rows/s (runs ${runs.floor.map(Math.round).join(', ')}); ` +
        `floor answering the default answer's bytes (--metadata) ${Math.round(best(runs.metadataFloor)).toLocaleString('en')} entity rows/s (runs ${runs.metadataFloor.map(Math.round).join(', ')}), ` +
        `${(100 * best(runs.metadataFloor) / best(runs.floor)).toFixed(0)}% of the floor; Flywheel's default answer at ${(100 * best(runs.flywheel) / best(runs.metadataFloor)).toFixed(0)}% of it; ` +
        `Flywheel at ${(100 * ratio).toFixed(0)}% of the floor, values only ${(100 * valuesOnlyRatio).toFixed(0)}%; goal ≥ ${100 * THROUGHPUT_GOAL}%: ${ratio >= THROUGHPUT_GOAL ? 'met' : 'not met'}, values only ${valuesOnlyRatio >= THROUGHPUT_GOAL ? 'met' : 'not met'}` +
        (urls.cluster ? `; Flywheel on Redis Cluster ${Math.round(best(runs.cluster)).toLocaleString('en')} entity rows/s, ${(best(runs.cluster) / best(runs.flywheel)).toFixed(2)}× Flywheel on one Redis` : '') +
        `; load average ${loadBefore} → ${await loadAverage()}\n`,
    );
    process.stdout.write(
      `CPU ms per request, server / client (autocannon), least of 2 runs: ${[...cpu].map(([name, c]) => `${name} ${c.server.toFixed(3)} / ${c.client.toFixed(3)}`).join('; ')}\n`,
    );
  } finally {
    await stopAll();
    await redis.stop();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return { firstRequests: figures.firstRequests, throughput: figures.throughput! };
}

/** `bench/serving.ts`'s options from its command line (bench/run.ts passes its own arguments). */
export function servingOptions(argv: string[]): ServingBenchOptions & { serve?: string; measureFirst?: { rows: number; warmUrl: string } } {
  const { values } = parseArgs({
    args: argv,
    options: {
      serve: { type: 'string' },
      entities: { type: 'string', default: '1000000' },
      features: { type: 'string', default: '50' },
      'first-requests': { type: 'string', default: '1000' },
      'warm-client': { type: 'string', default: '3000' },
      requests: { type: 'string', default: '2000' },
      'warm-up': { type: 'string', default: '200' },
      'warm-servers': { type: 'string', default: '5000' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '10' },
      'throughput-rows': { type: 'string', default: '100' },
      pace: { type: 'string', default: '0' },
      'redis-url': { type: 'string' },
      'redis-cluster-urls': { type: 'string' },
      'skip-cluster': { type: 'boolean', default: false },
      'skip-steady': { type: 'boolean', default: false },
      'measure-first': { type: 'boolean', default: false },
      steady: { type: 'boolean', default: false },
      rows: { type: 'string', default: '1' },
      'warm-url': { type: 'string' },
    },
  });
  return {
    ...(values.serve !== undefined ? { serve: values.serve } : {}),
    ...(values['measure-first'] ? { measureFirst: { rows: Number(values.rows), warmUrl: values['warm-url']! } } : {}),
    entities: Number(values.entities),
    features: Number(values.features),
    firstRequests: Number(values['first-requests']),
    warmClient: Number(values['warm-client']),
    requests: Number(values.requests),
    warmUp: Number(values['warm-up']),
    warmServers: Number(values['warm-servers']),
    duration: Number(values.duration),
    connections: Number(values.connections),
    throughputRows: Number(values['throughput-rows']),
    paceMs: values.pace.split(',').map(Number),
    ...(values['redis-url'] ? { redisUrl: values['redis-url'] } : {}),
    cluster: !values['skip-cluster'] && !values['skip-steady'],
    skipSteady: values['skip-steady'],
    steady: values.steady,
    ...(values['redis-cluster-urls'] ? { clusterUrls: values['redis-cluster-urls'].split(',') } : {}),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { serve, measureFirst, ...options } = servingOptions(process.argv.slice(2));
  if (measureFirst) await measureFirstRequests({ ...options, ...measureFirst });
  // FLYWHEEL_BENCH_WARM_UP: the server's warm-up options as JSON (ServingWarmUpOptions), to try other bounds (bench/serving-first-trace.ts passes it on).
  else if (serve === 'flywheel') await serveFlywheel({ redisUrl: options.redisUrl! }, options.features, process.env.FLYWHEEL_BENCH_WARM_UP ? (JSON.parse(process.env.FLYWHEEL_BENCH_WARM_UP) as ServingWarmUpOptions) : true);
  else if (serve === 'unwarmed') await serveFlywheel({ redisUrl: options.redisUrl! }, options.features, false);
  else if (serve === 'cluster') await serveFlywheel({ clusterUrls: options.clusterUrls! }, options.features);
  else await benchServing(options);
}
