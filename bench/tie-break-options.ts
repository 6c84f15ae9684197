/**
 * Ways to keep rule 3 (ties on keys and event time reduced to one, docs/point-in-time.md) cheap,
 * measured side by side on the 1M spine × 3 views × 5M feature rows of the peers benchmark, as
 * Parquet files, each statement `COPY`'d to one Parquet file (issue 17, item 2):
 *
 * - floor: the hand-written ASOF LEFT JOIN, no tie-break, no spine order;
 * - no tie-break, spine order: what Flywheel runs for a view that cannot tie (a table key, or `unique` declared);
 * - QUALIFY: Flywheel's tie-break, a `row_number()` window over every row of each view;
 * - ties only: ASOF over the raw rows, then the groups with more than one row (GROUP BY … HAVING)
 *   reduced by the same window and joined over the match;
 * - GROUP BY + min(struct), DISTINCT ON: the reduction as a hash aggregate or DuckDB's DISTINCT ON instead of a window;
 * - struct ASOF key: no reduction, the ASOF join's inequality on (time, each feature reversed) picks rule 3's row;
 * - ties at matches only: ASOF over the raw rows, then only the matched (key, ts) pairs with more than one row reduced;
 * - detection alone: the passes that would prove a view has no ties (GROUP BY … HAVING, count DISTINCT of a hash).
 *
 * Wall time depends on what else the machine runs; the CPU time of this process (DuckDB runs in it) is
 * steadier, so both are printed. Rounds alternate the variants.
 *
 *   npx tsx bench/tie-break-options.ts [--rounds 2] [--dir /tmp/flywheel-tie-break]
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

const START = "TIMESTAMPTZ '2024-01-01 00:00:00+00'";
const SECONDS = 90 * 86_400;
const SIZES = { spine: 1_000_000, userRows: 2_000_000, merchantRows: 1_000_000, users: 100_000, merchants: 10_000 };
const VIEWS = [
  { file: 'user_spend', key: 'user_id', features: ['amount_sum_1d', 'txn_count_1d'], ttlDays: 7 },
  { file: 'user_activity', key: 'user_id', features: ['night_share', 'distinct_merchants'], ttlDays: 7 },
  { file: 'merchant_risk', key: 'merchant_id', features: ['chargeback_rate', 'txn_count_30d'], ttlDays: 30 },
] as const;

/** The data of bench/peers/feast-data.ts (no two rows of a view share (key, ts)). */
async function generate(c: DuckDBConnection, dir: string): Promise<void> {
  if (existsSync(join(dir, 'merchant_risk.parquet'))) return;
  const slotted = (rows: number, entities: number, seed: number) => {
    const slot = Math.floor(SECONDS / Math.ceil(rows / entities));
    return `${START} + to_seconds((i // ${entities}) * ${slot} + hash(i, ${seed}) % ${slot})`;
  };
  const copy = (select: string, file: string) => c.run(`COPY (${select}) TO '${join(dir, file)}.parquet' (FORMAT parquet, COMPRESSION zstd)`);
  await copy(`SELECT i::BIGINT AS event_id, (hash(i, 1) % ${SIZES.users})::BIGINT AS user_id, (hash(i, 2) % ${SIZES.merchants})::BIGINT AS merchant_id,
    ${START} + to_seconds(hash(i, 3) % ${SECONDS}) AS ts, (hash(i, 4) % 100 = 0) AS label FROM range(${SIZES.spine}) t(i)`, 'spine');
  const view = (key: string, rows: number, entities: number, seed: number, select: string, file: string) =>
    copy(`SELECT (i % ${entities})::BIGINT AS ${key}, ${slotted(rows, entities, seed)} AS ts, ${select} FROM range(${rows}) t(i)`, file);
  await view('user_id', SIZES.userRows, SIZES.users, 5, '(hash(i, 6) % 100000) / 100.0 AS amount_sum_1d, (hash(i, 7) % 50)::BIGINT AS txn_count_1d', 'user_spend');
  await view('user_id', SIZES.userRows, SIZES.users, 8, '(hash(i, 9) % 1000) / 1000.0 AS night_share, (hash(i, 10) % 30)::BIGINT AS distinct_merchants', 'user_activity');
  await view('merchant_id', SIZES.merchantRows, SIZES.merchants, 11, '(hash(i, 12) % 1000) / 10000.0 AS chargeback_rate, (hash(i, 13) % 5000)::BIGINT AS txn_count_30d', 'merchant_risk');
}

function variants(dir: string): Record<string, string> {
  const file = (name: string) => `read_parquet('${join(dir, name)}.parquet')`;
  const out = (query: string) => `COPY (${query}) TO '${join(dir, 'out.parquet')}' (FORMAT parquet, COMPRESSION zstd)`;
  const spine = `sp AS (SELECT event_id, user_id, merchant_id, ts, label, row_number() OVER () AS r FROM ${file('spine')})`;
  const order = (feature: string) => `${feature} ASC NULLS LAST`;
  const ttl = (alias: string, days: number, value: string) => `CASE WHEN ${alias}.vts >= s.ts - INTERVAL ${days} DAY THEN ${value} END`;
  const join3 = (ctes: string[], value: (i: number, feature: string) => string, extraJoins: (i: number, key: string) => string, ordered: boolean) =>
    `WITH ${[spine, ...ctes].join(',\n')}
     SELECT s.event_id, s.user_id, s.merchant_id, s.ts, s.label, ${VIEWS.flatMap((v, i) => v.features.map((f) => `${ttl(`v${i}`, v.ttlDays, value(i, f))} AS ${f}`)).join(', ')}
     FROM sp s ${VIEWS.map((v, i) => `ASOF LEFT JOIN v${i} ON s.${v.key} = v${i}.${v.key} AND s.ts >= v${i}.vts${extraJoins(i, v.key)}`).join(' ')}${ordered ? ' ORDER BY s.r' : ''}`;
  const raw = VIEWS.map((v, i) => `v${i} AS (SELECT ${v.key}, ts AS vts, ${v.features.join(', ')} FROM ${file(v.file)})`);
  // A feature's part of the struct key: a flag (1 for a value, 0 for null or NaN, which lose) and the value reversed
  // (~x for integers, -x for doubles). The spine's side has flag 2 at the first feature, above every row at its time.
  const isDouble = (f: string) => !f.startsWith('txn_count') && f !== 'distinct_merchants';
  const structKey = (v: (typeof VIEWS)[number], time: string, spineSide: boolean) => `struct_pack(t := ${time}, ${v.features.map((f, j) => {
    const type = isDouble(f) ? 'DOUBLE' : 'BIGINT';
    if (spineSide) return `${f}_n := ${j === 0 ? '2' : 'NULL'}::TINYINT, ${f}_v := NULL::${type}`;
    return `${f}_n := (${f} IS NOT NULL${isDouble(f) ? ` AND NOT isnan(${f})` : ''})::TINYINT, ${f}_v := ${isDouble(f) ? '-' : '~'}${f}`;
  }).join(', ')})`;
  return {
    floor: out(`SELECT s.event_id, s.user_id, s.merchant_id, s.ts, s.label, ${VIEWS.flatMap((v, i) => v.features.map((f) => `CASE WHEN a${i}.ts >= s.ts - INTERVAL ${v.ttlDays} DAY THEN a${i}.${f} END AS ${f}`)).join(', ')}
      FROM ${file('spine')} s ${VIEWS.map((v, i) => `ASOF LEFT JOIN ${file(v.file)} a${i} ON s.${v.key} = a${i}.${v.key} AND s.ts >= a${i}.ts`).join(' ')}`),
    'no tie-break, spine order': out(join3(raw, (i, f) => `v${i}.${f}`, () => '', true)),
    'QUALIFY (every row)': out(join3(
      VIEWS.map((v, i) => `v${i} AS (SELECT ${v.key}, ts AS vts, ${v.features.join(', ')} FROM ${file(v.file)} QUALIFY row_number() OVER (PARTITION BY ${v.key}, ts ORDER BY ${v.features.map(order).join(', ')}) = 1)`),
      (i, f) => `v${i}.${f}`, () => '', true)),
    'ties only (GROUP BY HAVING, then QUALIFY)': out(join3(
      [...raw, ...VIEWS.flatMap((v, i) => [
        `d${i} AS (SELECT ${v.key}, vts FROM v${i} GROUP BY ALL HAVING count(*) > 1)`,
        `w${i} AS (SELECT * FROM v${i} SEMI JOIN d${i} USING (${v.key}, vts) QUALIFY row_number() OVER (PARTITION BY ${v.key}, vts ORDER BY ${v.features.map(order).join(', ')}) = 1)`,
      ])],
      (i, f) => `CASE WHEN w${i}.vts IS NULL THEN v${i}.${f} ELSE w${i}.${f} END`,
      (i, key) => ` LEFT JOIN w${i} ON w${i}.${key} = v${i}.${key} AND w${i}.vts = v${i}.vts`, true)),
    // Dedupe by a hash aggregate instead of a window: the smallest features win (min of a struct compares field by field, nulls last).
    'GROUP BY + min(struct)': out(join3(
      VIEWS.map((v, i) => `v${i} AS (SELECT ${v.key}, ts AS vts, min(struct_pack(${v.features.map((f) => `${f} := ${f}`).join(', ')})) AS w FROM ${file(v.file)} GROUP BY ${v.key}, ts)`),
      (i, f) => `v${i}.w.${f}`, () => '', true)),
    'DISTINCT ON': out(join3(
      VIEWS.map((v, i) => `v${i} AS (SELECT DISTINCT ON (${v.key}, ts) ${v.key}, ts AS vts, ${v.features.join(', ')} FROM ${file(v.file)} ORDER BY ${v.key}, ts, ${v.features.map(order).join(', ')})`),
      (i, f) => `v${i}.${f}`, () => '', true)),
    // The tie-break inside the ASOF's own sort: the join's inequality on a struct (time, then per feature a
    // not-null flag and the value reversed), so the greatest key at or before the spine row's is the row rule 3 keeps.
    'struct ASOF key': out(`WITH ${[spine, ...VIEWS.map((v, i) => `v${i} AS (SELECT ${v.key}, ts AS vts, ${structKey(v, 'ts', false)} AS k, ${v.features.join(', ')} FROM ${file(v.file)})`)].join(',\n')}
      SELECT s.event_id, s.user_id, s.merchant_id, s.ts, s.label, ${VIEWS.flatMap((v, i) => v.features.map((f) => `${ttl(`v${i}`, v.ttlDays, `v${i}.${f}`)} AS ${f}`)).join(', ')}
      FROM sp s ${VIEWS.map((v, i) => `ASOF LEFT JOIN v${i} ON s.${v.key} = v${i}.${v.key} AND ${structKey(v, 's.ts', true)} >= v${i}.k`).join(' ')} ORDER BY s.r`),
    // Ties only where the ASOF matched: ASOF over the raw rows, then the matched (key, ts) pairs probe the
    // rows (a hash SEMI join, no sort of every row) and only pairs holding more than one row are reduced.
    'ties at matches only': out(`WITH ${[spine, ...raw,
      `j AS MATERIALIZED (SELECT s.*, ${VIEWS.flatMap((v, i) => [`v${i}.vts AS m${i}`, ...v.features.map((f) => `v${i}.${f} AS ${f}`)]).join(', ')} FROM sp s ${VIEWS.map((v, i) => `ASOF LEFT JOIN v${i} ON s.${v.key} = v${i}.${v.key} AND s.ts >= v${i}.vts`).join(' ')})`,
      ...VIEWS.flatMap((v, i) => [
        `p${i} AS (SELECT DISTINCT ${v.key}, m${i} AS vts FROM j WHERE m${i} IS NOT NULL)`,
        `w${i} AS (SELECT ${v.key}, vts, ${v.features.join(', ')} FROM (SELECT v.*, count(*) OVER (PARTITION BY v.${v.key}, v.vts) AS n FROM v${i} v SEMI JOIN p${i} USING (${v.key}, vts)) WHERE n > 1 QUALIFY row_number() OVER (PARTITION BY ${v.key}, vts ORDER BY ${v.features.map(order).join(', ')}) = 1)`,
      ])].join(',\n')}
      SELECT j.event_id, j.user_id, j.merchant_id, j.ts, j.label, ${VIEWS.flatMap((v, i) => v.features.map((f) => `CASE WHEN j.m${i} >= j.ts - INTERVAL ${v.ttlDays} DAY THEN (CASE WHEN w${i}.vts IS NOT NULL THEN w${i}.${f} ELSE j.${f} END) END AS ${f}`)).join(', ')}
      FROM j ${VIEWS.map((v, i) => `LEFT JOIN w${i} ON w${i}.${v.key} = j.${v.key} AND w${i}.vts = j.m${i}`).join(' ')} ORDER BY j.r`),
    'detection alone: GROUP BY HAVING': `SELECT ${VIEWS.map((v) => `(SELECT count(*) FROM (SELECT ${v.key}, ts FROM ${file(v.file)} GROUP BY ALL HAVING count(*) > 1))`).join(', ')}`,
    'detection alone: count DISTINCT hash': `SELECT ${VIEWS.map((v) => `(SELECT count(*) - count(DISTINCT hash(${v.key}, ts)) FROM ${file(v.file)})`).join(', ')}`,
  };
}

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '2' }, dir: { type: 'string', default: '/tmp/flywheel-tie-break' } } });
await mkdir(values.dir, { recursive: true });
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
await connection.run("SET TimeZone = 'UTC'");
await generate(connection, values.dir);
const results = new Map<string, { wall: number; cpu: number }[]>();
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [name, statement] of Object.entries(variants(values.dir))) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    await connection.run(statement);
    const used = process.cpuUsage(cpu);
    results.set(name, [...(results.get(name) ?? []), { wall: (performance.now() - start) / 1000, cpu: (used.user + used.system) / 1e6 }]);
  }
}
const floor = Math.min(...results.get('floor')!.map((r) => r.cpu));
process.stdout.write(`Tie-break options, 1M spine x 3 views x 5M rows, Parquet (best of ${values.rounds}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})\n`);
for (const [name, runs] of results) {
  const cpu = Math.min(...runs.map((r) => r.cpu));
  process.stdout.write(`  ${name.padEnd(44)} wall ${Math.min(...runs.map((r) => r.wall)).toFixed(2)} s, CPU ${cpu.toFixed(2)} s (${(cpu / floor).toFixed(2)}x the floor's CPU)\n`);
}
connection.closeSync();
instance.closeSync();
