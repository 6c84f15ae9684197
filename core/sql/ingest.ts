import type { EventStreamSpec } from '../definitions/specs.ts';
import type { ValueType } from '../types.ts';
import { sql, type CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';
import type { StagedFiles } from './staged-files.ts';
import {
  BATCH_COLUMN,
  EVENT_ID_COLUMN,
  RECEIVED_AT_COLUMN,
  eventStreamTableColumns,
  eventStreamTableName,
  ingestLedgerTableName,
  type TableColumnNode,
} from './warehouse-objects.ts';

/**
 * The statements that store events in a stream's table (`flywheel.stream_<name>`) exactly once per
 * event id, and record each batch in the ingest ledger (`flywheel.ingest_ledger`) in the same
 * transaction. Pure: the ingestion activity runs them in one transaction (docs/collect.md).
 *
 * @example
 * // A batch staged as a file of JSON lines, run in one transaction; running it again changes nothing.
 * await engine.transaction(async (tx) => {
 *   for (const statement of compileIngestBatch(stream, { batch: 'seg-000042', stagingRelation: { kind: 'staged', files: await engine.stageFiles([path], { name: 'seg-000042', format: 'jsonLines' }) } }, engine.dialect)) {
 *     await tx.run(statement);
 *   }
 * });
 *
 * // A stream loaded from an external table: find the new watermark, then load up to it.
 * await engine.transaction(async (tx) => {
 *   const [last] = await tx.all<{ watermark: string | null }>(compileLastWatermark(stream, engine.dialect));
 *   const load = compileIngestFromTable(stream, { watermark: last?.watermark ?? undefined, now: new Date().toISOString() }, engine.dialect);
 *   const [next] = await tx.all<{ watermark: string | null }>(load.nextWatermark);
 *   if (next?.watermark) for (const statement of load.load(next.watermark).statements) await tx.run(statement);
 * });
 */

/**
 * Where a batch's rows wait before they are stored: a table (a temporary one, say) or staged files of
 * JSON objects, one per line (OfflineEngine.stageFiles). Either has the columns `_event_id`, the stream's keys, its timestamp, its
 * fields and `_received_at`; other columns are ignored.
 */
export type StagingRelation =
  | { readonly kind: 'table'; readonly name: string }
  | { readonly kind: 'staged'; readonly files: StagedFiles };

export interface IngestBatchOptions {
  /** The batch's id (a log segment's name, say): unique within the stream; a batch already in the ledger is not loaded again. */
  readonly batch: string;
  readonly stagingRelation: StagingRelation;
  /**
   * What drops the events whose ids are stored already or repeat within the batch. `'statement'` (the
   * default): the insert itself (step 1 below). `'primaryKey'`: the insert stores every event of the
   * batch as a plain load would, and the table's primary key refuses the whole statement (a constraint
   * error, isPrimaryKeyViolation) when any id is stored already or repeats, as it does when the batch
   * was loaded before; roll back then, and run the batch again with `'statement'`. Faster when the
   * ids are new (no join against the table, no sort of the batch, and DuckDB writes the rows in
   * parallel straight to the file, as a plain load does), but only for engines that enforce primary keys
   * (Dialect.enforcesPrimaryKeys: DuckDB, not Snowflake); elsewhere a repeated id would be stored twice.
   */
  readonly dedupe?: 'statement' | 'primaryKey';
  /** When the ledger says the batch was loaded (an ISO 8601 instant); the warehouse's current time when absent. */
  readonly loadedAt?: string;
  readonly schema?: string;
}

/**
 * The statements, to run in ONE transaction, that store a staged batch:
 *
 * 1. insert its events into the stream's table, except an event whose id the table holds already,
 *    and, of events sharing an id within the batch, all but the first (the earliest `_received_at`,
 *    then the first in the staged order); every row gets `_batch = batch` (with `dedupe: 'primaryKey'`,
 *    it inserts every event, or fails);
 * 2. insert the ledger row `(stream, batch, rows stored, loaded at, null)`.
 *
 * Both are guarded by "the ledger has no row for (stream, batch)" (with `dedupe: 'primaryKey'`, the
 * insert by the primary key), so a batch that was loaded is not loaded again: running the statements
 * twice stores its events once.
 */
export function compileIngestBatch(stream: EventStreamSpec, options: IngestBatchOptions, dialect: Dialect): CompiledQuery[] {
  const names = tableNames(stream, options.schema, dialect);
  const columns = eventStreamTableColumns(stream);
  const staged = columns.filter((column) => column.name !== BATCH_COLUMN);
  const q = (name: string) => dialect.identifier(name);
  const relation = stagingRelation(options.stagingRelation, staged, dialect);
  const notLoaded = `NOT EXISTS (SELECT 1 FROM ${names.ledger} WHERE ${q('stream')} = ? AND ${q('batch')} = ?)`;

  const typedColumns = staged.map((c) => `${typed(q(c.name), c.type, dialect)} AS ${q(c.name)}`).join(', ');
  const into = `INSERT INTO ${names.table} (${columns.map((c) => q(c.name)).join(', ')}) `;
  const insertRows = (options.dedupe ?? 'statement') === 'primaryKey'
    ? sql(`${into}SELECT ${typedColumns}, CAST(? AS ${dialect.columnType('string')}) FROM ${relation}`, [options.batch])
    : sql(
      `${into}SELECT ${staged.map((c) => q(c.name)).join(', ')}, CAST(? AS ${dialect.columnType('string')}) ` +
        `FROM (SELECT ${typedColumns}, ` +
        `row_number() OVER (PARTITION BY ${q(EVENT_ID_COLUMN)} ORDER BY ${q(RECEIVED_AT_COLUMN)}, ${q(ORDINAL)}) AS ${q(OCCURRENCE)} ` +
        `FROM (SELECT *, ${dialect.scanRowNumber()} AS ${q(ORDINAL)} FROM ${relation}) AS ${q('staged')}) AS ${q('incoming')} ` +
        `WHERE ${q(OCCURRENCE)} = 1 AND ${notStored(names.table, dialect)} AND ${notLoaded}`,
      [options.batch, stream.name, options.batch],
    );
  const loadedAt = options.loadedAt === undefined ? { sql: 'CURRENT_TIMESTAMP', parameters: [] } : { sql: dialect.asInstant('?'), parameters: [options.loadedAt] };
  const insertLedger = sql(
    `${ledgerInsert(names, dialect, loadedAt.sql, 'NULL')} WHERE ${notLoaded}`,
    [stream.name, options.batch, options.batch, ...loadedAt.parameters, stream.name, options.batch],
  );
  return [insertRows, insertLedger];
}

export interface IngestFromTableOptions {
  /** The watermark of the stream's last load (compileLastWatermark), an ISO 8601 instant; undefined on the first load. */
  readonly watermark: string | undefined;
  /** The time of this load (ISO 8601): each row's `_received_at`, the ledger's `loaded_at`, and the latest watermark read. */
  readonly now: string;
  readonly schema?: string;
}

/** A load of a `from` stream: a query for its new watermark, then the statements that load up to it. */
export interface IngestFromTable {
  /**
   * One row, `{ watermark }`: the greatest watermark among the rows to read (later than the last
   * watermark minus the lookback, and not later than `now`), as an ISO instant; null when there are
   * none, and then there is nothing to load.
   */
  readonly nextWatermark: CompiledQuery;
  /** The statements that load the rows up to `watermark` (from nextWatermark) as batch `wm:<watermark>`. */
  load(watermark: string): { readonly batch: string; readonly watermark: string; readonly statements: readonly CompiledQuery[] };
}

/**
 * A load of a stream from the external table another system fills (its `from`), to run in ONE
 * transaction: read `nextWatermark`, then run `load(watermark).statements`. It reads the rows whose
 * watermark column is later than the last watermark minus the lookback and at most the new watermark
 * (so rows near the last watermark are read again, to catch rows that landed late), and:
 *
 * 1. inserts those whose event id the table does not hold, one per id (the one with the earliest
 *    watermark, then the first read); the id is the `eventIdField` when declared, else the md5 of the
 *    keys, timestamp and fields (so the same row gets the same id each time it is read);
 * 2. records the batch `wm:<new watermark>` in the ledger with the watermark, or, when the watermark
 *    did not move (only late rows were new), updates that batch's row count.
 *
 * Exactly once by event id: a row read again is not stored again. A row that lands with a watermark
 * older than the last watermark minus the lookback is never read (docs/collect.md).
 */
export function compileIngestFromTable(stream: EventStreamSpec, options: IngestFromTableOptions, dialect: Dialect): IngestFromTable {
  const from = stream.from;
  if (!from) throw new Error(`event stream "${stream.name}" has no \`from\` table to load from`);
  const names = tableNames(stream, options.schema, dialect);
  const q = (name: string) => dialect.identifier(name);
  const columns = eventStreamTableColumns(stream);
  // The columns read from the external table: the stream's fields, its watermark and id columns.
  const read = columns.filter((c) => c.name !== EVENT_ID_COLUMN && c.name !== RECEIVED_AT_COLUMN && c.name !== BATCH_COLUMN);
  const readFromTable = [...new Set([...read.map((c) => c.name), from.watermark.column, ...(stream.eventIdField !== undefined ? [stream.eventIdField] : [])])];
  const external = dialect.existingTable(from.table, readFromTable);
  const watermark = dialect.asInstant(q(from.watermark.column));
  const since = options.watermark === undefined
    ? { sql: [] as string[], parameters: [] as unknown[] }
    : { sql: [`${watermark} > ${dialect.minusSeconds(dialect.asInstant('?'), from.lookbackSeconds)}`], parameters: [options.watermark] };

  const nextWatermark = sql(
    `SELECT max(${watermark}) AS ${q('watermark')} FROM ${external} WHERE ${[...since.sql, `${watermark} <= ${dialect.asInstant('?')}`].join(' AND ')}`,
    [...since.parameters, options.now],
  );

  return {
    nextWatermark,
    load: (newWatermark) => {
      const batch = `wm:${newWatermark}`;
      const stored = [EVENT_ID_COLUMN, ...read.map((c) => c.name)];
      const insertRows = sql(
        `INSERT INTO ${names.table} (${columns.map((c) => q(c.name)).join(', ')}) ` +
          `SELECT ${stored.map(q).join(', ')}, ${dialect.asInstant('?')}, CAST(? AS ${dialect.columnType('string')}) ` +
          `FROM (SELECT *, row_number() OVER (PARTITION BY ${q(EVENT_ID_COLUMN)} ORDER BY ${q(WATERMARK)}, ${q(ORDINAL)}) AS ${q(OCCURRENCE)} ` +
          `FROM (SELECT ${eventIdExpression(stream, read, dialect)} AS ${q(EVENT_ID_COLUMN)}, ` +
          `${read.map((c) => `${typed(q(c.name), c.type, dialect)} AS ${q(c.name)}`).join(', ')}, ` +
          `${watermark} AS ${q(WATERMARK)}, ${dialect.scanRowNumber()} AS ${q(ORDINAL)} ` +
          `FROM ${external} WHERE ${[...since.sql, `${watermark} <= ${dialect.asInstant('?')}`].join(' AND ')}) AS ${q('loaded')}) AS ${q('incoming')} ` +
          `WHERE ${q(OCCURRENCE)} = 1 AND ${notStored(names.table, dialect)}`,
        [options.now, batch, ...since.parameters, newWatermark],
      );
      const count = `(SELECT count(*) FROM ${names.table} WHERE ${q(BATCH_COLUMN)} = ?)`;
      const updateLedger = sql(
        `UPDATE ${names.ledger} SET ${q('rows')} = ${count} WHERE ${q('stream')} = ? AND ${q('batch')} = ?`,
        [batch, stream.name, batch],
      );
      const insertLedger = sql(
        `${ledgerInsert(names, dialect, dialect.asInstant('?'), `CAST(? AS ${dialect.columnType('string')})`)} ` +
          `WHERE NOT EXISTS (SELECT 1 FROM ${names.ledger} WHERE ${q('stream')} = ? AND ${q('batch')} = ?)`,
        [stream.name, batch, batch, options.now, newWatermark, stream.name, batch],
      );
      return { batch, watermark: newWatermark, statements: [insertRows, updateLedger, insertLedger] };
    },
  };
}

/**
 * One row, `{ watermark }`: the latest watermark recorded for a `from` stream (an ISO instant, as
 * stored), or no row when it was never loaded.
 */
export function compileLastWatermark(stream: EventStreamSpec, dialect: Dialect, schema?: string): CompiledQuery {
  const { ledger } = tableNames(stream, schema, dialect);
  const q = (name: string) => dialect.identifier(name);
  return sql(
    `SELECT ${q('watermark')} FROM ${ledger} WHERE ${q('stream')} = ? AND ${q('watermark')} IS NOT NULL ORDER BY ${dialect.asInstant(q('watermark'))} DESC LIMIT 1`,
    [stream.name],
  );
}

// Working columns of the statements above; fields cannot be named like them (names starting with "_" are reserved).
const ORDINAL = '_ordinal';
const OCCURRENCE = '_occurrence';
const WATERMARK = '_watermark';

/** The stream's table and the ledger, quoted. */
function tableNames(stream: EventStreamSpec, schema: string | undefined, dialect: Dialect): { table: string; ledger: string } {
  return { table: dialect.qualified(eventStreamTableName(stream.name, schema)), ledger: dialect.qualified(ingestLedgerTableName(schema)) };
}

/** A column read as its declared type: time columns as UTC instants. */
function typed(expression: string, type: ValueType, dialect: Dialect): string {
  return type === 'timestamp' ? dialect.asInstant(expression) : `CAST(${expression} AS ${dialect.columnType(type)})`;
}

function notStored(table: string, dialect: Dialect): string {
  const q = (name: string) => dialect.identifier(name);
  return `NOT EXISTS (SELECT 1 FROM ${table} AS ${q('stored')} WHERE ${q('stored')}.${q(EVENT_ID_COLUMN)} = ${q('incoming')}.${q(EVENT_ID_COLUMN)})`;
}

/** `INSERT INTO ledger (...) SELECT stream, batch, (rows of the batch), loadedAt, watermark` with parameters stream, batch, batch. */
function ledgerInsert(names: { table: string; ledger: string }, dialect: Dialect, loadedAt: string, watermark: string): string {
  const q = (name: string) => dialect.identifier(name);
  const text = dialect.columnType('string');
  return (
    `INSERT INTO ${names.ledger} (${['stream', 'batch', 'rows', 'loaded_at', 'watermark'].map(q).join(', ')}) ` +
    `SELECT CAST(? AS ${text}), CAST(? AS ${text}), (SELECT count(*) FROM ${names.table} WHERE ${q(BATCH_COLUMN)} = ?), ${loadedAt}, ${watermark}`
  );
}

function stagingRelation(staging: StagingRelation, columns: readonly TableColumnNode[], dialect: Dialect): string {
  switch (staging.kind) {
    case 'table': return dialect.qualified(staging.name);
    case 'staged': return dialect.readStaged(staging.files, columns.map((c) => [c.name, dialect.columnType(c.type)] as const));
  }
}

/**
 * A row's event id: its `eventIdField`, or the md5 of its keys, timestamp and fields in declared
 * order. Each value is written as `<length>:<text>` (`~` for null), so distinct rows give distinct
 * input; times as whole ticks since the epoch, so the session's time zone and format do not matter.
 */
function eventIdExpression(stream: EventStreamSpec, columns: readonly TableColumnNode[], dialect: Dialect): string {
  const text = dialect.columnType('string');
  if (stream.eventIdField !== undefined) return `CAST(${dialect.identifier(stream.eventIdField)} AS ${text})`;
  const parts = columns.map((column) => {
    const value = column.type === 'timestamp'
      ? `CAST(${dialect.instantTicks(dialect.asInstant(dialect.identifier(column.name)))} AS ${text})`
      : `CAST(${typed(dialect.identifier(column.name), column.type, dialect)} AS ${text})`;
    return `CASE WHEN ${dialect.identifier(column.name)} IS NULL THEN '~' ELSE CAST(length(${value}) AS ${text}) || ':' || ${value} END`;
  });
  return `md5(${parts.join(' || ')})`;
}

/** The ledger row of a batch: one row with `rows` when the batch was loaded, none otherwise. */
export function compileLedgerRows(stream: string, batch: string, dialect: Dialect, schema?: string): CompiledQuery {
  const id = dialect.identifier;
  return {
    sql: `SELECT ${id('rows')} AS ${id('rows')} FROM ${dialect.qualified(ingestLedgerTableName(schema))} WHERE ${id('stream')} = ? AND ${id('batch')} = ?`,
    parameters: [stream, batch],
  };
}
