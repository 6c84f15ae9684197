/**
 * Windowed aggregations in the point-in-time join (one pass of window functions over the events
 * merged with the spine) against the obvious hand-written SQL: a range join of each spine row with
 * its user's events in the largest window, then GROUP BY, on the same DuckDB file in the same process.
 *
 *   npx tsx bench/window-aggregations.ts [--spine 1000000] [--events 5000000] [--users 100000] [--runs 3] [--functions basic|all]
 *
 * `basic`: count, sum and avg of amount over 1h, 1d and 7d (9 features); `all` adds distinct
 * merchants over 30d and the last amount over 7d.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import type { WindowAggregation } from '../core/aggregations/aggregation-events.ts';
import { compilePointInTimeJoin } from '../core/sql/point-in-time.ts';
import { compareMs, report, type BenchResult } from './measure.ts';

export interface WindowAggregationBenchOptions {
  readonly spineRows: number;
  readonly events: number;
  readonly users: number;
  readonly runs: number;
  readonly functions: 'basic' | 'all';
}

const WINDOWS = [['1h', 3600], ['1d', 86_400], ['7d', 604_800]] as const;

export async function benchWindowAggregations(options: WindowAggregationBenchOptions): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-agg-'));
  const engine = await openDuckDBEngine({ path: join(dir, 'bench.duckdb') });
  try {
    const q = (text: string) => engine.run({ sql: text, parameters: [] });
    const days = 60;
    await q(`CREATE SCHEMA flywheel`);
    // Events spread uniformly over 60 days and `users` users; second-precision times, so ties happen.
    await q(`CREATE TABLE flywheel.events AS SELECT (hash(i) % ${options.users})::BIGINT AS user_id,
      TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds((hash(i * 3) % ${days * 86_400})::BIGINT) AS ts, NULL::TIMESTAMPTZ AS created,
      (hash(i + 1) % 10000) / 100.0 AS amount, (hash(i + 2) % 500)::BIGINT AS merchant_id
      FROM range(${options.events}) t(i)`);
    await q(`CREATE TABLE flywheel.spine AS SELECT (hash(i * 11) % ${options.users})::BIGINT AS user_id,
      TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds((hash(i * 7) % ${days * 86_400})::BIGINT) AS ts, (i % 2 = 0) AS label
      FROM range(${options.spineRows}) t(i)`);

    const aggregations: WindowAggregation[] = [
      ...WINDOWS.map(([label, seconds]): WindowAggregation => ({ feature: `count_${label}`, function: 'count', windowSeconds: seconds, type: 'int64' })),
      ...WINDOWS.map(([label, seconds]): WindowAggregation => ({ feature: `amount_sum_${label}`, function: 'sum', column: 'amount', windowSeconds: seconds, type: 'float64' })),
      ...WINDOWS.map(([label, seconds]): WindowAggregation => ({ feature: `amount_avg_${label}`, function: 'avg', column: 'amount', windowSeconds: seconds, type: 'float64' })),
      ...(options.functions === 'all'
        ? [
            { feature: 'merchant_id_distinct_count_30d', function: 'distinct_count', column: 'merchant_id', windowSeconds: 30 * 86_400, type: 'int64' },
            { feature: 'amount_last_7d', function: 'last', column: 'amount', windowSeconds: 604_800, type: 'float64' },
          ] satisfies WindowAggregation[]
        : []),
    ];
    const compiled = compilePointInTimeJoin(
      {
        spine: { relation: 'flywheel.spine', timestampField: 'ts', columns: ['user_id', 'ts', 'label'] },
        views: [{ kind: 'aggregation', featureView: 'events', relation: 'flywheel.events', joinKeys: ['user_id'], timestampField: 'ts', createdTimestampField: 'created', aggregations }],
      },
      engine.dialect,
    );

    const largest = Math.max(...aggregations.map((a) => a.windowSeconds));
    const inWindow = (seconds: number) => `e.ts > s.ts - INTERVAL ${seconds} SECOND`;
    const handWritten = `SELECT any_value(s.user_id) AS user_id, any_value(s.ts) AS ts, any_value(s.label) AS label, ${aggregations
      .map((a) => {
        const filter = `FILTER (WHERE ${inWindow(a.windowSeconds)})`;
        switch (a.function) {
          case 'count': return `count(e.ts) ${filter} AS ${a.feature}`;
          case 'sum': return `sum(e.amount) ${filter} AS ${a.feature}`;
          case 'avg': return `avg(e.amount) ${filter} AS ${a.feature}`;
          case 'distinct_count': return `count(DISTINCT e.merchant_id) ${filter} AS ${a.feature}`;
          // No ties on (user, ts, amount) matter here: the latest event, then the smallest amount.
          default: return `arg_max(e.amount, (epoch_us(e.ts), -e.amount)) ${filter} AS ${a.feature}`;
        }
      })
      .join(', ')}
      FROM (SELECT *, row_number() OVER () AS rn FROM flywheel.spine) AS s
      LEFT JOIN flywheel.events AS e ON e.user_id = s.user_id AND e.ts <= s.ts AND ${inWindow(largest)}
      GROUP BY s.rn ORDER BY s.rn`;

    // Same answer first (sums of doubles to 1e-9): a benchmark of a wrong query measures nothing.
    await q(`CREATE TABLE out_flywheel AS SELECT row_number() OVER () AS rn, * FROM (${compiled.sql})`);
    await q(`CREATE TABLE out_baseline AS SELECT row_number() OVER () AS rn, * FROM (${handWritten})`);
    const [diff] = await engine.all({
      sql: `SELECT count(*) AS n FROM out_flywheel AS f JOIN out_baseline AS b USING (rn)
            WHERE ${aggregations.map((a) => `NOT (f.${a.feature} IS NOT DISTINCT FROM b.${a.feature} OR abs(f.${a.feature} - b.${a.feature}) <= 1e-9 * greatest(1, abs(b.${a.feature})))`).join(' OR ')}`,
      parameters: [],
    });
    if (Number(diff?.n) !== 0) throw new Error(`compiled and hand-written aggregations disagree on ${diff?.n} rows`);

    const timed = await compareMs(
      options.runs,
      () => q(`CREATE OR REPLACE TABLE out_flywheel AS ${compiled.sql}`),
      () => q(`CREATE OR REPLACE TABLE out_baseline AS ${handWritten}`),
    );
    return {
      name: `Windowed aggregations in the point-in-time join (DuckDB, ${aggregations.length} features)`,
      subject: { label: 'flywheel window functions over events + spine', medianMs: timed.subjectMs },
      baseline: { label: 'hand-written range join + GROUP BY', medianMs: timed.baselineMs },
      details: {
        'spine rows': options.spineRows.toLocaleString('en-US'),
        events: options.events.toLocaleString('en-US'),
        users: options.users.toLocaleString('en-US'),
        features: aggregations.map((a) => a.feature).join(', '),
        'spine rows / s (flywheel)': Math.round(options.spineRows / (timed.subjectMs / 1000)).toLocaleString('en-US'),
        runs: options.runs,
      },
    };
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      spine: { type: 'string', default: '1000000' },
      events: { type: 'string', default: '5000000' },
      users: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '3' },
      functions: { type: 'string', default: 'basic' },
    },
  });
  report(await benchWindowAggregations({
    spineRows: Number(values.spine), events: Number(values.events), users: Number(values.users), runs: Number(values.runs),
    functions: values.functions === 'all' ? 'all' : 'basic',
  }));
}
