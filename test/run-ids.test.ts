import { describe, expect, it } from 'vitest';
import { backfillRunId, compactInstant, compactRange, labelPartitionRunId, labelsRunId, loopRunId, materializeRunId, scheduledRunIdBase, trainingSetRunId } from '../core/run-ids.ts';
import { desiredSchedules } from '../core/plan/schedules.ts';
import { resolveTaskQueues } from '../core/task-queues.ts';
import { emptyProject } from '../core/definitions/specs.ts';

/** The workflow id scheme `<project>/<kind>/<object>/<range or as-of>` (docs/runs.md), pure. */

describe('compact instants', () => {
  it('is as short as it stays exact', () => {
    expect(compactInstant('2024-03-01T00:00:00Z')).toBe('2024-03-01');
    expect(compactInstant('2024-03-01T00:00:00.000Z')).toBe('2024-03-01');
    expect(compactInstant(new Date('2024-03-01T06:00:00Z'))).toBe('2024-03-01T06:00Z');
    expect(compactInstant('2024-03-01T06:30:05.000Z')).toBe('2024-03-01T06:30:05Z');
    expect(compactInstant('2024-03-01T00:00:00.120Z')).toBe('2024-03-01T00:00:00.12Z');
    expect(compactInstant('2026-03-01T12:00:00.000001Z')).toBe('2026-03-01T12:00:00.000001Z');
    expect(compactInstant('2024-03-01T00:00:00+00:00')).toBe('2024-03-01');
    // Not a UTC instant of this shape: kept as given rather than guessed at.
    expect(compactInstant('2024-03-01T00:00:00+02:00')).toBe('2024-03-01T00:00:00+02:00');
  });

  it('writes open ends of a range as start and now', () => {
    expect(compactRange('2024-03-01T00:00:00Z', '2024-03-08T00:00:00Z')).toBe('2024-03-01..2024-03-08');
    expect(compactRange(undefined, '2024-03-08T00:00:00Z')).toBe('start..2024-03-08');
    expect(compactRange('2024-03-01T00:00:00Z', undefined)).toBe('2024-03-01..now');
  });
});

describe('run ids', () => {
  it('gives every kind of run <project>/<kind>/<object>/<when>', () => {
    expect(trainingSetRunId('card_fraud', 'fraud_training', '2024-03-01T00:00:00.000Z', '2024-03-02T00:00:00.000Z')).toBe('card_fraud/training-set/fraud_training/2024-03-01..2024-03-02');
    expect(trainingSetRunId('card_fraud', 'fraud_training')).toBe('card_fraud/training-set/fraud_training/all');
    expect(trainingSetRunId('card_fraud', 'fraud_training', null, null)).toBe('card_fraud/training-set/fraud_training/all');
    expect(backfillRunId('card_fraud', 'fraud_training', '2024-01-01T00:00:00Z', '2024-04-01T00:00:00Z')).toBe('card_fraud/backfill/fraud_training/2024-01-01..2024-04-01');
    expect(labelsRunId('card_fraud', 'charged_back', {}, '2026-12-04T21:05:03.000Z')).toBe('card_fraud/labels/charged_back/2026-12-04T21:05:03Z');
    expect(labelsRunId('card_fraud', 'charged_back', { from: '2024-03-01T00:00:00Z', to: '2024-03-08T00:00:00Z' }, '2026-12-04T21:05:03Z')).toBe('card_fraud/labels/charged_back/2024-03-01..2024-03-08');
    expect(labelPartitionRunId('card_fraud', 'charged_back', 'day=2024-03-05')).toBe('card_fraud/labels/charged_back/day=2024-03-05');
    expect(materializeRunId('card_fraud', 'user_spend', undefined, '2026-12-04T21:05:03Z')).toBe('card_fraud/materialize/user_spend/2026-12-04T21:05:03Z');
    expect(materializeRunId('card_fraud', 'user_spend', '2024-05-01T00:00:00Z', new Date('2024-05-01T10:30:00Z'))).toBe('card_fraud/materialize/user_spend/2024-05-01..2024-05-01T10:30Z');
    expect(loopRunId('card_fraud', undefined, '2024-03-05T00:00:00Z')).toBe('card_fraud/loop/all/2024-03-05');
    expect(loopRunId('card_fraud', 'daily', '2024-03-05T06:00:00Z')).toBe('card_fraud/loop/daily/2024-03-05T06:00Z');
    expect(scheduledRunIdBase('card_fraud', 'materialize', 'user_spend')).toBe('card_fraud/materialize/user_spend/scheduled');
  });

  it('stays short: an hourly range of the card-fraud example is 75 characters (10 + 12 + 14 for the names, 36 for the range, 3 slashes)', () => {
    expect(trainingSetRunId('card_fraud', 'fraud_training', '2024-03-01T06:00:00Z', '2024-03-02T06:00:00Z')).toHaveLength(75);
  });

  it('names the runs a schedule starts <project>/<kind>/<object>/scheduled, for every kind of schedule', () => {
    const spec = {
      ...emptyProject(),
      loops: { hourly: { kind: 'loop', name: 'hourly', schedule: { type: 'interval', everySeconds: 3600, offsetSeconds: 0, catchupWindowSeconds: 86_400, paused: false } } },
    } as unknown as Parameters<typeof desiredSchedules>[0]['spec'];
    const [loop] = desiredSchedules({ project: 'demo', spec, taskQueues: resolveTaskQueues('demo', { taskQueue: 'flywheel-demo' }) });
    expect(loop).toMatchObject({ id: 'flywheel:demo:loop:hourly', action: { workflowId: 'demo/loop/hourly/scheduled', taskQueue: 'flywheel-demo' } });
  });
});
