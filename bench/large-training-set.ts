/**
 * The large training-set benchmark: 10 million spine rows against three feature views holding 50
 * million rows over 100,000 users (and 10,000 merchants). Flywheel builds the training set through
 * its workflow on a real Temporal dev server (join, Parquet per day, statistics, publish to the
 * object store); in the same process, the baseline is a hand-written DuckDB ASOF JOIN plus COPY to
 * one Parquet file. With `--partition-by day` a second baseline writes the same hand-written join in
 * the training set's layout, one folder of Parquet per day (`COPY … PARTITION_BY`), which is what a
 * hand-written day-partitioned training set costs. Reports rows per second, peak memory, and the ratios.
 *
 *   npx tsx bench/large-training-set.ts [--scale 1] [--partition-by day|none] [--runs 1] [--no-tie-break]
 *     [--source table|view|parquet] [--unique] [--memory-limit 4GB] [--check]
 *
 * The feature tables have primary keys on (entity, ts), so no two rows tie and Flywheel's join skips
 * its tie-break; unless --no-tie-break, Flywheel then also runs over the same rows through views
 * without the keys, where the tie-break runs (docs/point-in-time.md).
 * --source view reads the feature rows through plain views (no keys), --source parquet the spine and
 * feature rows from Parquet files; the hand-written floor reads the same relations. --unique declares
 * each feature source's (key, ts) unique (`unique` on the source), so the tie-break is skipped on any
 * source; the tie-break line is then the same sources without the declaration.
 * --memory-limit runs Flywheel again, after the unlimited runs, with DuckDB's memory_limit set (it
 * spills to a temp folder beside the warehouse), and reports its time against the unlimited one.
 * --check compares Flywheel's published rows with the floor's (EXCEPT ALL both ways; the data has no ties)
 * and counts rows out of spine order within each published file (rule 8).
 * --scale 0.1 runs a tenth of the sizes: 1M spine rows × 3 views × 5M feature rows.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { openDuckDBEngine, type DuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { warehouseObjectStatements } from '../core/sql/warehouse-objects.ts';
import { buildTrainingSet } from '../workflows/build-training-set.ts';
import { startBenchStack } from './temporal-stack.ts';
import { exportLargeParquet, generateLargeData, handWrittenJoin, LARGE_DEFAULTS, largeProject, type LargeDataSizes, type LargeSourceKind } from './large-training-set-data.ts';

interface Measured {
  readonly seconds: number;
  /** Peak of DuckDB's own memory (buffers, hash tables, sorts), sampled every 50 ms. */
  readonly peakDuckdbBytes: number;
  /** Peak resident set size of this process over the run, sampled every 50 ms. */
  readonly peakRssBytes: number;
  /**
   * CPU seconds of this process (DuckDB and the worker run in it; the Temporal server, a process of
   * its own, is not counted), steadier than wall time on a shared machine.
   */
  readonly cpuSeconds: number;
}

async function measure(sampler: DuckDBEngine, work: () => Promise<unknown>): Promise<Measured> {
  let peakDuckdbBytes = 0;
  let peakRssBytes = 0;
  let sampling = true;
  const sample = (async () => {
    while (sampling) {
      const [row] = await sampler.all<{ bytes: number }>({ sql: 'SELECT sum(memory_usage_bytes) AS bytes FROM duckdb_memory()', parameters: [] });
      peakDuckdbBytes = Math.max(peakDuckdbBytes, Number(row?.bytes ?? 0));
      peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const start = performance.now();
  const cpu = process.cpuUsage();
  try {
    await work();
  } finally {
    sampling = false;
    await sample;
  }
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - start) / 1000, peakDuckdbBytes, peakRssBytes, cpuSeconds: (used.user + used.system) / 1e6 };
}

export interface LargeOptions {
  readonly scale: number;
  readonly partitionBy: 'day' | 'none';
  readonly runs: number;
  readonly port: number;
  readonly tieBreak: boolean;
  readonly source?: LargeSourceKind;
  readonly unique?: boolean;
  readonly memoryLimit?: string;
  readonly check?: boolean;
}

export async function benchLargeTrainingSet(options: LargeOptions) {
  const kind = options.source ?? 'table';
  const sizes: LargeDataSizes = {
    spineRows: Math.round(LARGE_DEFAULTS.spineRows * options.scale),
    userRowsPerView: Math.round(LARGE_DEFAULTS.userRowsPerView * options.scale),
    merchantRows: Math.round(LARGE_DEFAULTS.merchantRows * options.scale),
    users: LARGE_DEFAULTS.users,
    merchants: LARGE_DEFAULTS.merchants,
  };
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-large-'));
  const warehousePath = join(dir, 'warehouse.duckdb');
  const scratchDir = join(dir, 'scratch');
  await mkdir(scratchDir);
  const objectStore = createObjectStore({ type: 'local', root: join(dir, 'objects') });
  const parquetDir = join(dir, 'parquet');
  const spec = largeProject(options.partitionBy, { source: kind, unique: options.unique ?? false, parquetDir });
  const floorJoin = handWrittenJoin(kind, parquetDir);
  // One engine kept open for the whole run: it samples memory, and it keeps DuckDB's instance (shared
  // in this process with the activities' engines) warm for both sides alike. It spills where a
  // profile's engine would, a folder in the state folder (used only under --memory-limit).
  const engine = await openDuckDBEngine({ path: warehousePath, tempDirectory: join(dir, 'duckdb-temp') });
  // Memory is sampled on a connection of its own: on the baseline's connection the samples would
  // wait for the statement they are meant to watch.
  const sampler = await openDuckDBEngine({ path: warehousePath });
  const generated = performance.now();
  await generateLargeData(engine, sizes);
  if (kind === 'parquet') {
    await mkdir(parquetDir);
    await exportLargeParquet(engine, parquetDir);
  }
  const generateSeconds = (performance.now() - generated) / 1000;
  await new WarehouseRegistry(engine).save('bench', spec, { statements: warehouseObjectStatements({ desired: spec, resolvePath: (p) => p, dialect: engine.dialect }) });

  const stack = await startBenchStack({ dir, port: options.port, taskQueue: 'bench-large', project: 'bench', warehousePath, objectStore, scratchDir });
  const { client, taskQueue } = stack;
  const flywheel: Measured[] = [];
  const tieBreak: Measured[] = [];
  const baseline: Measured[] = [];
  const sameLayout: Measured[] = [];
  const limited: Measured[] = [];
  let sameRows: string | undefined;
  let partitions = 0;
  const build = () => measure(sampler, async () => {
    const result = await client.workflow.execute(buildTrainingSet, { taskQueue, workflowId: `bench-large-${Date.now()}`, args: [{ project: 'bench', trainingSet: 'large' }] });
    if (result.rowCount !== sizes.spineRows) throw new Error(`expected ${sizes.spineRows} rows, got ${result.rowCount}`);
    partitions = result.partitions.length;
  });
  try {
    for (let i = 0; i < options.runs; i++) {
      flywheel.push(await build());
      baseline.push(await measure(sampler, () => engine.run({ sql: `COPY (${floorJoin}) TO '${join(dir, 'hand-written.parquet')}' (FORMAT parquet, COMPRESSION zstd)`, parameters: [] })));
      if (options.partitionBy === 'day') {
        const target = join(dir, `hand-written-by-day-${i}`);
        sameLayout.push(await measure(sampler, () => engine.run({ sql: `COPY (SELECT *, strftime(ts, '%Y-%m-%d') AS day FROM (${floorJoin})) TO '${target}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day))`, parameters: [] })));
      }
      if (options.check && i === 0) sameRows = await compareWithFloor(engine, join(dir, 'objects', 'large'), join(dir, 'hand-written.parquet'));
    }
    if (options.tieBreak) {
      // The same rows without a promise of uniqueness (views without the tables' primary keys, or the
      // same sources without `unique`): the join reduces ties first. Before the limited builds: in a run
      // of 12-05 the tie-break builds that followed them peaked at the limit's 3.73 GiB, as if still under it.
      const unconstrained = largeProject(options.partitionBy, { source: kind === 'table' ? 'view' : kind, parquetDir });
      await new WarehouseRegistry(engine).save('bench', unconstrained, { statements: warehouseObjectStatements({ desired: unconstrained, applied: spec, resolvePath: (p) => p, dialect: engine.dialect }) });
      for (let i = 0; i < options.runs; i++) tieBreak.push(await build());
      if (options.memoryLimit !== undefined) {
        await new WarehouseRegistry(engine).save('bench', spec, { statements: warehouseObjectStatements({ desired: spec, applied: unconstrained, resolvePath: (p) => p, dialect: engine.dialect }) });
      }
    }
    if (options.memoryLimit !== undefined) {
      // The same build with DuckDB's memory capped: sorts, hash tables and the working table spill.
      await engine.run({ sql: `SET memory_limit = '${options.memoryLimit}'`, parameters: [] });
      try {
        for (let i = 0; i < options.runs; i++) limited.push(await build());
      } finally {
        await engine.run({ sql: 'RESET memory_limit', parameters: [] });
      }
    }
  } finally {
    await stack.stop();
    await sampler.close();
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
  const best = (xs: Measured[]) => [...xs].sort((a, b) => a.seconds - b.seconds)[0]!;
  // The least CPU of the runs, reported beside the best wall time.
  const leastCpu = (xs: Measured[]) => Math.min(...xs.map((m) => m.cpuSeconds));
  return {
    sizes, generateSeconds, partitions, flywheel: best(flywheel), tieBreak: tieBreak.length > 0 ? best(tieBreak) : undefined, baseline: best(baseline),
    sameLayout: sameLayout.length > 0 ? best(sameLayout) : undefined, limited: limited.length > 0 ? best(limited) : undefined, memoryLimit: options.memoryLimit,
    partitionBy: options.partitionBy, runs: options.runs, source: kind, unique: options.unique ?? false, sameRows,
    cpu: {
      flywheel: leastCpu(flywheel), baseline: leastCpu(baseline),
      ...(tieBreak.length > 0 ? { tieBreak: leastCpu(tieBreak) } : {}), ...(sameLayout.length > 0 ? { sameLayout: leastCpu(sameLayout) } : {}),
    },
  };
}

/** Flywheel's published partitions against the floor's file: rows in one and not the other, each way (EXCEPT ALL). */
async function compareWithFloor(engine: DuckDBEngine, published: string, floorFile: string): Promise<string> {
  const columns = 'event_id, user_id, merchant_id, ts, label, amount_sum_1d, txn_count_1d, night_share, distinct_merchants, chargeback_rate, txn_count_30d';
  const flywheel = `SELECT ${columns} FROM read_parquet('${published}/*/part-*.parquet')`;
  const floor = `SELECT ${columns} FROM read_parquet('${floorFile}')`;
  const [row] = await engine.all<{ only_flywheel: number; only_floor: number; flywheel: number; floor: number }>({
    sql: `SELECT (SELECT count(*) FROM (${flywheel} EXCEPT ALL ${floor})) AS only_flywheel, (SELECT count(*) FROM (${floor} EXCEPT ALL ${flywheel})) AS only_floor,
            (SELECT count(*) FROM (${flywheel})) AS flywheel, (SELECT count(*) FROM (${floor})) AS floor`,
    parameters: [],
  });
  // Rule 8: spine order within each file (the generated spine's event_id grows with its order).
  const [order] = await engine.all<{ out_of_order: number }>({
    sql: `SELECT count(*) FILTER (WHERE event_id < prev) AS out_of_order FROM (SELECT event_id, lag(event_id) OVER (PARTITION BY filename ORDER BY file_row_number) AS prev
            FROM read_parquet('${published}/*/part-*.parquet', filename = true, file_row_number = true))`,
    parameters: [],
  });
  const same = row?.only_flywheel === 0 && row.only_floor === 0 && row.flywheel === row.floor && order?.out_of_order === 0;
  return `${same ? 'yes' : 'NO'} (${row?.flywheel} rows against ${row?.floor}; ${row?.only_flywheel} only in Flywheel's, ${row?.only_floor} only in the floor's; ${order?.out_of_order} rows out of spine order in their file)`;
}

export function reportLarge(r: Awaited<ReturnType<typeof benchLargeTrainingSet>>): void {
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  const rate = (m: Measured) => Math.round(r.sizes.spineRows / m.seconds).toLocaleString('en-US');
  const featureRows = 2 * r.sizes.userRowsPerView + r.sizes.merchantRows;
  process.stdout.write(
    `\nLarge training set (DuckDB, 3 feature views, partitionBy ${r.partitionBy}, sources: ${r.source}${r.unique ? ', declared unique' : ''}, best of ${r.runs}; load average ${loadAverage()})\n` +
      `  spine rows: ${r.sizes.spineRows.toLocaleString('en-US')}; feature rows: ${featureRows.toLocaleString('en-US')} over ${r.sizes.users.toLocaleString('en-US')} users and ${r.sizes.merchants.toLocaleString('en-US')} merchants (generated in ${r.generateSeconds.toFixed(1)} s)\n` +
      `  flywheel workflow: ${r.flywheel.seconds.toFixed(1)} s, ${rate(r.flywheel)} rows/s, ${r.partitions} partitions, peak DuckDB memory ${gib(r.flywheel.peakDuckdbBytes)}, peak RSS ${gib(r.flywheel.peakRssBytes)}\n` +
      `  hand-written ASOF JOIN + COPY (baseline): ${r.baseline.seconds.toFixed(1)} s, ${rate(r.baseline)} rows/s, peak DuckDB memory ${gib(r.baseline.peakDuckdbBytes)}, peak RSS ${gib(r.baseline.peakRssBytes)}\n` +
      `  ratio: ${(r.flywheel.seconds / r.baseline.seconds).toFixed(2)}x the baseline\n` +
      (r.tieBreak
        ? `  flywheel workflow, ${r.source === 'table' ? 'tables read through views without their keys' : 'the same sources without a promise of uniqueness'} (the tie-break runs): ${r.tieBreak.seconds.toFixed(1)} s, ${rate(r.tieBreak)} rows/s, peak DuckDB memory ${gib(r.tieBreak.peakDuckdbBytes)}\n` +
          `  ratio: ${(r.tieBreak.seconds / r.baseline.seconds).toFixed(2)}x the baseline\n`
        : '') +
      (r.sameLayout
        ? `  hand-written ASOF JOIN + COPY PARTITION_BY day (same layout): ${r.sameLayout.seconds.toFixed(1)} s, ${rate(r.sameLayout)} rows/s, peak DuckDB memory ${gib(r.sameLayout.peakDuckdbBytes)}\n` +
          `  ratio: ${(r.flywheel.seconds / r.sameLayout.seconds).toFixed(2)}x the same-layout baseline\n`
        : '') +
      `  CPU seconds of this process, least of ${r.runs}: flywheel ${r.cpu.flywheel.toFixed(2)} s, baseline ${r.cpu.baseline.toFixed(2)} s (${(r.cpu.flywheel / r.cpu.baseline).toFixed(2)}x)` +
      (r.cpu.tieBreak !== undefined ? `, with the tie-break ${r.cpu.tieBreak.toFixed(2)} s (${(r.cpu.tieBreak / r.cpu.baseline).toFixed(2)}x)` : '') +
      (r.cpu.sameLayout !== undefined ? `, same-layout baseline ${r.cpu.sameLayout.toFixed(2)} s (flywheel ${(r.cpu.flywheel / r.cpu.sameLayout).toFixed(2)}x)` : '') + '\n' +
      (r.sameRows !== undefined ? `  same rows as the floor: ${r.sameRows}\n` : '') +
      (r.limited
        ? `  flywheel workflow with memory_limit ${r.memoryLimit}: ${r.limited.seconds.toFixed(1)} s, peak DuckDB memory ${gib(r.limited.peakDuckdbBytes)}, peak RSS ${gib(r.limited.peakRssBytes)}\n` +
          `  ratio: ${(r.limited.seconds / r.flywheel.seconds).toFixed(2)}x the unlimited workflow\n`
        : ''),
  );
}

function loadAverage(): string {
  return loadavg().map((l) => l.toFixed(2)).join(' ');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: '1' }, 'partition-by': { type: 'string', default: 'day' }, runs: { type: 'string', default: '1' }, port: { type: 'string', default: '7277' },
      'no-tie-break': { type: 'boolean', default: false }, source: { type: 'string', default: 'table' }, unique: { type: 'boolean', default: false },
      'memory-limit': { type: 'string' }, check: { type: 'boolean', default: false },
    },
  });
  const source = values.source;
  if (source !== 'table' && source !== 'view' && source !== 'parquet') throw new Error(`--source must be table, view or parquet, got "${source}"`);
  reportLarge(await benchLargeTrainingSet({
    scale: Number(values.scale), partitionBy: values['partition-by'] === 'none' ? 'none' : 'day', runs: Number(values.runs), port: Number(values.port), tieBreak: !values['no-tie-break'],
    source, unique: values.unique, check: values.check, ...(values['memory-limit'] !== undefined ? { memoryLimit: values['memory-limit'] } : {}),
  }));
}
