import { describe, expect, it } from 'vitest';
import { parseInstant as parseCliInstant, parsePartitionRange } from '../cli/project/parse-instant.ts';
import { compareInstants, earliestInstant, instantFromDate, instantFromMicros, instantMicros, instantPlusSeconds, InstantError, latestInstant, parseInstant } from '../core/instant.ts';
import { planMaterializationRun, watermarkDecision } from '../core/materialization/run-plan.ts';
import { partitionsInRange } from '../core/training-set/partitions.ts';
import { isComplete } from '../core/labels/plan-partitions.ts';

describe('parseInstant', () => {
  it('keeps microseconds, and writes three fraction digits when there are none', () => {
    expect(parseInstant('2026-03-01T12:00:00.719310Z')).toBe('2026-03-01T12:00:00.719310Z');
    expect(parseInstant('2026-03-01T12:00:00.7193Z')).toBe('2026-03-01T12:00:00.719300Z');
    expect(parseInstant('2026-03-01T12:00:00.719Z')).toBe('2026-03-01T12:00:00.719Z');
    expect(parseInstant('2026-03-01T12:00:00.719000Z')).toBe('2026-03-01T12:00:00.719Z');
    expect(parseInstant('2026-03-01T12:00:00Z')).toBe('2026-03-01T12:00:00.000Z');
    expect(parseInstant('2026-03-01T12:00Z')).toBe('2026-03-01T12:00:00.000Z');
    expect(parseInstant('2026-03-01T12:00:00.000001Z')).toBe('2026-03-01T12:00:00.000001Z');
    // A date alone is its UTC midnight, as on the command line.
    expect(parseInstant('2026-03-01')).toBe('2026-03-01T00:00:00.000Z');
  });

  it('turns offsets into UTC, to the microsecond', () => {
    expect(parseInstant('2026-03-01T14:00:00.000001+02:00')).toBe('2026-03-01T12:00:00.000001Z');
    expect(parseInstant('2026-03-01T07:30:00.5-0430')).toBe('2026-03-01T12:00:00.500Z');
    expect(parseInstant('2026-01-01T00:30:00.999999+01:00')).toBe('2025-12-31T23:30:00.999999Z');
  });

  it('holds the years 0001 to 9999, before 1970 included', () => {
    expect(parseInstant('0001-01-01T00:00:00Z')).toBe('0001-01-01T00:00:00.000Z');
    expect(parseInstant('9999-12-31T23:59:59.999999Z')).toBe('9999-12-31T23:59:59.999999Z');
    expect(parseInstant('1969-12-31T23:59:59.999999Z')).toBe('1969-12-31T23:59:59.999999Z');
    expect(instantMicros('1969-12-31T23:59:59.999999Z')).toBe(-1n);
    expect(instantMicros('0050-06-01T00:00:00Z')).toBe(-60_576_249_600_000_000n); // not 1950: Date.UTC reads 0-99 as 19xx
  });

  it('refuses what it cannot carry exactly, naming what was given and why', () => {
    const refused = (text: string, what = '--to') => {
      try {
        parseInstant(text, what);
      } catch (error) {
        expect(error).toBeInstanceOf(InstantError);
        return (error as Error).message;
      }
      throw new Error(`${text} was accepted`);
    };
    expect(refused('2026-03-01T12:00:00.7193101Z')).toBe(
      '--to "2026-03-01T12:00:00.7193101Z" has 7 fractional digits; instants are kept to the microsecond, so give at most six (e.g. 2026-03-01T12:00:00.719310Z)',
    );
    expect(refused('2026-03-01T12:00:00.123456789+00:00', 'asOf')).toMatch(/^asOf "2026-03-01T12:00:00.123456789\+00:00" has 9 fractional digits/);
    expect(refused('2026-03-01T12:00:00')).toBe('--to "2026-03-01T12:00:00" has no time zone, so it is ambiguous; add Z (UTC) or an offset such as +02:00');
    expect(refused('2026-02-29T00:00:00Z')).toBe('--to "2026-02-29T00:00:00Z" is not a valid date and time');
    expect(refused('2026-03-01T24:00:00Z')).toBe('--to "2026-03-01T24:00:00Z" is not a valid date and time');
    expect(refused('2026-03-01T12:00:00+25:00')).toBe('--to "2026-03-01T12:00:00+25:00" has an invalid UTC offset');
    expect(refused('0001-01-01T00:00:00+01:00')).toBe('--to "0001-01-01T00:00:00+01:00" is outside years 0001 to 9999 in UTC');
    expect(refused('yesterday')).toBe('--to "yesterday" is not an ISO-8601 instant (e.g. 2026-03-01T12:00:00.719310Z)');
  });
});

describe('instant arithmetic', () => {
  it('moves by seconds and compares exactly, across midnight and the epoch', () => {
    expect(instantPlusSeconds('2026-03-01T12:00:00.719310Z', -3600)).toBe('2026-03-01T11:00:00.719310Z');
    expect(instantPlusSeconds('2026-03-01T23:59:59.999999Z', 0.000001)).toBe('2026-03-02T00:00:00.000Z');
    expect(instantPlusSeconds('1970-01-01T00:00:00.000001Z', -0.000002)).toBe('1969-12-31T23:59:59.999999Z');
    expect(instantFromMicros(-1_500n)).toBe('1969-12-31T23:59:59.998500Z');
    expect(compareInstants('2026-03-01T12:00:00.000001Z', '2026-03-01T12:00:00.000Z')).toBe(1);
    expect(compareInstants('2026-03-01T12:00:00.000Z', '2026-03-01T14:00:00+02:00')).toBe(0);
    expect(compareInstants('2026-03-01T11:59:59.999999Z', '2026-03-01T12:00:00Z')).toBe(-1);
    // As text, '…00.000Z' sorts after '…00.000001Z' ('Z' > '0'): instants are never compared as strings.
    expect('2026-03-01T12:00:00.000Z' > '2026-03-01T12:00:00.000001Z').toBe(true);
    expect(earliestInstant(['2026-03-01T12:00:00.000001Z', '2026-03-01T12:00:00.000Z'])).toBe('2026-03-01T12:00:00.000Z');
    expect(latestInstant(['2026-03-01T12:00:00.000001Z', '2026-03-01T12:00:00.000Z'])).toBe('2026-03-01T12:00:00.000001Z');
    expect(instantFromDate(new Date(Date.UTC(2026, 2, 1, 12)))).toBe('2026-03-01T12:00:00.000Z');
  });
});

describe('where instants enter', () => {
  it('the CLI: a date is its UTC midnight; microseconds kept; seven digits refused as a usage error', () => {
    expect(parseCliInstant('2026-03-01', '--to')).toBe('2026-03-01T00:00:00.000Z');
    expect(parseCliInstant('2026-03-01T12:00:00.719310Z', '--to')).toBe('2026-03-01T12:00:00.719310Z');
    expect(() => parseCliInstant('2026-03-01T12:00:00.7193101Z', '--to')).toThrow('--to "2026-03-01T12:00:00.7193101Z" has 7 fractional digits');
    expect(() => parseCliInstant('2026-03-01T12:00:00', '--to')).toThrow('is not an unambiguous instant');
    // 1 µs apart is a range; equal is not.
    expect(parsePartitionRange({ from: '2026-03-01T00:00:00Z', to: '2026-03-01T00:00:00.000001Z' }, 'built')).toEqual({ from: '2026-03-01T00:00:00.000Z', to: '2026-03-01T00:00:00.000001Z' });
    expect(() => parsePartitionRange({ from: '2026-03-01T00:00:00.000001Z', to: '2026-03-01T00:00:00Z' }, 'built')).toThrow('must be before');
  });

  it('a materialization plan: to, from and the lookback to the microsecond; the watermark compared exactly', () => {
    const plan = planMaterializationRun({ state: { watermark: '2026-03-01T12:00:00.719309Z', definitionHash: 'h' }, definitionHash: 'h', to: '2026-03-01T12:00:00.719310Z', lookbackSeconds: 60 });
    expect(plan).toMatchObject({ mode: 'incremental', from: '2026-03-01T12:00:00.719309Z', to: '2026-03-01T12:00:00.719310Z', changedSince: '2026-03-01T11:59:00.719309Z', upToDate: false });
    const finished = { plan, definitionHash: 'h', registryVersion: 1 };
    expect(watermarkDecision({ watermark: '2026-03-01T12:00:00.719309Z', definitionHash: 'h', registryVersion: 1 }, finished)).toEqual({ advance: true, reason: 'moved forward' });
    expect(watermarkDecision({ watermark: '2026-03-01T12:00:00.719310Z', definitionHash: 'h', registryVersion: 1 }, finished).advance).toBe(false);
    expect(() => planMaterializationRun({ state: undefined, definitionHash: 'h', to: '2026-03-01T12:00:00.7193101Z', lookbackSeconds: 0 })).toThrow(InstantError);
  });

  it('partition ranges: 1 µs off a boundary is refused, not cut to the boundary', () => {
    expect(partitionsInRange('2026-03-01T00:00:00Z', '2026-03-02T00:00:00.000Z', 'day').map((p) => p.key)).toEqual(['day=2026-03-01']);
    expect(() => partitionsInRange('2026-03-01T00:00:00.000001Z', '2026-03-02T00:00:00Z', 'day')).toThrow(
      '--from 2026-03-01T00:00:00.000001Z is not on a day boundary; partitions are rebuilt whole, so use e.g. 2026-03-01T00:00:00.000Z',
    );
    expect(() => partitionsInRange('2026-03-01T00:00:00Z', '2026-03-01T00:59:59.999999Z', 'hour')).toThrow('--to 2026-03-01T00:59:59.999999Z is not on a hour boundary');
  });

  it('label maturity: a partition is complete when its end + window is at or before asOf, to the microsecond', () => {
    const partition = { key: 'day=2026-03-01', value: '2026-03-01', start: '2026-03-01T00:00:00.000Z', end: '2026-03-02T00:00:00.000Z' };
    expect(isComplete(partition, 3600, '2026-03-02T01:00:00Z')).toBe(true);
    expect(isComplete(partition, 3600, '2026-03-02T00:59:59.999999Z')).toBe(false);
  });
});
