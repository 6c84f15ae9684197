/**
 * Five-field cron expressions (`minute hour day-of-month month day-of-week`, UTC), parsed into the
 * set of values each field matches. Validation uses it to explain a bad expression field by field;
 * plan compares schedules by these sets (so `0 3 * * *` and `00 03 * * *` are the same schedule);
 * apply hands them to Temporal as a calendar, so Flywheel's reading of the expression is the one
 * that runs. Pure: no I/O, no dependencies.
 *
 * Each field is a comma-separated list of `*`, `n`, `a-b`, `*\/step`, `a-b/step` or `a/step`
 * (`a` to the field's maximum). Months and days of the week also take three-letter names
 * (`JAN`-`DEC`, `SUN`-`SAT`, any case); day of week 7 is Sunday, like 0.
 */

/** The values a cron expression matches, per field, sorted and without duplicates. Day of week 0 is Sunday. */
export interface CronCalendar {
  readonly minute: readonly number[];
  readonly hour: readonly number[];
  readonly dayOfMonth: readonly number[];
  readonly month: readonly number[];
  readonly dayOfWeek: readonly number[];
}

export type CronField = keyof CronCalendar;

interface FieldRule {
  readonly key: CronField;
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

/** The five fields in order, with their ranges. Day of week accepts 7 (Sunday) and folds it to 0. */
export const CRON_FIELDS: readonly FieldRule[] = [
  { key: 'minute', label: 'minute', min: 0, max: 59 },
  { key: 'hour', label: 'hour', min: 0, max: 23 },
  { key: 'dayOfMonth', label: 'day of month', min: 1, max: 31 },
  { key: 'month', label: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { key: 'dayOfWeek', label: 'day of week', min: 0, max: 7, names: DAY_NAMES },
];

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** The matched values of a valid expression, or a message saying what is wrong with which field. */
export function parseCron(expression: string): { calendar: CronCalendar } | { error: string } {
  const text = expression.trim();
  if (text.startsWith('@')) {
    return { error: `shorthands such as ${JSON.stringify(text.split(/\s+/)[0])} are not supported; write five fields, e.g. "0 0 * * *" for daily at midnight UTC` };
  }
  if (/^(CRON_)?TZ=/i.test(text)) return { error: 'schedules run in UTC; a time zone prefix is not supported' };
  const parts = text.split(/\s+/).filter((part) => part !== '');
  if (parts.length !== 5) {
    const hint = parts.length === 6 || parts.length === 7 ? '; seconds and years are not supported' : '';
    return { error: `expected five fields (minute hour day-of-month month day-of-week), got ${parts.length} in ${JSON.stringify(expression)}${hint}` };
  }
  const values: Partial<Record<CronField, number[]>> = {};
  for (const [index, rule] of CRON_FIELDS.entries()) {
    const parsed = parseField(parts[index]!, rule);
    if ('error' in parsed) return { error: `${rule.label} ${JSON.stringify(parts[index])}: ${parsed.error}` };
    values[rule.key] = parsed.values;
  }
  const calendar = values as CronCalendar;

  // Temporal, which runs the schedule, requires both day fields to match; classic cron runs when
  // either matches. Refuse the expressions where the two readings differ rather than surprise.
  if (parts[2] !== '*' && parts[4] !== '*') {
    return {
      error: `day of month (${JSON.stringify(parts[2])}) and day of week (${JSON.stringify(parts[4])}) are both restricted; ` +
        'classic cron runs when either matches but Temporal only when both do, so restrict one of them and write "*" for the other',
    };
  }
  const runsSomeDay = calendar.month.some((month) => calendar.dayOfMonth.some((day) => day <= DAYS_IN_MONTH[month - 1]!));
  if (!runsSomeDay) {
    return { error: `never runs: no month in ${JSON.stringify(parts[3])} has day ${JSON.stringify(parts[2])}` };
  }
  return { calendar };
}

function parseField(text: string, rule: FieldRule): { values: number[] } | { error: string } {
  const matched = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') return { error: 'has an empty list item' };
    const [range, stepText, ...extra] = item.split('/');
    if (extra.length > 0) return { error: `"${item}" has more than one "/"` };
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) return { error: `step "${stepText}" must be a positive whole number` };
      step = Number(stepText);
    }
    let start: number;
    let end: number;
    if (range === '*') {
      // `*` over day of week is 0-6: 7 is only another name for Sunday.
      [start, end] = [rule.min, rule.key === 'dayOfWeek' ? 6 : rule.max];
    } else {
      const bounds = (range ?? '').split('-');
      if (bounds.length > 2) return { error: `"${range}" is not a value or a range a-b` };
      const low = parseValue(bounds[0]!, rule);
      if (typeof low === 'string') return { error: low };
      start = low;
      if (bounds.length === 2) {
        const high = parseValue(bounds[1]!, rule);
        if (typeof high === 'string') return { error: high };
        if (high < low) return { error: `range "${range}" goes from high to low; write it from low to high` };
        end = high;
      } else {
        // `a/step` runs from a to the end of the field; a plain value is just itself.
        end = stepText !== undefined ? (rule.key === 'dayOfWeek' ? 6 : rule.max) : low;
      }
    }
    if (step > end - start && stepText !== undefined && end > start) {
      return { error: `step ${step} is larger than the range ${start}-${end}, so it matches ${start} only; write ${start}` };
    }
    for (let value = start; value <= end; value += step) matched.add(rule.key === 'dayOfWeek' && value === 7 ? 0 : value);
  }
  return { values: [...matched].sort((a, b) => a - b) };
}

function parseValue(text: string, rule: FieldRule): number | string {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < rule.min || value > rule.max) return `${value} is out of range ${rule.min}-${rule.max}`;
    return value;
  }
  const nameIndex = rule.names?.indexOf(text.toUpperCase()) ?? -1;
  if (nameIndex >= 0) return rule.key === 'month' ? nameIndex + 1 : nameIndex;
  const names = rule.names ? ` or a name ${rule.names[0]}-${rule.names.at(-1)}` : '';
  return `"${text}" is not a number ${rule.min}-${rule.max}${names}`;
}

/**
 * A five-field expression for a calendar: each field as `*`, a single value, or a comma list of
 * values and ranges. Used to show a schedule read back from Temporal in plan output.
 */
export function formatCronCalendar(calendar: CronCalendar): string {
  return CRON_FIELDS.map((rule) => {
    const values = calendar[rule.key];
    const max = rule.key === 'dayOfWeek' ? 6 : rule.max;
    if (values.length === max - rule.min + 1) return '*';
    const runs: string[] = [];
    for (let i = 0; i < values.length; ) {
      let j = i;
      while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
      runs.push(j > i ? `${values[i]}-${values[j]}` : `${values[i]}`);
      i = j + 1;
    }
    return runs.join(',');
  }).join(' ');
}

/** The same expression with single spaces, so re-spacing a cron is not a change. */
export function normalizeCronSpacing(expression: string): string {
  return expression.trim().split(/\s+/).join(' ');
}
