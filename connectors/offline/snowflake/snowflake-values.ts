import type { Bind, Column } from 'snowflake-sdk';
import { FlywheelError } from '../../../core/errors.ts';

// ---- Parameters: JS values in -------------------------------------------------------------------

/**
 * Turns positional parameters into snowflake-sdk binds. The driver types a bind by its JS type
 * (boolean BOOLEAN, integer FIXED, other numbers REAL, strings TEXT) and has no explicit types, so:
 * a bigint is a number when it is exact and its decimal string otherwise (Snowflake casts text to
 * NUMBER exactly where a number is expected), and so is a whole double beyond 2^53 (1.5e300); a Date is its ISO instant (text Snowflake reads as a
 * timestamp where one is expected); NaN and ±Infinity are 'NaN', 'inf', '-inf' (FLOAT's own
 * spellings); bytes are hex (BINARY_INPUT_FORMAT's default). undefined and other objects throw.
 */
export function toSnowflakeBinds(parameters: readonly unknown[]): Bind[] {
  return parameters.map((value, index) => toBind(value, index));
}

function toBind(value: unknown, index: number): Bind {
  if (value === null) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // The driver sends a whole number as FIXED, digits and all: a double beyond 2^53 (1.5e300) as
      // FIXED '1.5e+300' is no integer Snowflake accepts, so it goes as text, cast where a FLOAT is expected.
      if (Number.isFinite(value)) return Number.isInteger(value) && !Number.isSafeInteger(value) ? String(value) : value;
      return Number.isNaN(value) ? 'NaN' : value > 0 ? 'inf' : '-inf';
    case 'bigint':
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
    case 'object':
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new FlywheelError(`Parameter ${index + 1} is an invalid Date`);
        return value.toISOString();
      }
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  }
  // undefined is usually a missing field upstream: binding it as NULL would hide the bug.
  const kind = value === undefined ? 'undefined' : typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
  throw new FlywheelError(`Parameter ${index + 1} is ${kind}; parameters must be a string, number, bigint, boolean, Date, Uint8Array or null`);
}

// ---- Results: driver values out ------------------------------------------------------------------

/** The driver's Date for DATE and TIMESTAMP_* values, with the exact parts it was built from. */
interface SnowflakeDate extends Date {
  getEpochSeconds(): number;
  getNanoSeconds(): number;
}

/** Converts one value of a column, as the driver hands it (numbers as their raw text: statements run with fetchAsString ['Number']). */
export type ValueConverter = (value: unknown) => unknown;

/**
 * How OfflineEngine.all returns each column's values, by the column's Snowflake type: the same
 * JSON-safe values as DuckDB. NUMBER with scale 0 is a number when exact, else its decimal string;
 * NUMBER with a scale and FLOAT are numbers (FLOAT's 'inf', '-inf', 'NaN' as ±Infinity, NaN);
 * TIMESTAMP_TZ/LTZ are their UTC instant and TIMESTAMP_NTZ its wall time read as UTC, as ISO text
 * with three fraction digits, six when there are microseconds (nanoseconds are cut); DATE is
 * YYYY-MM-DD; BINARY a Uint8Array; VARIANT, OBJECT and ARRAY their parsed JSON; TIME its text.
 */
export function converterFor(column: Pick<Column, 'getType' | 'getScale'>): ValueConverter {
  const type = column.getType().toLowerCase();
  switch (type) {
    case 'fixed':
      return column.getScale() > 0 ? (v) => Number(v) : (v) => integerOut(String(v));
    case 'real':
      return (v) => floatOut(String(v));
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? v : String(v).toLowerCase() === 'true' || v === '1');
    case 'date':
      return (v) => isoDateFromEpochSeconds((v as SnowflakeDate).getEpochSeconds());
    case 'timestamp_tz':
    case 'timestamp_ltz':
    case 'timestamp_ntz':
      return (v) => {
        const date = v as SnowflakeDate;
        return isoFromMicros(BigInt(date.getEpochSeconds()) * 1_000_000n + BigInt(Math.floor(date.getNanoSeconds() / 1000)));
      };
    case 'binary':
      return (v) => (v instanceof Uint8Array ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v);
    case 'time':
      return (v) => (typeof v === 'object' && v !== null && 'toJSON' in v ? (v as { toJSON(): string }).toJSON() : String(v));
    default:
      // text, variant, object, array, map: the driver's value is already plain.
      return (v) => v;
  }
}

/** Converts a value when it is not null (the driver hands SQL NULL as null). */
export function convertNullable(convert: ValueConverter): ValueConverter {
  return (value) => (value === null || value === undefined ? null : convert(value));
}

/** An integer's text as a number when exact, else the text itself (JSON has no bigint). */
export function integerOut(text: string): number | string {
  const value = BigInt(text);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

function floatOut(text: string): number {
  switch (text.toLowerCase()) {
    case 'inf':
    case 'infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
    case 'nan':
      return NaN;
    default:
      return Number(text);
  }
}

const MICROS_PER_MILLI = 1000n;

/**
 * An instant in microseconds as `Date.prototype.toISOString` writes it (`2024-03-01T08:00:00.000Z`),
 * with three more digits when it has microseconds (`2024-03-01T08:00:00.123456Z`).
 */
export function isoFromMicros(micros: bigint): string {
  let millis = micros / MICROS_PER_MILLI;
  let extra = micros % MICROS_PER_MILLI;
  // BigInt division truncates toward zero; instants before 1970 need the floor.
  if (extra < 0n) {
    millis -= 1n;
    extra += MICROS_PER_MILLI;
  }
  const iso = new Date(Number(millis)).toISOString();
  return extra === 0n ? iso : `${iso.slice(0, -1)}${extra.toString().padStart(3, '0')}Z`;
}

/** A DATE's epoch seconds (days × 86400) as YYYY-MM-DD. */
export function isoDateFromEpochSeconds(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return iso.slice(0, iso.indexOf('T'));
}

/** `2024-03-01T08:00:00.123456Z` (as isoFromMicros writes it) back to microseconds since the epoch. */
export function microsFromIso(iso: string): bigint {
  const match = /^(.*\.\d{3})(\d{3})?Z$/.exec(iso);
  const millis = Date.parse(match ? `${match[1]}Z` : iso);
  if (Number.isNaN(millis)) throw new FlywheelError(`Not an ISO instant: ${JSON.stringify(iso)}`);
  return BigInt(millis) * 1000n + BigInt(match?.[2] ?? '0');
}

/** `YYYY-MM-DD` back to days since 1970-01-01. */
export function daysFromIsoDate(iso: string): number {
  const millis = Date.parse(`${iso}T00:00:00.000Z`);
  if (Number.isNaN(millis)) throw new FlywheelError(`Not an ISO date: ${JSON.stringify(iso)}`);
  return Math.round(millis / 86_400_000);
}
