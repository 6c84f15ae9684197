/**
 * The first requests of one freshly started server, each one's time printed in order (issue 17.4):
 * what bench/serving.ts summarises as a p99, spelt out so the slow requests can be told apart (which
 * ones, how slow, in which block), with any V8 flags given to the server (`--trace-gc`,
 * `--trace-opt`, `--trace-deopt`: its output goes to `--server-log`).
 *
 * This process is the client: it loads `--entities` entities into a redis-server of its own, warms
 * itself with `--warm-client` requests to a throwaway floor, then starts the server (`flywheel`,
 * `unwarmed` or `floor`) and sends it `--requests` requests of `--rows` random entities, one at a
 * time on a keep-alive connection, then as many again; it prints the server's CPU time per request
 * over each (all its threads, from /proc: a server still compiling spends more on the first ones),
 * steadier than latency on a shared machine. With `--trace-opt`/`--trace-deopt`, add `--line-buffered`:
 * V8 prints its traces through C's buffered stdout, and without it where they fall against the
 * server's `listening on` line is off by up to a buffer's worth of lines.
 *
 *   npx tsx bench/serving-first-trace.ts [--subject flywheel|unwarmed|floor] [--rows 1] [--requests 1000] [--entities 20000] [--slow-ms 2] ["--server-node-options=--trace-gc --trace-opt"] [--line-buffered] [--server-log /tmp/server.log]
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { percentile, timedPost } from './measure.ts';
import { startRedis } from './redis-server.ts';
import { featureNames, KEY_PREFIX, TOKEN, valuesOf, VIEW } from './serving.ts';

const { values } = parseArgs({
  options: {
    subject: { type: 'string', default: 'flywheel' },
    rows: { type: 'string', default: '1' },
    requests: { type: 'string', default: '1000' },
    entities: { type: 'string', default: '20000' },
    features: { type: 'string', default: '50' },
    'warm-client': { type: 'string', default: '3000' },
    'slow-ms': { type: 'string', default: '2' },
    'server-node-options': { type: 'string', default: '' },
    'server-log': { type: 'string' },
    'line-buffered': { type: 'boolean', default: false },
  },
});
const entities = Number(values.entities);
const features = Number(values.features);
const rows = Number(values.rows);
const SERVING = fileURLToPath(new URL('./serving.ts', import.meta.url));
const FLOOR = fileURLToPath(new URL('./floors/serving-floor.ts', import.meta.url));

const randomIds = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * entities));
const bodyOf = (ids: number[]) => JSON.stringify({ service: 'ranking', entities: ids.map((id) => ({ item_id: id })) });

/** CPU milliseconds (user + system, all threads: V8's compiler and GC threads too) process `pid` has used so far, from /proc (Linux). */
async function cpuMsOf(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function startChild(subject: string, redisUrl: string, nodeOptions: string[], logTo?: string): Promise<{ url: string; pid: number; startMs: number; stop(): Promise<void> }> {
  const args = subject === 'floor' ? [FLOOR, '--redis-url', redisUrl, '--key-prefix', KEY_PREFIX, '--view', VIEW] : [SERVING, '--serve', subject, '--redis-url', redisUrl, '--features', String(features)];
  const spawned = performance.now();
  // stdbuf -oL: V8's traces line-buffered, so they fall in order with the server's own lines (coreutils; Linux).
  const command = values['line-buffered'] ? ['stdbuf', '-oL', process.execPath] : [process.execPath];
  const child = spawn(command[0]!, [...command.slice(1), ...nodeOptions, '--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', logTo ? 'pipe' : 'inherit'], env: { ...process.env, FLYWHEEL_TOKENS: `${TOKEN}=read` } });
  const log = logTo ? createWriteStream(logTo) : undefined;
  if (log) child.stderr!.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      log?.write(chunk);
      const match = /listening on (\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    void exited.then(() => reject(new Error(`${subject} exited: ${out}`)));
  });
  return { url, pid: child.pid!, startMs: performance.now() - spawned, stop: async () => { child.kill('SIGTERM'); await exited; log?.end(); } };
}

async function send(url: URL, count: number, sizeOf: (i: number) => number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const { ms, status, text } = await timedPost(agent, url, TOKEN, bodyOf(randomIds(sizeOf(i))));
    if (status !== 200) throw new Error(`answered ${status}: ${text().slice(0, 200)}`);
    times.push(ms);
  }
  agent.destroy();
  return times;
}

const dir = await mkdtemp(join(tmpdir(), 'flywheel-first-trace-'));
const redis = await startRedis(dir);
try {
  const store = new RedisOnlineStore({ url: redis.url, keyPrefix: KEY_PREFIX });
  const names = featureNames(features);
  const eventMicros = Date.now() * 1000;
  for (let first = 0; first < entities; first += 10_000) {
    const batch = [];
    for (let id = first; id < Math.min(entities, first + 10_000); id++) batch.push({ key: [id], eventMicros, values: JSON.stringify(valuesOf(id, features)) });
    await store.writeEncoded({ view: VIEW, features: names, rows: batch });
  }
  await store.close();
  const warmer = await startChild('floor', redis.url, []);
  await send(new URL(`${warmer.url}/v1/features`), Number(values['warm-client']), (i) => (i % 2 === 0 ? 1 : 100));
  await warmer.stop();
  const nodeOptions = values['server-node-options'].split(' ').filter((s) => s !== '');
  const server = await startChild(values.subject, redis.url, nodeOptions, values['server-log']);
  const cpuAtStart = await cpuMsOf(server.pid);
  const times = await send(new URL(`${server.url}/v1/features`), Number(values.requests), () => rows);
  const cpuFirst = (await cpuMsOf(server.pid)) - cpuAtStart;
  // The same number of requests again: what they cost once the first ones have compiled what they need.
  const again = await send(new URL(`${server.url}/v1/features`), Number(values.requests), () => rows);
  const cpuAgain = (await cpuMsOf(server.pid)) - cpuAtStart - cpuFirst;
  await server.stop();
  const againSorted = [...again].sort((a, b) => a - b);
  process.stdout.write(
    `server CPU per request: first ${values.requests} ${(cpuFirst / times.length).toFixed(3)} ms, next ${values.requests} ${(cpuAgain / again.length).toFixed(3)} ms ` +
      `(start-up ${cpuAtStart} ms); next ${values.requests}: p50 ${percentile(againSorted, 50).toFixed(2)} p99 ${percentile(againSorted, 99).toFixed(2)} ms\n`,
  );
  const slowMs = Number(values['slow-ms']);
  const sorted = [...times].sort((a, b) => a - b);
  process.stdout.write(`${values.subject}, ${rows} rows, started in ${Math.round(server.startMs)} ms: p50 ${percentile(sorted, 50).toFixed(2)} p99 ${percentile(sorted, 99).toFixed(2)} max ${sorted.at(-1)!.toFixed(2)} ms\n`);
  process.stdout.write(`slow (> ${slowMs} ms): ${times.map((ms, i) => [i, ms] as const).filter(([, ms]) => ms > slowMs).map(([i, ms]) => `#${i} ${ms.toFixed(1)}`).join(', ') || 'none'}\n`);
  for (let first = 0; first < times.length; first += 100) {
    const block = times.slice(first, first + 100).sort((a, b) => a - b);
    process.stdout.write(`  ${first}-${first + block.length - 1}: p50 ${percentile(block, 50).toFixed(2)} max ${block.at(-1)!.toFixed(2)}\n`);
  }
} finally {
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
