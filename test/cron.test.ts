import { describe, expect, it } from 'vitest';
import { entity, featureService, featureView, source, trainingSet, type TrainingSetInput } from '../index.ts';
import { DefinitionError } from '../core/errors.ts';
import { formatCronCalendar, parseCron } from '../core/validation/cron.ts';
import { validateProject } from '../core/validation/validate-project.ts';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('parseCron', () => {
  it('reads five fields into the values each matches', () => {
    expect(parseCron('0 3 * * *')).toEqual({
      calendar: { minute: [0], hour: [3], dayOfMonth: range(1, 31), month: range(1, 12), dayOfWeek: range(0, 6) },
    });
  });

  it('takes lists, ranges, steps, names in any case, and 7 as Sunday', () => {
    expect(parseCron('*/15 1-5,22 * jan,MAR-may 1-5')).toEqual({
      calendar: { minute: [0, 15, 30, 45], hour: [1, 2, 3, 4, 5, 22], dayOfMonth: range(1, 31), month: [1, 3, 4, 5], dayOfWeek: [1, 2, 3, 4, 5] },
    });
    expect(parseCron('10-40/10 0 1,15 * *')).toMatchObject({ calendar: { minute: [10, 20, 30, 40], dayOfMonth: [1, 15] } });
    expect(parseCron('50/5 0 * * *')).toMatchObject({ calendar: { minute: [50, 55] } });
    expect(parseCron('0 0 * * Fri-7')).toMatchObject({ calendar: { dayOfWeek: [0, 5, 6] } });
    expect(parseCron('0 0 * * */2')).toMatchObject({ calendar: { dayOfWeek: [0, 2, 4, 6] } });
    expect(parseCron('  0   3 * *  *  ')).toEqual(parseCron('0 3 * * *'));
    expect(parseCron('0 0 29 2 *')).toMatchObject({ calendar: { dayOfMonth: [29], month: [2] } });
  });

  it.each([
    ['0 3 * *', 'expected five fields (minute hour day-of-month month day-of-week), got 4 in "0 3 * *"'],
    ['0 0 3 * * *', 'expected five fields (minute hour day-of-month month day-of-week), got 6 in "0 0 3 * * *"; seconds and years are not supported'],
    ['@daily', 'shorthands such as "@daily" are not supported; write five fields, e.g. "0 0 * * *" for daily at midnight UTC'],
    ['CRON_TZ=Europe/Berlin 0 3 * * *', 'schedules run in UTC; a time zone prefix is not supported'],
    ['60 3 * * *', 'minute "60": 60 is out of range 0-59'],
    ['0 24 * * *', 'hour "24": 24 is out of range 0-23'],
    ['0 3 0 * *', 'day of month "0": 0 is out of range 1-31'],
    ['0 3 * 13 *', 'month "13": 13 is out of range 1-12'],
    ['0 3 * * 8', 'day of week "8": 8 is out of range 0-7'],
    ['0 3 * JANX *', 'month "JANX": "JANX" is not a number 1-12 or a name JAN-DEC'],
    ['0 MON * * *', 'hour "MON": "MON" is not a number 0-23'],
    ['*/0 * * * *', 'minute "*/0": step "0" must be a positive whole number'],
    ['*/x * * * *', 'minute "*/x": step "x" must be a positive whole number'],
    ['0 */24 * * *', 'hour "*/24": step 24 is larger than the range 0-23, so it matches 0 only; write 0'],
    ['0 5-3 * * *', 'hour "5-3": range "5-3" goes from high to low; write it from low to high'],
    ['0 1-2-3 * * *', 'hour "1-2-3": "1-2-3" is not a value or a range a-b'],
    ['0 1/2/3 * * *', 'hour "1/2/3": "1/2/3" has more than one "/"'],
    ['0 1,,2 * * *', 'hour "1,,2": has an empty list item'],
    ['0 -1 * * *', 'hour "-1": "" is not a number 0-23'],
    ['0 3 1 * MON', 'day of month ("1") and day of week ("MON") are both restricted; classic cron runs when either matches but Temporal only when both do, so restrict one of them and write "*" for the other'],
    ['0 0 30 2 *', 'never runs: no month in "2" has day "30"'],
    ['0 0 31 4,6 *', 'never runs: no month in "4,6" has day "31"'],
  ])('refuses %j', (expression, error) => {
    expect(parseCron(expression)).toEqual({ error });
  });

  it('prints a calendar back as five fields', () => {
    const print = (expression: string) => {
      const parsed = parseCron(expression);
      if ('error' in parsed) throw new Error(parsed.error);
      return formatCronCalendar(parsed.calendar);
    };
    expect(print('0 3 * * *')).toBe('0 3 * * *');
    expect(print('*/15 1-5,22 * jan,MAR-may 1-5')).toBe('0,15,30,45 1-5,22 * 1,3-5 1-5');
    expect(print('0 0 * * 0-7')).toBe('0 0 * * *');
  });
});

describe('training set schedules in definitions', () => {
  const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
  const txns = source({ name: 'txns', table: 'txns', timestampField: 'ts', columns: { user_id: 'int64', amount: 'float64', ts: 'timestamp' } });
  const spend = featureView({ name: 'spend', entities: [user], source: txns, features: { amount: 'float64' } });
  const labels = source({ name: 'labels', table: 'labels', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' } });
  const service = featureService({ name: 'fraud', features: [spend] });
  const base = [user, txns, spend, labels, service].map((definition) => ({ file: 'defs.ts', definition }));
  const scheduled = (schedule: unknown, extra: Partial<TrainingSetInput> = {}) =>
    ({ file: 'training.ts', definition: trainingSet({ name: 'daily', spine: labels, features: service, schedule: schedule as never, ...extra }) });

  const issuesOf = (schedule: unknown, extra?: Partial<TrainingSetInput>) => {
    try {
      validateProject([...base, scheduled(schedule, extra)]);
    } catch (error) {
      expect(error).toBeInstanceOf(DefinitionError);
      return (error as DefinitionError).issues.map((issue) => `${issue.field}: ${issue.message}`);
    }
    throw new Error('expected validation to fail');
  };

  it('normalizes a cron schedule with its defaults', () => {
    const project = validateProject([...base, scheduled({ cron: '0  3 * * *' })]);
    expect(project.trainingSets.daily?.schedule).toEqual({ cron: '0 3 * * *', partitionLag: 1, catchupWindowSeconds: 86_400, paused: false });
  });

  it('normalizes an interval schedule in seconds', () => {
    const project = validateProject([...base, scheduled({ every: '1d', offset: '3h', partitionLag: 2, catchupWindow: '6h', paused: true })]);
    expect(project.trainingSets.daily?.schedule).toEqual({ everySeconds: 86_400, offsetSeconds: 10_800, partitionLag: 2, catchupWindowSeconds: 21_600, paused: true });
    expect(validateProject([...base, scheduled({ every: '12h' })]).trainingSets.daily?.schedule).toMatchObject({ everySeconds: 43_200, offsetSeconds: 0 });
  });

  it('leaves an unscheduled training set without a schedule', () => {
    expect(validateProject([...base, scheduled(undefined)]).trainingSets.daily).not.toHaveProperty('schedule');
  });

  it.each([
    [{ cron: '0 3 * * *', timezone: 'Europe/Berlin' }, 'schedule.timezone: schedules run in UTC only; remove timezone and write the cron in UTC (3:00 in Berlin is "0 2 * * *" in winter)'],
    [{ cron: '61 3 * * *' }, 'schedule.cron: minute "61": 61 is out of range 0-59'],
    [{ cron: 3 }, 'schedule.cron: expected a cron expression such as "0 3 * * *"'],
    [{}, 'schedule.cron: give one of cron or every'],
    [{ cron: '0 3 * * *', every: '1d' }, 'schedule.every: give only one of cron or every'],
    [{ cron: '0 3 * * *', offset: '1h' }, 'schedule.offset: offset applies to every only; with a cron, put the offset in its minute and hour fields'],
    [{ every: '1h', offset: '1h' }, 'schedule.offset: must be shorter than every (1h)'],
    [{ every: '30s' }, 'schedule.every: must be at least 1m'],
    [{ every: '1 day' }, 'schedule.every: expected a duration such as "30m", "1h", "7d" or "2w", got "1 day"'],
    [{ every: '1d', partitionLag: -1 }, 'schedule.partitionLag: expected a whole number of days (0 or more)'],
    [{ every: '1d', partitionLag: 0.5 }, 'schedule.partitionLag: expected a whole number of days (0 or more)'],
    [{ every: '1d', catchupWindow: '10s' }, 'schedule.catchupWindow: must be at least 1m'],
    [{ every: '1d', paused: 'yes' }, 'schedule.paused: expected true or false'],
    [{ every: '1d', jitter: '1m' }, 'schedule: Unrecognized key: "jitter"'],
  ])('explains a bad schedule %j', (schedule, message) => {
    expect(issuesOf(schedule)).toEqual([message]);
  });

  it('refuses a schedule on a training set whose partitions are not days or hours', () => {
    expect(issuesOf({ cron: '0 3 * * *' }, { output: { partitionBy: 'month' } })).toEqual([
      'schedule: a scheduled run builds one UTC day, which output.partitionBy "month" cannot hold; use "day" (the default) or "hour"',
    ]);
    expect(validateProject([...base, scheduled({ cron: '0 3 * * *' }, { output: { partitionBy: 'hour' } })]).trainingSets.daily?.schedule).toBeDefined();
  });
});
