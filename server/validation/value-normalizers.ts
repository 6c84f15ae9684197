import type { ValueType } from '../../core/types.ts';

/**
 * Each value type's check and normal form, as stored in a segment:
 *
 * | type | accepted | stored as |
 * |---|---|---|
 * | int32 | a whole number in [-2^31, 2^31-1] | the number |
 * | int64 | a whole number with |n| < 2^53, or a string of digits in the int64 range | the number; beyond 2^53 the digits as a string |
 * | float32, float64 | a finite number (float32 within ±3.4028235e38; `1e400` parses to Infinity: refused) | the number |
 * | string | a string of well-formed UTF-16 (no lone surrogate), at most its column's length (`stringNormalizer`) | the string |
 * | bool | true or false | the boolean |
 * | timestamp | ISO-8601 with `Z` or an offset (`2024-05-01T10:00:00+02:00`), or epoch milliseconds | ISO-8601 UTC, `2024-05-01T08:00:00.000Z` (microseconds kept when given) |
 * | date | `YYYY-MM-DD` | the same string |
 */

/** Why a value was refused; returned (not thrown) so a batch of bad values stays cheap. */
export class ValueProblem {
  constructor(readonly message: string) {}
}

export type Normalizer = (value: unknown) => unknown;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const FLOAT32_MAX = 3.4028234663852886e38;
/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: the instants ISO-8601 writes with four-digit years. */
const MIN_INSTANT_MS = -62135596800000;
const MAX_INSTANT_MS = 253402300799999;

export const NORMALIZERS: Readonly<Record<ValueType, Normalizer>> = {
  int32: (value) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) return expected('int32 (a whole number)', value);
    if (value < INT32_MIN || value > INT32_MAX) return new ValueProblem(`${value} is outside the int32 range (${INT32_MIN} to ${INT32_MAX})`);
    return value;
  },
  int64: (value) => {
    if (typeof value === 'number') {
      if (!Number.isInteger(value)) return expected('int64 (a whole number)', value);
      if (!Number.isSafeInteger(value)) return new ValueProblem(`${value} is beyond ±2^53, where JSON numbers lose digits; send an int64 this large as a string of digits`);
      return value;
    }
    if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) {
      const n = BigInt(value);
      if (n < INT64_MIN || n > INT64_MAX) return new ValueProblem(`${value} is outside the int64 range`);
      return Number.isSafeInteger(Number(n)) ? Number(n) : n.toString();
    }
    return expected('int64 (a whole number, or a string of digits)', value);
  },
  float32: (value) => {
    if (typeof value !== 'number') return expected('float32 (a number)', value);
    if (Math.abs(value) > FLOAT32_MAX) return new ValueProblem(`${value} is outside the float32 range`);
    return value;
  },
  float64: (value) => {
    if (typeof value !== 'number') return expected('float64 (a number)', value);
    // JSON.parse reads a number too large for a double (`1e400`) as ±Infinity, which no JSON can store.
    if (!Number.isFinite(value)) return new ValueProblem(`the number overflows float64 (it parses to ${value}); at most ±1.7976931348623157e308`);
    return value;
  },
  string: (value) => (typeof value === 'string' ? value : expected('string', value)),
  bool: (value) => (typeof value === 'boolean' ? value : expected('bool (true or false)', value)),
  timestamp: normalizeTimestamp,
  date: normalizeDate,
};

/** What `String.prototype.isWellFormed` (Node 20, ES2024) answers; typed here as the project's lib is ES2022. */
type MaybeWellFormed = string & { isWellFormed(): boolean };

/**
 * The check of a string column whose values may be at most `maxLength` UTF-16 code units. A lone
 * surrogate (`"\ud800"`, which JSON.parse takes) is refused: it has no UTF-8 form, so no warehouse
 * can load it.
 */
export function stringNormalizer(maxLength: number): Normalizer {
  return (value) => {
    if (typeof value !== 'string') return expected('string', value);
    if (value.length > maxLength) return new ValueProblem(`the string is ${value.length} characters long; at most ${maxLength} are taken`);
    if (!(value as MaybeWellFormed).isWellFormed()) return new ValueProblem(`${quote(value)} has a lone surrogate (a \\ud800-\\udfff escape not in a pair), which is not text`);
    return value;
  };
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function normalizeTimestamp(value: unknown): unknown {
  if (typeof value === 'string') {
    const canonical = canonicalUtc(value);
    if (canonical !== undefined) return canonical;
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return new ValueProblem(`${value} is not a whole number of epoch milliseconds`);
    if (value < MIN_INSTANT_MS || value > MAX_INSTANT_MS) return new ValueProblem(`${value} epoch milliseconds is outside years 0001 to 9999`);
    return new Date(value).toISOString();
  }
  if (typeof value !== 'string') return expected('timestamp (ISO-8601 with a zone, or epoch milliseconds)', value);
  const m = TIMESTAMP.exec(value);
  if (!m) {
    if (DATE.test(value)) return new ValueProblem(`${quote(value)} is a date, not an instant; send e.g. ${value}T00:00:00Z`);
    return new ValueProblem(`${quote(value)} is not an ISO-8601 timestamp (e.g. 2024-05-01T10:00:00Z or 2024-05-01T12:00:00+02:00) or epoch milliseconds`);
  }
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, oh, om] = m;
  if (!zulu && !sign) {
    return new ValueProblem(`${quote(value)} has no time zone, so it is ambiguous; add Z (UTC) or an offset such as +02:00, or send epoch milliseconds`);
  }
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = s === undefined ? 0 : Number(s);
  if (!isCalendarDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return new ValueProblem(`${quote(value)} is not a valid date and time`);
  let offsetMinutes = 0;
  if (sign) {
    const offsetHours = Number(oh);
    const offsetMins = om === undefined ? 0 : Number(om);
    if (offsetHours > 23 || offsetMins > 59) return new ValueProblem(`${quote(value)} has an invalid offset`);
    offsetMinutes = (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const digits = fraction === undefined ? '' : fraction.padEnd(6, '0');
  const millis = digits === '' ? 0 : Number(digits.slice(0, 3));
  let ms = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  if (year < 100) ms = withFullYear(year, month, day, hour, minute, second, millis); // Date.UTC reads 0–99 as 1900–1999
  ms -= offsetMinutes * 60_000;
  if (ms < MIN_INSTANT_MS || ms > MAX_INSTANT_MS) return new ValueProblem(`${quote(value)} is outside years 0001 to 9999 in UTC`);
  const iso = new Date(ms).toISOString();
  const micros = digits.slice(3, 6);
  // Microseconds are kept (the warehouse stores them); finer digits are dropped.
  return micros === '' || micros === '000' ? iso : `${iso.slice(0, 23)}${micros}Z`;
}

/**
 * The fast path for the commonest form, `YYYY-MM-DDTHH:MM:SS[.sss]Z` (what `toISOString()` writes):
 * checked character by character, with no regular expression and no Date. Undefined for anything
 * else, which the general parser then reads (or refuses).
 */
function canonicalUtc(text: string): string | undefined {
  const length = text.length;
  if (length !== 24 && length !== 20) return undefined;
  if (text.charCodeAt(length - 1) !== 0x5a /* Z */ || text.charCodeAt(10) !== 0x54 /* T */) return undefined;
  if (text.charCodeAt(4) !== 0x2d || text.charCodeAt(7) !== 0x2d || text.charCodeAt(13) !== 0x3a || text.charCodeAt(16) !== 0x3a) return undefined;
  if (length === 24 && (text.charCodeAt(19) !== 0x2e || !isDigitAt(text, 20) || !isDigitAt(text, 21) || !isDigitAt(text, 22))) return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (year < 1 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  if (!isCalendarDate(year, month, day)) return undefined;
  return length === 24 ? text : `${text.slice(0, 19)}.000Z`;
}

function isDigitAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

/** The number written by `count` digits at `start`, or -1 if any is not a digit. */
function digitsAt(text: string, start: number, count: number): number {
  let n = 0;
  for (let i = start; i < start + count; i++) {
    const c = text.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function normalizeDate(value: unknown): unknown {
  if (typeof value !== 'string') return expected('date (a "YYYY-MM-DD" string)', value);
  const m = DATE.exec(value);
  if (!m) return new ValueProblem(`${quote(value)} is not a date in the form YYYY-MM-DD`);
  if (!isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3])) || m[1] === '0000') return new ValueProblem(`${quote(value)} is not a valid date`);
  return value;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether year-month-day is a day of the proleptic Gregorian calendar (the year checked by the caller). */
export function isCalendarDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  if (month === 2 && day === 29) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= DAYS_IN_MONTH[month - 1]!;
}

function withFullYear(year: number, month: number, day: number, hour: number, minute: number, second: number, millis: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  return date.getTime();
}

function expected(what: string, value: unknown): ValueProblem {
  return new ValueProblem(`expected ${what}, got ${describeValue(value)}`);
}

/** A short description of a JSON value for messages: `string "12"`, `number 1.5`, `object`, `array`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `string ${quote(value)}`;
    case 'number':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
