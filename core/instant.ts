import { FlywheelError } from './errors.ts';

/**
 * Instants as Flywheel carries them from the CLI through Temporal to the SQL: ISO-8601 UTC text,
 * exact to the microsecond (the warehouse's precision). A JavaScript `Date` keeps milliseconds only,
 * so an instant never passes through one on its way to a query; arithmetic and comparisons are done
 * on whole epoch microseconds as a bigint. The text form is the one the offline engine gives
 * timestamps in: three fraction digits, six when there are microseconds.
 *
 * Pure and free of Node built-ins: workflows use it too. The online store and serving keep their own
 * number-based formatting of event times (connectors/online-store/online-time.ts): it runs per value
 * served, where a bigint per value would cost.
 *
 * @example
 * const to = parseInstant('2026-03-01T12:00:00.719310Z', '--to');   // '2026-03-01T12:00:00.719310Z'
 * instantPlusSeconds(to, -5);                                      // '2026-03-01T11:59:55.719310Z'
 * compareInstants('2026-03-01T12:00:00.000001Z', '2026-03-01T12:00:00.000Z'); // 1
 */

/** Thrown when a text is not an instant Flywheel can carry exactly; `what` names where it came from (`--to`, `asOf`). */
export class InstantError extends FlywheelError {
  readonly what: string;
  readonly value: string;
  constructor(what: string, value: string, reason: string) {
    super(`${what} ${JSON.stringify(value)} ${reason}`);
    this.what = what;
    this.value = value;
  }
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const EXAMPLE = '2026-03-01T12:00:00.719310Z';
const MICROS_PER_MILLI = 1000n;
/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: the years every engine and format here can hold. */
const MIN_MICROS = -62_135_596_800_000_000n;
const MAX_MICROS = 253_402_300_799_999_999n;

/**
 * The canonical form of an ISO-8601 instant with a zone (`Z`, `+02:00` or `+0200`), seconds and a
 * fraction of up to six digits optional; a date alone (`2026-03-01`) is its UTC midnight, as on the
 * command line. Throws InstantError, naming `what`, for anything else: no
 * zone, an impossible date or time, a year outside 0001-9999, or more than six fractional digits
 * (finer than the warehouse keeps: refused rather than silently cut).
 */
export function parseInstant(text: string, what = 'instant'): string {
  return instantFromMicros(instantMicrosOf(text, what));
}

/** Whole microseconds since the Unix epoch of an ISO-8601 instant (as parseInstant reads it). */
export function instantMicros(text: string, what = 'instant'): bigint {
  return instantMicrosOf(text, what);
}

/** The canonical ISO-8601 UTC text of whole epoch microseconds. */
export function instantFromMicros(micros: bigint): string {
  if (micros < MIN_MICROS || micros > MAX_MICROS) throw new RangeError(`${micros} epoch microseconds is outside years 0001 to 9999`);
  const extra = ((micros % MICROS_PER_MILLI) + MICROS_PER_MILLI) % MICROS_PER_MILLI;
  const iso = new Date(Number((micros - extra) / MICROS_PER_MILLI)).toISOString();
  return extra === 0n ? iso : `${iso.slice(0, -1)}${String(extra).padStart(3, '0')}Z`;
}

/** The instant of a Date (which has milliseconds only: right for clocks, never for a user's instant). */
export function instantFromDate(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid Date');
  return instantFromMicros(BigInt(date.getTime()) * MICROS_PER_MILLI);
}

/** `instant` moved by a whole or fractional number of seconds (negative: into the past), exactly to the microsecond. */
export function instantPlusSeconds(instant: string, seconds: number): string {
  if (!Number.isFinite(seconds)) throw new RangeError(`not a number of seconds: ${seconds}`);
  return instantFromMicros(instantMicros(instant) + BigInt(Math.round(seconds * 1_000_000)));
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareInstants(a: string, b: string): number {
  const x = instantMicros(a);
  const y = instantMicros(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The earliest of some instants (canonical text). */
export function earliestInstant(instants: readonly string[]): string {
  return instantFromMicros(instants.map((i) => instantMicros(i)).reduce((a, b) => (b < a ? b : a)));
}

/** The latest of some instants (canonical text). */
export function latestInstant(instants: readonly string[]): string {
  return instantFromMicros(instants.map((i) => instantMicros(i)).reduce((a, b) => (b > a ? b : a)));
}

function instantMicrosOf(text: string, what: string): bigint {
  if (typeof text !== 'string') throw new InstantError(what, String(text), `is not an ISO-8601 instant (e.g. ${EXAMPLE})`);
  const trimmed = text.trim();
  const match = INSTANT.exec(DATE_ONLY.test(trimmed) ? `${trimmed}T00:00:00Z` : trimmed);
  if (!match) {
    const hint = /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(trimmed) ? 'has no time zone, so it is ambiguous; add Z (UTC) or an offset such as +02:00' : `is not an ISO-8601 instant (e.g. ${EXAMPLE})`;
    throw new InstantError(what, text, hint);
  }
  const [, y, mo, d, h, mi, s = '00', fraction = '', zone = 'Z'] = match;
  if (fraction.length > 6) {
    throw new InstantError(what, text, `has ${fraction.length} fractional digits; instants are kept to the microsecond, so give at most six (e.g. ${EXAMPLE})`);
  }
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  if (hour > 23 || minute > 59 || second > 59 || !isCalendarDay(year, month, day)) throw new InstantError(what, text, 'is not a valid date and time');
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const digits = zone.replace(':', '');
    const zoneHours = Number(digits.slice(1, 3));
    const zoneMinutes = Number(digits.slice(3, 5));
    if (zoneHours > 23 || zoneMinutes > 59) throw new InstantError(what, text, 'has an invalid UTC offset');
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (zoneHours * 60 + zoneMinutes);
  }
  const wall = new Date(0);
  wall.setUTCFullYear(year, month - 1, day); // not Date.UTC, which reads years 0-99 as 1900-1999
  wall.setUTCHours(hour, minute, second, 0);
  const micros = BigInt(wall.getTime() - offsetMinutes * 60_000) * MICROS_PER_MILLI + BigInt(fraction.padEnd(6, '0') || '0');
  if (micros < MIN_MICROS || micros > MAX_MICROS) throw new InstantError(what, text, 'is outside years 0001 to 9999 in UTC');
  return micros;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isCalendarDay(year: number, month: number, day: number): boolean {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  if (month === 2 && day === 29) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= DAYS_IN_MONTH[month - 1]!;
}
