/**
 * Materialization into Redis, end to end, against raw pipelined writes of the same rows:
 *
 * - Flywheel: the `materializeFeatureView` workflow (full run, 4 chunks, two at a time) on a real
 *   Temporal dev server: each chunk's activity computes the latest values of its entities in DuckDB
 *   (values encoded as JSON arrays by the engine), streams them out and writes them with the
 *   newer-wins script, heartbeating as it goes;
 * - the store alone: `writeEncoded` of the same rows, already in memory;
 * - the baseline: the same keys and the same value strings (same layout), already in memory,
 *   written by pipelined `SET`s of 2,000 per round trip with the same client library (node-redis),
 *   no newer-wins check.
 *
 * `--entities` entities with `--features` float64 features, one source row each, in a DuckDB file;
 * a redis-server started here. The three take turns, `--runs` times each after a warm-up; medians.
 *
 *   npx tsx bench/materialize.ts [--entities 1000000] [--features 50] [--runs 3]
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { layoutOf } from '../connectors/online-store/online-layouts.ts';
import { encodeOnlineKey } from '../connectors/online-store/online-key.ts';
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

export async function benchMaterialize(options: { entities: number; features: number; runs: number; port: number }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-materialize-'));
  const redis = await startRedis(dir);
  const warehousePath = join(dir, 'warehouse.duckdb');
  const project = benchProject(options.features);
  const names = project.featureViews[VIEW]!.features.map((f) => f.name);
  const store = new RedisOnlineStore({ url: redis.url, keyPrefix: `fw:${PROJECT}:` });
  let stack: Awaited<ReturnType<typeof startBenchStack>> | undefined;
  try {
    // The source: one row per entity within the view's 30-day ttl, two-decimal values.
    let rows: { key: number; eventMicros: number; values: string }[];
    {
      const engine = await openDuckDBEngine({ path: warehousePath });
      const columns = names.map((n, i) => `round(((i * ${2_654_435_761 + i}) % 1000003) / 100.0, 2)::DOUBLE AS ${n}`).join(', ');
      await engine.run({ sql: `CREATE TABLE items AS SELECT i AS item_id, now() - to_seconds(i % 86400) AS ts, ${columns} FROM range(${options.entities}) t(i)`, parameters: [] });
      await new WarehouseRegistry(engine).save(PROJECT, project, { statements: warehouseObjectStatements({ desired: project, resolvePath: (p) => p, dialect: engine.dialect }) });
      // The baseline's rows: what the workflow writes, computed once, untimed.
      const query = compileEncodedLatestValues(project.featureViews[VIEW]!, project, engine.dialect, { asOf: new Date().toISOString() });
      const found = await engine.all<Record<string, unknown>>(query);
      rows = found.map((r) => ({ key: r.item_id as number, eventMicros: Number(r[LATEST_EVENT_MICROS]), values: r[LATEST_VALUES_JSON] as string }));
      await engine.close();
    }
    const scratchDir = join(dir, 'scratch');
    await mkdir(scratchDir);
    stack = await startBenchStack({
      dir, port: options.port, taskQueue: 'bench-materialize', project: PROJECT, warehousePath,
      objectStore: createObjectStore({ type: 'local', root: join(dir, 'objects') }), scratchDir, onlineStore: store,
    });
    const { client, taskQueue } = stack;

    const layout = layoutOf(names);
    const client2 = createClient({ url: redis.url });
    await client2.connect();
    const rawKeys = rows.map((r) => `fw:raw:${VIEW}:${encodeOnlineKey([r.key])}`);
    const subjects = {
      workflow: async () => {
        const result = await client.workflow.execute(materializeFeatureView, { taskQueue, workflowId: `bench-materialize-${Date.now()}`, args: [{ project: PROJECT, view: VIEW, full: true, chunks: 4 }] });
        if (result.rows !== options.entities) throw new Error(`the workflow wrote ${result.rows} rows, expected ${options.entities}`);
      },
      writeEncoded: async () => {
        for (let start = 0; start < rows.length; start += 2048) {
          await store.writeEncoded({ view: VIEW, features: names, rows: rows.slice(start, start + 2048).map((r) => ({ key: [r.key], eventMicros: r.eventMicros, values: r.values })) });
        }
      },
      rawSet: async () => {
        const writtenAt = Date.now() * 1000;
        for (let start = 0; start < rows.length; start += 2000) {
          const pending = [];
          for (let i = start; i < Math.min(rows.length, start + 2000); i++) {
            const r = rows[i]!;
            pending.push(client2.sendCommand(['SET', rawKeys[i]!, `${r.eventMicros}|${writtenAt}|${layout.id}|${r.values}`]));
          }
          await Promise.all(pending);
        }
      },
    };
    const samples: Record<keyof typeof subjects, number[]> = { workflow: [], writeEncoded: [], rawSet: [] };
    for (let run = -1; run < options.runs; run++) {
      for (const [name, work] of Object.entries(subjects) as [keyof typeof subjects, () => Promise<void>][]) {
        const start = performance.now();
        await work();
        if (run >= 0) samples[name].push(performance.now() - start);
      }
    }
    await client2.close();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const perSecond = (ms: number) => Math.round(options.entities / (ms / 1000));
    const [w, e, r] = [median(samples.workflow), median(samples.writeEncoded), median(samples.rawSet)];
    process.stdout.write(
      `\nMaterialization into Redis: ${options.entities.toLocaleString('en')} entities × ${options.features} features (median of ${options.runs})\n` +
        `  workflow (DuckDB query + stream + newer-wins writes, 4 chunks): ${(w / 1000).toFixed(2)} s = ${perSecond(w).toLocaleString('en')} rows/s\n` +
        `  writeEncoded of the same rows from memory: ${(e / 1000).toFixed(2)} s = ${perSecond(e).toLocaleString('en')} rows/s\n` +
        `  raw pipelined SET of the same strings (baseline): ${(r / 1000).toFixed(2)} s = ${perSecond(r).toLocaleString('en')} rows/s\n` +
        `  workflow: ${((r / w) * 100).toFixed(0)}% of the baseline's rate; writeEncoded: ${((r / e) * 100).toFixed(0)}%\n`,
    );
  } finally {
    await stack?.stop();
    await store.close();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const { values } = parseArgs({ options: { entities: { type: 'string', default: '1000000' }, features: { type: 'string', default: '50' }, runs: { type: 'string', default: '3' }, port: { type: 'string', default: '7299' } } });
  await benchMaterialize({ entities: Number(values.entities), features: Number(values.features), runs: Number(values.runs), port: Number(values.port) });
}
