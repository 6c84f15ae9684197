import { resolveTaskQueues } from '../core/task-queues.ts';
import { describe, expect, it } from 'vitest';
import { entity } from '../core/definitions/entity.ts';
import { eventStream } from '../core/definitions/event-stream.ts';
import { featureView } from '../core/definitions/feature-view.ts';
import { source } from '../core/definitions/source.ts';
import type { DefinitionError } from '../core/errors.ts';
import { defaultLookbackSeconds, materializationHash, planMaterializationRun, watermarkDecision } from '../core/materialization/run-plan.ts';
import { formatAge, materializationStatus, scheduleIntervalSeconds } from '../core/materialization/status.ts';
import {
  desiredSchedules,
  diffSchedules,
  featureViewOfScheduleId,
  knownScheduleIds,
  MATERIALIZATION_WORKFLOW,
  materializationScheduleId,
  schedulesInvolved,
  scheduleTimes,
  toScheduleDocument,
} from '../core/plan/schedules.ts';
import type { Dialect } from '../core/sql/dialect.ts';
import { duckdbDialect } from '../core/sql/dialect.ts';
import { compileEncodedLatestValues } from '../core/sql/latest-values.ts';
import { snowflakeDialect } from '../core/sql/snowflake-dialect.ts';
import type { ValueType } from '../core/types.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { materializeFeatureView } from '../workflows/materialize.ts';

/**
 * The pure parts of materialization: the SQL each dialect writes (expected SQL by hand), the range
 * of a run, when the watermark moves, the definition hash, staleness, the schedule's validation and
 * its place in plan. The end-to-end behaviour is in materialize.test.ts and materialization-schedule.test.ts.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const payments = source({
  name: 'pay', table: 'payments', timestampField: 'ts', createdTimestampField: 'created',
  columns: { user_id: 'int64', ts: 'timestamp', created: 'timestamp', amount: 'float64', n: 'int64' },
});
const lastPay = featureView({ name: 'last_pay', entities: [user], source: payments, ttl: '1d', features: { amount: 'float64', n: 'int64' } });
const payCounts = featureView({
  name: 'pay_counts', entities: [user], source: payments, materialize: { every: '15m' },
  aggregations: [{ function: 'count', windows: ['1h'] }, { column: 'amount', function: 'sum', windows: ['1h'] }],
});
const project = (...extra: Parameters<typeof validateProject>[0]) =>
  validateProject([{ definition: user }, { definition: payments }, { definition: lastPay }, { definition: payCounts }, ...extra]);
const spec = project();

describe('JSON values per dialect', () => {
  const expected: Record<Dialect['name'], Record<ValueType, string>> = {
    duckdb: {
      int32: 'x',
      int64: 'CASE WHEN x BETWEEN -9007199254740991 AND 9007199254740991 THEN to_json(x) ELSE to_json(CAST(x AS VARCHAR)) END',
      float32: 'CASE WHEN isfinite(x) THEN CAST(x AS DOUBLE) + 0.0 END',
      float64: 'CASE WHEN isfinite(x) THEN x + 0.0 END',
      string: 'x',
      bool: 'x',
      timestamp: "CASE WHEN epoch_us(x) % 1000 = 0 THEN strftime(timezone('UTC', x), '%Y-%m-%dT%H:%M:%S.%gZ') ELSE strftime(timezone('UTC', x), '%Y-%m-%dT%H:%M:%S.%fZ') END",
      date: "strftime(x, '%Y-%m-%d')",
    },
    snowflake: {
      int32: 'x',
      int64: 'CASE WHEN x BETWEEN -9007199254740991 AND 9007199254740991 THEN TO_VARIANT(x) ELSE TO_VARIANT(TO_VARCHAR(x)) END',
      float32: "CASE WHEN x IN ('NaN'::FLOAT, 'inf'::FLOAT, '-inf'::FLOAT) THEN NULL ELSE x + 0 END",
      float64: "CASE WHEN x IN ('NaN'::FLOAT, 'inf'::FLOAT, '-inf'::FLOAT) THEN NULL ELSE x + 0 END",
      string: 'x',
      bool: 'x',
      timestamp:
        `CASE WHEN DATE_PART(nanosecond, x) % 1000000 = 0 THEN TO_VARCHAR(CONVERT_TIMEZONE('UTC', x), 'YYYY-MM-DD"T"HH24:MI:SS.FF3"Z"') ` +
        `ELSE TO_VARCHAR(CONVERT_TIMEZONE('UTC', x), 'YYYY-MM-DD"T"HH24:MI:SS.FF6"Z"') END`,
      date: "TO_VARCHAR(x, 'YYYY-MM-DD')",
    },
  };
  const dialects = { duckdb: duckdbDialect, snowflake: snowflakeDialect } satisfies Record<Dialect['name'], Dialect>;

  for (const [name, dialect] of Object.entries(dialects) as [Dialect['name'], Dialect][]) {
    it(`${name}: one expression per type, an array that keeps nulls, micros since the epoch`, () => {
      for (const [type, sql] of Object.entries(expected[name]) as [ValueType, string][]) expect(dialect.jsonValue('x', type)).toBe(sql);
      expect(dialect.jsonArray(['a', 'b'])).toBe({
        duckdb: 'CAST(json_array(a, b) AS VARCHAR)',
        snowflake: "TO_JSON(ARRAY_CONSTRUCT(COALESCE(TO_VARIANT(a), PARSE_JSON('null')), COALESCE(TO_VARIANT(b), PARSE_JSON('null'))))",
      }[name]);
      expect(dialect.epochMicros('t')).toBe({ duckdb: 'epoch_us(t)', snowflake: 'DATE_PART(epoch_microsecond, t)' }[name]);
    });
  }
});

describe('compileEncodedLatestValues', () => {
  const options = { asOf: '2024-05-01T12:00:00Z', changedSince: '2024-05-01T11:00:00Z', bucket: { chunk: 1, chunks: 4 }, afterKey: [42] };
  const plainSql: Record<Dialect['name'], string> = {
    duckdb: [
      'SELECT "user_id", epoch_us("__fw_event_time") AS "__fw_event_micros", CAST(json_array(CASE WHEN isfinite("amount") THEN "amount" + 0.0 END, ' +
        'CASE WHEN "n" BETWEEN -9007199254740991 AND 9007199254740991 THEN to_json("n") ELSE to_json(CAST("n" AS VARCHAR)) END) AS VARCHAR) AS "__fw_values"',
      'FROM (',
      'WITH __fw_changed AS (',
      '  SELECT DISTINCT c."user_id"',
      '  FROM "flywheel"."fv_last_pay" AS c',
      '  WHERE c."user_id" IS NOT NULL AND hash(c."user_id") % 4 = ? AND (c."user_id" > ?) AND ' +
        '((CAST(c."ts" AS TIMESTAMPTZ) > CAST(? AS TIMESTAMPTZ) AND CAST(c."ts" AS TIMESTAMPTZ) <= CAST(? AS TIMESTAMPTZ)) OR ' +
        '(CAST(c."created" AS TIMESTAMPTZ) > CAST(? AS TIMESTAMPTZ) AND CAST(c."created" AS TIMESTAMPTZ) <= CAST(? AS TIMESTAMPTZ)))',
      ')',
      'SELECT r."user_id", CAST(r."ts" AS TIMESTAMPTZ) AS "__fw_event_time", r."amount", r."n"',
      'FROM "flywheel"."fv_last_pay" AS r',
      'JOIN __fw_changed AS c ON c."user_id" = r."user_id"',
      'WHERE r."user_id" IS NOT NULL AND hash(r."user_id") % 4 = ? AND (r."user_id" > ?) AND CAST(r."ts" AS TIMESTAMPTZ) <= CAST(? AS TIMESTAMPTZ) AND ' +
        'CAST(r."ts" AS TIMESTAMPTZ) >= (CAST(? AS TIMESTAMPTZ) - INTERVAL 86400 SECOND)',
      'QUALIFY row_number() OVER (PARTITION BY r."user_id" ORDER BY CAST(r."ts" AS TIMESTAMPTZ) DESC, r."created" DESC NULLS LAST, r."amount" ASC NULLS LAST, r."n" ASC NULLS LAST) = 1',
      ') AS __fw_latest',
    ].join('\n'),
    snowflake: [
      'SELECT "user_id", DATE_PART(epoch_microsecond, "__fw_event_time") AS "__fw_event_micros", TO_JSON(ARRAY_CONSTRUCT(' +
        `COALESCE(TO_VARIANT(CASE WHEN "amount" IN ('NaN'::FLOAT, 'inf'::FLOAT, '-inf'::FLOAT) THEN NULL ELSE "amount" + 0 END), PARSE_JSON('null')), ` +
        `COALESCE(TO_VARIANT(CASE WHEN "n" BETWEEN -9007199254740991 AND 9007199254740991 THEN TO_VARIANT("n") ELSE TO_VARIANT(TO_VARCHAR("n")) END), PARSE_JSON('null')))) AS "__fw_values"`,
      'FROM (',
      'WITH __fw_changed AS (',
      '  SELECT DISTINCT c."user_id"',
      '  FROM "flywheel"."fv_last_pay" AS c',
      '  WHERE c."user_id" IS NOT NULL AND MOD(MOD(HASH(c."user_id"), 4) + 4, 4) = ? AND (c."user_id" > ?) AND ' +
        '((CAST(c."ts" AS TIMESTAMP_TZ) > CAST(? AS TIMESTAMP_TZ) AND CAST(c."ts" AS TIMESTAMP_TZ) <= CAST(? AS TIMESTAMP_TZ)) OR ' +
        '(CAST(c."created" AS TIMESTAMP_TZ) > CAST(? AS TIMESTAMP_TZ) AND CAST(c."created" AS TIMESTAMP_TZ) <= CAST(? AS TIMESTAMP_TZ)))',
      ')',
      'SELECT r."user_id", CAST(r."ts" AS TIMESTAMP_TZ) AS "__fw_event_time", r."amount", r."n"',
      'FROM "flywheel"."fv_last_pay" AS r',
      'JOIN __fw_changed AS c ON c."user_id" = r."user_id"',
      'WHERE r."user_id" IS NOT NULL AND MOD(MOD(HASH(r."user_id"), 4) + 4, 4) = ? AND (r."user_id" > ?) AND CAST(r."ts" AS TIMESTAMP_TZ) <= CAST(? AS TIMESTAMP_TZ) AND ' +
        'CAST(r."ts" AS TIMESTAMP_TZ) >= DATEADD(second, -86400, CAST(? AS TIMESTAMP_TZ))',
      'QUALIFY row_number() OVER (PARTITION BY r."user_id" ORDER BY CAST(r."ts" AS TIMESTAMP_TZ) DESC, r."created" DESC NULLS LAST, r."amount" ASC NULLS LAST, r."n" ASC NULLS LAST) = 1',
      ') AS __fw_latest',
    ].join('\n'),
  };
  // In text order: bucket, resume key, changed range twice (event and created time), bucket, resume key, asOf, asOf for the ttl.
  const plainParameters = [1, 42, '2024-05-01T11:00:00Z', '2024-05-01T12:00:00Z', '2024-05-01T11:00:00Z', '2024-05-01T12:00:00Z', 1, 42, '2024-05-01T12:00:00Z', '2024-05-01T12:00:00Z'];

  for (const dialect of [duckdbDialect, snowflakeDialect]) {
    it(`${dialect.name}: a plain view, incremental, one bucket, resumed after a key`, () => {
      expect(compileEncodedLatestValues(spec.featureViews.last_pay!, spec, dialect, options)).toEqual({ sql: plainSql[dialect.name], parameters: plainParameters });
    });
  }

  it('duckdb: an aggregation view gives every entity with an event in (changedSince - longest window, asOf], empty counts as 0', () => {
    const { sql, parameters } = compileEncodedLatestValues(spec.featureViews.pay_counts!, spec, duckdbDialect, { asOf: options.asOf, changedSince: options.changedSince, bucket: options.bucket });
    expect(sql.startsWith([
      'SELECT "user_id", epoch_us("__fw_event_time") AS "__fw_event_micros", CAST(json_array(' +
        'CASE WHEN "count_1h" BETWEEN -9007199254740991 AND 9007199254740991 THEN to_json("count_1h") ELSE to_json(CAST("count_1h" AS VARCHAR)) END, ' +
        'CASE WHEN isfinite("amount_sum_1h") THEN "amount_sum_1h" + 0.0 END) AS VARCHAR) AS "__fw_values"',
      'FROM (',
      'WITH __fw_entities AS (',
      '  SELECT DISTINCT e."user_id"',
      '  FROM "flywheel"."fv_pay_counts" AS e',
      '  WHERE e."user_id" IS NOT NULL AND hash(e."user_id") % 4 = ? AND CAST(e."ts" AS TIMESTAMPTZ) <= CAST(? AS TIMESTAMPTZ) AND ' +
        'CAST(e."ts" AS TIMESTAMPTZ) > (CAST(? AS TIMESTAMPTZ) - INTERVAL 3600 SECOND)',
      ')',
      'SELECT e."user_id", CAST(? AS TIMESTAMPTZ) AS "__fw_event_time", COALESCE(a."count_1h", 0) AS "count_1h", a."amount_sum_1h" AS "amount_sum_1h"',
      'FROM __fw_entities AS e',
      'LEFT JOIN (',
      '  SELECT * FROM (',
      'WITH "__fw_events" AS (',
    ].join('\n'))).toBe(true);
    expect(sql.endsWith(['  ) AS __fw_all', '  WHERE hash(__fw_all."user_id") % 4 = ?', ') AS a ON a."user_id" = e."user_id"', ') AS __fw_latest'].join('\n'))).toBe(true);
    // Entities: bucket, asOf, changedSince; the event time: asOf; the aggregates (asOf three times); the bucket again.
    expect(parameters).toEqual([1, '2024-05-01T12:00:00Z', '2024-05-01T11:00:00Z', '2024-05-01T12:00:00Z', '2024-05-01T12:00:00Z', '2024-05-01T12:00:00Z', '2024-05-01T12:00:00Z', 1]);
  });

  it('checks buckets and resume keys', () => {
    expect(() => compileEncodedLatestValues(spec.featureViews.last_pay!, spec, duckdbDialect, { asOf: options.asOf, bucket: { chunk: 4, chunks: 4 } })).toThrow('chunk must be a whole number in [0, 4), got 4');
    expect(() => compileEncodedLatestValues(spec.featureViews.last_pay!, spec, duckdbDialect, { asOf: options.asOf, afterKey: [1, 2] })).toThrow('afterKey has 2 values, the view has 1 join keys');
  });
});

describe('planMaterializationRun', () => {
  const base = { definitionHash: 'h1', to: '2024-05-01T12:00:00Z', lookbackSeconds: 600 };
  const state = { watermark: '2024-05-01T11:00:00.000Z', definitionHash: 'h1' };

  it('runs full without a watermark, with another definition, or when asked', () => {
    const full = { mode: 'full', to: '2024-05-01T12:00:00.000Z', lookbackSeconds: 600, upToDate: false };
    expect(planMaterializationRun({ ...base, state: undefined })).toEqual({ ...full, reason: 'no watermark yet' });
    expect(planMaterializationRun({ ...base, state: { ...state, definitionHash: 'h0' } })).toEqual({ ...full, reason: 'the definition changed since the last run' });
    expect(planMaterializationRun({ ...base, state, full: true })).toEqual({ ...full, reason: 'a full run was asked for' });
  });

  it('runs from the watermark, or from a given start, looking back for late rows', () => {
    expect(planMaterializationRun({ ...base, state })).toEqual({
      mode: 'incremental', from: '2024-05-01T11:00:00.000Z', to: '2024-05-01T12:00:00.000Z', changedSince: '2024-05-01T10:50:00.000Z',
      lookbackSeconds: 600, reason: 'from the stored watermark', upToDate: false,
    });
    expect(planMaterializationRun({ ...base, state: undefined, from: '2024-05-01T08:00:00+02:00' })).toMatchObject({
      mode: 'incremental', from: '2024-05-01T06:00:00.000Z', changedSince: '2024-05-01T05:50:00.000Z', reason: 'the range was given',
    });
    // Nothing after the watermark yet.
    expect(planMaterializationRun({ ...base, state, to: '2024-05-01T11:00:00Z' })).toMatchObject({ mode: 'incremental', upToDate: true });
  });
});

describe('watermarkDecision', () => {
  const stored = { watermark: '2024-05-01T11:00:00.000Z', definitionHash: 'h1', registryVersion: 3 };
  const run = (mode: 'full' | 'incremental', to: string, from?: string, definitionHash = 'h1', registryVersion = 3) =>
    ({ plan: { mode, to, ...(from ? { from } : {}) }, definitionHash, registryVersion });

  it('moves forward only to an instant up to which every change is written', () => {
    expect(watermarkDecision(undefined, run('full', '2024-05-01T12:00:00.000Z'))).toEqual({ advance: true, reason: 'first watermark' });
    expect(watermarkDecision(undefined, run('incremental', '2024-05-01T12:00:00.000Z', '2024-05-01T11:00:00.000Z')).advance).toBe(false);
    expect(watermarkDecision(stored, run('incremental', '2024-05-01T12:00:00.000Z', '2024-05-01T11:00:00.000Z'))).toEqual({ advance: true, reason: 'moved forward' });
    // A range starting before the watermark covers it too; one starting after it leaves a gap.
    expect(watermarkDecision(stored, run('incremental', '2024-05-01T12:00:00.000Z', '2024-05-01T10:00:00.000Z')).advance).toBe(true);
    expect(watermarkDecision(stored, run('incremental', '2024-05-01T12:00:00.000Z', '2024-05-01T11:30:00.000Z'))).toEqual({
      advance: false, reason: 'the range starts after the stored watermark 2024-05-01T11:00:00.000Z, leaving a gap',
    });
    expect(watermarkDecision(stored, run('full', '2024-05-01T11:00:00.000Z'))).toEqual({ advance: false, reason: 'the stored watermark 2024-05-01T11:00:00.000Z is not earlier' });
    expect(watermarkDecision(stored, run('full', '2024-05-01T10:00:00.000Z')).advance).toBe(false);
  });

  it('is replaced after a definition change by a full run of the same or a newer registry version', () => {
    expect(watermarkDecision(stored, run('full', '2024-05-01T10:00:00.000Z', undefined, 'h2', 4))).toEqual({ advance: true, reason: 'a full run with a new definition' });
    expect(watermarkDecision(stored, run('full', '2024-05-01T12:00:00.000Z', undefined, 'h0', 2))).toEqual({ advance: false, reason: 'the stored watermark comes from a newer registry version (3)' });
    expect(watermarkDecision(stored, run('incremental', '2024-05-01T12:00:00.000Z', '2024-05-01T11:00:00.000Z', 'h2', 4)).advance).toBe(false);
  });
});

describe('materializationHash and the default lookback', () => {
  it('changes with what computes the values, not with the schedule or descriptions', () => {
    const hash = materializationHash(spec.featureViews.last_pay!, spec);
    const variant = (view: object, extra: Parameters<typeof validateProject>[0] = []) => {
      const changed = validateProject([{ definition: user }, { definition: payments }, { definition: featureView({ name: 'last_pay', entities: [user], source: payments, ttl: '1d', features: { amount: 'float64', n: 'int64' }, ...view }) }, ...extra]);
      return materializationHash(changed.featureViews.last_pay!, changed);
    };
    expect(variant({})).toBe(hash);
    expect(variant({ materialize: { every: '1h', lookback: '5m' }, description: 'the last payment', owner: 'risk', tags: { team: 'risk' } })).toBe(hash);
    expect(variant({ ttl: '2d' })).not.toBe(hash);
    const renamedTable = validateProject([{ definition: user }, { definition: source({ ...payments.input, name: 'pay', table: 'payments_v2' } as never) }, { definition: lastPay }]);
    expect(materializationHash(renamedTable.featureViews.last_pay!, renamedTable)).not.toBe(hash);
  });

  it("is the schedule's lookback, else a `from` stream's, else none", () => {
    expect(defaultLookbackSeconds(spec.featureViews.last_pay!, spec)).toBe(0);
    const clicks = eventStream({
      name: 'clicks', entities: [user], timestampField: 'ts', fields: { page: 'string' }, retention: '30d',
      from: { table: 'raw.clicks', watermark: 'ts', lookback: '2h' },
    });
    const withStream = project(
      { definition: clicks },
      { definition: featureView({ name: 'last_click', entities: [user], source: clicks, features: { page: 'string' } }) },
      { definition: featureView({ name: 'last_click_5m', entities: [user], source: clicks, features: { page: 'string' }, materialize: { every: '1h', lookback: '5m' } }) },
    );
    expect(defaultLookbackSeconds(withStream.featureViews.last_click!, withStream)).toBe(7200);
    expect(defaultLookbackSeconds(withStream.featureViews.last_click_5m!, withStream)).toBe(300);
  });
});

describe('materialization schedules in definitions', () => {
  it('normalizes the schedule, with 4 chunks and the catch-up window of a day by default', () => {
    expect(spec.featureViews.pay_counts!.materialize).toEqual({ everySeconds: 900, offsetSeconds: 0, catchupWindowSeconds: 86_400, paused: false, chunks: 4 });
    const cron = project({ definition: featureView({ name: 'v', entities: [user], source: payments, features: { amount: 'float64' }, materialize: { cron: '0  * * * *', lookback: '10m', chunks: 8, paused: true, catchupWindow: '1h' } }) });
    expect(cron.featureViews.v!.materialize).toEqual({ cron: '0 * * * *', catchupWindowSeconds: 3600, paused: true, lookbackSeconds: 600, chunks: 8 });
  });

  it('refuses what cannot run', () => {
    const issues = (materialize: object, extra: object = {}) => {
      try {
        project({ definition: featureView({ name: 'v', entities: [user], source: payments, features: { amount: 'float64' }, materialize, ...extra } as never) });
        return [];
      } catch (error) {
        return (error as DefinitionError).issues.map((issue) => `${issue.field}: ${issue.message}`);
      }
    };
    expect(issues({ every: '1h' }, { online: false })).toEqual(['materialize: materialization writes to the online store, so a materialized view cannot be online: false']);
    expect(issues({ every: '30s' })).toEqual(['materialize.every: must be at least 1m']);
    expect(issues({ every: '1h', cron: '0 * * * *' })).toEqual(['materialize.every: give only one of cron or every']);
    expect(issues({ lookback: '1h' })).toEqual(['materialize.cron: give one of cron or every']);
    expect(issues({ every: '1h', chunks: 0 })).toEqual(['materialize.chunks: expected a whole number of chunks from 1 to 1024']);
    expect(issues({ cron: '0 * * * *', timezone: 'Europe/Berlin' })[0]).toMatch(/^materialize.timezone: schedules run in UTC only/);
  });
});

describe('materialization schedules in plan', () => {
  it('are one Temporal Schedule per scheduled online view, starting materializeFeatureView with the view', () => {
    expect(materializeFeatureView.name).toBe(MATERIALIZATION_WORKFLOW);
    expect(materializationScheduleId('demo', 'pay_counts')).toBe('flywheel:demo:materialization:pay_counts');
    expect(featureViewOfScheduleId('demo', 'flywheel:demo:materialization:pay_counts')).toBe('pay_counts');
    expect(featureViewOfScheduleId('demo', 'flywheel:demo:training-set:pay_counts')).toBeUndefined();

    const attributes = { FlywheelProject: 'demo', FlywheelKind: 'materialization', FlywheelObject: 'pay_counts' };
    const desired = desiredSchedules({ project: 'demo', spec, taskQueues: resolveTaskQueues('demo', { taskQueue: 'flywheel' }) });
    expect(desired).toEqual([{
      id: 'flywheel:demo:materialization:pay_counts',
      featureView: 'pay_counts',
      times: { type: 'interval', everySeconds: 900, offsetSeconds: 0 },
      paused: false,
      overlap: 'SKIP',
      catchupWindowSeconds: 86_400,
      searchAttributes: attributes,
      action: {
        workflowType: 'materializeFeatureView', workflowId: 'demo/materialize/pay_counts/scheduled', taskQueue: 'flywheel',
        input: { project: 'demo', view: 'pay_counts' }, searchAttributes: attributes,
      },
    }]);
    const changes = diffSchedules(desired, []);
    expect(toScheduleDocument(changes)).toEqual([{ action: 'create', id: 'flywheel:demo:materialization:pay_counts', featureView: 'pay_counts', spec: 'every 15m' }]);
    const none = validateProject([{ definition: user }, { definition: payments }, { definition: lastPay }]);
    expect(schedulesInvolved(undefined, none)).toBe(false);
    expect(schedulesInvolved(spec, none)).toBe(true);
    expect(knownScheduleIds('demo', spec, none)).toEqual(['flywheel:demo:materialization:pay_counts']);
    expect(diffSchedules([], desired).map((c) => [c.action, c.featureView])).toEqual([['delete', 'pay_counts']]);
  });
});

describe('staleness', () => {
  const now = new Date('2024-05-01T12:00:00Z');
  const view = spec.featureViews.pay_counts!;
  const state = (watermark: string, definitionHash = materializationHash(view, spec)) => ({
    project: 'demo', featureView: 'pay_counts', watermark, definitionHash, registryVersion: 1, mode: 'incremental' as const, rows: 12, finishedAt: watermark, runId: 'r',
  });

  it('measures a schedule by its interval, a cron by its longest gap', () => {
    expect(scheduleIntervalSeconds(scheduleTimes({ everySeconds: 3600, offsetSeconds: 0 }), now)).toBe(3600);
    expect(scheduleIntervalSeconds(scheduleTimes({ cron: '*/15 * * * *' }), now)).toBe(900);
    expect(scheduleIntervalSeconds(scheduleTimes({ cron: '0 3 * * 1-5' }), now)).toBe(3 * 86_400); // Friday 03:00 to Monday 03:00
    expect(scheduleIntervalSeconds(scheduleTimes({ cron: '0 0 1 * *' }), now)).toBe(31 * 86_400);
    expect(scheduleIntervalSeconds(scheduleTimes({ cron: '30 6,18 * * *' }), now)).toBe(12 * 3600);
  });

  it('is stale when never run, or more than twice the interval old', () => {
    expect(materializationStatus(view, spec, undefined, now)).toEqual({
      view: 'pay_counts', schedule: 'every 15m', paused: false, intervalSeconds: 900, watermark: null, ageSeconds: null,
      state: 'never', stale: true, mode: null, rows: null, finishedAt: null, definitionChanged: false,
    });
    // Exactly 2 × 15m old: still fresh; a second more: stale.
    expect(materializationStatus(view, spec, state('2024-05-01T11:30:00.000Z'), now)).toMatchObject({ ageSeconds: 1800, state: 'fresh', stale: false, rows: 12 });
    expect(materializationStatus(view, spec, state('2024-05-01T11:29:59.000Z'), now)).toMatchObject({ ageSeconds: 1801, state: 'stale', stale: true });
    expect(materializationStatus(spec.featureViews.last_pay!, spec, state('2024-04-01T00:00:00.000Z', materializationHash(spec.featureViews.last_pay!, spec)), now)).toMatchObject({
      schedule: null, intervalSeconds: null, state: 'unscheduled', stale: false,
    });
    expect(materializationStatus(view, spec, state('2024-05-01T11:50:00.000Z', 'old'), now)).toMatchObject({ state: 'fresh', definitionChanged: true });
  });

  it('prints ages for people', () => {
    expect([0, 59, 60, 3600 + 300, 2 * 86_400 + 4 * 3600 + 59, 86_400 + 60].map(formatAge)).toEqual(['0s', '59s', '1m', '1h 5m', '2d 4h', '1d']);
  });
});
