/**
 * Materialization into Redis, end to end, against the strongest hand-written floor we could write:
 *
 * - Flywheel: the `materializeFeatureView` workflow (full run, 4 chunks, two at a time) on a real
 *   Temporal dev server: each chunk's activity computes the latest values of its entities in DuckDB
 *   (values encoded as JSON arrays by the engine), streams them out unordered and writes them with
 *   the newer-wins script, heartbeating as it goes; then the run sweeps the view's expired records;
 * - its stages alone: the read (the same 4 chunk queries, two at a time, streamed out of DuckDB
 *   and dropped), the write (`writeEncoded` of the same rows, already in memory) and the expiry
 *   sweep the workflow ends with for a view with a ttl (`deleteExpired`, which returns at once: every
 *   key was written with the ttl, so the view's expiry bound is known), and the same sweep forced to
 *   SCAN every key as it did before bounds (`sweepScan`);
 * - the floor: the same keys, the same value strings byte for byte (the newer-wins rule's fixed-width
 *   event time, written time, layout id, JSON array) and the same expiry, already in memory, written
 *   by pipelined `SET key value PXAT expiry` with the same client library (node-redis), no
 *   newer-wins check; three shapes (one connection, one pipeline of 2,000 at a time; two connections,
 *   two pipelines of 2,000 in flight on each; one connection, the same SETs 100 to a call of a Lua
 *   script without the check, so node-redis's per-command work is paid per 100 records as
 *   Flywheel's is), the fastest one is the floor;
 * - for reference, not the floor: `MSET`s of 100 records (2,000 per pipeline, two connections), which
 *   leave out the expiry the view's ttl asks for;
 * - for reference, the floor end to end: a hand-written run from the same table (the latest row of
 *   each entity by event time, values as DuckDB's json_array, 4 bucket queries at once), written as
 *   the script floor writes, no newer-wins check: what the 60% of the floor asks of any run
 *   that must also read the records, not only write them.
 *
 * Before any figure counts, a sample of 1,000 keys (first, last, spread) is read back from the
 * workflow's keys and, after each floor that writes with the expiry, from the floor's: values equal
 * byte for byte except the written time, expiries equal. Each subject's CPU time is counted for this
 * process (node: the worker, DuckDB's threads, node-redis) and for redis-server, so the report shows
 * where the time goes on the two shared cores.
 *
 * `--entities` entities with `--features` float64 features, one source row each, in a DuckDB file;
 * a redis-server started here. The subjects take turns, `--runs` times each after a warm-up; medians.
 *
 *   npx tsx bench/materialize.ts [--entities 1000000] [--features 50] [--runs 3]
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { prepareEncodedBatch } from '../connectors/online-store/online-records.ts';
import { eventTimeField } from '../connectors/online-store/redis/redis-write-script.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { compileEncodedLatestValues, LATEST_EVENT_MICROS, LATEST_VALUES_JSON } from '../core/sql/latest-values.ts';
import { warehouseObjectStatements } from '../core/sql/warehouse-objects.ts';
import { materializeFeatureView } from '../workflows/materialize.ts';
import { benchProject } from './serving-server.ts';
import { startRedis } from './redis-server.ts';
import { startBenchStack } from './temporal-stack.ts';

const PROJECT = 'bench';
const VIEW = 'item_features';
/** The floor's keys: as long as Flywheel's (`fw:bench:`), so both send the same bytes. */
const FLOOR_PREFIX = 'fw:floor:';
const PIPELINE_RECORDS = 2000;

export interface MaterializeFigures {
  entities: number;
  features: number;
  runs: number;
  /** Median wall time (ms) and CPU seconds of this process and of redis-server, per subject. */
  subjects: Record<SubjectName, { ms: number; nodeCpuS: number; redisCpuS: number }>;
  /** The faster floor shape and its median. */
  floor: { shape: FloorShape; ms: number };
  loadBefore: string;
  loadAfter: string;
}

type SubjectName = 'workflow' | 'read' | 'writeEncoded' | 'sweep' | 'sweepScan' | 'floorOne' | 'floorTwo' | 'floorScript' | 'msetNoExpiry' | 'floorEndToEnd';
type FloorShape = 'floorOne' | 'floorTwo' | 'floorScript';
const FLOOR_SHAPES: readonly FloorShape[] = ['floorOne', 'floorTwo', 'floorScript'];
/** The subjects that write the floor's keys with the expiry: each is checked once against the workflow's records. */
const CHECKED_FLOORS: ReadonlySet<SubjectName> = new Set([...FLOOR_SHAPES, 'floorEndToEnd']);

export async function benchMaterialize(options: { entities: number; features: number; runs: number; port: number }): Promise<MaterializeFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-materialize-'));
  const redis = await startRedis(dir);
  const warehousePath = join(dir, 'warehouse.duckdb');
  const project = benchProject(options.features);
  const view = project.featureViews[VIEW]!;
  const names = view.features.map((f) => f.name);
  const store = new RedisOnlineStore({ url: redis.url, keyPrefix: `fw:${PROJECT}:` });
  const loadBefore = await loadAverage();
  let stack: Awaited<ReturnType<typeof startBenchStack>> | undefined;
  const clients: ReturnType<typeof createClient>[] = [];
  try {
    // The source: one row per entity within the view's 30-day ttl, two-decimal values.
    let rows: { key: number; eventMicros: number; values: string }[];
    const engine = await openDuckDBEngine({ path: warehousePath });
    const asOf = new Date().toISOString();
    {
      const columns = names.map((n, i) => `round(((i * ${2_654_435_761 + i}) % 1000003) / 100.0, 2)::DOUBLE AS ${n}`).join(', ');
      await engine.run({ sql: `CREATE TABLE items AS SELECT i AS item_id, now() - to_seconds(i % 86400) AS ts, ${columns} FROM range(${options.entities}) t(i)`, parameters: [] });
      await new WarehouseRegistry(engine).save(PROJECT, project, { statements: warehouseObjectStatements({ desired: project, resolvePath: (p) => p, dialect: engine.dialect }) });
      // The floor's rows: what the workflow writes, computed once, untimed.
      const found = await engine.all<Record<string, unknown>>(compileEncodedLatestValues(view, project, engine.dialect, { asOf }));
      rows = found.map((r) => ({ key: r.item_id as number, eventMicros: Number(r[LATEST_EVENT_MICROS]), values: r[LATEST_VALUES_JSON] as string }));
    }
    // The floor's strings, built untimed: key, value (its written time filled in per run) and expiry, as the store builds them.
    const prepared = prepareEncodedBatch({ view: VIEW, features: names, rows: rows.map((r) => ({ key: [r.key], eventMicros: r.eventMicros, values: r.values })), ttlSeconds: view.ttlSeconds });
    const floorKeys = prepared.map((p) => `${FLOOR_PREFIX}${VIEW}:${p.encodedKey}`);
    const heads = prepared.map((p) => eventTimeField(p.eventMicros));
    const tails = prepared.map((p) => `|${p.layout.id}|${p.values}`);
    const expiries = prepared.map((p) => String(p.expireAtMillis));
    for (let i = 0; i < 2; i++) {
      const client = createClient({ url: redis.url });
      await client.connect();
      clients.push(client);
    }
    const redisPid = Number(/process_id:(\d+)/.exec(await clients[0]!.info('server'))![1]);

    /** Writes every record by `command(i, writtenField)`: `connections` clients, `depth` pipelines of 2,000 in flight on each. */
    const floorWrite = async (connections: number, depth: number, step: number, command: (i: number, written: string) => string[]) => {
      const written = `|${Date.now() * 1000}`;
      let next = 0;
      await Promise.all(clients.slice(0, connections).map(async (client) => {
        const inFlight: Promise<unknown>[] = [];
        for (;;) {
          const start = next;
          next += PIPELINE_RECORDS;
          if (start >= rows.length) break;
          const pipeline: Promise<unknown>[] = [];
          for (let i = start; i < Math.min(rows.length, start + PIPELINE_RECORDS); i += step) pipeline.push(client.sendCommand(command(i, written)));
          inFlight.push(Promise.all(pipeline));
          if (inFlight.length >= depth) await inFlight.shift();
        }
        await Promise.all(inFlight);
      }));
    };
    const setWithExpiry = (i: number, written: string) => ['SET', floorKeys[i]!, `${heads[i]}${written}${tails[i]}`, 'PXAT', expiries[i]!];
    // The same SETs 100 to a call of a script without the newer-wins check: node-redis's work per command is paid once per 100 records, as Flywheel's is.
    const plainScriptSha = String(await clients[0]!.scriptLoad(PLAIN_SET_SCRIPT));
    const plainScript = (i: number, written: string) => {
      const end = Math.min(rows.length, i + 100);
      const args = ['EVALSHA', plainScriptSha, String(end - i)];
      for (let j = i; j < end; j++) args.push(floorKeys[j]!);
      for (let j = i; j < end; j++) args.push(`${heads[j]}${written}${tails[j]}`, expiries[j]!);
      return args;
    };
    const mset = (i: number, written: string) => {
      const args = ['MSET'];
      for (let j = i; j < Math.min(rows.length, i + 100); j++) args.push(floorKeys[j]!, `${heads[j]}${written}${tails[j]}`);
      return args;
    };

    // The floor end to end, for reference: what a hand-written program does for the same records
    // from the same table, with nothing of Flywheel's beyond eventTimeField's spelling of a time.
    // Each of 4 hash buckets of the entities is one query, all four at once (faster here than two
    // at a time, as the workflow runs its chunks, or two writes in flight: docs/benchmarks.md): the
    // latest row of each entity within the ttl by event time alone (no tie-break over the feature
    // values, which this data, one row per entity, does not need) with its values as DuckDB's
    // json_array; each batch of 2,048 rows is written as the script floor writes (SET … PXAT, 100 to
    // a script call, no newer-wins check) on one connection while the next batch is read. Not the
    // issue's floor, which starts from the strings in memory: what any run that also reads them
    // can reach.
    const layoutId = prepared[0]!.layout.id;
    const ttlMicros = view.ttlSeconds! * 1_000_000;
    const endToEndQuery = (chunk: number) => ({
      sql: `SELECT item_id, epoch_us(ts) AS micros, CAST(json_array(${names.join(', ')}) AS VARCHAR) AS json\n` +
        `FROM items WHERE hash(item_id) % 4 = ? AND ts <= CAST(? AS TIMESTAMPTZ) AND ts >= CAST(? AS TIMESTAMPTZ) - INTERVAL ${view.ttlSeconds} SECOND\n` +
        'QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY ts DESC) = 1',
      parameters: [chunk, asOf, asOf],
    });
    const endToEnd = async () => {
      const written = `|${Date.now() * 1000}|${layoutId}|`;
      let count = 0;
      const chunk = async (c: number) => {
        const reader = await openDuckDBEngine({ path: warehousePath });
        try {
          let inFlight: Promise<unknown> | undefined;
          for await (const batch of reader.stream(endToEndQuery(c), { batchRows: 2048 })) {
            const [ids, micros, json] = batch.values as [number[], number[], string[]];
            const calls: string[][] = [];
            for (let i = 0; i < batch.rowCount; i += 100) {
              const end = Math.min(batch.rowCount, i + 100);
              const args = ['EVALSHA', plainScriptSha, String(end - i)];
              for (let j = i; j < end; j++) args.push(`${FLOOR_PREFIX}${VIEW}:[${ids[j]}]`);
              for (let j = i; j < end; j++) {
                const m = Number(micros[j]);
                args.push(`${eventTimeField(m)}${written}${json[j]}`, String(Math.floor((m + ttlMicros) / 1000)));
              }
              calls.push(args);
            }
            count += batch.rowCount;
            if (inFlight) await inFlight;
            inFlight = Promise.all(calls.map((args) => clients[0]!.sendCommand(args)));
          }
          await inFlight;
        } finally {
          await reader.close();
        }
      };
      await Promise.all([0, 1, 2, 3].map(chunk));
      if (count !== rows.length) throw new Error(`the end-to-end floor wrote ${count} records, expected ${rows.length}`);
    };

    // The read stage alone, with the workflow's own chunk queries, before the worker opens the file.
    const readStage = async () => {
      let read = 0;
      const chunk = async (c: number) => {
        for await (const batch of engine.stream(compileEncodedLatestValues(view, project, engine.dialect, { asOf, bucket: { chunk: c, chunks: 4 } }), { batchRows: 2048 })) read += batch.rowCount;
      };
      await Promise.all([chunk(0), chunk(1)]);
      await Promise.all([chunk(2), chunk(3)]);
      if (read !== rows.length) throw new Error(`the read stage read ${read} rows, expected ${rows.length}`);
    };
    const samples = emptySamples();
    for (let run = -1; run < options.runs; run++) await timed(samples, 'read', run, redisPid, readStage);
    await engine.close();

    const scratchDir = join(dir, 'scratch');
    await mkdir(scratchDir);
    stack = await startBenchStack({
      dir, port: options.port, taskQueue: 'bench-materialize', project: PROJECT, warehousePath,
      objectStore: createObjectStore({ type: 'local', root: join(dir, 'objects') }), scratchDir, onlineStore: store,
    });
    const { client, taskQueue } = stack;
    const subjects: Partial<Record<SubjectName, () => Promise<void>>> = {
      workflow: async () => {
        const result = await client.workflow.execute(materializeFeatureView, { taskQueue, workflowId: `bench-materialize-${Date.now()}`, args: [{ project: PROJECT, view: VIEW, full: true, chunks: 4 }] });
        if (result.rows !== options.entities) throw new Error(`the workflow wrote ${result.rows} rows, expected ${options.entities}`);
      },
      writeEncoded: async () => {
        for (let start = 0; start < rows.length; start += 2048) {
          await store.writeEncoded({ view: VIEW, features: names, ttlSeconds: view.ttlSeconds, rows: rows.slice(start, start + 2048).map((r) => ({ key: [r.key], eventMicros: r.eventMicros, values: r.values })) });
        }
      },
      // The workflow's last step for a view with a ttl (sweepExpiredOnline), alone: every key was
      // written with the view's ttl, so the view's expiry bound lets it return without a SCAN.
      sweep: async () => {
        const swept = await store.deleteExpired(VIEW, view.ttlSeconds!, new Date(), Number.MAX_SAFE_INTEGER);
        if (swept.deleted !== 0 || !swept.done) throw new Error(`the sweep removed ${swept.deleted} records of fresh values`);
      },
      // The same sweep as it ran before expiry bounds (SCAN every key of the view and check its
      // event time): one as of a minute from now scans whatever the bound (redis-expiry-bound.ts).
      sweepScan: async () => {
        const swept = await store.deleteExpired(VIEW, view.ttlSeconds!, new Date(Date.now() + 60_000), Number.MAX_SAFE_INTEGER);
        if (swept.deleted !== 0 || !swept.done) throw new Error(`the scanning sweep removed ${swept.deleted} records of fresh values`);
      },
      msetNoExpiry: () => floorWrite(2, 1, 100, mset),
      floorOne: () => floorWrite(1, 1, 1, setWithExpiry),
      floorTwo: () => floorWrite(2, 2, 1, setWithExpiry),
      floorScript: () => floorWrite(1, 1, 100, plainScript),
      floorEndToEnd: endToEnd,
    };
    const encodedKeys = prepared.map((p) => p.encodedKey);
    for (let run = -1; run < options.runs; run++) {
      for (const [name, work] of Object.entries(subjects) as [SubjectName, () => Promise<void>][]) {
        await timed(samples, name, run, redisPid, work);
        if (run === -1 && CHECKED_FLOORS.has(name)) await checkSameRecords(clients[0]!, encodedKeys, name);
      }
    }
    const subjectFigures = Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, { ms: median(s.ms), nodeCpuS: median(s.nodeCpuS), redisCpuS: median(s.redisCpuS) }])) as MaterializeFigures['subjects'];
    const shape = FLOOR_SHAPES.reduce((best, s) => (subjectFigures[s].ms < subjectFigures[best].ms ? s : best));
    return { entities: options.entities, features: options.features, runs: options.runs, subjects: subjectFigures, floor: { shape, ms: subjectFigures[shape].ms }, loadBefore, loadAfter: await loadAverage() };
  } finally {
    for (const c of clients) await c.close();
    await stack?.stop();
    await store.close();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function printMaterializeFigures(f: MaterializeFigures): void {
  const line = (label: string, name: SubjectName) => {
    const s = f.subjects[name];
    return `  ${label}: ${(s.ms / 1000).toFixed(2)} s = ${perSecond(f.entities, s.ms).toLocaleString('en')} rows/s, ${((f.floor.ms / s.ms) * 100).toFixed(0)}% of the floor (CPU: node ${s.nodeCpuS.toFixed(1)} s, redis-server ${s.redisCpuS.toFixed(1)} s)\n`;
  };
  process.stdout.write(
    `\nMaterialization into Redis: ${f.entities.toLocaleString('en')} entities × ${f.features} features (median of ${f.runs}; load average ${f.loadBefore} before, ${f.loadAfter} after)\n` +
      line('workflow, end to end (4 chunks, two at a time)', 'workflow') +
      line('  its read stage alone (the 4 chunk queries, streamed out of DuckDB)', 'read') +
      line('  its write stage alone (writeEncoded from memory)', 'writeEncoded') +
      line('  its expiry sweep alone (deleteExpired: the view\'s expiry bound is known, no SCAN)', 'sweep') +
      line('  the expiry sweep as before bounds (a SCAN of the view\'s keys, nothing to remove)', 'sweepScan') +
      line('floor: pipelined SET … PXAT, 1 connection', 'floorOne') +
      line('floor: pipelined SET … PXAT, 2 connections × 2 pipelines', 'floorTwo') +
      line('floor: the same SETs, 100 to a call of a script without the newer-wins check', 'floorScript') +
      line('reference: MSET of 100, 2 connections, no expiry', 'msetNoExpiry') +
      line('reference: the floor end to end (hand-written: the 4 bucket queries, latest by event time, json_array, then the script floor\'s writes)', 'floorEndToEnd') +
      `  floor = ${FLOOR_NAMES[f.floor.shape]}: ${(f.floor.ms / 1000).toFixed(2)} s; workflow at ${((f.floor.ms / f.subjects.workflow.ms) * 100).toFixed(0)}% of it (goal ≥ 60%: ${f.floor.ms / f.subjects.workflow.ms >= 0.6 ? 'met' : 'not met'})\n`,
  );
}

/**
 * Reads up to 1,000 sample records (first, last, spread evenly) from the workflow's keys and the floor's:
 * the values must be equal byte for byte once the written time (the second field, which differs by
 * when each ran) is masked, and so must their expiry times (PEXPIRETIME).
 */
async function checkSameRecords(client: ReturnType<typeof createClient>, encodedKeys: readonly string[], floor: SubjectName): Promise<void> {
  const picks = new Set<number>();
  for (let i = 0; i < 1000; i++) picks.add(Math.floor((i * (encodedKeys.length - 1)) / 999));
  const mask = (value: string | null) => value?.replace(/^([^|]*)\|[^|]*\|/, '$1|<written>|') ?? null;
  for (const i of picks) {
    const flywheelKey = `fw:${PROJECT}:${VIEW}:${encodedKeys[i]}`;
    const floorKey = `${FLOOR_PREFIX}${VIEW}:${encodedKeys[i]}`;
    const [a, b] = await Promise.all([client.get(flywheelKey), client.get(floorKey)]);
    if (a === null || mask(a) !== mask(b)) throw new Error(`${floor}: ${flywheelKey} and ${floorKey} differ: ${a?.slice(0, 60)} / ${b?.slice(0, 60)}`);
    const [ea, eb] = await Promise.all([client.sendCommand(['PEXPIRETIME', flywheelKey]), client.sendCommand(['PEXPIRETIME', floorKey])]);
    if (ea !== eb || Number(ea) <= 0) throw new Error(`${floor}: ${flywheelKey} expires at ${String(ea)}, ${floorKey} at ${String(eb)}`);
  }
  process.stdout.write(`  sample check (${floor}): ${picks.size} records equal byte for byte (written time masked), expiries equal\n`);
}

function emptySamples(): Record<SubjectName, { ms: number[]; nodeCpuS: number[]; redisCpuS: number[] }> {
  const names: SubjectName[] = ['workflow', 'read', 'writeEncoded', 'sweep', 'sweepScan', 'floorOne', 'floorTwo', 'floorScript', 'msetNoExpiry', 'floorEndToEnd'];
  return Object.fromEntries(names.map((n) => [n, { ms: [], nodeCpuS: [], redisCpuS: [] }])) as never;
}

/** Runs `work`, and from run 0 on records its wall time and the CPU time of this process and of redis-server. */
async function timed(samples: ReturnType<typeof emptySamples>, name: SubjectName, run: number, redisPid: number, work: () => Promise<void>): Promise<void> {
  const cpu = process.cpuUsage();
  const redisCpu = await processCpuSeconds(redisPid);
  const start = performance.now();
  await work();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  if (run < 0) return;
  samples[name].ms.push(ms);
  samples[name].nodeCpuS.push((used.user + used.system) / 1e6);
  samples[name].redisCpuS.push((await processCpuSeconds(redisPid)) - redisCpu);
}

/** User + system CPU seconds of a process, from /proc (Linux). */
async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function loadAverage(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}

const FLOOR_NAMES: Record<FloorShape, string> = { floorOne: 'SET … PXAT, 1 connection', floorTwo: 'SET … PXAT, 2 connections', floorScript: 'SET … PXAT, 100 to a script call' };

/** The floor's script: SET with expiry for every record given, no check. KEYS[i]; ARGV[2i - 1] its value, ARGV[2i] its expiry (ms). */
const PLAIN_SET_SCRIPT = `for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PXAT', ARGV[2 * i])
end
return #KEYS
`;

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const perSecond = (rows: number, ms: number) => Math.round(rows / (ms / 1000));

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const { values } = parseArgs({ options: { entities: { type: 'string', default: '1000000' }, features: { type: 'string', default: '50' }, runs: { type: 'string', default: '3' }, port: { type: 'string', default: '7299' } } });
  printMaterializeFigures(await benchMaterialize({ entities: Number(values.entities), features: Number(values.features), runs: Number(values.runs), port: Number(values.port) }));
}
