/**
 * The decision API (`POST /v1/decide`, docs/decide.md) against the serving endpoint alone
 * (`POST /v1/features`), in the same run on the same server (issue 18, item 2):
 *
 * - `--entities` items of `--features` float features (default 10,000 × 50) are loaded into a
 *   redis-server started here, through Flywheel's store; the ranking service serves all of them;
 * - the model: an ONNX MLP over the 50 features, `--hidden` (192) ReLU units then one sigmoid unit:
 *   50·192 + 192 + 192 + 1 = 9,985 parameters, written by core/models/onnx-writer.ts, registered and
 *   promoted in a local object store, scored by onnxruntime-web (WASM, one thread);
 * - one server process (`flywheel serve`'s server with serving and decide), this process the client.
 *
 * 1. **Latency, one client**: `--requests` (2,000) sequential requests of `--candidates` (100)
 *    random items on a keep-alive connection, after `--warm-up` (2,000) untimed ones each, the two endpoints
 *    taking turns in blocks of 100 so both see the same machine: p50, p99, p99.9 (goal: decide p99 ≤ 5 ms).
 *    Decide asks for the top 10 with epsilon 0.1.
 * 2. **The model's share**: the same model loaded here scores `--requests` batches of 100 rows
 *    (the rows a decide request hands it): p50 and p99 of `score` alone.
 * 3. **Throughput**: autocannon, `--connections` (10) connections for `--duration` (10) s on each
 *    endpoint, best of 2, alternating, in candidates per second; decide's as a share of serving's.
 *
 * Steady state is what the latency part measures: after 300 requests per endpoint the server was
 * still compiling its hot paths and growing its young generation (most requests over 3.5 ms fell in
 * the first 5 s: decide p99 5.0-5.2 ms, serving's 4.1 ms), after 2,000 it was not (2.5 and 1.7 ms);
 * `--warm-up 300` shows the former. A freshly started server's first requests are issue 17's
 * measure (bench/serving.ts).
 *
 * `--server-node-options "<flags>"` starts the server process with those Node flags (not this one).
 *
 *   npx tsx bench/decide.ts [--entities 10000] [--features 50] [--hidden 192] [--candidates 100] [--requests 2000] [--warm-up 2000] [--connections 10] [--duration 10] [--server-node-options "--max-semi-space-size=64"]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { percentile, timedPost } from './measure.ts';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadModelVersion } from '../connectors/model-runtime/index.ts';
import { promoteModelVersion, registerModelVersion } from '../connectors/model-store/model-store.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { entity } from '../core/definitions/entity.ts';
import { featureService } from '../core/definitions/feature-service.ts';
import { featureView } from '../core/definitions/feature-view.ts';
import { model } from '../core/definitions/model.ts';
import { source } from '../core/definitions/source.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { denseOnnxModel } from '../core/models/onnx-writer.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { storeModelVersions } from '../server/decide/store-model-versions.ts';
import { startLogServer, TokenTable } from '../server/index.ts';
import { streamSchemasOf } from '../server/stream-schema.ts';
import { startRedis } from './redis-server.ts';

const TOKEN = 'bench-token';
const KEY_PREFIX = 'fw:bench:';
const MODEL = 'bench_ranker';

interface Options {
  entities: number;
  features: number;
  hidden: number;
  candidates: number;
  requests: number;
  warmUp: number;
  connections: number;
  duration: number;
  /** The ranking service logs every decision (sample rate 1) to its decision stream, as a logged service would. */
  log: boolean;
  /** Where the server writes a V8 CPU profile (`node --cpu-prof`), or undefined. */
  cpuProf: string | undefined;
  /** Node flags for the server process only (`--server-node-options=--max-semi-space-size=64`: a larger young generation, measured in docs/benchmarks.md#decide; `flywheel serve` keeps Node's defaults). */
  serverNodeOptions: string[];
}

/** One view of `features` float features for `item`, a service of all of them, and an ONNX model over them. */
export function decideProject(features: number, options: { logged?: boolean } = {}): ProjectSpec {
  const names = Array.from({ length: features }, (_, i) => `f${i}`);
  const item = entity({ name: 'item', joinKeys: { item_id: 'int64' } });
  const items = source({ name: 'items', table: 'items', timestampField: 'ts', columns: { item_id: 'int64', ts: 'timestamp', ...Object.fromEntries(names.map((n) => [n, 'float64' as const])) } });
  const view = featureView({ name: 'item_features', entities: [item], source: items, ttl: '30d', online: true, features: Object.fromEntries(names.map((n) => [n, 'float64' as const])) });
  const service = featureService({ name: 'ranking', features: [view], ...(options.logged ? { logging: { sampleRate: 1 } } : {}) });
  const ranker = model({ name: MODEL, service, inputs: names, output: { name: 'click', kind: 'probability' }, artifact: { format: 'onnx' } });
  return validateProject([item, items, view, service, ranker].map((definition) => ({ file: 'bench/decide.ts', definition })));
}

/** Deterministic values in [0, 1) with two decimals. */
export function valuesOf(id: number, features: number): number[] {
  let x = (id * 2_654_435_761) >>> 0;
  return Array.from({ length: features }, () => {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    return (x % 100) / 100;
  });
}

/** A dense MLP `features → hidden (relu) → 1 (sigmoid)` with small deterministic weights. */
export function mlpBytes(features: number, hidden: number): { bytes: Uint8Array; parameters: number } {
  let seed = 7;
  const next = () => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return (seed / 2 ** 32 - 0.5) * 0.2;
  };
  const w1 = Array.from({ length: features }, () => Array.from({ length: hidden }, next));
  const b1 = Array.from({ length: hidden }, next);
  const w2 = Array.from({ length: hidden }, () => [next()]);
  const bytes = denseOnnxModel({ inputWidth: features, layers: [{ weights: w1, bias: b1, activation: 'relu' }, { weights: w2, bias: [0], activation: 'sigmoid' }] });
  return { bytes, parameters: features * hidden + hidden + hidden + 1 };
}

interface Collections {
  minor: number;
  minorMs: number;
  major: number;
  majorMs: number;
}

/** This process's garbage collections from now on, counted as they happen. */
function countCollections(): Collections {
  const collections = { minor: 0, minorMs: 0, major: 0, majorMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        collections.minor++;
        collections.minorMs += entry.duration;
      } else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        collections.major++;
        collections.majorMs += entry.duration;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  return collections;
}

/** The child: the server over the Redis and the object store the parent prepared. */
async function serve(dir: string, redisUrl: string, features: number, logged: boolean): Promise<void> {
  const project = decideProject(features, { logged });
  const store = new RedisOnlineStore({ url: redisUrl, keyPrefix: KEY_PREFIX });
  await store.ping();
  const versions = storeModelVersions({ project, store: new LocalObjectStore(join(dir, 'objects')), projectRoot: dir, log: (line) => process.stderr.write(`${line}\n`) });
  await versions.start();
  const server = await startLogServer({
    stateDir: join(dir, 'state'), streams: streamSchemasOf(project), tokens: TokenTable.parse(`${TOKEN}=read`), port: 0, log: () => undefined,
    serving: { project, store }, decide: { project, versions },
  });
  // The server's garbage collections, said on SIGUSR2 (the bench asks before and after its latency part).
  const collections = countCollections();
  process.on('SIGUSR2', () => process.stdout.write(`collections ${JSON.stringify(collections)}\n`));
  process.stdout.write(`listening on ${server.url}\n`);
  // Keep-alive connections of the load generator may linger: exit at once after the close or within 2 s.
  process.once('SIGTERM', () => {
    setTimeout(() => process.exit(0), 2_000).unref();
    void server.close().then(() => process.exit(0));
  });
}


const summary = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9) };
};

type Endpoint = 'features' | 'decide';
const PATHS: Record<Endpoint, string> = { features: '/v1/features', decide: '/v1/decide' };

function bodyOf(endpoint: Endpoint, ids: readonly number[]): string {
  const rows = ids.map((id) => ({ item_id: id }));
  return endpoint === 'features'
    ? JSON.stringify({ service: 'ranking', entities: rows })
    : JSON.stringify({ model: MODEL, candidates: rows, topK: 10, explore: { epsilon: 0.1 } });
}

const randomIds = (n: number, entities: number) => Array.from({ length: n }, () => Math.floor(Math.random() * entities));

async function latencies(url: URL, options: Options): Promise<Record<Endpoint, ReturnType<typeof summary>>> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples: Record<Endpoint, number[]> = { features: [], decide: [] };
  const one = async (endpoint: Endpoint, keep: boolean) => {
    const answer = await timedPost(agent, new URL(PATHS[endpoint], url), TOKEN, bodyOf(endpoint, randomIds(options.candidates, options.entities)));
    if (answer.status !== 200) throw new Error(`${endpoint} answered ${answer.status}: ${answer.text().slice(0, 300)}`);
    if (keep) samples[endpoint].push(answer.ms);
  };
  for (let i = 0; i < options.warmUp; i++) for (const endpoint of ['features', 'decide'] as const) await one(endpoint, false);
  for (let done = 0; done < options.requests; done += 100) {
    for (const endpoint of ['features', 'decide'] as const) for (let i = 0; i < Math.min(100, options.requests - done); i++) await one(endpoint, true);
  }
  agent.destroy();
  return { features: summary(samples.features), decide: summary(samples.decide) };
}

interface Autocannon {
  (options: Record<string, unknown>): Promise<{ '2xx': number; non2xx: number; errors: number; timeouts: number; duration: number; latency: { p99: number } }>;
}
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

async function throughput(url: URL, endpoint: Endpoint, options: Options): Promise<number> {
  const requests = Array.from({ length: 64 }, () => ({ method: 'POST', path: PATHS[endpoint], body: bodyOf(endpoint, randomIds(options.candidates, options.entities)) }));
  const result = await autocannon({ url: url.origin, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, requests, connections: options.connections, duration: options.duration });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) throw new Error(`${endpoint}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  return (result['2xx'] * options.candidates) / result.duration;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'string' }, 'redis-url': { type: 'string' }, entities: { type: 'string' }, features: { type: 'string' }, hidden: { type: 'string' },
      candidates: { type: 'string' }, requests: { type: 'string' }, 'warm-up': { type: 'string' }, connections: { type: 'string' }, duration: { type: 'string' },
      log: { type: 'boolean' }, 'cpu-prof': { type: 'string' }, 'server-node-options': { type: 'string' },
    },
  });
  const options: Options = {
    entities: Number(values.entities ?? 10_000), features: Number(values.features ?? 50), hidden: Number(values.hidden ?? 192), candidates: Number(values.candidates ?? 100),
    requests: Number(values.requests ?? 2_000), warmUp: Number(values['warm-up'] ?? 2_000), connections: Number(values.connections ?? 10), duration: Number(values.duration ?? 10),
    log: values.log ?? false, cpuProf: values['cpu-prof'], serverNodeOptions: (values['server-node-options'] ?? '').split(/\s+/).filter((flag) => flag !== ''),
  };
  if (values.serve !== undefined) return serve(values.serve, values['redis-url']!, options.features, options.log);

  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-decide-'));
  const redis = await startRedis(dir);
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const project = decideProject(options.features, { logged: options.log });
    const names = Array.from({ length: options.features }, (_, i) => `f${i}`);
    const store = new RedisOnlineStore({ url: redis.url, keyPrefix: KEY_PREFIX });
    const eventMicros = Date.now() * 1000;
    for (let first = 0; first < options.entities; first += 10_000) {
      const rows = [];
      for (let id = first; id < Math.min(options.entities, first + 10_000); id++) rows.push({ key: [id], eventMicros, values: JSON.stringify(valuesOf(id, options.features)) });
      await store.writeEncoded({ view: 'item_features', features: names, rows });
    }
    await store.close();
    const objects = new LocalObjectStore(join(dir, 'objects'));
    const { bytes, parameters } = mlpBytes(options.features, options.hidden);
    const { manifest } = await registerModelVersion(objects, { spec: project.models[MODEL]!, bytes, trainedOn: { trainingSet: 'bench', version: 'none', partitions: [] }, now: new Date() });
    await promoteModelVersion(objects, MODEL, manifest.version, new Date());

    const profile = options.cpuProf === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.cpuProf];
    child = spawn(process.execPath, [...options.serverNodeOptions, ...profile, '--import', 'tsx', fileURLToPath(import.meta.url), '--serve', dir, '--redis-url', redis.url, '--features', String(options.features), ...(options.log ? ['--log'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    let out = '';
    const url = new URL(await new Promise<string>((resolve, reject) => {
      child!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on (\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      void exited.then((code) => reject(new Error(`the server exited with ${code}`)));
    }));

    const load = () => (async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' '))();
    process.stdout.write(`decide bench: ${options.entities} items x ${options.features} features in Redis, ONNX MLP ${options.features}-${options.hidden}-1 (${parameters} parameters), ${options.candidates} candidates per request, ${options.log ? 'every decision logged' : 'no decision log'}, server node flags: ${options.serverNodeOptions.join(' ') || '(none)'}; load ${await load()}\n`);

    // The server's CPU seconds over the latency part (user + system, from /proc; clock ticks of 10 ms): on a shared machine
    // a steadier measure of what a request costs than its wall time.
    const serverCpu = async () => {
      const fields = (await readFile(`/proc/${child!.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    };
    // The server's collections so far, as it says them on SIGUSR2; and this process's (the client's).
    const clientCollections = countCollections();
    const serverCollections = async (): Promise<Collections> => {
      const seen = out.length;
      child!.kill('SIGUSR2');
      for (let waited = 0; waited < 5_000; waited += 10) {
        const match = /collections (\{[^\n]*\})\n/.exec(out.slice(seen));
        if (match) return JSON.parse(match[1]!) as Collections;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error('the server did not say its collections');
    };
    const cpuBefore = await serverCpu();
    const collectionsBefore = await serverCollections();
    const clientBefore = { ...clientCollections };
    const latency = await latencies(url, options);
    const clientMinor = clientCollections.minor - clientBefore.minor;
    const clientMajor = clientCollections.major - clientBefore.major;
    const cpuUsed = (await serverCpu()) - cpuBefore;
    const collectionsAfter = await serverCollections();
    const fmt = (l: { p50: number; p99: number; p999: number }) => `p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, p99.9 ${l.p999.toFixed(2)} ms`;
    process.stdout.write(`latency, one client, ${options.requests} requests each: features ${fmt(latency.features)}; decide ${fmt(latency.decide)}; load ${await load()}\n`);
    process.stdout.write(`server CPU over the latency part: ${cpuUsed.toFixed(2)} s for ${2 * (options.requests + options.warmUp)} requests, ${((cpuUsed * 1000) / (2 * (options.requests + options.warmUp))).toFixed(3)} ms per request (features and decide alike)\n`);
    const minor = collectionsAfter.minor - collectionsBefore.minor;
    const major = collectionsAfter.major - collectionsBefore.major;
    process.stdout.write(`server collections over the latency part (${2 * (options.requests + options.warmUp)} requests): ${minor} minor (${(collectionsAfter.minorMs - collectionsBefore.minorMs).toFixed(1)} ms in all, one per ${Math.round((2 * (options.requests + options.warmUp)) / Math.max(minor, 1))} requests), ${major} major (${(collectionsAfter.majorMs - collectionsBefore.majorMs).toFixed(1)} ms)\n`);
    process.stdout.write(`client (this process) collections over the latency part: ${clientMinor} minor (${(clientCollections.minorMs - clientBefore.minorMs).toFixed(1)} ms), ${clientMajor} major (${(clientCollections.majorMs - clientBefore.majorMs).toFixed(1)} ms)\n`);
    process.stdout.write(`goal decide p99 <= 5 ms: ${latency.decide.p99 <= 5 ? 'met' : 'NOT met'}\n`);

    // The model alone, in this process: the same version scoring batches of `candidates` rows.
    const loaded = await loadModelVersion({ store: objects, definitions: project, name: MODEL, projectRoot: dir });
    // The server's ranking against a reference scoring of the same features here: 20 greedy decisions, candidates and scores exactly.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 20; i++) {
      const ids = randomIds(options.candidates, options.entities);
      const answer = await timedPost(agent, new URL(PATHS.decide, url), TOKEN, JSON.stringify({ model: MODEL, candidates: ids.map((id) => ({ item_id: id })), topK: 10 }));
      const items = (JSON.parse(answer.text()) as { items: { candidate: number; score: number }[] }).items;
      const scores = await loaded.score(ids.map((id) => Object.fromEntries(valuesOf(id, options.features).map((v, f) => [names[f]!, v]))));
      const expected = ids.map((_, c) => c).sort((a, b) => scores[b]! - scores[a]! || a - b).slice(0, 10).map((c) => ({ candidate: c, score: scores[c]! }));
      const got = items.map(({ candidate, score }) => ({ candidate, score }));
      if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`decide's ranking differs from the reference scoring: ${JSON.stringify(got)} against ${JSON.stringify(expected)}`);
    }
    agent.destroy();
    process.stdout.write('ranking: 20 greedy decisions equal a reference scoring of the same features (candidates and scores)\n');
    const batches = Array.from({ length: 16 }, () => randomIds(options.candidates, options.entities).map((id) => Object.fromEntries(valuesOf(id, options.features).map((v, i) => [names[i]!, v]))));
    for (let i = 0; i < options.warmUp; i++) await loaded.score(batches[i % batches.length]!);
    const scoring: number[] = [];
    for (let i = 0; i < options.requests; i++) {
      const start = performance.now();
      await loaded.score(batches[i % batches.length]!);
      scoring.push(performance.now() - start);
    }
    const model = summary(scoring);
    process.stdout.write(`model alone (${options.candidates} rows per call): ${fmt(model)}; its share of decide's p50: ${((model.p50 / latency.decide.p50) * 100).toFixed(0)}%; decide p50 minus features p50: ${(latency.decide.p50 - latency.features.p50).toFixed(2)} ms; load ${await load()}\n`);

    const rates: Record<Endpoint, number> = { features: 0, decide: 0 };
    for (let round = 0; round < 2; round++) {
      for (const endpoint of ['features', 'decide'] as const) rates[endpoint] = Math.max(rates[endpoint], await throughput(url, endpoint, options));
    }
    process.stdout.write(`throughput, ${options.connections} connections, best of 2: features ${Math.round(rates.features)} candidates/s, decide ${Math.round(rates.decide)} candidates/s (${((rates.decide / rates.features) * 100).toFixed(0)}% of serving alone); load ${await load()}\n`);
    if (options.log) {
      // Every decision offered is logged, or dropped and counted (docs/decide.md): what the log did during the run.
      const health = (await (await fetch(new URL('/healthz', url))).json()) as { decisions?: Record<string, number> };
      process.stdout.write(`decision log (GET /healthz): ${JSON.stringify(health.decisions)}\n`);
    }
  } finally {
    if (child && child.exitCode === null) {
      const gone = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    }
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// Run as a script only (decideProject is importable without starting a benchmark).
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`decide bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
