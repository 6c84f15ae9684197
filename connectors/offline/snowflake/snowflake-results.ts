/** Reading a statement's result: its rows in batches converted as OfflineEngine.all promises, and its columns' types. */
import type { Column, RowStatement } from 'snowflake-sdk';
import { FlywheelError } from '../../../core/errors.ts';
import type { EngineBatch } from '../offline-engine.ts';
import { classifySnowflakeFailure } from './snowflake-errors.ts';
import { convertNullable, converterFor } from './snowflake-values.ts';

/** Rows per batch when a result is read whole (all(), exports). */
export const DEFAULT_BATCH_ROWS = 2048;

/** Reads a whole result as objects keyed by column name, converted as OfflineEngine.all promises. */
export async function readObjects<Row>(statement: RowStatement, sql: string): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const batch of batchesOf(statement, sql, DEFAULT_BATCH_ROWS)) {
    for (let r = 0; r < batch.rowCount; r++) {
      const row: Record<string, unknown> = {};
      batch.columns.forEach((name, c) => (row[name] = batch.values[c]![r]));
      rows.push(row as Row);
    }
  }
  return rows;
}

/** The statement's rows in batches of `batchRows`, column by column; the driver's row stream is closed when the reader stops. */
export async function* batchesOf(statement: RowStatement, sql: string, batchRows: number): AsyncGenerator<EngineBatch, void, undefined> {
  const columns: Column[] = statement.getColumns() ?? [];
  const names = columns.map((c) => c.getName());
  const converters = columns.map((c) => convertNullable(converterFor(c)));
  let pending: unknown[][] = columns.map(() => []);
  let count = 0;
  const rows = statement.streamRows();
  try {
    for await (const row of rows as AsyncIterable<unknown[]>) {
      for (let c = 0; c < converters.length; c++) pending[c]!.push(converters[c]!(row[c]));
      if (++count === batchRows) {
        const batch = { columns: names, values: pending, rowCount: count };
        pending = columns.map(() => []);
        count = 0;
        yield batch;
      }
    }
  } catch (error) {
    throw error instanceof FlywheelError ? error : classifySnowflakeFailure(sql, error);
  } finally {
    rows.destroy();
  }
  if (count > 0) yield { columns: names, values: pending, rowCount: count };
}

/** A result column's Snowflake type as text (`NUMBER(19,0)`, `TIMESTAMP_TZ`), as Dialect.valueTypeOf reads it. */
export function engineTypeOf(column: Column): string {
  const type = column.getType().toLowerCase();
  switch (type) {
    case 'fixed':
      return `NUMBER(${column.getPrecision()},${column.getScale()})`;
    case 'real':
      return 'FLOAT';
    case 'text':
      return 'VARCHAR';
    default:
      return type.toUpperCase();
  }
}
