/**
 * The log API's throughput with durable acknowledgements, against a floor (bench/floors/log-floor.ts,
 * issue 17 item 4): a minimal node:http server that only reads the same body, JSON.parses it, appends
 * it to a file and answers after an fdatasync, with group commit (one fdatasync at a time, covering
 * every request that arrived while the previous one ran), and no validation, no ids, no framing.
 * Both run as child processes of this one, one at a time, alternately; autocannon drives them from
 * this process with the same body, connections and duration. Goal: Flywheel ≥ 70% of the floor's
 * events/s at batches of 100 and of 1,000 events.
 *
 *   npx tsx bench/log-api.ts [--batches 100,1000] [--connections 32] [--duration 8] [--runs 3] [--warm-up 2]
 *
 * Reports events accepted per second (2xx requests × batch size), p50 and p99 latency, the ratio, and
 * the CPU time each server process used per event (user + system, all its threads): the load
 * generator shares the machine, so the CPU cost is the steadier measure of the work each does. For
 * both it reports how many requests one fdatasync acknowledged (group commit).
 *
 * Each timed run is preceded by a warm-up of the same server process (`--warm-up` seconds of the same
 * load, untimed), and the CPU time and sync counters are taken from its end: the figures are of servers
 * whose code V8 has compiled, not of their first seconds (before 2026-12-05 the warm-up ran in a
 * process of its own, so each timed run also paid its server's compilation).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLogServer, TokenTable, type StreamSchema } from '../server/index.ts';
import { startLogFloor } from './floors/log-floor.ts';

const TOKEN = 'bench-token';
const STREAM: StreamSchema = {
  name: 'clicks',
  keys: [{ name: 'user_id', type: 'int64' }],
  timestampField: 'ts',
  fields: [
    { name: 'item_id', type: 'int64', nullable: false },
    { name: 'page', type: 'string', nullable: false },
    { name: 'dwell_ms', type: 'int64', nullable: true },
    { name: 'price', type: 'float64', nullable: true },
    { name: 'in_stock', type: 'bool', nullable: true },
  ],
};

/** A batch of `n` events of about 130 bytes each, without ids (the server assigns UUIDv7s). */
export function batchBody(n: number): string {
  return JSON.stringify(
    Array.from({ length: n }, (_, i) => ({
      user_id: 100_000 + i,
      ts: new Date(Date.UTC(2026, 10, 26, 10, 0, i % 60)).toISOString(),
      item_id: 5_000_000 + ((i * 7919) % 100_000),
      page: `/products/${(i * 31) % 977}`,
      dwell_ms: i % 5 === 0 ? null : 100 + i,
      price: 9.99 + (i % 100),
      in_stock: i % 3 !== 0,
    })),
  );
}

// --- child mode: one server, printing its URL, until SIGTERM -----------------------------------------

/** CPU time (user + system, every thread) this process used so far, in microseconds. */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function serveFlywheel(dir: string): Promise<void> {
  const server = await startLogServer({ stateDir: dir, streams: [STREAM], tokens: TokenTable.parse(`${TOKEN}=write:*`), port: 0, log: () => undefined });
  process.stdout.write(`listening on ${server.url} cpu=${cpuMicros()}\n`);
  // The end of the warm-up: the CPU time used so far (the sync counters are read from /healthz).
  process.on('SIGUSR2', () => process.stdout.write(`mark cpu=${cpuMicros()}\n`));
  process.once('SIGTERM', () => {
    const cpu = cpuMicros();
    void server.close().then(() => {
      process.stdout.write(`stopped cpu=${cpu}\n`);
      process.exit(0);
    });
  });
}

/** The floor (bench/floors/log-floor.ts): read, JSON.parse, append, group-committed fdatasync, answer. */
async function serveFloor(dir: string): Promise<void> {
  const floor = await startLogFloor(dir);
  process.stdout.write(`listening on ${floor.url} cpu=${cpuMicros()}\n`);
  process.on('SIGUSR2', () => {
    const { requests, syncs } = floor.stats();
    process.stdout.write(`mark cpu=${cpuMicros()} requests=${requests} syncs=${syncs}\n`);
  });
  process.once('SIGTERM', () => {
    const cpu = cpuMicros();
    const { requests, syncs } = floor.stats();
    void floor.close().then(() => {
      process.stdout.write(`stopped cpu=${cpu} requests=${requests} syncs=${syncs}\n`);
      process.exit(0);
    });
  });
}

// --- driver ------------------------------------------------------------------------------------------

interface AutocannonResult {
  readonly requests: { readonly average: number; readonly total: number };
  readonly latency: { readonly p50: number; readonly p99: number };
  readonly duration: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly '2xx': number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

type Subject = 'flywheel' | 'floor';

interface Run {
  readonly eventsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time of the server process (all threads) per event accepted. */
  readonly cpuMicrosPerEvent: number;
  /** Flywheel: requests acknowledged per fdatasync (group commit), from its /healthz counters. */
  readonly requestsPerSync?: number;
}

interface Child {
  readonly url: string;
  /** Marks the end of the warm-up: what `stop` reports is counted from here. */
  mark(): Promise<void>;
  /** Stops the server; resolves with the CPU microseconds it used since the mark (and the floor's requests per fdatasync since then). */
  stop(): Promise<{ cpu: number; requestsPerSync?: number }>;
}

async function startChild(subject: Subject, dir: string): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', subject, '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const { url, cpuAtStart } = await new Promise<{ url: string; cpuAtStart: number }>((resolve, reject) => {
    child.stdout.on('data', () => {
      const match = /listening on (\S+) cpu=(\d+)/.exec(out);
      if (match) resolve({ url: match[1]!, cpuAtStart: Number(match[2]) });
    });
    void exited.then((code) => reject(new Error(`${subject} server exited with ${code}`)));
  });
  let marked = { cpu: cpuAtStart, requests: 0, syncs: 0 };
  return {
    url,
    mark: async () => {
      const seen = out.length;
      child.kill('SIGUSR2');
      const match = await new Promise<RegExpExecArray>((resolve, reject) => {
        const look = () => {
          const found = /mark cpu=(\d+)(?: requests=(\d+) syncs=(\d+))?\n/.exec(out.slice(seen));
          if (found) {
            child.stdout.off('data', look);
            resolve(found);
          }
        };
        child.stdout.on('data', look);
        void exited.then((code) => reject(new Error(`${subject} server exited with ${code}`)));
        look();
      });
      marked = { cpu: Number(match[1]), requests: Number(match[2] ?? 0), syncs: Number(match[3] ?? 0) };
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      const match = /stopped cpu=(\d+)(?: requests=(\d+) syncs=(\d+))?/.exec(out);
      if (!match) throw new Error(`${subject} server did not report its CPU time`);
      const requestsPerSync = match[2] !== undefined ? (Number(match[2]) - marked.requests) / Math.max(1, Number(match[3]) - marked.syncs) : undefined;
      return { cpu: Number(match[1]) - marked.cpu, ...(requestsPerSync !== undefined ? { requestsPerSync } : {}) };
    },
  };
}

/** Flywheel's appends and syncs so far, from /healthz (the per-stream counters are shown to a valid token only). */
async function flywheelSyncs(url: string): Promise<{ appends: number; syncs: number }> {
  const health = (await (await fetch(`${url}/healthz`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { log: Record<string, { appends: number; syncs: number }> };
  return health.log[STREAM.name]!;
}

async function measure(subject: Subject, body: string, batch: number, options: { connections: number; duration: number; warmUp: number }): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), `flywheel-bench-log-${subject}-`));
  const server = await startChild(subject, dir);
  let result: AutocannonResult;
  let cpuMicros: number;
  let requestsPerSync: number | undefined;
  try {
    const load = (duration: number) =>
      autocannon({
        url: `${server.url}/v1/streams/clicks/events`,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body,
        connections: options.connections,
        duration,
      });
    if (options.warmUp > 0) await load(options.warmUp);
    const before = subject === 'flywheel' ? await flywheelSyncs(server.url) : undefined;
    await server.mark();
    result = await load(options.duration);
    if (before) {
      const after = await flywheelSyncs(server.url);
      requestsPerSync = (after.appends - before.appends) / Math.max(1, after.syncs - before.syncs);
    }
  } finally {
    const stopped = await server.stop();
    cpuMicros = stopped.cpu;
    requestsPerSync ??= stopped.requestsPerSync;
    rmSync(dir, { recursive: true, force: true });
  }
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${subject}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  const events = result['2xx'] * batch;
  return {
    eventsPerSecond: events / result.duration, p50Ms: result.latency.p50, p99Ms: result.latency.p99, cpuMicrosPerEvent: cpuMicros / events,
    ...(requestsPerSync !== undefined ? { requestsPerSync } : {}),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Flywheel's goal: this share of the floor's events/s. */
const GOAL = 0.7;
const loadAverage = () => {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
};

export interface LogApiOptions {
  readonly batches: number[];
  readonly connections: number;
  readonly duration: number;
  readonly runs: number;
  /** Seconds of load on each server process before its timed run (untimed). */
  readonly warmUp: number;
}

/** One batch size's figures: each server's median over the runs, its runs' events/s, and the load average around them. */
export interface LogApiBatchFigures {
  readonly batch: number;
  readonly bodyBytes: number;
  readonly flywheel: LogApiSummary;
  readonly floor: LogApiSummary;
  readonly runs: Record<Subject, number[]>;
  readonly loadBefore: string;
  readonly loadAfter: string;
}

export interface LogApiSummary {
  readonly eventsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuMicrosPerEvent: number;
  readonly requestsPerSync: number;
}

/** Runs every batch size and prints its lines; returns what it printed, one entry per batch size (the issue-17 scorecard reads them). */
export async function benchLogApi(options: LogApiOptions): Promise<LogApiBatchFigures[]> {
  const figures: LogApiBatchFigures[] = [];
  process.stdout.write(
    `node ${process.version}, ${cpus().length} cores; ${options.connections} connections, ${options.duration} s per run after ${options.warmUp} s of warm-up in the same process, ${options.runs} runs each (alternating)\n`,
  );
  for (const batch of options.batches) {
    const body = batchBody(batch);
    const loadBefore = loadAverage();
    const runs: Record<Subject, Run[]> = { flywheel: [], floor: [] };
    for (let i = 0; i < options.runs; i++) {
      runs.flywheel.push(await measure('flywheel', body, batch, options));
      runs.floor.push(await measure('floor', body, batch, options));
    }
    const summary = (subject: Subject): LogApiSummary => ({
      eventsPerSecond: median(runs[subject].map((r) => r.eventsPerSecond)),
      p50Ms: median(runs[subject].map((r) => r.p50Ms)),
      p99Ms: median(runs[subject].map((r) => r.p99Ms)),
      cpuMicrosPerEvent: median(runs[subject].map((r) => r.cpuMicrosPerEvent)),
      requestsPerSync: median(runs[subject].map((r) => r.requestsPerSync ?? 0)),
    });
    const flywheel = summary('flywheel');
    const floor = summary('floor');
    const ratio = flywheel.eventsPerSecond / floor.eventsPerSecond;
    const loadAfter = loadAverage();
    const fmt = (s: LogApiSummary) =>
      `${Math.round(s.eventsPerSecond).toLocaleString('en-US')} events/s, p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms, ${s.cpuMicrosPerEvent.toFixed(2)} µs CPU/event`;
    process.stdout.write(
      `\nLog API, batches of ${batch} events (${body.length.toLocaleString('en-US')} bytes)\n` +
        `  Flywheel (validate, ids, framing, group commit, fdatasync): ${fmt(flywheel)}\n` +
        `    runs: ${runs.flywheel.map((r) => Math.round(r.eventsPerSecond)).join(', ')} events/s; ${flywheel.requestsPerSync.toFixed(1)} requests per fdatasync\n` +
        `  floor (JSON.parse, append, group-committed fdatasync): ${fmt(floor)}\n` +
        `    runs: ${runs.floor.map((r) => Math.round(r.eventsPerSecond)).join(', ')} events/s; ${floor.requestsPerSync.toFixed(1)} requests per fdatasync\n` +
        `  ratio: ${(100 * ratio).toFixed(0)}% of the floor's events/s (goal ≥ ${100 * GOAL}%: ${ratio >= GOAL ? 'met' : 'not met'}); ` +
        `${(flywheel.cpuMicrosPerEvent / floor.cpuMicrosPerEvent).toFixed(1)}× its CPU per event; load average ${loadBefore} → ${loadAfter}\n`,
    );
    figures.push({
      batch, bodyBytes: body.length, flywheel, floor, loadBefore, loadAfter,
      runs: { flywheel: runs.flywheel.map((r) => r.eventsPerSecond), floor: runs.floor.map((r) => r.eventsPerSecond) },
    });
  }
  return figures;
}

/** bench/log-api.ts's options from its command line (bench/run.ts passes its own arguments). */
export function logApiOptions(argv: string[]): LogApiOptions & { serve?: string; dir?: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      serve: { type: 'string' },
      dir: { type: 'string' },
      batches: { type: 'string', default: '100,1000' },
      connections: { type: 'string', default: '32' },
      duration: { type: 'string', default: '8' },
      runs: { type: 'string', default: '3' },
      'warm-up': { type: 'string', default: '2' },
    },
  });
  return {
    ...(values.serve !== undefined ? { serve: values.serve } : {}),
    ...(values.dir !== undefined ? { dir: values.dir } : {}),
    batches: values.batches.split(',').map(Number),
    connections: Number(values.connections),
    duration: Number(values.duration),
    runs: Number(values.runs),
    warmUp: Number(values['warm-up']),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { serve, dir, ...options } = logApiOptions(process.argv.slice(2));
  if (serve === 'flywheel') await serveFlywheel(dir!);
  else if (serve === 'floor') await serveFloor(dir!);
  else await benchLogApi(options);
}
