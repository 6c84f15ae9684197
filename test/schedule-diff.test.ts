import { resolveTaskQueues } from '../core/task-queues.ts';
import { describe, expect, it } from 'vitest';
import { emptyProject, type ProjectSpec, type TrainingSetSchedule, type TrainingSetSpec } from '../core/definitions/specs.ts';
import { toPlanDocument, createPlan } from '../core/plan/plan.ts';
import {
  desiredSchedules,
  diffSchedules,
  hasScheduleChanges,
  knownScheduleIds,
  planDocumentWithSchedules,
  SCHEDULED_TRAINING_SET_WORKFLOW,
  schedulesInvolved,
  summarizeSchedules,
  toScheduleDocument,
  trainingSetOfScheduleId,
  trainingSetScheduleId,
  type ScheduleState,
} from '../core/plan/schedules.ts';
import { parseCron, type CronCalendar } from '../core/validation/cron.ts';
import { dayPartition, scheduledTrainingSet } from '../workflows/scheduled-training-set.ts';

function trainingSetSpec(name: string, schedule?: TrainingSetSchedule): TrainingSetSpec {
  return {
    kind: 'trainingSet', name, spine: 'labels', features: { service: 'fraud' },
    output: { format: 'parquet', path: `training_sets/${name}`, partitionBy: 'day' }, tags: {},
    ...(schedule ? { schedule } : {}),
  };
}

function project(...sets: TrainingSetSpec[]): ProjectSpec {
  return { ...emptyProject(), trainingSets: Object.fromEntries(sets.map((set) => [set.name, set])) };
}

const daily: TrainingSetSchedule = { cron: '0 3 * * *', partitionLag: 1, catchupWindowSeconds: 86_400, paused: false };
const hourly: TrainingSetSchedule = { everySeconds: 3600, offsetSeconds: 0, partitionLag: 0, catchupWindowSeconds: 3600, paused: false };

const desired = (...sets: TrainingSetSpec[]) => desiredSchedules({ project: 'demo', spec: project(...sets), taskQueues: resolveTaskQueues('demo', { taskQueue: 'flywheel' }) });

describe('schedule ids', () => {
  it('name the project and the training set, and read back', () => {
    expect(trainingSetScheduleId('demo', 'fraud_training')).toBe('flywheel:demo:training-set:fraud_training');
    expect(trainingSetOfScheduleId('demo', 'flywheel:demo:training-set:fraud_training')).toBe('fraud_training');
    expect(trainingSetOfScheduleId('demo', 'flywheel:other:training-set:fraud_training')).toBeUndefined();
    expect(trainingSetOfScheduleId('demo', 'flywheel:demo:training-set:')).toBeUndefined();
    expect(trainingSetOfScheduleId('demo', 'nightly-report')).toBeUndefined();
  });
});

describe('desiredSchedules', () => {
  it('makes one schedule per scheduled training set, starting scheduledTrainingSet', () => {
    expect(scheduledTrainingSet.name).toBe(SCHEDULED_TRAINING_SET_WORKFLOW);
    const [state, ...rest] = desired(trainingSetSpec('fraud_training', daily), trainingSetSpec('adhoc'));
    expect(rest).toEqual([]);
    const attributes = { FlywheelProject: 'demo', FlywheelKind: 'training-set', FlywheelObject: 'fraud_training' };
    expect(state).toEqual({
      id: 'flywheel:demo:training-set:fraud_training',
      trainingSet: 'fraud_training',
      times: { type: 'calendar', cron: '0 3 * * *', calendar: (parseCron('0 3 * * *') as { calendar: CronCalendar }).calendar },
      paused: false,
      overlap: 'SKIP',
      catchupWindowSeconds: 86_400,
      searchAttributes: attributes,
      action: {
        workflowType: 'scheduledTrainingSet',
        workflowId: 'demo/training-set/fraud_training/scheduled',
        taskQueue: 'flywheel',
        input: { project: 'demo', trainingSet: 'fraud_training', partitionLag: 1 },
        searchAttributes: attributes,
      },
    } satisfies ScheduleState);
    expect(desired(trainingSetSpec('hourly', hourly))[0]?.times).toEqual({ type: 'interval', everySeconds: 3600, offsetSeconds: 0 });
  });
});

describe('when plan asks Temporal', () => {
  it('only when the definitions or the applied version schedule something', () => {
    const none = project(trainingSetSpec('adhoc'));
    const some = project(trainingSetSpec('fraud_training', daily));
    expect(schedulesInvolved(undefined, none)).toBe(false);
    expect(schedulesInvolved(none, none)).toBe(false);
    expect(schedulesInvolved(undefined, some)).toBe(true);
    expect(schedulesInvolved(some, none)).toBe(true);
    expect(knownScheduleIds('demo', project(trainingSetSpec('b', daily), trainingSetSpec('a', daily)), project(trainingSetSpec('c', hourly), trainingSetSpec('a', daily)))).toEqual([
      'flywheel:demo:training-set:a', 'flywheel:demo:training-set:b', 'flywheel:demo:training-set:c',
    ]);
  });
});

describe('diffSchedules', () => {
  const [fraud] = desired(trainingSetSpec('fraud_training', daily));
  const [labels] = desired(trainingSetSpec('labels_daily', hourly));

  it('creates what is missing, deletes what is no longer declared, leaves the rest', () => {
    const [gone] = desired(trainingSetSpec('gone', daily));
    const changes = diffSchedules([labels!, fraud!], [gone!, fraud!]);
    expect(changes.map((c) => `${c.action} ${c.trainingSet}`)).toEqual(['unchanged fraud_training', 'delete gone', 'create labels_daily']);
    expect(summarizeSchedules(changes)).toEqual({ create: 1, update: 0, delete: 1, unchanged: 1 });
    expect(hasScheduleChanges(changes)).toBe(true);
    expect(hasScheduleChanges(diffSchedules([fraud!], [fraud!]))).toBe(false);
    expect(diffSchedules([], [])).toEqual([]);
  });

  it('compares cron schedules by the times they match, not by how they are spelled', () => {
    const [respelled] = desired(trainingSetSpec('fraud_training', { ...daily, cron: '00 03 1-31 jan-dec *' }));
    expect(diffSchedules([respelled!], [fraud!]).map((c) => c.action)).toEqual(['unchanged']);
  });

  it('lists what differs in an existing schedule', () => {
    const existing: ScheduleState = {
      ...fraud!,
      times: { type: 'calendar', calendar: (parseCron('30 4 * * *') as { calendar: CronCalendar }).calendar },
      paused: true,
      overlap: 'ALLOW_ALL',
      catchupWindowSeconds: 60,
      searchAttributes: { FlywheelProject: 'demo' },
      action: { ...fraud!.action, taskQueue: 'old-queue', input: { project: 'demo', trainingSet: 'fraud_training', partitionLag: 2 } },
    };
    const [change] = diffSchedules([fraud!], [existing]);
    expect(change).toMatchObject({ action: 'update', id: 'flywheel:demo:training-set:fraud_training' });
    expect(change?.action === 'update' && change.fields).toEqual([
      { path: 'spec', before: 'cron "30 4 * * *" UTC', after: 'cron "0 3 * * *" UTC' },
      { path: 'paused', before: 'true', after: 'false' },
      { path: 'overlap', before: 'ALLOW_ALL', after: 'SKIP' },
      { path: 'catchupWindow', before: '1m', after: '1d' },
      { path: 'searchAttributes.FlywheelKind', before: 'none', after: 'training-set' },
      { path: 'searchAttributes.FlywheelObject', before: 'none', after: 'fraud_training' },
      { path: 'action.taskQueue', before: 'old-queue', after: 'flywheel' },
      { path: 'action.input.partitionLag', before: '2', after: '1' },
    ]);
  });

  it('updates a schedule whose spec Flywheel does not write, and one switched between cron and interval', () => {
    const odd: ScheduleState = { ...fraud!, times: { type: 'other', description: 'a spec Flywheel does not write (2 calendar(s), 0 interval(s))' } };
    expect(diffSchedules([fraud!], [odd])[0]).toMatchObject({
      action: 'update', fields: [{ path: 'spec', before: 'a spec Flywheel does not write (2 calendar(s), 0 interval(s))', after: 'cron "0 3 * * *" UTC' }],
    });
    const [asInterval] = desired(trainingSetSpec('fraud_training', { ...daily, cron: undefined, everySeconds: 86_400, offsetSeconds: 10_800 } as TrainingSetSchedule));
    expect(diffSchedules([asInterval!], [fraud!])[0]).toMatchObject({ action: 'update', fields: [{ path: 'spec', before: 'cron "0 3 * * *" UTC', after: 'every 1d offset 3h' }] });
  });

  it('goes into the plan document under "schedules"', () => {
    const existing: ScheduleState = { ...fraud!, paused: true };
    const changes = diffSchedules([fraud!, labels!], [existing]);
    expect(toScheduleDocument(changes)).toEqual([
      { action: 'update', id: 'flywheel:demo:training-set:fraud_training', trainingSet: 'fraud_training', spec: 'cron "0 3 * * *" UTC', fields: [{ path: 'paused', before: 'true', after: 'false' }] },
      { action: 'create', id: 'flywheel:demo:training-set:labels_daily', trainingSet: 'labels_daily', spec: 'every 1h' },
    ]);
    const spec = project(trainingSetSpec('fraud_training', daily));
    const plan = createPlan({ project: 'demo', applied: { version: 1, hash: 'h', appliedAt: '2024-01-01T00:00:00.000Z', spec }, desired: spec });
    const unchanged = planDocumentWithSchedules(toPlanDocument(plan), { temporal: { address: 'localhost:7233', namespace: 'default' }, changes: diffSchedules([fraud!], [fraud!]) });
    expect(unchanged).toMatchObject({ hasChanges: false, changes: [], schedules: [{ action: 'unchanged', trainingSet: 'fraud_training' }] });
    const pending = planDocumentWithSchedules(toPlanDocument(plan), { temporal: { address: 'localhost:7233', namespace: 'default' }, changes });
    expect(pending).toMatchObject({ hasChanges: true, changes: [] });
    expect(Object.keys(pending).at(-1)).toBe('schedules');
    expect(planDocumentWithSchedules(toPlanDocument(plan), undefined).schedules).toEqual([]);
  });
});

describe('dayPartition', () => {
  it('is the UTC day partitionLag days before the scheduled day', () => {
    expect(dayPartition(new Date('2024-03-03T03:00:00Z'), 1)).toEqual({ date: '2024-03-02', start: '2024-03-02T00:00:00.000Z', end: '2024-03-03T00:00:00.000Z' });
    expect(dayPartition(new Date('2024-03-03T00:00:00Z'), 0)).toEqual({ date: '2024-03-03', start: '2024-03-03T00:00:00.000Z', end: '2024-03-04T00:00:00.000Z' });
    expect(dayPartition(new Date('2024-03-01T23:59:59.999Z'), 1)).toMatchObject({ date: '2024-02-29' });
    expect(dayPartition(new Date('2025-01-01T03:00:00Z'), 7)).toMatchObject({ date: '2024-12-25' });
  });
});
