import type { EventStreamSpec } from '../definitions/specs.ts';
import { sql, type CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';
import { EVENT_ID_COLUMN, eventStreamTableName, ingestQuarantineTableName } from './warehouse-objects.ts';

/**
 * The statements that enforce an event stream's retention on its table (`flywheel.stream_<name>`):
 * count the events older than a cutoff, and delete them in bounded batches. An event is expired when
 * its event time is strictly before the cutoff (`asOf - retention`, core/retention/cutoff.ts): one
 * exactly `retention` old is kept, as a value exactly `ttl` old is still served. Pure.
 *
 * @example
 * const batch = compileDeleteExpiredBatch(stream, { cutoff: '2024-03-01T00:00:00.000Z', batchRows: 50_000 }, engine.dialect);
 * const deleted = await engine.transaction(async (tx) => {
 *   const [row] = await tx.all<{ rows: number }>(batch.count);
 *   await tx.run(batch.delete);
 *   return Number(row?.rows ?? 0);
 * });
 */

export interface ExpiredEventsOptions {
  /** ISO-8601 instant: events whose time is before it are expired. */
  readonly cutoff: string;
  readonly schema?: string;
}

/** One row, `{ rows }`: how many events of the stream are older than the cutoff. */
export function compileCountExpired(stream: EventStreamSpec, options: ExpiredEventsOptions, dialect: Dialect): CompiledQuery {
  const q = (name: string) => dialect.identifier(name);
  return sql(`SELECT count(*) AS ${q('rows')} FROM ${table(stream, options, dialect)} WHERE ${expired(stream, dialect)}`, [options.cutoff]);
}

export interface DeleteExpiredBatchOptions extends ExpiredEventsOptions {
  /** The most events one batch deletes (a positive safe integer): bounds how long it holds the table. */
  readonly batchRows: number;
}

/**
 * One batch, to run in ONE transaction: `count` (one row, `{ rows }`) says how many events `delete`
 * removes, at most `batchRows`. Both pick expired events by id; which ones does not matter, as every
 * batch until one deletes fewer than `batchRows` removes all of them. A batch run twice deletes only
 * events that are still there, so a retried batch never deletes anything it should not.
 */
export function compileDeleteExpiredBatch(stream: EventStreamSpec, options: DeleteExpiredBatchOptions, dialect: Dialect): { count: CompiledQuery; delete: CompiledQuery } {
  if (!Number.isSafeInteger(options.batchRows) || options.batchRows < 1) throw new RangeError(`batchRows must be a positive whole number, got ${options.batchRows}`);
  const q = (name: string) => dialect.identifier(name);
  const relation = table(stream, options, dialect);
  const pick = `SELECT ${q(EVENT_ID_COLUMN)} FROM ${relation} WHERE ${expired(stream, dialect)} LIMIT ${options.batchRows}`;
  return {
    count: sql(`SELECT count(*) AS ${q('rows')} FROM (${pick}) AS ${q('batch')}`, [options.cutoff]),
    delete: sql(`DELETE FROM ${relation} WHERE ${q(EVENT_ID_COLUMN)} IN (${pick})`, [options.cutoff]),
  };
}

/**
 * The quarantined events of a stream (`flywheel.ingest_quarantine`) kept longer than its retention,
 * counted from when they were quarantined (`quarantined_at` before the cutoff): their event time was
 * refused with them, so it cannot be read reliably. One count and one delete, to run in ONE
 * transaction; not batched, because the quarantine holds only the events the warehouse refused.
 */
export function compileDeleteExpiredQuarantine(stream: EventStreamSpec, options: ExpiredEventsOptions, dialect: Dialect): { count: CompiledQuery; delete: CompiledQuery } {
  const q = (name: string) => dialect.identifier(name);
  const quarantine = dialect.qualified(ingestQuarantineTableName(options.schema));
  const where = `${q('stream')} = ? AND ${q('quarantined_at')} < ${dialect.asInstant('?')}`;
  return {
    count: sql(`SELECT count(*) AS ${q('rows')} FROM ${quarantine} WHERE ${where}`, [stream.name, options.cutoff]),
    delete: sql(`DELETE FROM ${quarantine} WHERE ${where}`, [stream.name, options.cutoff]),
  };
}

function table(stream: EventStreamSpec, options: ExpiredEventsOptions, dialect: Dialect): string {
  return dialect.qualified(eventStreamTableName(stream.name, options.schema));
}

/** Strictly before the cutoff: exactly `retention` old is kept. */
function expired(stream: EventStreamSpec, dialect: Dialect): string {
  return `${dialect.identifier(stream.timestampField)} < ${dialect.asInstant('?')}`;
}
