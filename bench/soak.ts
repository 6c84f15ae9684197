/**
 * Soak: the whole loop under steady load for a bounded time (default 10 minutes), with one SIGKILL
 * of the project server and one of the worker along the way (docs/benchmarks.md, "Soak").
 *
 * Every part is a real process of its own, started the way a deployment starts them: a Temporal dev
 * server (SQLite file), `flywheel worker`, `flywheel serve` (log API, ingestion on segment close,
 * serving API over SQLite), all on 127.0.0.1 in a throwaway project whose `soak` loop
 * (ingest → materialize) runs on a schedule that `flywheel apply` keeps. In this process:
 *
 * - `--clients` event clients send batches with their own ids at `--rate` events/s in all; a batch
 *   not acknowledged (the server died under it, or is down) is sent again with the same ids until
 *   it is;
 * - `--serving-clients` clients ask `POST /v1/features` for one random user at `--serving-rate`
 *   requests/s in all, each timed;
 * - every 5 s the resident memory (RSS, /proc/<pid>/status) of each process is sampled.
 *
 * At 1/3 of the run the server is SIGKILLed and started again; at 2/3 the worker. At the end the load
 * stops, the server stops (closing its segments), one last `flywheel loop run soak` ingests what is
 * left, and the warehouse table is compared with what was acknowledged: lost (acknowledged, not in the
 * table), duplicated (in the table more than once), unacknowledged but stored. Per minute: events
 * acknowledged, batches resent, serving requests, the share of them that found a value (materialized
 * by the loop), serving p50/p99 (successful requests), failed requests, and the RSS of each process
 * at the end of the minute (the last 5-second sample), the p99 of event batches acknowledged at the
 * first try, and the machine's load average (the figures mean little on a machine others share). Exits 1 when anything was lost or duplicated.
 *
 *   npx tsx bench/soak.ts [--minutes 10] [--rate 500] [--clients 4] [--batch 25] [--serving-rate 100]
 *     [--serving-clients 2] [--users 2000] [--loop-every 1m] [--segment-age 5s] [--port 7411]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../cli/dev/child-process.ts';
import { startDevServer } from '../cli/dev/dev-server.ts';
import { locateTemporalCli } from '../cli/dev/temporal-cli.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { sql } from '../core/sql/compiled-query.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(REPO_ROOT, 'bin', 'flywheel.js');
const TOKEN = 'soak-token';
const TASK_QUEUE = 'bench-soak';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface SoakOptions {
  readonly minutes: number;
  readonly rate: number;
  readonly clients: number;
  readonly batch: number;
  readonly servingRate: number;
  readonly servingClients: number;
  readonly users: number;
  readonly loopEvery: string;
  readonly segmentAgeSeconds: number;
  readonly port: number;
}

function definitions(loopEvery: string): string {
  return `import { entity, eventStream, featureService, featureView, loop } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', fields: { item_id: 'int64', seq: 'int64' }, retention: '7d' });
export const lastClick = featureView({ name: 'last_click', entities: [user], source: clicks, online: true, features: { item_id: 'int64', seq: 'int64' } });
export const model = featureService({ name: 'soak_model', features: [lastClick] });
export const soak = loop({ name: 'soak', schedule: { every: '${loopEvery}' }, only: ['ingest', 'materialize'] });
`;
}

/** A long-running `flywheel <args>` child in the project, its output appended to `<dir>/<name>.log`. */
class FlywheelProcess {
  child: ChildProcess | undefined;
  private ended: Promise<unknown> = Promise.resolve();
  starts = 0;
  constructor(private readonly dir: string, readonly name: string, private readonly args: readonly string[], private readonly env: NodeJS.ProcessEnv = {}) {}

  start(): void {
    const log = createWriteStream(join(this.dir, `${this.name}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [BIN, ...this.args], { cwd: this.dir, env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    this.ended = new Promise((r) => child.once('exit', r));
    this.child = child;
    this.starts++;
  }

  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    if (this.pid === undefined) return;
    this.child!.kill(signal);
    await this.ended;
  }
}

/** Resident memory of a process in MiB, from /proc (undefined when it is gone). */
function rssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of the process whose command line contains `text` (the Temporal dev server, by its database file). */
function pidByCommandLine(text: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

const percentile = (sorted: readonly number[], p: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!);

interface Minute {
  acknowledged: number;
  /** Event batches sent again (not acknowledged: the server was down or died under them). */
  resent: number;
  /** Successful serving answers whose value was present (materialized by the loop). */
  present: number;
  /** Milliseconds from sending an event batch to its 200 (acknowledged on the first try). */
  ackLatencies: number[];
  /** The machine's 1-minute load average at the last sample (other work shares the machine). */
  load: number;
  servingOk: number;
  servingFailed: number;
  latencies: number[];
  rss: Record<string, number | undefined>;
}

export async function soak(options: SoakOptions): Promise<{ lost: number; duplicated: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-bench-soak-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'flywheel'), 'dir');
  mkdirSync(join(dir, 'definitions'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(dir, 'definitions', 'soak.ts'), definitions(options.loopEvery));
  writeFileSync(
    join(dir, 'flywheel.config.ts'),
    `import { defineConfig, localProfile } from 'flywheel';\nexport default defineConfig({ project: 'soak', definitions: './definitions', defaultProfile: 'local', profiles: { local: localProfile({ temporalAddress: '127.0.0.1:${options.port}', taskQueue: '${TASK_QUEUE}' }) } });\n`,
  );
  process.stdout.write(`soak: project in ${dir}\n`);

  const dbFile = join(dir, 'temporal.db');
  const temporal = await startDevServer({ cliPath: await locateTemporalCli(), dbFile, port: options.port, uiPort: options.port + 1000 });
  const temporalPid = pidByCommandLine(dbFile);
  const serverPort = await freePort();
  const url = `http://127.0.0.1:${serverPort}`;
  const worker = new FlywheelProcess(dir, 'worker', ['worker']);
  const server = new FlywheelProcess(dir, 'serve', ['serve', '--port', String(serverPort), '--segment-age', `${options.segmentAgeSeconds}s`], { FLYWHEEL_TOKENS: `${TOKEN}=read,write:*` });
  const clientConnection = await Connection.connect({ address: temporal.address });
  try {
    const applied = spawnSync(process.execPath, [BIN, 'apply'], { cwd: dir, encoding: 'utf8' });
    if (applied.status !== 0) throw new Error(`flywheel apply failed: ${applied.stdout}\n${applied.stderr}`);
    worker.start();
    server.start();
    await untilServerAnswers(url, 60_000);

    const durationMs = options.minutes * 60_000;
    const started = Date.now();
    const minutes: Minute[] = Array.from({ length: Math.ceil(options.minutes) }, () => ({ acknowledged: 0, resent: 0, present: 0, ackLatencies: [], load: NaN, servingOk: 0, servingFailed: 0, latencies: [], rss: {} }));
    const minuteOf = (t: number) => minutes[Math.min(minutes.length - 1, Math.floor((t - started) / 60_000))]!;
    let stopping = false;
    const acknowledged = new Set<string>();
    let resends = 0;

    // Event clients: paced batches with their own ids, resent until acknowledged.
    const batchIntervalMs = (options.clients * options.batch * 1000) / options.rate;
    const eventClient = async (c: number) => {
      for (let n = 0; !stopping; n++) {
        const due = started + n * batchIntervalMs + (c * batchIntervalMs) / options.clients;
        if (due > Date.now()) await sleep(due - Date.now());
        if (stopping) break;
        const events = Array.from({ length: options.batch }, (_, i) => ({
          _event_id: `c${c}-${n}-${i}`, user_id: 1 + ((c * 7919 + n * 104_729 + i * 31) % options.users), ts: new Date().toISOString(), item_id: n, seq: i,
        }));
        const body = JSON.stringify(events);
        const sent = performance.now();
        for (let attempt = 0; ; attempt++) {
          try {
            const response = await fetch(`${url}/v1/streams/clicks/events`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body });
            if (response.status === 200) {
              const answer = (await response.json()) as { ids: string[] };
              for (const id of answer.ids) acknowledged.add(id);
              const minute = minuteOf(Date.now());
              minute.acknowledged += answer.ids.length;
              if (attempt === 0) minute.ackLatencies.push(performance.now() - sent);
              break;
            }
            await response.arrayBuffer();
          } catch {
            // the server is down: send the same batch again
          }
          resends++;
          minuteOf(Date.now()).resent++;
          await sleep(200);
        }
      }
    };

    // Serving clients: paced requests for one random user each, timed.
    const servingIntervalMs = (options.servingClients * 1000) / options.servingRate;
    const servingClient = async (c: number) => {
      for (let n = 0; !stopping; n++) {
        const due = started + n * servingIntervalMs + (c * servingIntervalMs) / options.servingClients;
        if (due > Date.now()) await sleep(due - Date.now());
        if (stopping) break;
        const userId = 1 + Math.floor(Math.random() * options.users);
        const begin = performance.now();
        try {
          const response = await fetch(`${url}/v1/features`, {
            method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ service: 'soak_model', entities: [{ user_id: userId }] }),
          });
          const answer = (await response.json()) as { rows?: { statuses: string[] }[] };
          const elapsed = performance.now() - begin;
          const minute = minuteOf(Date.now());
          if (response.status === 200) {
            minute.servingOk++;
            minute.latencies.push(elapsed);
            if (answer.rows?.[0]?.statuses[0] === 'present') minute.present++;
          } else minute.servingFailed++;
        } catch {
          minuteOf(Date.now()).servingFailed++;
        }
      }
    };

    const sampler = setInterval(() => {
      const minute = minuteOf(Date.now());
      minute.load = loadavg()[0]!;
      minute.rss = { serve: rssMiB(server.pid), worker: rssMiB(worker.pid), temporal: rssMiB(temporalPid), bench: process.memoryUsage().rss / 1024 / 1024 };
    }, 5000);

    const load = Promise.all([...Array.from({ length: options.clients }, (_, c) => eventClient(c)), ...Array.from({ length: options.servingClients }, (_, c) => servingClient(c))]);

    const faults: string[] = [];
    await sleep(durationMs / 3);
    const serverKilledAt = Date.now();
    await server.stop('SIGKILL');
    server.start();
    await untilServerAnswers(url, 60_000);
    faults.push(`server SIGKILLed at ${((serverKilledAt - started) / 1000).toFixed(0)} s, answering again after ${((Date.now() - serverKilledAt) / 1000).toFixed(1)} s`);
    await sleep(Math.max(0, started + (2 * durationMs) / 3 - Date.now()));
    const workerKilledAt = Date.now();
    await worker.stop('SIGKILL');
    worker.start();
    faults.push(`worker SIGKILLed at ${((workerKilledAt - started) / 1000).toFixed(0)} s and started again`);
    await sleep(Math.max(0, started + durationMs - Date.now()));
    stopping = true;
    await load;
    clearInterval(sampler);

    // Drain: the server closes its segments, one last loop run ingests them (and materializes).
    await server.stop('SIGTERM');
    const finalRun = spawnSync(process.execPath, [BIN, 'loop', 'run', 'soak'], { cwd: dir, encoding: 'utf8', timeout: 10 * 60_000 });
    if (finalRun.status !== 0) throw new Error(`the final flywheel loop run failed: ${finalRun.stdout}\n${finalRun.stderr}`);
    const loops = await loopRuns(new Client({ connection: clientConnection }));
    await worker.stop('SIGTERM');

    const engine = await openDuckDBEngine({ path: join(dir, '.flywheel', 'warehouse.duckdb') });
    let counts: Map<string, number>;
    try {
      const rows = (await engine.all(sql('SELECT _event_id, count(*)::INTEGER AS n FROM flywheel.stream_clicks GROUP BY _event_id'))) as { _event_id: string; n: number }[];
      counts = new Map(rows.map((r) => [r._event_id, r.n]));
    } finally {
      await engine.close();
    }
    const lost = [...acknowledged].filter((id) => !counts.has(id)).length;
    const duplicated = [...counts.values()].filter((n) => n > 1).length;
    const unacknowledgedStored = [...counts.keys()].filter((id) => !acknowledged.has(id)).length;

    const mib = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(0));
    const ms = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(1));
    let out = `\nSoak, ${options.minutes} min: ${options.rate} events/s from ${options.clients} clients (batches of ${options.batch}), ${options.servingRate} serving requests/s from ${options.servingClients} clients over ${options.users} users; loop every ${options.loopEvery}, segments closed after ${options.segmentAgeSeconds} s\n`;
    out += faults.map((f) => `  ${f}\n`).join('');
    out += `  events: acknowledged ${acknowledged.size}, lost ${lost}, duplicated ${duplicated}, stored without an acknowledgement ${unacknowledgedStored}; ${resends} sends repeated\n`;
    out += `  loop runs: ${Object.entries(loops).map(([status, n]) => `${n} ${status.toLowerCase()}`).join(', ')}\n`;
    out += `  minute | events acked | resent | ack p99 ms | serving ok | present | failed | p50 ms | p99 ms | RSS MiB serve | worker | temporal | bench | load\n`;
    minutes.forEach((m, i) => {
      const sorted = [...m.latencies].sort((a, b) => a - b);
      const acks = [...m.ackLatencies].sort((a, b) => a - b);
      const present = m.servingOk === 0 ? '-' : `${((100 * m.present) / m.servingOk).toFixed(0)}%`;
      out += `  ${String(i + 1).padStart(6)} | ${String(m.acknowledged).padStart(12)} | ${String(m.resent).padStart(6)} | ${ms(percentile(acks, 99)).padStart(10)} | ${String(m.servingOk).padStart(10)} | ${present.padStart(7)} | ${String(m.servingFailed).padStart(6)} | ${ms(percentile(sorted, 50)).padStart(6)} | ${ms(percentile(sorted, 99)).padStart(6)} | ${mib(m.rss.serve).padStart(13)} | ${mib(m.rss.worker).padStart(6)} | ${mib(m.rss.temporal).padStart(8)} | ${mib(m.rss.bench).padStart(5)} | ${m.load.toFixed(1).padStart(4)}\n`;
    });
    process.stdout.write(out);
    return { lost, duplicated };
  } finally {
    await server.stop('SIGKILL').catch(() => undefined);
    await worker.stop('SIGKILL').catch(() => undefined);
    await clientConnection.close().catch(() => undefined);
    await temporal.stop().catch(() => undefined);
    if (!process.env.SOAK_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

async function untilServerAnswers(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the server at ${url} did not answer within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** The loop's runs by status (scheduled and the final one). */
async function loopRuns(client: Client): Promise<Record<string, number>> {
  const byStatus: Record<string, number> = {};
  for await (const run of client.workflow.list({ query: `WorkflowType = 'flywheelLoop'` })) byStatus[run.status.name] = (byStatus[run.status.name] ?? 0) + 1;
  return byStatus;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      rate: { type: 'string', default: '500' },
      clients: { type: 'string', default: '4' },
      batch: { type: 'string', default: '25' },
      'serving-rate': { type: 'string', default: '100' },
      'serving-clients': { type: 'string', default: '2' },
      users: { type: 'string', default: '2000' },
      'loop-every': { type: 'string', default: '1m' },
      'segment-age': { type: 'string', default: '5' },
      port: { type: 'string', default: '7411' },
    },
  });
  const minutes = Number(values.minutes);
  if (!(minutes > 0 && minutes <= 60)) throw new Error('--minutes: between 0 and 60');
  const result = await soak({
    minutes, rate: Number(values.rate), clients: Number(values.clients), batch: Number(values.batch), servingRate: Number(values['serving-rate']),
    servingClients: Number(values['serving-clients']), users: Number(values.users), loopEvery: values['loop-every'], segmentAgeSeconds: Number(values['segment-age'].replace(/s$/, '')), port: Number(values.port),
  });
  process.exit(result.lost === 0 && result.duplicated === 0 ? 0 : 1);
}
