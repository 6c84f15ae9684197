/**
 * The point-in-time join Flywheel compiles (dedup of ties, ttl, spine order kept) against the
 * shortest hand-written DuckDB ASOF JOIN that gives the same values when there are no ties,
 * on the same DuckDB file in the same process.
 *
 *   npx tsx bench/point-in-time-join.ts [--spine 1000000] [--features 2000000] [--runs 3]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { compilePointInTimeJoin } from '../core/sql/point-in-time.ts';
import { compareMs, report, type BenchResult } from './measure.ts';

export async function benchPointInTimeJoin(options: { spineRows: number; featureRows: number; runs: number }): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-pit-'));
  const engine = await openDuckDBEngine({ path: join(dir, 'bench.duckdb') });
  try {
    const users = Math.max(1, Math.floor(options.spineRows / 10));
    const q = (text: string) => engine.run({ sql: text, parameters: [] });
    await q(`CREATE SCHEMA flywheel`);
    // Feature rows: one per (user, ~day) over 60 days, unique event times per user (no ties), so both queries agree.
    await q(`CREATE TABLE flywheel.fv AS SELECT (i % ${users})::BIGINT AS user_id,
      TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds((i // ${users}) * 86400 * 60 // greatest(1, ${options.featureRows} // ${users}) + (i % 997)) AS ts,
      NULL::TIMESTAMPTZ AS created, (hash(i) % 10000) / 100.0 AS amount, (hash(i + 1) % 50)::BIGINT AS cnt
      FROM range(${options.featureRows}) t(i)`);
    await q(`CREATE TABLE flywheel.spine AS SELECT (hash(i) % ${users})::BIGINT AS user_id,
      TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(hash(i * 7) % (86400 * 60)) AS ts, (i % 2 = 0) AS label
      FROM range(${options.spineRows}) t(i)`);

    const compiled = compilePointInTimeJoin(
      {
        spine: { relation: 'flywheel.spine', timestampField: 'ts', columns: ['user_id', 'ts', 'label'] },
        views: [{ relation: 'flywheel.fv', joinKeys: ['user_id'], timestampField: 'ts', createdTimestampField: 'created', features: ['amount', 'cnt'], ttlSeconds: 7 * 86_400 }],
      },
      engine.dialect,
    );
    const handWritten = `SELECT s.user_id, s.ts, s.label,
        CASE WHEN f.ts >= s.ts - INTERVAL 7 DAY THEN f.amount END AS amount,
        CASE WHEN f.ts >= s.ts - INTERVAL 7 DAY THEN f.cnt END AS cnt
      FROM flywheel.spine s ASOF LEFT JOIN flywheel.fv f ON s.user_id = f.user_id AND s.ts >= f.ts`;

    // Same answer first: a benchmark of a wrong query measures nothing.
    const [diff] = await engine.all({ sql: `SELECT count(*) AS n FROM ((${compiled.sql}) EXCEPT ALL (${handWritten}))`, parameters: [] });
    if (Number(diff?.n) !== 0) throw new Error(`compiled and hand-written joins disagree on ${diff?.n} rows`);

    const timed = await compareMs(
      options.runs,
      () => q(`CREATE OR REPLACE TABLE out_flywheel AS ${compiled.sql}`),
      () => q(`CREATE OR REPLACE TABLE out_baseline AS ${handWritten}`),
    );
    const subject = { medianMs: timed.subjectMs };
    const baseline = { medianMs: timed.baselineMs };
    return {
      name: 'Point-in-time join (DuckDB, one feature view, ttl 7d)',
      subject: { label: 'flywheel compiled join', medianMs: subject.medianMs },
      baseline: { label: 'hand-written ASOF JOIN', medianMs: baseline.medianMs },
      details: {
        'spine rows': options.spineRows.toLocaleString('en-US'),
        'feature rows': options.featureRows.toLocaleString('en-US'),
        'spine rows / s (flywheel)': Math.round(options.spineRows / (subject.medianMs / 1000)).toLocaleString('en-US'),
        runs: options.runs,
      },
    };
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { spine: { type: 'string', default: '1000000' }, features: { type: 'string', default: '2000000' }, runs: { type: 'string', default: '3' } } });
  report(await benchPointInTimeJoin({ spineRows: Number(values.spine), featureRows: Number(values.features), runs: Number(values.runs) }));
}
