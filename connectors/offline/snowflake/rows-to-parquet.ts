import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DuckDBDateValue, DuckDBInstance, DuckDBTimestampTZValue, type DuckDBAppender } from '@duckdb/node-api';
import type { Column } from 'snowflake-sdk';
import { FlywheelError } from '../../../core/errors.ts';
import { openDuckDBEngine, type DuckDBEngine } from '../duckdb/duckdb-engine.ts';
import { daysFromIsoDate, microsFromIso } from './snowflake-values.ts';

/** The Parquet (DuckDB) type a result column is written as. */
export type ParquetColumnType = 'INTEGER' | 'BIGINT' | 'DOUBLE' | 'VARCHAR' | 'BOOLEAN' | 'DATE' | 'TIMESTAMPTZ' | 'BLOB';

export interface ParquetColumn {
  readonly name: string;
  readonly type: ParquetColumnType;
}

/**
 * The Parquet type of a Snowflake result column, as the DuckDB engine writes the same Flywheel type:
 * NUMBER(p≤9,0) INTEGER and other NUMBER(p,0) BIGINT (Flywheel's int64 is NUMBER(19,0); a value
 * beyond int64 fails the export, naming the column); NUMBER with a scale and FLOAT DOUBLE; every
 * TIMESTAMP_* a UTC instant (TIMESTAMPTZ, microseconds); DATE; BOOLEAN; BINARY BLOB; text, TIME and
 * semi-structured values VARCHAR (JSON text).
 */
export function parquetColumnOf(column: Pick<Column, 'getName' | 'getType' | 'getScale' | 'getPrecision'>): ParquetColumn {
  const type = column.getType().toLowerCase();
  const name = column.getName();
  switch (type) {
    case 'fixed':
      if (column.getScale() > 0) return { name, type: 'DOUBLE' };
      return { name, type: column.getPrecision() > 0 && column.getPrecision() <= 9 ? 'INTEGER' : 'BIGINT' };
    case 'real':
      return { name, type: 'DOUBLE' };
    case 'boolean':
      return { name, type: 'BOOLEAN' };
    case 'date':
      return { name, type: 'DATE' };
    case 'timestamp_tz':
    case 'timestamp_ltz':
    case 'timestamp_ntz':
      return { name, type: 'TIMESTAMPTZ' };
    case 'binary':
      return { name, type: 'BLOB' };
    default:
      return { name, type: 'VARCHAR' };
  }
}

/** Thrown when a value cannot be written as its column's Parquet type (an integer beyond int64). */
export class ParquetValueError extends FlywheelError {
  readonly column: string;
  readonly row: number;
  constructor(column: string, row: number, cause: unknown) {
    super(`Cannot write row ${row + 1}, column "${column}" to Parquet: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.column = column;
    this.row = row;
  }
}

/**
 * Loads rows, batch by batch, into the table `result_rows` of a scratch DuckDB file in `folder`
 * (so a large result spills to disk, not memory) with DuckDB's appender, then hands a DuckDB
 * engine on that file to `write`, which exports from it (exportParquet, exportPartitionedParquet:
 * the same files, names and guarantees as the DuckDB engine's). The scratch file is removed
 * whatever happens. Batches are column by column, values as OfflineEngine.all gives them.
 */
export async function withLoadedRows<T>(
  folder: string,
  columns: readonly ParquetColumn[],
  batches: AsyncIterable<{ readonly values: readonly (readonly unknown[])[]; readonly rowCount: number }>,
  write: (engine: DuckDBEngine, table: string) => Promise<T>,
): Promise<T> {
  await mkdir(folder, { recursive: true });
  const scratch = join(resolve(folder), `.flywheel-rows-${randomBytes(6).toString('hex')}.duckdb`);
  try {
    await loadRows(scratch, columns, batches);
    const engine = await openDuckDBEngine({ path: scratch, threads: 1 });
    try {
      return await write(engine, 'result_rows');
    } finally {
      await engine.close();
    }
  } finally {
    await Promise.all([rm(scratch, { force: true }), rm(`${scratch}.wal`, { force: true })]);
  }
}

async function loadRows(
  path: string,
  columns: readonly ParquetColumn[],
  batches: AsyncIterable<{ readonly values: readonly (readonly unknown[])[]; readonly rowCount: number }>,
): Promise<void> {
  const instance = await DuckDBInstance.create(path, { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false', threads: '1' });
  const connection = await instance.connect();
  let appender: DuckDBAppender | undefined;
  try {
    await connection.run("SET TimeZone = 'UTC'");
    await connection.run(`CREATE TABLE result_rows (${columns.map((c) => `${quote(c.name)} ${c.type}`).join(', ')})`);
    appender = await connection.createAppender('result_rows');
    let rowCount = 0;
    for await (const batch of batches) {
      for (let r = 0; r < batch.rowCount; r++) {
        columns.forEach((column, c) => {
          try {
            append(appender!, column.type, batch.values[c]![r]);
          } catch (error) {
            throw new ParquetValueError(column.name, rowCount + r, error);
          }
        });
        appender.endRow();
      }
      rowCount += batch.rowCount;
      appender.flushSync();
    }
    appender.closeSync();
    appender = undefined;
  } finally {
    try {
      appender?.closeSync();
    } catch {
      // An appender whose rows failed may refuse to close; the database goes anyway.
    }
    connection.closeSync();
    instance.closeSync();
  }
}

function append(appender: DuckDBAppender, type: ParquetColumnType, value: unknown): void {
  if (value === null || value === undefined) return appender.appendNull();
  switch (type) {
    case 'INTEGER':
      return appender.appendInteger(Number(value));
    case 'BIGINT':
      return appender.appendBigInt(BigInt(value as string | number));
    case 'DOUBLE':
      return appender.appendDouble(Number(value));
    case 'BOOLEAN':
      return appender.appendBoolean(Boolean(value));
    case 'DATE':
      return appender.appendDate(new DuckDBDateValue(daysFromIsoDate(String(value))));
    case 'TIMESTAMPTZ':
      return appender.appendTimestampTZ(new DuckDBTimestampTZValue(microsFromIso(String(value))));
    case 'BLOB':
      return appender.appendBlob(value as Uint8Array);
    case 'VARCHAR':
      return appender.appendVarchar(typeof value === 'string' ? value : JSON.stringify(value));
  }
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
