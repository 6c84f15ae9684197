import { describe, expect, it } from 'vitest';
import { entity, eventStream, featureService, featureView } from '../index.ts';
import { desiredSchedules, knownScheduleIds, scheduleTargetOfId, schedulesInvolved } from '../core/plan/schedules.ts';
import { resolveTaskQueues } from '../core/task-queues.ts';
import { retentionCutoff, changedRetentions, streamsUnderRetention } from '../core/retention/cutoff.ts';
import { duckdbDialect, type Dialect } from '../core/sql/dialect.ts';
import { compileCountExpired, compileDeleteExpiredBatch, compileDeleteExpiredQuarantine } from '../core/sql/retention.ts';
import { snowflakeDialect } from '../core/sql/snowflake-dialect.ts';
import { validateProject } from '../core/validation/validate-project.ts';

// Expected SQL is keyed by dialect: a new dialect does not pass until every case covers it.
const dialects: Record<Dialect['name'], Dialect> = { duckdb: duckdbDialect, snowflake: snowflakeDialect };

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', fields: { item_id: 'int64' }, retention: '30d', retentionSchedule: { every: '1h' } });
const project = (retention: string) =>
  validateProject([user, eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', fields: { item_id: 'int64' }, retention })].map((definition) => ({ definition })));

const CUTOFF = '2024-03-01T00:00:00.000Z';

const expected: Record<Dialect['name'], { count: string; batchCount: string; batchDelete: string; quarantineCount: string; quarantineDelete: string }> = {
  duckdb: {
    count: 'SELECT count(*) AS "rows" FROM "flywheel"."stream_clicks" WHERE "ts" < CAST(? AS TIMESTAMPTZ)',
    batchCount: 'SELECT count(*) AS "rows" FROM (SELECT "_event_id" FROM "flywheel"."stream_clicks" WHERE "ts" < CAST(? AS TIMESTAMPTZ) LIMIT 500) AS "batch"',
    batchDelete: 'DELETE FROM "flywheel"."stream_clicks" WHERE "_event_id" IN (SELECT "_event_id" FROM "flywheel"."stream_clicks" WHERE "ts" < CAST(? AS TIMESTAMPTZ) LIMIT 500)',
    quarantineCount: 'SELECT count(*) AS "rows" FROM "flywheel"."ingest_quarantine" WHERE "stream" = ? AND "quarantined_at" < CAST(? AS TIMESTAMPTZ)',
    quarantineDelete: 'DELETE FROM "flywheel"."ingest_quarantine" WHERE "stream" = ? AND "quarantined_at" < CAST(? AS TIMESTAMPTZ)',
  },
  snowflake: {
    count: 'SELECT count(*) AS "rows" FROM "flywheel"."stream_clicks" WHERE "ts" < CAST(? AS TIMESTAMP_TZ)',
    batchCount: 'SELECT count(*) AS "rows" FROM (SELECT "_event_id" FROM "flywheel"."stream_clicks" WHERE "ts" < CAST(? AS TIMESTAMP_TZ) LIMIT 500) AS "batch"',
    batchDelete: 'DELETE FROM "flywheel"."stream_clicks" WHERE "_event_id" IN (SELECT "_event_id" FROM "flywheel"."stream_clicks" WHERE "ts" < CAST(? AS TIMESTAMP_TZ) LIMIT 500)',
    quarantineCount: 'SELECT count(*) AS "rows" FROM "flywheel"."ingest_quarantine" WHERE "stream" = ? AND "quarantined_at" < CAST(? AS TIMESTAMP_TZ)',
    quarantineDelete: 'DELETE FROM "flywheel"."ingest_quarantine" WHERE "stream" = ? AND "quarantined_at" < CAST(? AS TIMESTAMP_TZ)',
  },
};

describe('retention SQL', () => {
  const stream = project('30d').eventStreams.clicks!;
  for (const [name, dialect] of Object.entries(dialects) as [Dialect['name'], Dialect][]) {
    it(`counts and deletes expired events in bounded batches (${name})`, () => {
      expect(compileCountExpired(stream, { cutoff: CUTOFF }, dialect)).toEqual({ sql: expected[name].count, parameters: [CUTOFF] });
      const batch = compileDeleteExpiredBatch(stream, { cutoff: CUTOFF, batchRows: 500 }, dialect);
      expect(batch.count).toEqual({ sql: expected[name].batchCount, parameters: [CUTOFF] });
      expect(batch.delete).toEqual({ sql: expected[name].batchDelete, parameters: [CUTOFF] });
      const quarantine = compileDeleteExpiredQuarantine(stream, { cutoff: CUTOFF }, dialect);
      expect(quarantine).toEqual({ count: { sql: expected[name].quarantineCount, parameters: ['clicks', CUTOFF] }, delete: { sql: expected[name].quarantineDelete, parameters: ['clicks', CUTOFF] } });
    });
  }

  it('refuses a batch size that is not a positive whole number', () => {
    for (const batchRows of [0, -1, 1.5, Number.NaN]) {
      expect(() => compileDeleteExpiredBatch(stream, { cutoff: CUTOFF, batchRows }, duckdbDialect)).toThrow(`batchRows must be a positive whole number, got ${batchRows}`);
    }
  });

  it('measures the cutoff back from the run instant', () => {
    expect(retentionCutoff('2024-03-31T00:00:00.000Z', 30 * 86_400)).toBe('2024-03-01T00:00:00.000Z');
    expect(retentionCutoff('2024-03-31T12:30:00.250+02:00', 3_600)).toBe('2024-03-31T09:30:00.250Z');
    expect(() => retentionCutoff('yesterday', 1)).toThrow('not an ISO-8601 instant: "yesterday"');
  });

  it('lists the applied streams whose retention a plan changes', () => {
    expect(changedRetentions(undefined, project('30d'))).toEqual([]);
    expect(changedRetentions(project('30d'), project('30d'))).toEqual([]);
    const [change] = changedRetentions(project('90d'), project('30d'));
    expect({ stream: change?.stream.name, before: change?.beforeSeconds, after: change?.stream.retentionSeconds }).toEqual({ stream: 'clicks', before: 90 * 86_400, after: 30 * 86_400 });
  });

  it('gives a decision stream its service\'s retention schedule, and each scheduled stream a schedule', () => {
    const spend = featureView({ name: 'spend', entities: [user], source: clicks, features: { item_id: 'int64' } });
    const model = featureService({ name: 'model', features: [spend], logging: { sampleRate: 1, retention: '7d', retentionSchedule: { cron: '0 4 * * *' } } });
    const spec = validateProject([user, clicks, spend, model].map((definition) => ({ definition })));
    expect(spec.eventStreams.model_decisions).toMatchObject({ retentionSeconds: 7 * 86_400, retentionSchedule: { cron: '0 4 * * *', catchupWindowSeconds: 86_400, paused: false } });
    const schedules = desiredSchedules({ project: 'demo', spec, taskQueues: resolveTaskQueues('demo', { taskQueue: 'q' }) });
    expect(schedules.map((s) => [s.id, s.action.workflowType, s.action.input, s.searchAttributes])).toEqual([
      ['flywheel:demo:retention:clicks', 'enforceRetention', { project: 'demo', stream: 'clicks' }, { FlywheelProject: 'demo', FlywheelKind: 'retention', FlywheelObject: 'clicks' }],
      ['flywheel:demo:retention:model_decisions', 'enforceRetention', { project: 'demo', stream: 'model_decisions' }, { FlywheelProject: 'demo', FlywheelKind: 'retention', FlywheelObject: 'model_decisions' }],
    ]);
    expect(scheduleTargetOfId('demo', 'flywheel:demo:retention:clicks')).toEqual({ retention: 'clicks' });
    expect(schedulesInvolved(undefined, spec)).toBe(true);
    expect(knownScheduleIds('demo', undefined, spec)).toEqual(['flywheel:demo:retention:clicks', 'flywheel:demo:retention:model_decisions']);
  });

  it('normalizes a retention schedule into the stream spec', () => {
    const spec = validateProject([user, clicks].map((definition) => ({ definition })));
    expect(spec.eventStreams.clicks!.retentionSchedule).toEqual({ everySeconds: 3_600, offsetSeconds: 0, catchupWindowSeconds: 86_400, paused: false });
  });

  it('leaves a stream with its own retention schedule out of the ingest sweep\'s daily run', () => {
    const views = eventStream({ name: 'views', entities: [user], timestampField: 'ts', fields: { item_id: 'int64' }, retention: '7d' });
    const spec = validateProject([user, clicks, views].map((definition) => ({ definition })));
    expect(streamsUnderRetention(spec).map((stream) => stream.name)).toEqual(['clicks', 'views']);
    expect(streamsUnderRetention(spec, undefined, { unscheduledOnly: true }).map((stream) => stream.name)).toEqual(['views']);
    expect(streamsUnderRetention(spec, 'clicks', { unscheduledOnly: true })).toEqual([]);
  });
});
