import type { PartitionUnit } from '../definitions/specs.ts';
import { assertIdentifier, parseQualifiedName } from '../identifiers.ts';
import { isAssignable, type ValueType } from '../types.ts';
import type { StagedColumn, StagedFiles } from './staged-files.ts';

/**
 * How one SQL engine spells the few things that differ between engines. The compilers in core/sql
 * build statements from typed models and ask the dialect only for these pieces; a new engine is a
 * new Dialect object, usually a few overrides of the default (see snowflake-dialect.ts).
 */
export interface Dialect {
  readonly name: 'duckdb' | 'snowflake';
  /** Quotes a validated identifier. Throws IdentifierError for anything outside the safe pattern. */
  identifier(name: string): string;
  /** Quotes each part of `schema.table` (validated). */
  qualified(name: string): string;
  /**
   * A relation over a table Flywheel did not create, named as a source or stream gives it
   * (`raw.transactions`), in which the declared `columns` can be read by their declared names
   * (dialect.identifier). The table and its columns are resolved by the engine's own case rules:
   * DuckDB matches quoted names case-insensitively, so the table is read as it is; Snowflake reads
   * an unquoted name as upper case, the case of every table created without quotes (as dbt does), so
   * the table and columns are named unquoted and given their declared names
   * (`(SELECT user_id AS "user_id", ts AS "ts" FROM raw.transactions)`): only declared columns are read.
   */
  existingTable(name: string, columns: readonly string[]): string;
  stringLiteral(value: string): string;
  /** The column type the engine stores a Flywheel type as. */
  columnType(type: ValueType): string;
  /** The Flywheel type of an engine column type, or undefined when Flywheel has none for it. */
  valueTypeOf(engineType: string): ValueType | undefined;
  /**
   * Whether `ALTER TABLE … ALTER COLUMN … SET DATA TYPE` converts a column of one type to the other,
   * keeping every stored value (a stream's field whose type changed).
   */
  canAlterColumnType(from: ValueType, to: ValueType): boolean;
  /**
   * A relation over staged files (OfflineEngine.stageFiles) with exactly `columns`, each read as its
   * engine type; missing keys (JSON) are null. Parquet read without columns keeps the files' own
   * columns where the engine can (DuckDB); an engine that cannot type them from the files refuses it.
   */
  readStaged(files: StagedFiles, columns: readonly StagedColumn[]): string;
  /** A timestamp expression as a UTC instant (naive timestamps are read as UTC). */
  asInstant(expression: string): string;
  /** `expression` moved `seconds` into the past. */
  minusSeconds(expression: string, seconds: number): string;
  /** The start of the partition of `unit` that a UTC instant falls in, as an instant. */
  partitionStart(unit: Exclude<PartitionUnit, 'none'>, instant: string): string;
  /**
   * The key of the partition that starts at `start` (an instant from partitionStart), as text:
   * `day=2024-03-01`, `hour=2024-03-01T05`, `month=2024-03` (Partition.key).
   */
  partitionKey(unit: Exclude<PartitionUnit, 'none'>, start: string): string;
  /** Which of `chunks` buckets the keys fall in: a non-negative hash of the keys modulo `chunks` (an integer literal). */
  keyBucket(keys: readonly string[], chunks: string): string;
  /**
   * Whether the engine refuses rows that repeat a table's primary key. DuckDB does; Snowflake accepts
   * primary keys in DDL but does not enforce them (a `RELY` key is a promise the engine reads, not a check).
   */
  readonly enforcesPrimaryKeys: boolean;
  /**
   * Whether DDL (CREATE, ALTER, DROP) runs inside a transaction and rolls back with it. DuckDB's does;
   * on Snowflake each DDL statement commits the open transaction first and then itself, so a
   * transaction around DDL holds nothing back: callers run the DDL before the transaction instead.
   */
  readonly transactionalDdl: boolean;
  /**
   * The join that picks, for each left row, the right row with the latest time at or before the left
   * row's time among rows with equal keys; left rows without a match are kept with nulls.
   */
  asofLeftJoin(args: { right: string; alias: string; keyPairs: readonly [left: string, right: string][]; leftTime: string; rightTime: string }): string;
  /** A row number in scan order, used to keep duplicate spine rows apart and in order. */
  scanRowNumber(): string;
  /**
   * A stored table's row identifier, ordered as a scan returns the rows but computed in parallel
   * (DuckDB's `rowid`); undefined when the engine has none.
   */
  readonly tableRowId: string | undefined;
  /** `name AS (body)` for a CTE that must be evaluated once even when several parts of the statement read it. */
  materializedCte(name: string, body: string): string;
  /**
   * An instant as a whole number of ticks since the Unix epoch, at the engine's timestamp precision.
   * Windowed aggregations frame on it: integer RANGE offsets are exact, and in DuckDB they are several
   * times faster than interval offsets.
   */
  instantTicks(expression: string): string;
  /** Ticks per second of instantTicks: microseconds in DuckDB, nanoseconds in Snowflake. */
  readonly ticksPerSecond: bigint;
  /** An instant as whole microseconds since the Unix epoch (a 64-bit integer), whatever the engine's precision. */
  epochMicros(expression: string): string;
  /**
   * An expression of Flywheel type `type` as the JSON value OfflineEngine.all gives for it: numbers as
   * numbers (int64 beyond ±(2^53 - 1) as its decimal string; NaN and ±Infinity as null, -0 as 0),
   * timestamps as ISO-8601 UTC text with three fraction digits, six when there are microseconds
   * (`2024-03-01T08:00:00.000Z`), dates as `YYYY-MM-DD`, strings, booleans and null as they are.
   * Each result is one argument of jsonArray.
   */
  jsonValue(expression: string, type: ValueType): string;
  /**
   * An exact integer (a SUM, which both engines compute wider than 64 bits) as int64, or the statement
   * fails with the text of `message` (a SQL string expression) when it is outside int64's range: never
   * a wrapped, rounded or null value. `expression` is named more than once: pass a column, or an
   * aggregate of a GROUP BY (computed once however often it is named).
   */
  checkedInt64(expression: string, message: string): string;
  /** The JSON text of an array of jsonValue expressions, in order, nulls kept: `[3,12.5,"FR",null]`. */
  jsonArray(values: readonly string[]): string;
  /**
   * How COUNT(DISTINCT) over a sliding window is computed. `frame`: COUNT(DISTINCT x) OVER a RANGE
   * frame. `intervals`, for engines that refuse DISTINCT in a framed window: a running sum in which each
   * event counts from its time until the next event with the same value or the end of its window.
   */
  readonly windowedDistinctCount: 'frame' | 'intervals';
}

const quote = (name: string) => `"${assertIdentifier(name)}"`;

export const duckdbDialect: Dialect = {
  name: 'duckdb',
  identifier: quote,
  qualified: (name) => parseQualifiedName(name).map((part) => `"${part}"`).join('.'),
  existingTable: (name) => parseQualifiedName(name).map((part) => `"${part}"`).join('.'),
  stringLiteral: (value) => `'${value.replaceAll("'", "''")}'`,
  columnType: (type) => DUCKDB_TYPES[type],
  // DECIMAL(p,s) (what SUM and AVG over decimals give) reads as float64, like Parquet readers do.
  valueTypeOf: (engineType) => DUCKDB_TYPE_LOOKUP[engineType.toUpperCase().replace(/^DECIMAL\(.*\)$/, 'DECIMAL')],
  // DuckDB casts every value of a wider type (int32 → int64, int64 → double, date → timestamp) and of any type to text.
  canAlterColumnType: (from, to) => isAssignable(from, to) || to === 'string',
  // DuckDB reads the worker's disk: the locations are local paths. Parquet keeps its own column types.
  readStaged: ({ locations, format }, columns) =>
    format === 'parquet'
      ? `read_parquet(${duckdbPaths(locations)})`
      : `read_json(${duckdbPaths(locations)}, format = 'newline_delimited', columns = {${columns.map(([name, type]) => `'${assertIdentifier(name)}': '${type}'`).join(', ')}})`,
  asInstant: (expression) => `CAST(${expression} AS TIMESTAMPTZ)`,
  minusSeconds: (expression, seconds) => `(${expression} - INTERVAL ${Math.trunc(seconds)} SECOND)`,
  partitionStart: (unit, instant) => `date_trunc('${unit}', ${instant})`,
  partitionKey: (unit, start) => `'${unit}=' || strftime(timezone('UTC', ${start}), '${DUCKDB_KEY_FORMATS[unit]}')`,
  keyBucket: (keys, chunks) => `hash(${keys.join(', ')}) % ${chunks}`,
  enforcesPrimaryKeys: true,
  transactionalDdl: true,
  asofLeftJoin: ({ right, alias, keyPairs, leftTime, rightTime }) =>
    `ASOF LEFT JOIN ${right} AS ${alias} ON ${[...keyPairs.map(([l, r]) => `${l} = ${r}`), `${leftTime} >= ${rightTime}`].join(' AND ')}`,
  scanRowNumber: () => 'row_number() OVER ()',
  tableRowId: 'rowid',
  materializedCte: (name, body) => `${name} AS MATERIALIZED (${body})`,
  instantTicks: (expression) => `epoch_us(${expression})`,
  ticksPerSecond: 1_000_000n,
  epochMicros: (expression) => `epoch_us(${expression})`,
  jsonValue: (expression, type) => DUCKDB_JSON_VALUES[type](expression),
  // SUM over integers is a HUGEINT; error() throws only for the rows that reach it.
  checkedInt64: (e, message) => `CASE WHEN ${e} BETWEEN ${INT64_MIN_SQL} AND ${INT64_MAX_SQL} THEN CAST(${e} AS BIGINT) WHEN ${e} IS NULL THEN NULL ELSE error(${message}) END`,
  // json_array embeds JSON-typed arguments as they are, writes VARCHARs as JSON strings and numbers as numbers.
  jsonArray: (values) => `CAST(json_array(${values.join(', ')}) AS VARCHAR)`,
  // Measured on DuckDB 1.5: COUNT(DISTINCT) over a frame is about twice as fast as the running sum.
  windowedDistinctCount: 'frame',
};

/** One path as a string literal, several as a list (read_parquet and read_json take either). */
function duckdbPaths(paths: readonly string[]): string {
  const literals = paths.map((path) => `'${path.replaceAll("'", "''")}'`);
  return literals.length === 1 ? literals[0]! : `[${literals.join(', ')}]`;
}

/** strftime formats of the partition keys' values (core/training-set/partitions.ts). */
const DUCKDB_KEY_FORMATS: Record<Exclude<PartitionUnit, 'none'>, string> = { hour: '%Y-%m-%dT%H', day: '%Y-%m-%d', month: '%Y-%m' };

/** The bounds of int64, inclusive. */
export const INT64_MIN_SQL = '-9223372036854775808';
export const INT64_MAX_SQL = '9223372036854775807';

/** Safe integers, beyond which a JS number is no longer exact: int64 values outside are written as decimal strings. */
export const MAX_SAFE_INTEGER_SQL = '9007199254740991';

/**
 * Per type, an expression json_array writes as OfflineEngine.all's value. Timestamps are formatted
 * from their UTC wall time (`timezone('UTC', …)`), so the session time zone does not matter; FLOAT is
 * widened to DOUBLE first, as all() does (0.1 as a FLOAT is 0.10000000149011612); `+ 0.0` turns -0 into 0.
 */
const DUCKDB_JSON_VALUES: Record<ValueType, (expression: string) => string> = {
  int32: (e) => e,
  int64: (e) => `CASE WHEN ${e} BETWEEN -${MAX_SAFE_INTEGER_SQL} AND ${MAX_SAFE_INTEGER_SQL} THEN to_json(${e}) ELSE to_json(CAST(${e} AS VARCHAR)) END`,
  float32: (e) => `CASE WHEN isfinite(${e}) THEN CAST(${e} AS DOUBLE) + 0.0 END`,
  float64: (e) => `CASE WHEN isfinite(${e}) THEN ${e} + 0.0 END`,
  string: (e) => e,
  bool: (e) => e,
  timestamp: (e) =>
    `CASE WHEN epoch_us(${e}) % 1000 = 0 THEN strftime(timezone('UTC', ${e}), '%Y-%m-%dT%H:%M:%S.%gZ') ELSE strftime(timezone('UTC', ${e}), '%Y-%m-%dT%H:%M:%S.%fZ') END`,
  date: (e) => `strftime(${e}, '%Y-%m-%d')`,
};

const DUCKDB_TYPES: Record<ValueType, string> = {
  int32: 'INTEGER',
  int64: 'BIGINT',
  float32: 'FLOAT',
  float64: 'DOUBLE',
  string: 'VARCHAR',
  bool: 'BOOLEAN',
  timestamp: 'TIMESTAMPTZ',
  date: 'DATE',
};

const DUCKDB_TYPE_LOOKUP: Record<string, ValueType> = {
  INTEGER: 'int32', INT: 'int32', INT4: 'int32', SMALLINT: 'int32', TINYINT: 'int32', USMALLINT: 'int32', UTINYINT: 'int32',
  BIGINT: 'int64', INT8: 'int64', UINTEGER: 'int64', HUGEINT: 'int64',
  FLOAT: 'float32', REAL: 'float32', FLOAT4: 'float32',
  DOUBLE: 'float64', FLOAT8: 'float64',
  VARCHAR: 'string', TEXT: 'string', STRING: 'string',
  BOOLEAN: 'bool', BOOL: 'bool',
  'TIMESTAMP WITH TIME ZONE': 'timestamp', TIMESTAMPTZ: 'timestamp', TIMESTAMP: 'timestamp', 'TIMESTAMP_MS': 'timestamp', 'TIMESTAMP_NS': 'timestamp', 'TIMESTAMP_S': 'timestamp',
  DATE: 'date',
  DECIMAL: 'float64', NUMERIC: 'float64',
};
