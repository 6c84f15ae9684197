import { describe, expect, it } from 'vitest';
import { entity, eventStream, featureView, source } from '../index.ts';
import { IdentifierError } from '../core/errors.ts';
import { duckdbDialect, type Dialect } from '../core/sql/dialect.ts';
import { registryStatements } from '../core/sql/registry-sql.ts';
import { snowflakeDialect, snowflakeDialectIn, StagedLocationError } from '../core/sql/snowflake-dialect.ts';
import {
  eventStreamTableName,
  featureViewColumns,
  featureViewViewName,
  planWarehouseObjects,
  sourceRelationQuery,
  sourceViewName,
  transformationQuery,
  unsupportedTableChanges,
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
// Snowflake reads Parquet only from a stage: there, the clicks source names a stage path (kept as declared, not resolved).
const projects: Record<Dialect['name'], typeof project> = {
  duckdb: project,
  snowflake: { ...project, sources: { ...project.sources, clicks: { ...project.sources.clicks!, location: { type: 'parquet', path: '@raw_stage/clicks/' } } } },
};

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
    'CREATE OR REPLACE VIEW "flywheel"."src_clicks" AS SELECT * FROM (SELECT $1:"user_id"::NUMBER(19,0) AS "user_id", $1:"n"::NUMBER(10,0) AS "n", $1:"ts"::TIMESTAMP_TZ AS "ts" FROM @raw_stage/clicks/)',
    'CREATE OR REPLACE VIEW "flywheel"."src_labels" AS SELECT * FROM raw.labels WHERE ts > DATE \'2024-01-01\'',
    // A table Flywheel did not create is named unquoted, so Snowflake finds RAW.TRANSACTIONS and its columns as created
    // without quotes (dbt's way); the view gives them their declared names.
    'CREATE OR REPLACE VIEW "flywheel"."src_txns" AS SELECT * FROM (SELECT user_id AS "user_id", merchant_id AS "merchant_id", amount AS "amount", ts AS "ts", loaded_at AS "loaded_at" FROM raw.transactions)',
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
    const statements = warehouseObjectStatements({ desired: projects[dialect.name], dialect, resolvePath });
    expect(statements.map((s) => s.sql)).toEqual(expected[dialect.name]);
    expect(statements.every((s) => s.parameters.length === 0)).toBe(true);
  });

  it('drops the views of removed sources and feature views first, in a configurable schema', () => {
    const desired = { ...project, sources: { labels: project.sources.labels! }, featureViews: {} };
    const statements = warehouseObjectStatements({ desired, applied: project, dialect, resolvePath, schema: 'ml' });
    expect(statements.map((s) => s.sql)).toEqual(expectedDrops[dialect.name]);
  });

  it('describes a source by the body of its view', () => {
    expect(sourceRelationQuery(project.sources.txns!, dialect, resolvePath).sql).toBe({ duckdb: 'SELECT * FROM "raw"."transactions"', snowflake: 'SELECT * FROM (SELECT user_id AS "user_id", merchant_id AS "merchant_id", amount AS "amount", ts AS "ts", loaded_at AS "loaded_at" FROM raw.transactions)' }[dialect.name]);
  });

  it('reads a Parquet source where the engine can reach it: a local path (DuckDB), a stage only (Snowflake)', () => {
    const compile = () => sourceRelationQuery(project.sources.clicks!, dialect, resolvePath).sql;
    const checks: Record<Dialect['name'], () => void> = {
      duckdb: () => expect(compile()).toBe("SELECT * FROM read_parquet('/projects/demo/data/clicks/*.parquet')"),
      snowflake: () => {
        expect(compile).toThrow(StagedLocationError);
        expect(compile).toThrow('"/projects/demo/data/clicks/*.parquet" is not a stage path');
      },
    };
    checks[dialect.name]();
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

// Event streams: a table per stream (created, then only altered) and the ledger they share.
const clickStream = eventStream({
  name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d',
  fields: { item_id: 'int32', dwell_ms: { type: 'int64', nullable: true }, page: 'string' },
});
const lastClick = featureView({ name: 'last_click', entities: [user], source: clickStream, features: { item_id: 'int64' } });
const clicksPerPage = featureView({
  name: 'page_clicks', entities: [user], source: clickStream,
  transformation: "SELECT user_id, ts, count(*) OVER (PARTITION BY user_id, page) AS n FROM {{source}}",
  features: { n: 'int64' },
});
const streamProject = validateProject([user, clickStream, lastClick, clicksPerPage].map((definition) => ({ definition })));
// The next version: item_id widened, dwell_ms removed, page nullable, referrer added; a stream `views` removed.
const clickStreamV2 = eventStream({
  name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d',
  fields: { item_id: 'int64', page: { type: 'string', nullable: true }, referrer: 'string' },
});
const viewStream = eventStream({ name: 'views', entities: [user], timestampField: 'ts', retention: '7d', fields: {} });
const streamApplied = validateProject([user, clickStream, viewStream].map((definition) => ({ definition })));
const streamDesired = validateProject([user, clickStreamV2].map((definition) => ({ definition })));

const expectedStreams: Record<Dialect['name'], string[]> = {
  duckdb: [
    'CREATE SCHEMA IF NOT EXISTS "flywheel"',
    'CREATE TABLE IF NOT EXISTS "flywheel"."ingest_ledger" ("stream" VARCHAR NOT NULL, "batch" VARCHAR NOT NULL, "rows" BIGINT NOT NULL, "loaded_at" TIMESTAMPTZ NOT NULL, "watermark" VARCHAR, PRIMARY KEY ("stream", "batch"))',
    'CREATE TABLE IF NOT EXISTS "flywheel"."ingest_quarantine" ("stream" VARCHAR NOT NULL, "batch" VARCHAR NOT NULL, "event_index" BIGINT NOT NULL, "event_id" VARCHAR, "event" VARCHAR NOT NULL, ' +
      '"error" VARCHAR NOT NULL, "quarantined_at" TIMESTAMPTZ NOT NULL, PRIMARY KEY ("stream", "batch", "event_index"))',
    'CREATE TABLE IF NOT EXISTS "flywheel"."stream_clicks" ("_event_id" VARCHAR NOT NULL, "user_id" BIGINT NOT NULL, "ts" TIMESTAMPTZ NOT NULL, "item_id" INTEGER NOT NULL, "dwell_ms" BIGINT, "page" VARCHAR NOT NULL, ' +
      '"_received_at" TIMESTAMPTZ NOT NULL, "_batch" VARCHAR NOT NULL, PRIMARY KEY ("_event_id"))',
    'CREATE OR REPLACE VIEW "flywheel"."fv_last_click" AS SELECT "user_id", CAST("ts" AS TIMESTAMPTZ) AS "ts", CAST("item_id" AS BIGINT) AS "item_id" FROM "flywheel"."stream_clicks"',
    'CREATE OR REPLACE VIEW "flywheel"."fv_page_clicks" AS SELECT "user_id", CAST("ts" AS TIMESTAMPTZ) AS "ts", CAST("n" AS BIGINT) AS "n" ' +
      'FROM (SELECT user_id, ts, count(*) OVER (PARTITION BY user_id, page) AS n FROM "flywheel"."stream_clicks") AS "transformed"',
  ],
  snowflake: [
    'CREATE SCHEMA IF NOT EXISTS "flywheel"',
    'CREATE TABLE IF NOT EXISTS "flywheel"."ingest_ledger" ("stream" VARCHAR NOT NULL, "batch" VARCHAR NOT NULL, "rows" NUMBER(19,0) NOT NULL, "loaded_at" TIMESTAMP_TZ NOT NULL, "watermark" VARCHAR, PRIMARY KEY ("stream", "batch"))',
    'CREATE TABLE IF NOT EXISTS "flywheel"."ingest_quarantine" ("stream" VARCHAR NOT NULL, "batch" VARCHAR NOT NULL, "event_index" NUMBER(19,0) NOT NULL, "event_id" VARCHAR, "event" VARCHAR NOT NULL, ' +
      '"error" VARCHAR NOT NULL, "quarantined_at" TIMESTAMP_TZ NOT NULL, PRIMARY KEY ("stream", "batch", "event_index"))',
    'CREATE TABLE IF NOT EXISTS "flywheel"."stream_clicks" ("_event_id" VARCHAR NOT NULL, "user_id" NUMBER(19,0) NOT NULL, "ts" TIMESTAMP_TZ NOT NULL, "item_id" NUMBER(10,0) NOT NULL, "dwell_ms" NUMBER(19,0), "page" VARCHAR NOT NULL, ' +
      '"_received_at" TIMESTAMP_TZ NOT NULL, "_batch" VARCHAR NOT NULL, PRIMARY KEY ("_event_id"))',
    'CREATE OR REPLACE VIEW "flywheel"."fv_last_click" AS SELECT "user_id", CAST("ts" AS TIMESTAMP_TZ) AS "ts", CAST("item_id" AS NUMBER(19,0)) AS "item_id" FROM "flywheel"."stream_clicks"',
    'CREATE OR REPLACE VIEW "flywheel"."fv_page_clicks" AS SELECT "user_id", CAST("ts" AS TIMESTAMP_TZ) AS "ts", CAST("n" AS NUMBER(19,0)) AS "n" ' +
      'FROM (SELECT user_id, ts, count(*) OVER (PARTITION BY user_id, page) AS n FROM "flywheel"."stream_clicks") AS "transformed"',
  ],
};

const expectedStreamAlterations: Record<Dialect['name'], string[]> = {
  duckdb: [
    'ALTER TABLE "flywheel"."stream_clicks" ALTER COLUMN "item_id" SET DATA TYPE BIGINT',
    'ALTER TABLE "flywheel"."stream_clicks" ALTER COLUMN "page" DROP NOT NULL',
    'ALTER TABLE "flywheel"."stream_clicks" ADD COLUMN IF NOT EXISTS "referrer" VARCHAR',
  ],
  snowflake: [
    'ALTER TABLE "flywheel"."stream_clicks" ALTER COLUMN "item_id" SET DATA TYPE NUMBER(19,0)',
    'ALTER TABLE "flywheel"."stream_clicks" ALTER COLUMN "page" DROP NOT NULL',
    'ALTER TABLE "flywheel"."stream_clicks" ADD COLUMN IF NOT EXISTS "referrer" VARCHAR',
  ],
};

const expectedEmptyStream: Record<Dialect['name'], string> = {
  duckdb: 'SELECT * FROM (SELECT user_id, ts, count(*) OVER (PARTITION BY user_id, page) AS n FROM (SELECT CAST(NULL AS VARCHAR) AS "_event_id", CAST(NULL AS BIGINT) AS "user_id", ' +
    'CAST(NULL AS TIMESTAMPTZ) AS "ts", CAST(NULL AS INTEGER) AS "item_id", CAST(NULL AS BIGINT) AS "dwell_ms", CAST(NULL AS VARCHAR) AS "page", CAST(NULL AS TIMESTAMPTZ) AS "_received_at", ' +
    'CAST(NULL AS VARCHAR) AS "_batch" LIMIT 0)) AS "transformed"',
  snowflake: 'SELECT * FROM (SELECT user_id, ts, count(*) OVER (PARTITION BY user_id, page) AS n FROM (SELECT CAST(NULL AS VARCHAR) AS "_event_id", CAST(NULL AS NUMBER(19,0)) AS "user_id", ' +
    'CAST(NULL AS TIMESTAMP_TZ) AS "ts", CAST(NULL AS NUMBER(10,0)) AS "item_id", CAST(NULL AS NUMBER(19,0)) AS "dwell_ms", CAST(NULL AS VARCHAR) AS "page", CAST(NULL AS TIMESTAMP_TZ) AS "_received_at", ' +
    'CAST(NULL AS VARCHAR) AS "_batch" LIMIT 0)) AS "transformed"',
};

describe.each(Object.values(dialects))('event stream tables ($name)', (dialect) => {
  it('creates the ledger, the quarantine and a table per stream; views over a stream read its table', () => {
    const statements = warehouseObjectStatements({ desired: streamProject, dialect, resolvePath });
    expect(statements.map((s) => s.sql)).toEqual(expectedStreams[dialect.name]);
  });

  it('alters a table to the new columns: converts a type, drops NOT NULL, adds a column; keeps removed columns and streams', () => {
    const statements = warehouseObjectStatements({ desired: streamDesired, applied: streamApplied, dialect, resolvePath }).map((s) => s.sql);
    const alterations = statements.filter((text) => text.startsWith('ALTER'));
    // dwell_ms is no longer declared: kept, already nullable. The removed stream's table runs nothing.
    expect(alterations).toEqual(expectedStreamAlterations[dialect.name]);
    expect(statements.some((text) => text.includes('stream_views'))).toBe(false);
  });

  it('describes a transformation over a stream on no rows of its columns (its table may not exist yet)', () => {
    expect(transformationQuery(streamProject.featureViews.page_clicks!, streamProject, dialect, resolvePath)?.sql).toBe(expectedEmptyStream[dialect.name]);
  });
});

describe('event stream table model', () => {
  it('plans a created table, alterations and kept tables as typed nodes', () => {
    const nodes = planWarehouseObjects({ desired: streamDesired, applied: streamApplied, resolvePath });
    expect(nodes.filter((n) => n.kind !== 'createSchema' && n.kind !== 'createView')).toEqual([
      { kind: 'createTable', table: 'flywheel.ingest_ledger', columns: expect.any(Array), primaryKey: ['stream', 'batch'] },
      { kind: 'createTable', table: 'flywheel.ingest_quarantine', columns: expect.any(Array), primaryKey: ['stream', 'batch', 'event_index'] },
      { kind: 'createTable', table: 'flywheel.stream_clicks', columns: expect.any(Array), primaryKey: ['_event_id'] },
      { kind: 'alterColumnType', table: 'flywheel.stream_clicks', column: 'item_id', from: 'int32', to: 'int64' },
      { kind: 'dropNotNull', table: 'flywheel.stream_clicks', column: 'page' },
      { kind: 'addColumn', table: 'flywheel.stream_clicks', column: 'referrer', type: 'string', required: false },
      { kind: 'keepTable', table: 'flywheel.stream_views', reason: 'event stream "views" was removed; drop the table by hand to delete its events' },
    ]);
    expect(eventStreamTableName('clicks', 'ml')).toBe('ml.stream_clicks');
    expect(() => eventStreamTableName('x'.repeat(60))).toThrow(IdentifierError);
  });

  it('drops NOT NULL from a removed non-null column, since new events leave it empty', () => {
    const narrower = validateProject([user, eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { item_id: 'int32' } })].map((definition) => ({ definition })));
    const nodes = planWarehouseObjects({ desired: narrower, applied: streamApplied, resolvePath }).filter((n) => n.kind === 'dropNotNull');
    expect(nodes).toEqual([{ kind: 'dropNotNull', table: 'flywheel.stream_clicks', column: 'page' }]);
  });

  it('lists the changes a warehouse cannot make: a conversion it does not do, a new key or timestamp column', () => {
    const retyped = validateProject([user, eventStream({ name: 'clicks', entities: [user], timestampField: 'event_ts', retention: '90d', fields: { item_id: 'float64', dwell_ms: { type: 'string', nullable: true }, page: 'int64' } })].map((definition) => ({ definition })));
    const nodes = planWarehouseObjects({ desired: retyped, applied: streamApplied, resolvePath });
    expect(unsupportedTableChanges(nodes, duckdbDialect)).toEqual([
      { table: 'flywheel.stream_clicks', column: 'event_ts', message: 'a new join key or timestamp column, which the stored events have no value for; declare a new event stream instead' },
      { table: 'flywheel.stream_clicks', column: 'page', message: 'duckdb cannot convert the stored string values to int64; declare the field under a new name instead (the old column and its values are kept), or convert the table by hand' },
    ]);
    // Snowflake widens only numbers of the same kind: int32 → float64 is refused too; anything → string as well.
    expect(unsupportedTableChanges(nodes, snowflakeDialect).map((issue) => issue.column)).toEqual(['event_ts', 'item_id', 'dwell_ms', 'page']);
  });
});

describe("Snowflake's dialect in a session's database and schema", () => {
  // A view resolves an unqualified table name against its own schema ("flywheel"), not the session's:
  // the engine's dialect qualifies a one-part source table with the session's stored database and schema.
  const inSession = snowflakeDialectIn({ database: 'RISK', schema: 'CARD_FRAUD' });
  const columns = ['user_id', 'ts'];

  it('qualifies a one-part table name with the stored (quoted) database and schema, the table unquoted', () => {
    expect(inSession.existingTable('transactions', columns)).toBe('(SELECT user_id AS "user_id", ts AS "ts" FROM "RISK"."CARD_FRAUD".transactions)');
    expect(snowflakeDialectIn({ database: 'my "db"', schema: 'public' }).existingTable('t', columns)).toBe('(SELECT user_id AS "user_id", ts AS "ts" FROM "my ""db"""."public".t)');
  });

  it('writes two- and three-part names as given, and is otherwise the Snowflake dialect', () => {
    expect(inSession.existingTable('raw.transactions', columns)).toBe('(SELECT user_id AS "user_id", ts AS "ts" FROM raw.transactions)');
    expect(inSession.existingTable('other.raw.transactions', columns)).toBe('(SELECT user_id AS "user_id", ts AS "ts" FROM other.raw.transactions)');
    expect(snowflakeDialect.existingTable('transactions', columns)).toBe('(SELECT user_id AS "user_id", ts AS "ts" FROM transactions)');
    expect(inSession.name).toBe('snowflake');
    expect(inSession.asofLeftJoin).toBe(snowflakeDialect.asofLeftJoin);
  });
});
