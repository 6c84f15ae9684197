import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { duckdbDialect, type Dialect } from '../core/sql/dialect.ts';
import { compileQuarantineCounts, compileQuarantineEvents, compileQuarantineList, compileQuarantineReason, compileQuarantineRelease, type QuarantinedEvent } from '../core/sql/quarantine.ts';
import { snowflakeDialect } from '../core/sql/snowflake-dialect.ts';
import { compileWarehouseObjects, ingestQuarantineTableNode } from '../core/sql/warehouse-objects.ts';

/** The quarantine's statements (core/sql/quarantine.ts): expected SQL keyed by dialect, and run on a DuckDB file. */

const dialects: Record<Dialect['name'], Dialect> = { duckdb: duckdbDialect, snowflake: snowflakeDialect };
const event: QuarantinedEvent = { stream: 'clicks', batch: 'seg-1', eventIndex: 3, eventId: 'e3', event: '{"_event_id":"e3"}', error: 'bad' };

const guard = 'WHERE NOT EXISTS (SELECT 1 FROM "flywheel"."ingest_quarantine" AS "kept" WHERE "kept"."stream" = "v"."stream" AND "kept"."batch" = "v"."batch" AND "kept"."event_index" = "v"."event_index")';
const expectedInsert: Record<Dialect['name'], string> = {
  duckdb: 'INSERT INTO "flywheel"."ingest_quarantine" ("stream", "batch", "event_index", "event_id", "event", "error", "quarantined_at") ' +
    'SELECT "v"."stream", "v"."batch", "v"."event_index", "v"."event_id", "v"."event", "v"."error", CAST(? AS TIMESTAMPTZ) ' +
    'FROM (VALUES (CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS BIGINT), CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS VARCHAR)), ' +
    '(CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS BIGINT), CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS VARCHAR))) ' +
    `AS "v"("stream", "batch", "event_index", "event_id", "event", "error") ${guard}`,
  snowflake: 'INSERT INTO "flywheel"."ingest_quarantine" ("stream", "batch", "event_index", "event_id", "event", "error", "quarantined_at") ' +
    'SELECT "v"."stream", "v"."batch", "v"."event_index", "v"."event_id", "v"."event", "v"."error", CAST(? AS TIMESTAMP_TZ) ' +
    'FROM (VALUES (CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS NUMBER(19,0)), CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS VARCHAR)), ' +
    '(CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS NUMBER(19,0)), CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS VARCHAR))) ' +
    `AS "v"("stream", "batch", "event_index", "event_id", "event", "error") ${guard}`,
};
const expectedList: Record<Dialect['name'], string> = {
  duckdb: 'SELECT "batch", "event_index", "event_id", "event", "error", CAST("quarantined_at" AS TIMESTAMPTZ) AS "quarantined_at" FROM "flywheel"."ingest_quarantine" WHERE "stream" = ? ORDER BY "batch", "event_index"',
  snowflake: 'SELECT "batch", "event_index", "event_id", "event", "error", CAST("quarantined_at" AS TIMESTAMP_TZ) AS "quarantined_at" FROM "flywheel"."ingest_quarantine" WHERE "stream" = ? ORDER BY "batch", "event_index"',
};

describe.each(Object.values(dialects))('quarantine SQL ($name)', (dialect) => {
  it('inserts events skipping those kept already, the time before the rows', () => {
    const [insert, ...more] = compileQuarantineEvents([event, { ...event, eventIndex: 4, eventId: null }], dialect, { quarantinedAt: '2024-05-01T12:00:00Z' });
    expect(more).toEqual([]);
    expect(insert).toEqual({
      sql: expectedInsert[dialect.name],
      parameters: ['2024-05-01T12:00:00Z', 'clicks', 'seg-1', 3, 'e3', '{"_event_id":"e3"}', 'bad', 'clicks', 'seg-1', 4, null, '{"_event_id":"e3"}', 'bad'],
    });
    const [now] = compileQuarantineEvents([event], dialect);
    expect(now!.sql).toContain('"v"."error", CURRENT_TIMESTAMP FROM (VALUES (');
    expect(now!.parameters).toEqual(['clicks', 'seg-1', 3, 'e3', '{"_event_id":"e3"}', 'bad']);
  });

  it('lists, counts, releases and records a new reason', () => {
    expect(compileQuarantineList('clicks', dialect)).toEqual({ sql: expectedList[dialect.name], parameters: ['clicks'] });
    expect(compileQuarantineCounts(dialect).sql).toBe('SELECT "stream", count(*) AS "events" FROM "flywheel"."ingest_quarantine" GROUP BY "stream" ORDER BY "stream"');
    expect(compileQuarantineRelease('clicks', [{ batch: 'seg-1', eventIndex: 3 }, { batch: 'seg-2', eventIndex: 0 }], dialect)).toEqual([{
      sql: 'DELETE FROM "flywheel"."ingest_quarantine" WHERE "stream" = ? AND (("batch" = ? AND "event_index" = ?) OR ("batch" = ? AND "event_index" = ?))',
      parameters: ['clicks', 'seg-1', 3, 'seg-2', 0],
    }]);
    expect(compileQuarantineReason('clicks', { batch: 'seg-1', eventIndex: 3 }, 'worse', dialect)).toEqual({
      sql: 'UPDATE "flywheel"."ingest_quarantine" SET "error" = ? WHERE "stream" = ? AND "batch" = ? AND "event_index" = ?',
      parameters: ['worse', 'clicks', 'seg-1', 3],
    });
  });

  it('splits 1,001 events into statements of at most 500', () => {
    const many = Array.from({ length: 1001 }, (_, i) => ({ ...event, eventIndex: i }));
    expect(compileQuarantineEvents(many, dialect).map((s) => s.parameters.length / 6)).toEqual([500, 500, 1]);
    expect(compileQuarantineRelease('clicks', many.map((e) => ({ batch: e.batch, eventIndex: e.eventIndex })), dialect).map((s) => (s.parameters.length - 1) / 2)).toEqual([500, 500, 1]);
  });
});

describe('quarantine SQL on DuckDB', () => {
  it('keeps an event once however often it is inserted, and lists, counts and releases as compiled', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flywheel-quarantine-sql-'));
    const engine = await openDuckDBEngine({ path: join(dir, 'warehouse.duckdb') });
    try {
      await engine.run(sql('CREATE SCHEMA flywheel'));
      for (const statement of compileWarehouseObjects([ingestQuarantineTableNode()], engine.dialect)) await engine.run(statement);
      const events = [event, { ...event, eventIndex: 4, eventId: null }, { ...event, stream: 'orders', batch: 'seg-9', eventIndex: 0 }];
      for (let i = 0; i < 2; i++) for (const statement of compileQuarantineEvents(events, engine.dialect, { quarantinedAt: '2024-05-01T12:00:00Z' })) await engine.run(statement);
      expect(await engine.all(compileQuarantineList('clicks', engine.dialect))).toEqual([
        { batch: 'seg-1', event_index: 3, event_id: 'e3', event: '{"_event_id":"e3"}', error: 'bad', quarantined_at: '2024-05-01T12:00:00.000Z' },
        { batch: 'seg-1', event_index: 4, event_id: null, event: '{"_event_id":"e3"}', error: 'bad', quarantined_at: '2024-05-01T12:00:00.000Z' },
      ]);
      expect(await engine.all(compileQuarantineCounts(engine.dialect))).toEqual([{ stream: 'clicks', events: 2 }, { stream: 'orders', events: 1 }]);
      await engine.run(compileQuarantineReason('clicks', { batch: 'seg-1', eventIndex: 4 }, 'worse', engine.dialect));
      for (const statement of compileQuarantineRelease('clicks', [{ batch: 'seg-1', eventIndex: 3 }, { batch: 'seg-9', eventIndex: 0 }], engine.dialect)) await engine.run(statement);
      expect((await engine.all(compileQuarantineList('clicks', engine.dialect))).map((r) => [r.event_index, r.error])).toEqual([[4, 'worse']]);
      expect(await engine.all(compileQuarantineCounts(engine.dialect))).toEqual([{ stream: 'clicks', events: 1 }, { stream: 'orders', events: 1 }]);
    } finally {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
