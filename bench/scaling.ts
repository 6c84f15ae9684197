/**
 * Per-node figures for docs/scaling.md, one command for all of them:
 *
 *   npx tsx bench/scaling.ts [--skip log-api,ingest,serving,materialize] [--duration 8] [--entities 1000000]
 *
 * - log API: `bench/log-api.ts` (its own child processes and load generator), batches of 100 and
 *   1,000; events/s per core is 1 / the server's CPU time per event (user + system, all its threads),
 *   which the load generator sharing the machine does not inflate the way it cuts wall-clock rates;
 * - ingest: `benchIngest` (bench/ingest.ts), one segment of 1M events into DuckDB by the ingest
 *   activity: rows/s of one worker (DuckDB uses every core);
 * - serving: `flywheel serve`'s server as a child process (bench/serving.ts --serve flywheel) over
 *   one redis-server holding `--serving-entities` entities × 50 features, driven by autocannon with
 *   10 connections of 100-candidate requests; rows/s, and rows per CPU second of the server process
 *   (per core of a serving node) and of redis-server (per shard: a Redis shard runs its commands on
 *   one core);
 * - materialization: `benchMaterialize` (bench/materialize.ts), 1M entities × 50 features, the
 *   workflow end to end and the CPU seconds of the worker and of redis-server.
 *
 * Every figure comes with the load average around it: the machine is shared.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { benchIngest } from './ingest.ts';
import { benchMaterialize, loadAverage, printMaterializeFigures } from './materialize.ts';
import { report } from './measure.ts';
import { startRedis } from './redis-server.ts';
import { featureNames, KEY_PREFIX, SERVICE, TOKEN, valuesOf, VIEW } from './serving.ts';

type Autocannon = (options: Record<string, unknown>) => Promise<{ '2xx': number; non2xx: number; errors: number; timeouts: number; duration: number; latency: { p99: number } }>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Runs bench/log-api.ts as a child, passes its output through, and returns its Flywheel lines' CPU µs per event by batch size. */
async function logApi(duration: number): Promise<Map<number, { eventsPerSecond: number; cpuMicrosPerEvent: number }>> {
  const child = spawn(process.execPath, ['--import', 'tsx', here('./log-api.ts'), '--batches', '100,1000', '--runs', '2', '--duration', String(duration)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    process.stdout.write(chunk);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`bench/log-api.ts exited with ${code}`);
  const figures = new Map<number, { eventsPerSecond: number; cpuMicrosPerEvent: number }>();
  for (const match of out.matchAll(/Log API, batches of (\d+) events[^\n]*\n\s+Flywheel[^:]*: ([\d,]+) events\/s[^\n]*?([\d.]+) µs CPU\/event/g)) {
    figures.set(Number(match[1]), { eventsPerSecond: Number(match[2]!.replaceAll(',', '')), cpuMicrosPerEvent: Number(match[3]) });
  }
  if (figures.size === 0) throw new Error('no Flywheel figures found in the output of bench/log-api.ts (has its format changed?)');
  return figures;
}

/** User + system CPU seconds of a process, from /proc (Linux). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Serving at 100 candidates, 10 connections: rows/s and rows per CPU second of the server and of redis-server. */
async function serving(options: { entities: number; duration: number }) {
  const features = 50;
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-scaling-'));
  const redis = await startRedis(dir);
  const store = new RedisOnlineStore({ url: redis.url, keyPrefix: KEY_PREFIX });
  const names = featureNames(features);
  try {
    for (let start = 0; start < options.entities; start += 2048) {
      const rows = [];
      for (let id = start; id < Math.min(options.entities, start + 2048); id++) rows.push({ key: [id], eventMicros: 1_764_000_000_000_000 + id, values: JSON.stringify(valuesOf(id, features)) });
      await store.writeEncoded({ view: VIEW, features: names, rows });
    }
    const info = await new Promise<string>((resolve, reject) => {
      const cli = spawn('redis-cli', ['-u', redis.url, 'INFO', 'server']);
      let text = '';
      cli.stdout.on('data', (c: Buffer) => (text += c.toString()));
      cli.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`redis-cli exited with ${code}`))));
    });
    const redisPid = Number(/process_id:(\d+)/.exec(info)![1]);
    const child = spawn(process.execPath, ['--import', 'tsx', here('./serving.ts'), '--serve', 'flywheel', '--redis-url', redis.url, '--features', String(features)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, FLYWHEEL_TOKENS: `${TOKEN}=read` },
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /listening on (\S+)/.exec(out);
          if (match) resolve(match[1]!);
        });
        void exited.then((code) => reject(new Error(`the serving child exited with ${code}`)));
      });
      const requests = Array.from({ length: 64 }, () => ({
        method: 'POST', path: '/v1/features',
        body: JSON.stringify({ service: SERVICE, entities: Array.from({ length: 100 }, () => ({ item_id: Math.floor(Math.random() * options.entities) })) }),
      }));
      const drive = (duration: number) => autocannon({ url: new URL(url).origin, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, requests, connections: 10, duration });
      await drive(2); // warm-up, unmeasured
      const loadBefore = await loadAverage();
      const [serverBefore, redisBefore] = [await cpuSeconds(child.pid!), await cpuSeconds(redisPid)];
      const result = await drive(options.duration);
      const [serverCpu, redisCpu] = [(await cpuSeconds(child.pid!)) - serverBefore, (await cpuSeconds(redisPid)) - redisBefore];
      if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) throw new Error(`serving: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
      const rows = result['2xx'] * 100;
      return { rowsPerSecond: rows / result.duration, p99Ms: result.latency.p99, rowsPerServerCpuSecond: rows / serverCpu, rowsPerRedisCpuSecond: rows / redisCpu, serverCpu, redisCpu, seconds: result.duration, loadBefore, loadAfter: await loadAverage() };
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  } finally {
    await store.close();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { skip: { type: 'string', default: '' }, duration: { type: 'string', default: '8' }, entities: { type: 'string', default: '1000000' }, 'serving-entities': { type: 'string', default: '100000' } } });
  const skip = new Set(values.skip.split(',').filter(Boolean));
  const duration = Number(values.duration);
  process.stdout.write(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}); load average ${await loadAverage()}\n`);
  const summary: string[] = [];
  if (!skip.has('log-api')) {
    for (const [batch, f] of await logApi(duration)) {
      summary.push(`log API, batches of ${batch}: ${fmt(f.eventsPerSecond)} events/s on this machine; ${f.cpuMicrosPerEvent.toFixed(2)} µs CPU per event = ${fmt(1e6 / f.cpuMicrosPerEvent)} events/s per core`);
    }
  }
  if (!skip.has('ingest')) {
    const loadBefore = await loadAverage();
    const result = await benchIngest({ events: 1_000_000, runs: 2 });
    report(result);
    summary.push(`ingest, one worker (DuckDB on ${cpus().length} cores): ${fmt(1_000_000 / (result.subject.medianMs / 1000))} rows/s (load ${loadBefore} → ${await loadAverage()})`);
  }
  if (!skip.has('serving')) {
    const s = await serving({ entities: Number(values['serving-entities']), duration });
    process.stdout.write(`\nServing, 100 candidates × 50 features, 10 connections, ${s.seconds} s: ${fmt(s.rowsPerSecond)} rows/s, p99 ${s.p99Ms} ms; CPU: server ${s.serverCpu.toFixed(1)} s, redis-server ${s.redisCpu.toFixed(1)} s (load ${s.loadBefore} → ${s.loadAfter})\n`);
    summary.push(`serving, one node, 100 candidates: ${fmt(s.rowsPerSecond)} rows/s on this machine; ${fmt(s.rowsPerServerCpuSecond)} rows per CPU second of the server (per core); ${fmt(s.rowsPerRedisCpuSecond)} rows per CPU second of redis-server (per shard)`);
  }
  if (!skip.has('materialize')) {
    const m = await benchMaterialize({ entities: Number(values.entities), features: 50, runs: 1, port: 7299 });
    printMaterializeFigures(m);
    const w = m.subjects.workflow;
    summary.push(`materialization, one worker: ${fmt(m.entities / (w.ms / 1000))} rows/s end to end; CPU per 1M rows: worker ${((w.nodeCpuS * 1e6) / m.entities).toFixed(1)} s, redis-server ${((w.redisCpuS * 1e6) / m.entities).toFixed(1)} s`);
  }
  process.stdout.write(`\nPer-node figures (load average now ${await loadAverage()}):\n${summary.map((line) => `  ${line}\n`).join('')}`);
}
