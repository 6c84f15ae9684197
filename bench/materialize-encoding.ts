/**
 * Where materialization encodes its values, A/B in one run (issue 17 item 4, step 1): the latest
 * values of `--rows` entities × 50 doubles (bench/materialize.ts's two-decimal data) streamed out of
 * DuckDB in chunks of 2,048, either
 *
 * - encoded by DuckDB (`json_array`, what compileEncodedLatestValues does), or
 * - read as 50 columns of numbers and encoded in JavaScript into the same text (DuckDB's spelling:
 *   whole numbers with `.0`, exponents without `+`), or
 * - read as 50 columns and not encoded (what reading the numbers alone costs),
 *
 * each with and without the final ORDER BY. Prints wall time, this process's CPU seconds (DuckDB's
 * threads included) and the bytes of text produced (equal for both encoders, or the check failed).
 *
 *   npx tsx bench/materialize-encoding.ts [--rows 250000] [--rounds 2]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '250000' }, rounds: { type: 'string', default: '2' } } });
const ROWS = Number(args.rows);
const FEATURES = 50;
const engine = await openDuckDBEngine({ path: ':memory:' });
const names = Array.from({ length: FEATURES }, (_, i) => `f${i}`);
const columns = names.map((n, i) => `round(((i * ${2_654_435_761 + i}) % 1000003) / 100.0, 2)::DOUBLE AS ${n}`).join(', ');
await engine.run({ sql: `CREATE TABLE items AS SELECT i AS item_id, now() - to_seconds(i % 86400) AS ts, ${columns} FROM range(${ROWS}) t(i)`, parameters: [] });
const latest = (select: string, ordered: boolean) =>
  `SELECT item_id, epoch_us(ts) AS m, ${select} FROM (SELECT * FROM items QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY ts DESC) = 1)${ordered ? ' ORDER BY item_id' : ''}`;
const jsonArray = `CAST(json_array(${names.map((n) => `CASE WHEN isfinite(${n}) THEN ${n} + 0.0 END`).join(', ')}) AS VARCHAR) AS v`;

/** A double as DuckDB's json_array writes it. */
function doubleJson(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return 'null';
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return x === 0 ? '0.0' : `${x}.0`;
  return Math.abs(x) >= 1e21 ? String(x).replace('e+', 'e') : String(x);
}

type Encoding = 'duckdb' | 'javascript' | 'none';
async function run(encoding: Encoding, ordered: boolean): Promise<void> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  let rows = 0;
  let bytes = 0;
  for await (const batch of engine.stream({ sql: latest(encoding === 'duckdb' ? jsonArray : names.join(', '), ordered), parameters: [] }, { batchRows: 2048 })) {
    const values = batch.values;
    for (let r = 0; r < batch.rowCount; r++) {
      if (encoding === 'duckdb') bytes += (values[2]![r] as string).length;
      else if (encoding === 'javascript') {
        let text = `[${doubleJson(values[2]![r] as number)}`;
        for (let c = 3; c < values.length; c++) text += `,${doubleJson(values[c]![r] as number)}`;
        bytes += text.length + 1;
      }
    }
    rows += batch.rowCount;
  }
  const used = process.cpuUsage(cpu);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`${`${encoding}${ordered ? ', ORDER BY' : ''}`.padEnd(22)} ${(performance.now() - start).toFixed(0).padStart(6)} ms, CPU ${((used.user + used.system) / 1e6).toFixed(2)} s, ${rows} rows, ${bytes} bytes of text (load ${load})\n`);
}

for (let round = 0; round < Number(args.rounds); round++) {
  for (const ordered of [true, false]) {
    for (const encoding of ['duckdb', 'javascript', 'none'] as const) await run(encoding, ordered);
  }
}
await engine.close();
