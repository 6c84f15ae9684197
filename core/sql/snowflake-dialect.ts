import type { PartitionUnit } from '../definitions/specs.ts';
import { FlywheelError } from '../errors.ts';
import { assertIdentifier, parseQualifiedName } from '../identifiers.ts';
import type { ValueType } from '../types.ts';
import { duckdbDialect, INT64_MAX_SQL, INT64_MIN_SQL, MAX_SAFE_INTEGER_SQL, type Dialect } from './dialect.ts';
import type { StagedColumn, StagedFiles } from './staged-files.ts';

/** Thrown when SQL for Snowflake would read files that are not in a stage (a path on the worker's disk, which Snowflake cannot see). */
export class StagedLocationError extends FlywheelError {
  readonly location: string;
  constructor(location: string, reason: string) {
    super(`Snowflake reads files only from a stage (@stage/path): ${JSON.stringify(location)} ${reason}`);
    this.location = location;
  }
}

/**
 * Snowflake differs from the default (DuckDB) spelling in a few places: its ASOF JOIN takes a
 * MATCH_CONDITION, intervals are DATEADD, row numbers need an ORDER BY, staged Parquet and JSON are
 * read from a stage with each column cast to its type, timestamps tick in nanoseconds, a windowed
 * distinct count is a running sum, a column's type changes only to a wider number, JSON arrays are
 * ARRAY_CONSTRUCT turned into text, HASH is signed and primary keys are not enforced.
 * Flywheel's own objects are always quoted, so they keep the case they were declared in; tables
 * Flywheel did not create are named unquoted, so Snowflake resolves them as it resolves any unquoted name.
 */
export const snowflakeDialect: Dialect = {
  ...duckdbDialect,
  name: 'snowflake',
  existingTable: (name, columns) => selectFromExisting(parseQualifiedName(name).join('.'), columns),
  // In a Snowflake single-quoted string a backslash starts an escape (`\n`, `\'`), so it is doubled too.
  stringLiteral: (value) => `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`,
  columnType: (type) => SNOWFLAKE_TYPES[type],
  valueTypeOf: (engineType) => {
    const base = engineType.toUpperCase().replace(/\(.*\)$/, '');
    if (base === 'NUMBER') return /,\s*0\)$/.test(engineType) || !engineType.includes(',') ? 'int64' : 'float64';
    return SNOWFLAKE_TYPE_LOOKUP[base];
  },
  // Snowflake changes a column's type only to a wider one of the same kind (NUMBER precision up); FLOAT is both float types.
  canAlterColumnType: (from, to) => SNOWFLAKE_TYPES[from] === SNOWFLAKE_TYPES[to] || (from === 'int32' && to === 'int64'),
  readStaged: (files, columns) => readStaged(files, columns),
  asInstant: (expression) => `CAST(${expression} AS TIMESTAMP_TZ)`,
  minusSeconds: (expression, seconds) => `DATEADD(second, ${-Math.trunc(seconds)}, ${expression})`,
  partitionStart: (unit, t) => `DATE_TRUNC('${unit.toUpperCase()}', CONVERT_TIMEZONE('UTC', ${t}))`,
  partitionKey: (unit, start) => `'${unit}=' || TO_VARCHAR(CONVERT_TIMEZONE('UTC', ${start}), '${SNOWFLAKE_KEY_FORMATS[unit]}')`,
  // HASH is signed in Snowflake; a double MOD keeps the bucket in [0, chunks).
  keyBucket: (keys, chunks) => `MOD(MOD(HASH(${keys.join(', ')}), ${chunks}) + ${chunks}, ${chunks})`,
  // Snowflake keeps PRIMARY KEY and UNIQUE in the DDL and checks neither.
  enforcesPrimaryKeys: false,
  // Snowflake commits the open transaction before each DDL statement and runs the DDL in its own.
  transactionalDdl: false,
  asofLeftJoin: ({ right, alias, keyPairs, leftTime, rightTime }) =>
    `ASOF JOIN ${right} AS ${alias} MATCH_CONDITION(${leftTime} >= ${rightTime})${keyPairs.length > 0 ? ` ON ${keyPairs.map(([l, r]) => `${l} = ${r}`).join(' AND ')}` : ''}`,
  scanRowNumber: () => 'SEQ8()',
  // Snowflake has no row identifier; SEQ8() numbers rows as the scan returns them.
  tableRowId: undefined,
  // Snowflake computes a WITH clause read several times once (a WithClause operator) and has no MATERIALIZED keyword.
  materializedCte: (name, body) => `${name} AS (${body})`,
  instantTicks: (expression) => `DATE_PART(epoch_nanosecond, ${expression})`,
  ticksPerSecond: 1_000_000_000n,
  epochMicros: (expression) => `DATE_PART(epoch_microsecond, ${expression})`,
  jsonValue: (expression, type) => SNOWFLAKE_JSON_VALUES[type](expression),
  // SUM over NUMBER(19,0) is a NUMBER(38,0). Snowflake SQL has no function that raises an error of its
  // own text; casting the text to a number does, and its error ("Numeric value '…' is not recognized") quotes it.
  checkedInt64: (e, message) => `CASE WHEN ${e} BETWEEN ${INT64_MIN_SQL} AND ${INT64_MAX_SQL} THEN CAST(${e} AS NUMBER(19,0)) WHEN ${e} IS NULL THEN NULL ELSE CAST(${message} AS NUMBER(19,0)) END`,
  // A SQL NULL in ARRAY_CONSTRUCT is an undefined element; a JSON null keeps the position.
  jsonArray: (values) => `TO_JSON(ARRAY_CONSTRUCT(${values.map((v) => `COALESCE(TO_VARIANT(${v}), PARSE_JSON('null'))`).join(', ')}))`,
  // COUNT(DISTINCT …) OVER (… ORDER BY …) is not allowed in Snowflake.
  windowedDistinctCount: 'intervals',
};

/**
 * Snowflake's dialect for a session in `location` (the engine's, as stored). A view resolves an
 * unqualified table name against its own schema, not the session's, and Flywheel's views live in
 * its own schema (`flywheel`); so a source's one-part table name is qualified here with the session's
 * database and schema (quoted: their stored names), the table part left unquoted to keep Snowflake's
 * case rules. Two- and three-part names are written as given (a schema resolves in the view's
 * database, which is the session's).
 */
export function snowflakeDialectIn(location: { readonly database: string; readonly schema: string }): Dialect {
  const namespace = `${quoteStoredName(location.database)}.${quoteStoredName(location.schema)}`;
  return {
    ...snowflakeDialect,
    existingTable: (name, columns) => {
      const parts = parseQualifiedName(name);
      return selectFromExisting(parts.length === 1 ? `${namespace}.${parts[0]!}` : parts.join('.'), columns);
    },
  };
}

/** A stored name quoted exactly as stored (a `"` doubled). */
const quoteStoredName = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The columns of a table Flywheel did not create, each unquoted (Snowflake's case rules) and aliased to its declared name. */
function selectFromExisting(from: string, columns: readonly string[]): string {
  return `(SELECT ${columns.map((c) => `${assertIdentifier(c)} AS "${c}"`).join(', ')} FROM ${from})`;
}

/**
 * Staged Parquet and JSON lines both come to SQL as one VARIANT per row ($1); each column is that
 * VARIANT's key of the same name (as declared: keys are case-sensitive) cast to its type, so the
 * relation has the declared columns and types, never one untyped column. A stage path covers every
 * file staged under it; the named file format says how to parse them.
 */
function readStaged({ locations, format, fileFormat }: StagedFiles, columns: readonly StagedColumn[]): string {
  if (columns.length === 0) throw new StagedLocationError(locations.join(', '), `is read without a list of columns; Snowflake needs each column and its type to read staged ${format === 'parquet' ? 'Parquet' : 'JSON'}`);
  const select = columns.map(([name, type]) => `$1:"${assertIdentifier(name)}"::${type} AS "${name}"`).join(', ');
  const reads = locations.map((location) => {
    if (!location.startsWith('@')) throw new StagedLocationError(location, 'is not a stage path; stage the files first (OfflineEngine.stageFiles), or name a stage in the source');
    if (/[\s;()]/.test(location.replace(/"[^"]*"/g, ''))) throw new StagedLocationError(location, 'is not a plain stage path');
    const options = fileFormat === undefined ? '' : ` (FILE_FORMAT => '${fileFormat.replaceAll("'", "''")}')`;
    return `SELECT ${select} FROM ${location}${options}`;
  });
  return `(${reads.join(' UNION ALL ')})`;
}

/** TO_VARCHAR formats of the partition keys' values (core/training-set/partitions.ts). */
const SNOWFLAKE_KEY_FORMATS: Record<Exclude<PartitionUnit, 'none'>, string> = { hour: 'YYYY-MM-DD"T"HH24', day: 'YYYY-MM-DD', month: 'YYYY-MM' };

/** The best-effort equivalents of the DuckDB dialect's JSON values (checked by expected-SQL tests only). */
const SNOWFLAKE_JSON_VALUES: Record<ValueType, (expression: string) => string> = {
  int32: (e) => e,
  int64: (e) => `CASE WHEN ${e} BETWEEN -${MAX_SAFE_INTEGER_SQL} AND ${MAX_SAFE_INTEGER_SQL} THEN TO_VARIANT(${e}) ELSE TO_VARIANT(TO_VARCHAR(${e})) END`,
  float32: (e) => `CASE WHEN ${e} IN ('NaN'::FLOAT, 'inf'::FLOAT, '-inf'::FLOAT) THEN NULL ELSE ${e} + 0 END`,
  float64: (e) => `CASE WHEN ${e} IN ('NaN'::FLOAT, 'inf'::FLOAT, '-inf'::FLOAT) THEN NULL ELSE ${e} + 0 END`,
  string: (e) => e,
  bool: (e) => e,
  timestamp: (e) =>
    `CASE WHEN DATE_PART(nanosecond, ${e}) % 1000000 = 0 THEN TO_VARCHAR(CONVERT_TIMEZONE('UTC', ${e}), 'YYYY-MM-DD"T"HH24:MI:SS.FF3"Z"') ` +
    `ELSE TO_VARCHAR(CONVERT_TIMEZONE('UTC', ${e}), 'YYYY-MM-DD"T"HH24:MI:SS.FF6"Z"') END`,
  date: (e) => `TO_VARCHAR(${e}, 'YYYY-MM-DD')`,
};

const SNOWFLAKE_TYPES: Record<ValueType, string> = {
  int32: 'NUMBER(10,0)',
  int64: 'NUMBER(19,0)',
  float32: 'FLOAT',
  float64: 'FLOAT',
  string: 'VARCHAR',
  bool: 'BOOLEAN',
  timestamp: 'TIMESTAMP_TZ',
  date: 'DATE',
};

const SNOWFLAKE_TYPE_LOOKUP: Record<string, ValueType> = {
  FLOAT: 'float64', DOUBLE: 'float64', REAL: 'float64',
  VARCHAR: 'string', TEXT: 'string', STRING: 'string',
  BOOLEAN: 'bool',
  TIMESTAMP_TZ: 'timestamp', TIMESTAMP_NTZ: 'timestamp', TIMESTAMP_LTZ: 'timestamp',
  DATE: 'date',
};
