import {
  BIGINT, BLOB, BOOLEAN, DOUBLE, HUGEINT, INTEGER, SQLNULL, TIMESTAMPTZ, VARCHAR,
  DuckDBBlobValue, DuckDBDateValue, DuckDBDecimalValue, DuckDBTimestampMillisecondsValue, DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue, DuckDBTimestampTZValue, DuckDBTimestampValue, DuckDBTypeId,
  arrayFromArrayValue, arrayFromListValue, bytesFromBitValue, bytesFromBlobValue, bytesFromGeometryValue, createDuckDBValueConverter,
  fromVariantValue, objectArrayFromMapValue, objectFromStructValue, objectFromUnionValue,
  type DuckDBType, type DuckDBValue, type DuckDBValueConverter,
} from '@duckdb/node-api';
import { FlywheelError } from '../../../core/errors.ts';

// ---- Parameters: JS values in -------------------------------------------------------------------

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Binds positional parameters with explicit types, so DuckDB never guesses from a JS value:
 * integers that fit are INTEGER or BIGINT, other numbers DOUBLE, bigint BIGINT (HUGEINT beyond
 * int64), Date a TIMESTAMPTZ instant, Uint8Array a BLOB. Strings stay VARCHAR and DuckDB casts them
 * where the statement expects another type (an ISO timestamp with an offset keeps its instant).
 */
export function toDuckDBParameters(parameters: readonly unknown[]): { values: DuckDBValue[]; types: DuckDBType[] } {
  const values: DuckDBValue[] = [];
  const types: DuckDBType[] = [];
  parameters.forEach((parameter, index) => {
    const [value, type] = toDuckDBParameter(parameter, index);
    values.push(value);
    types.push(type);
  });
  return { values, types };
}

function toDuckDBParameter(value: unknown, index: number): [DuckDBValue, DuckDBType] {
  if (value === null) return [null, SQLNULL];
  switch (typeof value) {
    case 'string':
      return [value, VARCHAR];
    case 'boolean':
      return [value, BOOLEAN];
    case 'number':
      if (!Number.isSafeInteger(value)) return [value, DOUBLE];
      return [value, value >= INT32_MIN && value <= INT32_MAX ? INTEGER : BIGINT];
    case 'bigint':
      return [value, value >= INT64_MIN && value <= INT64_MAX ? BIGINT : HUGEINT];
    case 'object':
      if (value instanceof Date) {
        const millis = value.getTime();
        if (Number.isNaN(millis)) throw new FlywheelError(`Parameter ${index + 1} is an invalid Date`);
        return [new DuckDBTimestampTZValue(BigInt(millis) * 1000n), TIMESTAMPTZ];
      }
      if (value instanceof Uint8Array) return [new DuckDBBlobValue(value), BLOB];
  }
  // undefined is usually a missing field upstream: binding it as NULL would hide the bug.
  const kind = value === undefined ? 'undefined' : typeof value === 'object' ? value.constructor?.name ?? 'object' : typeof value;
  throw new FlywheelError(
    `Parameter ${index + 1} is ${kind}; parameters must be a string, number, bigint, boolean, Date, Uint8Array or null`,
  );
}

// ---- Results: DuckDB values out ------------------------------------------------------------------

/**
 * Turns a BIGINT-like value into a number when that is exact, else into its decimal string. Not a
 * bigint: rows travel as JSON (Temporal payloads, HTTP), and JSON.stringify throws on bigint.
 */
export function integerOut(value: bigint): number | string {
  return value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER ? Number(value) : value.toString();
}

const MICROS_PER_MILLI = 1000n;
const DATE_MILLIS_LIMIT = 8_640_000_000_000_000n; // the range of a JS Date
const TIMESTAMP_POS_INF = 2n ** 63n - 1n;
const TIMESTAMP_NEG_INF = -(2n ** 63n - 1n);

/**
 * An instant as ISO-8601 in UTC, the way `Date.prototype.toISOString` writes it
 * (`2024-03-01T08:00:00.000Z`), with three more digits when the value has microseconds
 * (`2024-03-01T08:00:00.123456Z`), so nothing DuckDB stores is lost. ±infinity become
 * 'infinity' / '-infinity'.
 */
export function isoFromMicros(micros: bigint): string {
  if (micros === TIMESTAMP_POS_INF) return 'infinity';
  if (micros === TIMESTAMP_NEG_INF) return '-infinity';
  let millis = micros / MICROS_PER_MILLI;
  let extraMicros = micros % MICROS_PER_MILLI;
  // BigInt division truncates toward zero; instants before 1970 need the floor.
  if (extraMicros < 0n) {
    millis -= 1n;
    extraMicros += MICROS_PER_MILLI;
  }
  if (millis < -DATE_MILLIS_LIMIT || millis > DATE_MILLIS_LIMIT) return new DuckDBTimestampValue(micros).toString();
  const iso = new Date(Number(millis)).toISOString();
  return extraMicros === 0n ? iso : `${iso.slice(0, -1)}${extraMicros.toString().padStart(3, '0')}Z`;
}

const DATE_DAYS_LIMIT = 100_000_000; // the range of a JS Date, in days
const MILLIS_PER_DAY = 86_400_000;

/** A DATE as `YYYY-MM-DD` (±infinity as 'infinity' / '-infinity'). */
export function isoFromDate(value: DuckDBDateValue): string {
  if (value.days === DuckDBDateValue.PosInf.days) return 'infinity';
  if (value.days === DuckDBDateValue.NegInf.days) return '-infinity';
  if (Math.abs(value.days) > DATE_DAYS_LIMIT) return value.toString();
  const iso = new Date(value.days * MILLIS_PER_DAY).toISOString();
  return iso.slice(0, iso.indexOf('T'));
}

function ofClass<T>(value: DuckDBValue, type: abstract new (...args: never[]) => T): T {
  if (value instanceof type) return value;
  throw new FlywheelError(`DuckDB returned ${String(value)} where a ${type.name} was expected`);
}

/** The bindings hand out Buffers; callers get the plain Uint8Array the interfaces promise. */
const plainBytes = (bytes: Uint8Array) => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const asNumber: DuckDBValueConverter<unknown> = (value) => Number(value);
const asString: DuckDBValueConverter<unknown> = (value) => String(value);
const asInteger: DuckDBValueConverter<unknown> = (value) => (typeof value === 'bigint' ? integerOut(value) : Number(value));
const timestampMicros = (micros: (value: DuckDBValue) => bigint): DuckDBValueConverter<unknown> => (value) => isoFromMicros(micros(value));
const infinityAware = (posInf: bigint, negInf: bigint, toMicros: (n: bigint) => bigint) => (n: bigint) =>
  n === posInf ? TIMESTAMP_POS_INF : n === negInf ? TIMESTAMP_NEG_INF : toMicros(n);
const fromSeconds = infinityAware(DuckDBTimestampSecondsValue.PosInf.seconds, DuckDBTimestampSecondsValue.NegInf.seconds, (s) => s * 1_000_000n);
const fromMillis = infinityAware(DuckDBTimestampMillisecondsValue.PosInf.millis, DuckDBTimestampMillisecondsValue.NegInf.millis, (ms) => ms * 1000n);
// Nanoseconds are cut to microseconds: Flywheel's timestamps carry microseconds at most.
const fromNanos = infinityAware(DuckDBTimestampNanosecondsValue.PosInf.nanos, DuckDBTimestampNanosecondsValue.NegInf.nanos, (ns) => {
  const floor = ns / 1000n;
  return ns % 1000n < 0n ? floor - 1n : floor;
});

/**
 * One conversion per DuckDB type (a Record, so a type added to DuckDB does not compile until it is
 * handled). Rows come out as plain, JSON-safe values: numbers, strings, booleans, null; timestamps
 * as ISO strings in UTC (naive TIMESTAMPs read as UTC), DATEs as `YYYY-MM-DD`, DECIMALs as numbers,
 * 64/128-bit integers as numbers when exact, else decimal strings. BLOBs are the exception
 * (Uint8Array); Flywheel's own schemas never contain them.
 */
const CONVERTERS: Record<DuckDBTypeId, DuckDBValueConverter<unknown> | undefined> = {
  [DuckDBTypeId.INVALID]: undefined,
  [DuckDBTypeId.ANY]: undefined,
  [DuckDBTypeId.STRING_LITERAL]: undefined,
  [DuckDBTypeId.INTEGER_LITERAL]: undefined,
  [DuckDBTypeId.SQLNULL]: () => null,
  [DuckDBTypeId.BOOLEAN]: (value) => Boolean(value),
  [DuckDBTypeId.TINYINT]: asNumber,
  [DuckDBTypeId.SMALLINT]: asNumber,
  [DuckDBTypeId.INTEGER]: asNumber,
  [DuckDBTypeId.UTINYINT]: asNumber,
  [DuckDBTypeId.USMALLINT]: asNumber,
  [DuckDBTypeId.UINTEGER]: asNumber,
  [DuckDBTypeId.FLOAT]: asNumber,
  [DuckDBTypeId.DOUBLE]: asNumber,
  [DuckDBTypeId.BIGINT]: asInteger,
  [DuckDBTypeId.UBIGINT]: asInteger,
  [DuckDBTypeId.HUGEINT]: asInteger,
  [DuckDBTypeId.UHUGEINT]: asInteger,
  [DuckDBTypeId.BIGNUM]: asInteger,
  [DuckDBTypeId.DECIMAL]: (value) => ofClass(value, DuckDBDecimalValue).toDouble(),
  [DuckDBTypeId.VARCHAR]: asString,
  [DuckDBTypeId.ENUM]: asString,
  [DuckDBTypeId.UUID]: asString,
  [DuckDBTypeId.TIME]: asString,
  [DuckDBTypeId.TIME_NS]: asString,
  [DuckDBTypeId.TIME_TZ]: asString,
  [DuckDBTypeId.INTERVAL]: asString,
  [DuckDBTypeId.DATE]: (value) => isoFromDate(ofClass(value, DuckDBDateValue)),
  [DuckDBTypeId.TIMESTAMP]: timestampMicros((value) => ofClass(value, DuckDBTimestampValue).micros),
  [DuckDBTypeId.TIMESTAMP_TZ]: timestampMicros((value) => ofClass(value, DuckDBTimestampTZValue).micros),
  [DuckDBTypeId.TIMESTAMP_S]: timestampMicros((value) => fromSeconds(ofClass(value, DuckDBTimestampSecondsValue).seconds)),
  [DuckDBTypeId.TIMESTAMP_MS]: timestampMicros((value) => fromMillis(ofClass(value, DuckDBTimestampMillisecondsValue).millis)),
  [DuckDBTypeId.TIMESTAMP_NS]: timestampMicros((value) => fromNanos(ofClass(value, DuckDBTimestampNanosecondsValue).nanos)),
  [DuckDBTypeId.BLOB]: (value) => plainBytes(bytesFromBlobValue(value)),
  [DuckDBTypeId.BIT]: (value) => plainBytes(bytesFromBitValue(value)),
  [DuckDBTypeId.GEOMETRY]: (value) => plainBytes(bytesFromGeometryValue(value)),
  [DuckDBTypeId.LIST]: arrayFromListValue,
  [DuckDBTypeId.ARRAY]: arrayFromArrayValue,
  [DuckDBTypeId.STRUCT]: objectFromStructValue,
  [DuckDBTypeId.MAP]: objectArrayFromMapValue,
  [DuckDBTypeId.UNION]: objectFromUnionValue,
  [DuckDBTypeId.VARIANT]: fromVariantValue,
};

/** Converts DuckDB values (nested ones too) to the plain values `OfflineEngine.all` returns. */
export const toPlainValue: DuckDBValueConverter<unknown> = createDuckDBValueConverter(CONVERTERS);
