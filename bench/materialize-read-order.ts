/**
 * Materialization's read stage with and without a final ORDER BY, A/B in one run (issue 17 item 4,
 * step 2): bench/materialize.ts's data (`--entities` × 50 doubles in a DuckDB file, the bench
 * project's view) and its 4 chunk queries (compileEncodedLatestValues, which has no ORDER BY since
 * then), two at a time, streamed out and dropped; the ordered variant appends `ORDER BY item_id`.
 * Prints wall time, when the first batch came, and this process's CPU seconds (DuckDB's threads included).
 *
 *   npx tsx bench/materialize-read-order.ts [--entities 1000000] [--rounds 3]
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { compileEncodedLatestValues } from '../core/sql/latest-values.ts';
import { warehouseObjectStatements } from '../core/sql/warehouse-objects.ts';
import { benchProject } from './serving-server.ts';

const { values: args } = parseArgs({ options: { entities: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '3' } } });
const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-read-order-'));
const engine = await openDuckDBEngine({ path: join(dir, 'warehouse.duckdb') });
try {
  const project = benchProject(50);
  const view = project.featureViews.item_features!;
  const columns = view.features.map((f, i) => `round(((i * ${2_654_435_761 + i}) % 1000003) / 100.0, 2)::DOUBLE AS ${f.name}`).join(', ');
  await engine.run({ sql: `CREATE TABLE items AS SELECT i AS item_id, now() - to_seconds(i % 86400) AS ts, ${columns} FROM range(${Number(args.entities)}) t(i)`, parameters: [] });
  await new WarehouseRegistry(engine).save('bench', project, { statements: warehouseObjectStatements({ desired: project, resolvePath: (p) => p, dialect: engine.dialect }) });
  const asOf = new Date().toISOString();
  const query = (chunk: number, ordered: boolean) => {
    const q = compileEncodedLatestValues(view, project, engine.dialect, { asOf, bucket: { chunk, chunks: 4 } });
    return ordered ? { sql: `${q.sql}\nORDER BY "item_id"`, parameters: q.parameters } : q;
  };
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const ordered of [true, false]) {
      const cpu = process.cpuUsage();
      const start = performance.now();
      let rows = 0;
      let firstMs = 0;
      const chunk = async (c: number) => {
        for await (const batch of engine.stream(query(c, ordered), { batchRows: 2048 })) {
          firstMs ||= performance.now() - start;
          rows += batch.rowCount;
        }
      };
      await Promise.all([chunk(0), chunk(1)]);
      await Promise.all([chunk(2), chunk(3)]);
      const used = process.cpuUsage(cpu);
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
      process.stdout.write(`${ordered ? 'ORDER BY ' : 'unordered'} ${(performance.now() - start).toFixed(0).padStart(6)} ms, first batch after ${firstMs.toFixed(0)} ms, CPU ${((used.user + used.system) / 1e6).toFixed(2)} s, ${rows} rows (load ${load})\n`);
    }
  }
} finally {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
}
