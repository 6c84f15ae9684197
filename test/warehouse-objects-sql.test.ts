import { describe, expect, it } from 'vitest';
import { entity, featureView, source } from '../index.ts';
import { IdentifierError } from '../core/errors.ts';
import { duckdbDialect, type Dialect } from '../core/sql/dialect.ts';
import { registryStatements } from '../core/sql/registry-sql.ts';
import { snowflakeDialect } from '../core/sql/snowflake-dialect.ts';
import {
  featureViewColumns,
  featureViewViewName,
  planWarehouseObjects,
  sourceRelationQuery,
  sourceViewName,
  warehouseObjectStatements,
} from '../core/sql/warehouse-objects.ts';
import { validateProject } from '../core/validation/validate-project.ts';

// Expected SQL is keyed by dialect (kysely style): a new dialect does not pass until every case covers it.
const dialects: Record<Dialect['name'], Dialect> = { duckdb: duckdbDialect, snowflake: snowflakeDialect };

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const merchant = entity({ name: 'merchant', joinKeys: { merchant_id: 'string', user_id: 'int64' } });
const txns = source({
  name: 'txns', table: 'raw.transactions', timestampField: 'ts', createdTimestampField: 'loaded_at',
  columns: { user_id: 'int64', merchant_id: 'string', amount: 'float32', ts: 'timestamp', loaded_at: 'timestamp' },
});
const labels = source({ name: 'labels', query: 'SELECT * FROM raw.labels WHERE ts > DATE \'2024-01-01\';', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', is_fraud: 'bool' } });
const clicks = source({ name: 'clicks', parquet: 'data/clicks/*.parquet', timestampField: 'ts', columns: { user_id: 'int64', n: 'int32', ts: 'timestamp' } });
const spend = featureView({ name: 'spend', entities: [user, merchant], source: txns, features: { amount: 'float64' } });
const daily = featureView({
  name: 'daily_clicks', entities: [user], source: clicks,
  transformation: 'SELECT user_id, ts, sum(n) AS clicks_1d FROM {{source}} GROUP BY ALL',
  features: { clicks_1d: 'int64' },
});

// Aggregation views: their warehouse view holds the events, with the input columns the aggregations read.
const txnWindows = featureView({
  name: 'txn_windows', entities: [user], source: txns,
  aggregations: [
    { function: 'count', windows: ['1h'] },
    { column: 'amount', function: 'sum', windows: ['1d', '7d'] },
    { column: 'merchant_id', function: 'distinct_count', windows: ['7d'] },
  ],
});
const clickWindows = featureView({
  name: 'click_windows', entities: [user], source: clicks,
  transformation: 'SELECT user_id, ts, n * 2 AS n2 FROM {{source}}',
  inputs: { n2: 'int64' },
  aggregations: [{ column: 'n2', function: 'max', windows: ['1d'] }],
});

const project = validateProject([user, merchant, txns, labels, clicks, daily, spend, txnWindows, clickWindows].map((definition) => ({ definition })));
const resolvePath = (path: string) => `/projects/demo/${path}`;

const expected: Record<Dialect['name'], string[]> = {
  duckdb: [
    'CREATE SCHEMA IF NOT EXISTS "flywheel"',
    'CREATE OR REPLACE VIEW "flywheel"."src_clicks" AS SELECT * FROM read_parquet(\'/projects/demo/data/clicks/*.parquet\')',
    'CREATE OR REPLACE VIEW "flywheel"."src_labels" AS SELECT * FROM raw.labels WHERE ts > DATE \'2024-01-01\'',
    'CREATE OR REPLACE VIEW "flywheel"."src_txns" AS SELECT * FROM "raw"."transactions"',
    'CREATE OR REPLACE VIEW "flywheel"."fv_click_windows" AS SELECT "user_id", CAST("ts" AS TIMESTAMPTZ) AS "ts", CAST("n2" AS BIGINT) AS "n2" ' +
      'FROM (SELECT user_id, ts, n * 2 AS n2 FROM "flywheel"."src_clicks") AS "transformed"',
    'CREATE OR REPLACE VIEW "flywheel"."fv_daily_clicks" AS SELECT "user_id", CAST("ts" AS TIMESTAMPTZ) AS "ts", CAST("clicks_1d" AS BIGINT) AS "clicks_1d" ' +
      'FROM (SELECT user_id, ts, sum(n) AS clicks_1d FROM "flywheel"."src_clicks" GROUP BY ALL) AS "transformed"',
    'CREATE OR REPLACE VIEW "flywheel"."fv_spend" AS SELECT "user_id", "merchant_id", CAST("ts" AS TIMESTAMPTZ) AS "ts", CAST("loaded_at" AS TIMESTAMPTZ) AS "loaded_at", ' +
      'CAST("amount" AS DOUBLE) AS "amount" FROM "flywheel"."src_txns"',
    'CREATE OR REPLACE VIEW "flywheel"."fv_txn_windows" AS SELECT "user_id", CAST("ts" AS TIMESTAMPTZ) AS "ts", CAST("loaded_at" AS TIMESTAMPTZ) AS "loaded_at", ' +
      'CAST("amount" AS FLOAT) AS "amount", CAST("merchant_id" AS VARCHAR) AS "merchant_id" FROM "flywheel"."src_txns"',
  ],
  snowflake: [
    'CREATE SCHEMA IF NOT EXISTS "flywheel"',
    'CREATE OR REPLACE VIEW "flywheel"."src_clicks" AS SELECT * FROM (SELECT $1 FROM /projects/demo/data/clicks/*.parquet)',
    'CREATE OR REPLACE VIEW "flywheel"."src_labels" AS SELECT * FROM raw.labels WHERE ts > DATE \'2024-01-01\'',
    'CREATE OR REPLACE VIEW "flywheel"."src_txns" AS SELECT * FROM "raw"."transactions"',
    'CREATE OR REPLACE VIEW "flywheel"."fv_click_windows" AS SELECT "user_id", CAST("ts" AS TIMESTAMP_TZ) AS "ts", CAST("n2" AS NUMBER(19,0)) AS "n2" ' +
      'FROM (SELECT user_id, ts, n * 2 AS n2 FROM "flywheel"."src_clicks") AS "transformed"',
    'CREATE OR REPLACE VIEW "flywheel"."fv_daily_clicks" AS SELECT "user_id", CAST("ts" AS TIMESTAMP_TZ) AS "ts", CAST("clicks_1d" AS NUMBER(19,0)) AS "clicks_1d" ' +
      'FROM (SELECT user_id, ts, sum(n) AS clicks_1d FROM "flywheel"."src_clicks" GROUP BY ALL) AS "transformed"',
    'CREATE OR REPLACE VIEW "flywheel"."fv_spend" AS SELECT "user_id", "merchant_id", CAST("ts" AS TIMESTAMP_TZ) AS "ts", CAST("loaded_at" AS TIMESTAMP_TZ) AS "loaded_at", ' +
      'CAST("amount" AS FLOAT) AS "amount" FROM "flywheel"."src_txns"',
    'CREATE OR REPLACE VIEW "flywheel"."fv_txn_windows" AS SELECT "user_id", CAST("ts" AS TIMESTAMP_TZ) AS "ts", CAST("loaded_at" AS TIMESTAMP_TZ) AS "loaded_at", ' +
      'CAST("amount" AS FLOAT) AS "amount", CAST("merchant_id" AS VARCHAR) AS "merchant_id" FROM "flywheel"."src_txns"',
  ],
};

const expectedDrops: Record<Dialect['name'], string[]> = {
  duckdb: ['CREATE SCHEMA IF NOT EXISTS "ml"', 'DROP VIEW IF EXISTS "ml"."fv_click_windows"', 'DROP VIEW IF EXISTS "ml"."fv_daily_clicks"', 'DROP VIEW IF EXISTS "ml"."fv_spend"', 'DROP VIEW IF EXISTS "ml"."fv_txn_windows"', 'DROP VIEW IF EXISTS "ml"."src_clicks"', 'DROP VIEW IF EXISTS "ml"."src_txns"', 'CREATE OR REPLACE VIEW "ml"."src_labels" AS SELECT * FROM raw.labels WHERE ts > DATE \'2024-01-01\''],
  snowflake: ['CREATE SCHEMA IF NOT EXISTS "ml"', 'DROP VIEW IF EXISTS "ml"."fv_click_windows"', 'DROP VIEW IF EXISTS "ml"."fv_daily_clicks"', 'DROP VIEW IF EXISTS "ml"."fv_spend"', 'DROP VIEW IF EXISTS "ml"."fv_txn_windows"', 'DROP VIEW IF EXISTS "ml"."src_clicks"', 'DROP VIEW IF EXISTS "ml"."src_txns"', 'CREATE OR REPLACE VIEW "ml"."src_labels" AS SELECT * FROM raw.labels WHERE ts > DATE \'2024-01-01\''],
};

const expectedRegistry: Record<Dialect['name'], Record<string, string>> = {
  duckdb: {
    createTable: 'CREATE TABLE IF NOT EXISTS "flywheel"."registry" ("version" INTEGER NOT NULL, "applied_at" TIMESTAMPTZ NOT NULL, "project" VARCHAR NOT NULL, "hash" VARCHAR NOT NULL, "spec" VARCHAR NOT NULL, "applied_by" VARCHAR NOT NULL, PRIMARY KEY ("project", "version"))',
    latest: 'SELECT "version", "applied_at", "project", "hash", "spec", "applied_by" FROM "flywheel"."registry" WHERE "project" = ? ORDER BY "version" DESC LIMIT 1',
    nextVersion: 'SELECT COALESCE(MAX("version"), 0) + 1 AS "version" FROM "flywheel"."registry" WHERE "project" = ?',
    insert: 'INSERT INTO "flywheel"."registry" ("version", "applied_at", "project", "hash", "spec", "applied_by") VALUES (?, CAST(? AS TIMESTAMPTZ), ?, ?, ?, ?)',
  },
  snowflake: {
    createTable: 'CREATE TABLE IF NOT EXISTS "flywheel"."registry" ("version" NUMBER(10,0) NOT NULL, "applied_at" TIMESTAMP_TZ NOT NULL, "project" VARCHAR NOT NULL, "hash" VARCHAR NOT NULL, "spec" VARCHAR NOT NULL, "applied_by" VARCHAR NOT NULL, PRIMARY KEY ("project", "version"))',
    latest: 'SELECT "version", "applied_at", "project", "hash", "spec", "applied_by" FROM "flywheel"."registry" WHERE "project" = ? ORDER BY "version" DESC LIMIT 1',
    nextVersion: 'SELECT COALESCE(MAX("version"), 0) + 1 AS "version" FROM "flywheel"."registry" WHERE "project" = ?',
    insert: 'INSERT INTO "flywheel"."registry" ("version", "applied_at", "project", "hash", "spec", "applied_by") VALUES (?, CAST(? AS TIMESTAMP_TZ), ?, ?, ?, ?)',
  },
};

describe.each(Object.values(dialects))('warehouse objects ($name)', (dialect) => {
  it('creates the schema, a view per source and per feature view', () => {
    const statements = warehouseObjectStatements({ desired: project, dialect, resolvePath });
    expect(statements.map((s) => s.sql)).toEqual(expected[dialect.name]);
    expect(statements.every((s) => s.parameters.length === 0)).toBe(true);
  });

  it('drops the views of removed sources and feature views first, in a configurable schema', () => {
    const desired = { ...project, sources: { labels: project.sources.labels! }, featureViews: {} };
    const statements = warehouseObjectStatements({ desired, applied: project, dialect, resolvePath, schema: 'ml' });
    expect(statements.map((s) => s.sql)).toEqual(expectedDrops[dialect.name]);
  });

  it('describes a source by the body of its view', () => {
    expect(sourceRelationQuery(project.sources.txns!, dialect, resolvePath).sql).toBe('SELECT * FROM "raw"."transactions"');
  });

  it('compiles the registry statements', () => {
    const registry = registryStatements(dialect);
    expect(registry.createTable().sql).toBe(expectedRegistry[dialect.name]!.createTable);
    expect(registry.latest('demo')).toEqual({ sql: expectedRegistry[dialect.name]!.latest, parameters: ['demo'] });
    expect(registry.nextVersion('demo')).toEqual({ sql: expectedRegistry[dialect.name]!.nextVersion, parameters: ['demo'] });
    const row = { version: 2, applied_at: '2025-01-01T00:00:00.000Z', project: 'demo', hash: 'h', spec: '{}', applied_by: 'me' };
    expect(registry.insert(row)).toEqual({ sql: expectedRegistry[dialect.name]!.insert, parameters: [2, '2025-01-01T00:00:00.000Z', 'demo', 'h', '{}', 'me'] });
    expect(registry.tableExists().parameters).toEqual(['flywheel', 'registry']);
  });
});

describe('view names and columns', () => {
  it('names the views for other compilers (unquoted; they quote with dialect.qualified)', () => {
    expect(sourceViewName('labels')).toBe('flywheel.src_labels');
    expect(featureViewViewName('spend')).toBe('flywheel.fv_spend');
    expect(featureViewViewName('spend', 'ml')).toBe('ml.fv_spend');
    expect(duckdbDialect.qualified(featureViewViewName('spend'))).toBe('"flywheel"."fv_spend"');
    expect(() => featureViewViewName('x'.repeat(62))).toThrow(IdentifierError);
    expect(() => sourceViewName('spend', 'bad schema')).toThrow(IdentifierError);
  });

  it("lists a feature view's columns: join keys once each, timestamps, features", () => {
    expect(featureViewColumns(project.featureViews.spend!, project)).toEqual({
      joinKeys: [{ name: 'user_id', type: 'int64' }, { name: 'merchant_id', type: 'string' }],
      timestamp: 'ts', createdTimestamp: 'loaded_at',
      features: [{ name: 'amount', type: 'float64' }],
    });
    // A transformation promises the timestamp but not the created time.
    expect(featureViewColumns(project.featureViews.daily_clicks!, project).createdTimestamp).toBeUndefined();
  });

  it("lists an aggregation view's columns: its events hold the columns the aggregations read, not the features", () => {
    expect(featureViewColumns(project.featureViews.txn_windows!, project)).toEqual({
      joinKeys: [{ name: 'user_id', type: 'int64' }],
      timestamp: 'ts', createdTimestamp: 'loaded_at',
      features: [{ name: 'amount', type: 'float32' }, { name: 'merchant_id', type: 'string' }],
    });
    expect(project.featureViews.txn_windows!.features).toEqual([
      { name: 'count_1h', type: 'int64' },
      { name: 'amount_sum_1d', type: 'float64' },
      { name: 'amount_sum_7d', type: 'float64' },
      { name: 'merchant_id_distinct_count_7d', type: 'int64' },
    ]);
    // With a transformation: the declared inputs, and no created time.
    expect(featureViewColumns(project.featureViews.click_windows!, project)).toEqual({
      joinKeys: [{ name: 'user_id', type: 'int64' }], timestamp: 'ts', createdTimestamp: undefined, features: [{ name: 'n2', type: 'int64' }],
    });
  });

  it('plans objects as typed nodes', () => {
    expect(planWarehouseObjects({ desired: project, resolvePath }).map((n) => n.kind)).toEqual(['createSchema', ...Array(7).fill('createView')]);
  });
});
