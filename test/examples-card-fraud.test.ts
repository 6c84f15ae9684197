import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDefinition } from '../core/definitions/definition.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { compileAggregatesAsOf } from '../core/aggregations/aggregates-as-of.ts';
import { aggregationEventsOf } from '../core/aggregations/aggregation-events.ts';
import { duckdbDialect } from '../core/sql/dialect.ts';
import { compilePointInTimeJoin } from '../core/sql/point-in-time.ts';
import { warehouseObjectStatements } from '../core/sql/warehouse-objects.ts';
import { resolveTrainingSet } from '../core/training-set/resolve-training-set.ts';
import { validateProject, type LoadedDefinition } from '../core/validation/validate-project.ts';
import config from '../examples/card-fraud/flywheel.config.ts';
import {
  CARD_FRAUD_TABLES,
  defaultWarehousePath,
  generateCardFraudData,
  type CardFraudDataOptions,
  type CardFraudDataResult,
} from '../examples/card-fraud/generate-data.ts';

const exampleDir = fileURLToPath(new URL('../examples/card-fraud/', import.meta.url));
const definitionsDir = join(exampleDir, 'definitions');

async function loadExampleDefinitions(): Promise<LoadedDefinition[]> {
  const loaded: LoadedDefinition[] = [];
  for (const file of readdirSync(definitionsDir).filter((f) => f.endsWith('.ts')).sort()) {
    const module = (await import(pathToFileURL(join(definitionsDir, file)).href)) as Record<string, unknown>;
    for (const value of Object.values(module)) {
      if (isDefinition(value)) loaded.push({ file: `definitions/${file}`, definition: value });
    }
  }
  return loaded;
}

async function openReadOnly(path: string): Promise<{ connection: DuckDBConnection; close: () => void }> {
  const instance = await DuckDBInstance.create(path, {
    access_mode: 'READ_ONLY',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  await connection.run(`SET TimeZone = 'UTC'`);
  return { connection, close: () => { connection.closeSync(); instance.closeSync(); } };
}

async function rows(connection: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

async function one(connection: DuckDBConnection, sql: string): Promise<unknown> {
  return (await connection.runAndReadAll(sql)).getRows()[0]?.[0];
}

async function checksum(path: string): Promise<string> {
  const db = await openReadOnly(path);
  try {
    const parts: string[] = [];
    for (const table of CARD_FRAUD_TABLES) {
      parts.push(`${table}:${String(await one(db.connection, `SELECT count(*) || ':' || coalesce(sum(hash(t)), 0) FROM "${table}" AS t`))}`);
    }
    return parts.join('|');
  } finally {
    db.close();
  }
}

describe('card-fraud example definitions', () => {
  let project: ProjectSpec;

  beforeAll(async () => {
    project = validateProject(await loadExampleDefinitions());
  });

  it('validate and declare the expected objects', () => {
    expect(Object.keys(project.entities).sort()).toEqual(['merchant', 'user']);
    expect(Object.keys(project.sources).sort()).toEqual(['labeled_transactions', 'merchant_daily_stats', 'transactions', 'user_daily_stats', 'user_profile']);
    expect(Object.keys(project.featureViews).sort()).toEqual(['merchant_risk', 'user_account', 'user_activity', 'user_spend', 'user_txn_windows']);
    expect(Object.keys(project.featureServices)).toEqual(['fraud_model']);
    expect(Object.keys(project.trainingSets)).toEqual(['fraud_training']);
    // Derived from fraud_model's logging, not declared.
    expect(Object.keys(project.eventStreams)).toEqual(['fraud_model_decisions']);
  });

  it('normalize ttl, flags, selections and the training output', () => {
    const views = project.featureViews;
    expect(views.user_spend?.ttlSeconds).toBe(2 * 86_400);
    expect(views.merchant_risk?.ttlSeconds).toBe(2 * 86_400);
    expect(views.user_account?.ttlSeconds).toBeNull();
    expect(views.user_activity?.transformation).toContain('{{source}}');
    for (const view of Object.values(views)) expect([view.online, view.offline]).toEqual([true, true]);
    expect(project.sources.user_profile?.createdTimestampField).toBe('created_at');
    expect(project.featureServices.fraud_model?.features.map((s) => s.view)).toEqual(['user_spend', 'user_activity', 'user_account', 'merchant_risk', 'user_txn_windows']);
    expect(views.user_txn_windows?.aggregations?.map((a) => [a.name, a.function, a.column ?? null, a.windowSeconds])).toEqual([
      ['count_1h', 'count', null, 3600], ['count_1d', 'count', null, 86_400], ['count_7d', 'count', null, 604_800],
      ['amount_sum_1h', 'sum', 'amount', 3600], ['amount_sum_1d', 'sum', 'amount', 86_400], ['amount_sum_7d', 'sum', 'amount', 604_800],
      ['amount_avg_1h', 'avg', 'amount', 3600], ['amount_avg_1d', 'avg', 'amount', 86_400], ['amount_avg_7d', 'avg', 'amount', 604_800],
      ['distinct_merchants_30d', 'distinct_count', 'merchant_id', 2_592_000],
    ]);
    expect(views.user_txn_windows?.ttlSeconds).toBeNull();
    // Served online (npm run demo materializes every view); the sliding windows are refreshed hourly.
    expect(Object.values(views).filter((v) => v.materialize).map((v) => [v.name, v.materialize])).toEqual([
      ['user_txn_windows', { everySeconds: 3600, offsetSeconds: 0, catchupWindowSeconds: 86_400, paused: false, chunks: 4 }],
    ]);
    expect(project.featureServices.fraud_model?.logging).toEqual({ sampleRate: 1, stream: 'fraud_model_decisions', retentionSeconds: 365 * 86_400 });
    expect(project.eventStreams.fraud_model_decisions).toMatchObject({ keys: [{ name: 'user_id', type: 'int64' }, { name: 'merchant_id', type: 'int64' }], timestampField: 'served_at' });
    expect(project.trainingSets.fraud_training).toMatchObject({
      spine: 'labeled_transactions',
      features: { service: 'fraud_model' },
      output: { format: 'parquet', path: 'training_sets/fraud_training' },
    });
  });

  it('the config names secrets by environment variable only', () => {
    expect(config.project).toBe('card_fraud');
    const prod = config.profiles.prod;
    expect(prod?.offline).toMatchObject({ type: 'snowflake', passwordEnv: 'SNOWFLAKE_PASSWORD' });
    expect(prod?.onlineStore).toMatchObject({ type: 'redis', passwordEnv: 'REDIS_PASSWORD' });
    expect(JSON.stringify(config)).not.toMatch(/password"\s*:|BEGIN [A-Z ]*PRIVATE KEY/i);
    expect(defaultWarehousePath()).toBe(join(exampleDir, '.flywheel', 'warehouse.duckdb'));
  });
});

describe('generateCardFraudData', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-card-fraud-'));
  const small = { users: 200, merchants: 40, days: 5, transactionsPerDay: 300, seed: 7, start: '2025-03-01' } satisfies Omit<CardFraudDataOptions, 'warehousePath'>;
  const path = join(dir, 'warehouse.duckdb');
  let result: CardFraudDataResult;
  let db: Awaited<ReturnType<typeof openReadOnly>>;

  beforeAll(async () => {
    result = await generateCardFraudData({ warehousePath: path, ...small });
    db = await openReadOnly(path);
  }, 60_000);

  afterAll(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes exact row counts', async () => {
    expect(result.start).toBe('2025-03-01T00:00:00.000Z');
    expect(result.end).toBe('2025-03-06T00:00:00.000Z');
    expect(result.rowCounts.transactions).toBe(1500);
    expect(result.rowCounts.labeled_transactions).toBe(1500);
    expect(result.rowCounts.merchant_daily_stats).toBe(40 * 5);
    const perDay = await rows(db.connection, `SELECT CAST(ts AS DATE)::VARCHAR AS day, count(*)::INTEGER AS n FROM transactions GROUP BY ALL ORDER BY day`);
    expect(perDay).toEqual(['2025-03-01', '2025-03-02', '2025-03-03', '2025-03-04', '2025-03-05'].map((day) => ({ day, n: 300 })));
    expect(Number(await one(db.connection, 'SELECT count(DISTINCT user_id) FROM user_profile'))).toBe(200);
    expect(Number(await one(db.connection, 'SELECT max(user_id) FROM transactions'))).toBeLessThanOrEqual(200);
    expect(Number(await one(db.connection, 'SELECT count(DISTINCT transaction_id) FROM transactions'))).toBe(1500);
    expect(result.fraudRate).toBeGreaterThan(0);
    expect(result.fraudRate).toBeLessThan(0.2);
  });

  it('writes every source table with the columns and types its definition declares', async () => {
    const project = validateProject(await loadExampleDefinitions());
    for (const source of Object.values(project.sources)) {
      if (source.location.type !== 'table') throw new Error(`expected a table source: ${source.name}`);
      const described = await rows(db.connection, `DESCRIBE ${duckdbDialect.qualified(source.location.table)}`);
      const actual = described.map((c) => [c.column_name, duckdbDialect.valueTypeOf(String(c.column_type))]);
      expect(actual, source.name).toEqual(source.columns.map((c) => [c.name, c.type]));
    }
  });

  it('the transformation of user_activity returns the join key, the timestamp and the features', async () => {
    const project = validateProject(await loadExampleDefinitions());
    const view = project.featureViews.user_activity!;
    const sql = view.transformation!.replaceAll('{{source}}', duckdbDialect.qualified('transactions'));
    const described = await rows(db.connection, `DESCRIBE ${sql}`);
    const actual = Object.fromEntries(described.map((c) => [c.column_name, duckdbDialect.valueTypeOf(String(c.column_type))]));
    expect(actual).toEqual({ user_id: 'int64', ts: 'timestamp', ...Object.fromEntries(view.features.map((f) => [f.name, f.type])) });
    // One row per user and active day, stamped at the end of that day.
    const [check] = await rows(db.connection, `
      SELECT count(*)::INTEGER AS n, count(*) FILTER (WHERE ts <> date_trunc('day', ts))::INTEGER AS not_midnight
      FROM (${sql})`);
    expect(check).toEqual({ n: result.rowCounts.user_daily_stats, not_midnight: 0 });
  });

  it('keeps transactions inside the window and after the account was opened', async () => {
    const [check] = await rows(db.connection, `
      SELECT count(*) FILTER (WHERE t.ts < TIMESTAMPTZ '2025-03-01 00:00:00+00' OR t.ts >= TIMESTAMPTZ '2025-03-06 00:00:00+00')::INTEGER AS outside,
             count(*) FILTER (WHERE t.ts < p.opened)::INTEGER AS before_signup
      FROM transactions AS t
      JOIN (SELECT user_id, min(account_opened_at) AS opened FROM user_profile GROUP BY user_id) AS p USING (user_id)`);
    expect(check).toEqual({ outside: 0, before_signup: 0 });
  });

  it('user daily stats match the transactions and are stamped at the end of their day', async () => {
    const mismatches = await one(db.connection, `
      WITH recomputed AS (
        SELECT user_id, date_trunc('day', ts) + INTERVAL 1 DAY AS ts, count(*) AS n, round(sum(amount), 2) AS total, max(amount) AS top
        FROM transactions GROUP BY user_id, date_trunc('day', ts)
      )
      SELECT count(*) FROM recomputed AS r FULL OUTER JOIN user_daily_stats AS s USING (user_id, ts)
      WHERE r.n IS DISTINCT FROM s.txn_count_1d OR abs(r.total - s.amount_sum_1d) > 0.005 OR r.top IS DISTINCT FROM s.amount_max_1d
         OR s.ts <> CAST(s.day AS TIMESTAMPTZ) + INTERVAL 1 DAY`);
    expect(Number(mismatches)).toBe(0);
  });

  it('merchant daily stats match transactions and chargebacks over 30 days', async () => {
    const mismatches = await one(db.connection, `
      SELECT count(*) FROM merchant_daily_stats AS s
      WHERE s.merchant_txn_count_30d <> (
              SELECT count(*) FROM transactions AS t
              WHERE t.merchant_id = s.merchant_id AND t.ts < s.ts AND t.ts >= s.ts - INTERVAL 30 DAY)
         OR s.merchant_chargeback_count_1d <> (
              SELECT count(*) FROM chargebacks AS c
              WHERE c.merchant_id = s.merchant_id AND c.reported_at < s.ts AND c.reported_at >= s.ts - INTERVAL 1 DAY)`);
    expect(Number(mismatches)).toBe(0);
    expect(Number(await one(db.connection, 'SELECT count(*) FROM chargebacks WHERE reported_at >= TIMESTAMPTZ \'2025-03-06 00:00:00+00\''))).toBe(0);
  });

  it('restated profile rows keep updated_at and win by created_at', async () => {
    const [check] = await rows(db.connection, `
      SELECT count(*)::INTEGER AS exact_duplicates FROM (
        SELECT user_id, updated_at, created_at FROM user_profile GROUP BY ALL HAVING count(*) > 1)`);
    expect(check).toEqual({ exact_duplicates: 0 });
  });

  it('builds fraud_training end to end: the velocity features agree with the aggregates as of each transaction', async () => {
    const project = validateProject(await loadExampleDefinitions());
    const e2ePath = join(dir, 'e2e.duckdb');
    await generateCardFraudData({ warehousePath: e2ePath, ...small });
    const engine = await openDuckDBEngine({ path: e2ePath });
    try {
      for (const statement of warehouseObjectStatements({ desired: project, dialect: engine.dialect, resolvePath: (p) => join(exampleDir, p) })) await engine.run(statement);
      const resolved = resolveTrainingSet(project, 'fraud_training', { from: '2025-03-03T00:00:00Z', to: '2025-03-05T00:00:00Z' });
      const rows = await engine.all(compilePointInTimeJoin(resolved.join, engine.dialect));
      expect(rows).toHaveLength(600);
      expect(Object.keys(rows[0]!)).toEqual(resolved.columns.map((c) => c.name));
      // The transaction at t is itself an event of the window (e <= t): every spine row counts at least itself.
      expect(rows.every((r) => Number(r.count_1h) >= 1 && Number(r.count_1h) <= Number(r.count_1d) && Number(r.count_1d) <= Number(r.count_7d))).toBe(true);
      expect(rows.every((r) => Number(r.distinct_merchants_30d) >= 1)).toBe(true);

      const events = aggregationEventsOf(project.featureViews.user_txn_windows!, project);
      for (const row of rows.filter((_, i) => i % 60 === 0)) {
        const online = await engine.all(compileAggregatesAsOf(events, String(row.ts), engine.dialect));
        const entity = online.find((o) => o.user_id === row.user_id);
        for (const feature of ['count_1h', 'count_1d', 'count_7d', 'amount_sum_7d', 'amount_avg_1h', 'distinct_merchants_30d']) {
          const value = entity?.[feature];
          if (typeof value === 'number' && !Number.isInteger(value)) expect(value, feature).toBeCloseTo(row[feature] as number, 6);
          else expect(value, `${feature} of user ${String(row.user_id)} at ${String(row.ts)}`).toEqual(row[feature]);
        }
      }
    } finally {
      await engine.close();
    }
  }, 60_000);

  it('is deterministic for a seed', async () => {
    const again = join(dir, 'again.duckdb');
    const other = join(dir, 'other.duckdb');
    await generateCardFraudData({ warehousePath: again, ...small });
    await generateCardFraudData({ warehousePath: other, ...small, seed: 8 });
    const first = await checksum(path);
    expect(await checksum(again)).toBe(first);
    expect(await checksum(other)).not.toBe(first);
  }, 60_000);

  it('makes fraud learnable: new accounts, night and large amounts carry signal', async () => {
    const signal = join(dir, 'signal.duckdb');
    await generateCardFraudData({ warehousePath: signal, users: 2000, merchants: 200, days: 30, transactionsPerDay: 3000, seed: 1, start: '2025-01-01' });
    const check = await openReadOnly(signal);
    try {
      const [rates] = await rows(check.connection, `
        SELECT avg(is_fraud::INTEGER) FILTER (WHERE l.ts - p.opened < INTERVAL 14 DAY) AS new_account,
               avg(is_fraud::INTEGER) FILTER (WHERE l.ts - p.opened >= INTERVAL 14 DAY) AS old_account,
               avg(is_fraud::INTEGER) FILTER (WHERE hour(l.ts) < 6) AS night,
               avg(is_fraud::INTEGER) FILTER (WHERE hour(l.ts) >= 6) AS day,
               avg(amount) FILTER (WHERE is_fraud) AS fraud_amount,
               avg(amount) FILTER (WHERE NOT is_fraud) AS normal_amount
        FROM labeled_transactions AS l
        JOIN (SELECT user_id, min(account_opened_at) AS opened FROM user_profile GROUP BY user_id) AS p USING (user_id)`);
      const r = rates as Record<string, number>;
      expect(r.new_account).toBeGreaterThan(3 * r.old_account!);
      expect(r.night).toBeGreaterThan(2 * r.day!);
      expect(r.fraud_amount).toBeGreaterThan(2 * r.normal_amount!);
    } finally {
      check.close();
    }
  }, 60_000);
});
