import { describe, expect, it } from 'vitest';
import { entity, eventStream, featureService, featureView, labels, source, trainingSet } from '../index.ts';
import type { Definition } from '../core/definitions/definition.ts';
import { DefinitionError } from '../core/errors.ts';
import { definitionHash } from '../core/plan/definition-hash.ts';
import { diffProjects } from '../core/plan/diff.ts';
import { desiredSchedules, labelsOfScheduleId, scheduleTargetOfId } from '../core/plan/schedules.ts';
import { resolveTaskQueues } from '../core/task-queues.ts';
import { validateProject } from '../core/validation/validate-project.ts';

/** `labels` definitions: their normalized specs, and every problem validation names (file, object, field). */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const merchant = entity({ name: 'merchant', joinKeys: { merchant_id: 'string' } });
const spend = source({ name: 'spend', table: 'spend', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
const userSpend = featureView({ name: 'user_spend', entities: [user], source: spend, features: { amount: 'float64' } });
const fraud = featureService({ name: 'fraud_model', features: [userSpend], logging: { sampleRate: 0.5 } });
const unlogged = featureService({ name: 'plain_model', features: [userSpend] });
const chargebacks = eventStream({ name: 'chargebacks', entities: [user], timestampField: 'ts', fields: { decision_id: 'string', amount: 'float64', reason: 'string', at: 'timestamp' }, retention: '365d' });
const visits = eventStream({ name: 'visits', entities: [merchant], timestampField: 'ts', fields: { decision_id: 'int64' }, retention: '30d' });
const offers = eventStream({ name: 'offers', entities: [user], timestampField: 'ts', fields: { label: 'string' }, retention: '30d' });
const requests = eventStream({ name: 'requests', entities: [user], timestampField: 'labeled_at', fields: {}, retention: '30d' });
const spine = source({ name: 'fraud_spine', table: 'fraud_spine', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' } });
const base = [user, merchant, spend, spine, userSpend, fraud, unlogged, chargebacks, visits, offers, requests];

function validate(...definitions: Definition[]) {
  return validateProject([...base, ...definitions].map((definition) => ({ file: definition.kind === 'labels' ? 'definitions/labels.ts' : 'definitions/base.ts', definition })));
}

function problems(...definitions: Definition[]): string[] {
  try {
    validate(...definitions);
  } catch (error) {
    if (error instanceof DefinitionError) return error.issues.map((i) => `${i.kind} "${i.object}", ${i.field ?? '-'}: ${i.message}`);
    throw error;
  }
  return [];
}

const chargedBack = labels({
  name: 'charged_back', decisions: fraud, outcomes: chargebacks,
  match: { by: 'decision_id', outcomeField: 'decision_id' }, window: '60d', value: { kind: 'sum', field: 'amount', default: 0 },
});

describe('labels definitions', () => {
  it('normalize to a LabelsSpec in ProjectSpec.labels, the decision log of a service as their decisions', () => {
    const project = validate(chargedBack, labels({ name: 'came_back', decisions: 'fraud_model_decisions', outcomes: 'chargebacks', match: { by: 'keys', attribution: 'last' }, window: '30m', value: { kind: 'any' }, partitionBy: 'hour', schedule: { every: '1h', offset: '5m' } }));
    expect(project.labels).toEqual({
      charged_back: {
        kind: 'labels', name: 'charged_back', decisions: 'fraud_model_decisions', outcomes: 'chargebacks',
        match: { by: 'decision_id', decisionIdField: 'decision_id', outcomeField: 'decision_id', keys: [] },
        windowSeconds: 5_184_000, value: { kind: 'sum', field: 'amount', default: 0 },
        output: { format: 'parquet', path: 'labels/charged_back', partitionBy: 'day' }, tags: {},
      },
      came_back: {
        kind: 'labels', name: 'came_back', decisions: 'fraud_model_decisions', outcomes: 'chargebacks',
        match: { by: 'keys', keys: ['user_id'], attribution: 'last' }, windowSeconds: 1800, value: { kind: 'any' },
        output: { format: 'parquet', path: 'labels/came_back', partitionBy: 'hour' }, tags: {},
        schedule: { everySeconds: 3600, offsetSeconds: 300, catchupWindowSeconds: 86_400, paused: false },
      },
    });
  });

  it('leave the hash of a project without labels as it was, and show in plans and schedules', () => {
    const without = validate();
    expect(definitionHash(without)).toBe(definitionHash(Object.fromEntries(Object.entries(without).filter(([k]) => k !== 'labels')) as never));
    const withLabels = validate(labels({ ...chargedBack.input, decisions: fraud, outcomes: chargebacks, schedule: { cron: '*/15 * * * *' } } as never));
    expect(diffProjects(without, withLabels).map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual(['add labels charged_back']);
    const [schedule] = desiredSchedules({ project: 'demo', spec: withLabels, taskQueues: resolveTaskQueues('demo', { taskQueue: 'q' }) });
    expect(schedule).toMatchObject({
      id: 'flywheel:demo:labels:charged_back', labels: 'charged_back', times: { type: 'calendar', cron: '*/15 * * * *' }, overlap: 'SKIP',
      searchAttributes: { FlywheelProject: 'demo', FlywheelKind: 'labels', FlywheelObject: 'charged_back' },
      action: { workflowType: 'buildLabels', workflowId: 'demo/labels/charged_back/scheduled', input: { project: 'demo', labels: 'charged_back' } },
    });
    expect(scheduleTargetOfId('demo', 'flywheel:demo:labels:charged_back')).toEqual({ labels: 'charged_back' });
    // A partition build's workflow id is not a schedule's.
    expect(labelsOfScheduleId('demo', 'flywheel:demo:labels:charged_back/day=2024-03-01')).toBeUndefined();
    const repartitioned = validate(labels({ ...chargedBack.input, decisions: fraud, outcomes: chargebacks, partitionBy: 'hour' } as never));
    expect(diffProjects(without.labels ? validate(chargedBack) : without, repartitioned)).toMatchObject([{
      action: 'change', kind: 'labels', name: 'charged_back', breaking: true,
      fields: [{ path: 'output.partitionBy', before: 'day', after: 'hour', breaking: true }],
    }]);
  });

  it('name the streams and the service that do not fit', () => {
    expect(problems(
      labels({ name: 'a', decisions: 'fraud_model_decision', outcomes: chargebacks, match: { by: 'keys' }, window: '1h', value: { kind: 'any' } }),
      labels({ name: 'b', decisions: 'spend', outcomes: 'chargeback', match: { by: 'keys' }, window: '1h', value: { kind: 'any' } }),
      labels({ name: 'c', decisions: unlogged, outcomes: chargebacks, match: { by: 'keys' }, window: '1h', value: { kind: 'any' } }),
      labels({ name: 'd', decisions: chargebacks, outcomes: chargebacks, match: { by: 'keys' }, window: '1h', value: { kind: 'any' } }),
    )).toEqual([
      'labels "a", decisions: unknown event stream "fraud_model_decision" (did you mean "fraud_model_decisions"?)',
      'labels "b", decisions: "spend" is a source; decisions must be an event stream (Flywheel needs its event ids and load times)',
      'labels "b", outcomes: unknown event stream "chargeback" (did you mean "chargebacks"?)',
      'labels "c", decisions: feature service "plain_model" does not log its decisions; add logging: { sampleRate } to it, or name an event stream',
      'labels "d", outcomes: event stream "chargebacks" is also the decision stream; outcomes come from another stream',
    ]);
  });

  it('check the match columns in both streams, with their types', () => {
    expect(problems(
      labels({ name: 'a', decisions: offers, outcomes: chargebacks, match: { by: 'decision_id', outcomeField: 'decision_id' }, window: '1h', value: { kind: 'any' } }),
      labels({ name: 'b', decisions: fraud, outcomes: visits, match: { by: 'decision_id', outcomeField: 'decision_id', keys: ['user_id'] }, window: '1h', value: { kind: 'any' } }),
      labels({ name: 'c', decisions: fraud, outcomes: visits, match: { by: 'keys' }, window: '1h', value: { kind: 'any' } }),
      labels({ name: 'd', decisions: fraud, outcomes: chargebacks, match: { by: 'keys', keys: ['user_id', 'served_at', 'user_id'] }, window: '1h', value: { kind: 'any' } }),
      labels({ name: 'e', decisions: 'nope', outcomes: chargebacks, match: { by: 'decision_id', outcomeField: 'decison_id' }, window: '1h', value: { kind: 'any' } }),
    )).toEqual([
      'labels "a", match: "decision_id" is not a column of decision stream "offers" (its columns: user_id, ts, label)',
      'labels "b", match: "decision_id" is string in decision stream "fraud_model_decisions" but "decision_id" is int64 in outcome stream "visits"; matched columns need the same type',
      'labels "b", match.keys.0: "user_id" is not a column of outcome stream "visits" (its columns: merchant_id, ts, decision_id)',
      'labels "c", match: event streams "fraud_model_decisions" (keys user_id) and "visits" (keys merchant_id) share no join key; give match.keys',
      'labels "d", match.keys.1: "served_at" is not a column of outcome stream "chargebacks" (its columns: user_id, ts, decision_id, amount, reason, at)',
      'labels "d", match.keys.2: "user_id" is listed twice',
      'labels "e", decisions: unknown event stream "nope" (known: chargebacks, visits, offers, requests, fraud_model_decisions)',
      // The outcome side is checked even while the decisions are unknown.
      'labels "e", match: "decison_id" is not a column of outcome stream "chargebacks" (its columns: user_id, ts, decision_id, amount, reason, at)',
    ]);
  });

  it('check the value, its default, the window and the shape', () => {
    expect(problems(
      labels({ name: 'a', decisions: fraud, outcomes: chargebacks, match: { by: 'keys' }, window: '1h', value: { kind: 'sum', field: 'reason' } }),
      labels({ name: 'b', decisions: fraud, outcomes: chargebacks, match: { by: 'keys' }, window: '1h', value: { kind: 'avg', field: 'amout' } }),
      labels({ name: 'c', decisions: fraud, outcomes: chargebacks, match: { by: 'keys' }, window: '1h', value: { kind: 'sum', field: 'amount', default: 'none' } }),
      labels({ name: 'd', decisions: fraud, outcomes: chargebacks, match: { by: 'keys' }, window: '1h', value: { kind: 'max', field: 'at', default: 0 } }),
      labels({ name: 'e', decisions: fraud, outcomes: chargebacks, match: { by: 'keys' }, window: 0, value: { kind: 'any' } }),
      labels({ name: 'f', decisions: fraud, outcomes: chargebacks, match: { by: 'id' }, window: '1h', value: { kind: 'median', field: 'amount' }, partitionBy: 'month', windw: '1h' } as never),
    )).toEqual([
      'labels "e", window: expected a positive whole number of seconds, got 0',
      'labels "f", match.by: expected { by: "decision_id", outcomeField } or { by: "keys" }',
      'labels "f", value.kind: expected { kind: "any" }, { kind: "count" } or { kind: "sum" | "avg" | "min" | "max" | "last", field }',
      'labels "f", partitionBy: expected "day" or "hour", got "month"',
      'labels "f", -: Unrecognized key: "windw"',
      'labels "a", value.field: sum cannot aggregate "reason", a string column of outcome stream "chargebacks"; it takes int32, int64, float32, float64',
      'labels "b", value.field: "amout" is not a column of outcome stream "chargebacks" (its columns: user_id, ts, decision_id, amount, reason, at)',
      'labels "c", value.default: the label is float64, so the default must be a number, got "none"',
      'labels "d", value.default: the label is a timestamp, which takes no default (leave it null)',
    ]);
  });

  it('refuse an output that overlaps another dataset, columns named like Flywheel\'s, and schedules outside UTC', () => {
    const training = trainingSet({ name: 'fraud_training', spine, features: fraud, output: { path: 'datasets/fraud' } });
    expect(problems(
      training,
      labels({ name: 'a', decisions: fraud, outcomes: chargebacks, match: { by: 'keys' }, window: '1h', value: { kind: 'any' }, output: { path: 'datasets/fraud/labels' } }),
      labels({ name: 'b', decisions: requests, outcomes: chargebacks, match: { by: 'keys' }, window: '1h', value: { kind: 'any' } }),
      labels({ name: 'c', decisions: fraud, outcomes: chargebacks, match: { by: 'keys' }, window: '1h', value: { kind: 'any' }, schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin' } as never }),
    )).toEqual([
      'labels "c", schedule.timezone: schedules run in UTC only; remove timezone and write the cron in UTC (3:00 in Berlin is "0 2 * * *" in winter)',
      'labels "a", output.path: "datasets/fraud/labels" overlaps the output of training set "fraud_training" ("datasets/fraud"); each dataset needs a folder of its own',
      'labels "b", decisions: the labels would have two columns named "labeled_at" (a column of event stream "requests" has the name of one Flywheel adds: label, outcome_count, first_outcome_at, labeled_at, event_id); rename it in the stream',
    ]);
  });
});
