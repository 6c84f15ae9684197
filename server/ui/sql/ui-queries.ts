import type { EventStreamSpec } from '../../../core/definitions/specs.ts';
import { sql, type CompiledQuery } from '../../../core/sql/compiled-query.ts';
import type { Dialect } from '../../../core/sql/dialect.ts';
import { BATCH_COLUMN, eventStreamTableName, ingestLedgerTableName, RECEIVED_AT_COLUMN } from '../../../core/sql/warehouse-objects.ts';

/**
 * The few reads the UI makes of Flywheel's warehouse tables beyond what the CLI already compiles
 * (registry, materialization state, quarantine counts, expired events). Pure, through the dialect's
 * hooks only: an instant's microseconds (`epochMicros`) make the minute buckets and the lags, so every
 * engine groups and subtracts the same way.
 */

const MICROS_PER_MINUTE = 60_000_000;
const MICROS_PER_SECOND = 1_000_000;

/** Per stream with loads: `{ stream, batches, rows, last_loaded_at }` from the ingest ledger. */
export function compileStreamLoads(dialect: Dialect): CompiledQuery {
  const q = dialect.identifier;
  return sql(
    `SELECT ${q('stream')}, count(*) AS ${q('batches')}, sum(${q('rows')}) AS ${q('rows')}, ${dialect.asInstant(`max(${q('loaded_at')})`)} AS ${q('last_loaded_at')} ` +
      `FROM ${dialect.qualified(ingestLedgerTableName())} GROUP BY ${q('stream')} ORDER BY ${q('stream')}`,
  );
}

/** One row `{ events, first_event, last_event }`: the stream table's row count and event-time range. */
export function compileStreamExtent(stream: EventStreamSpec, dialect: Dialect): CompiledQuery {
  const q = dialect.identifier;
  const ts = q(stream.timestampField);
  return sql(
    `SELECT count(*) AS ${q('events')}, ${dialect.asInstant(`min(${ts})`)} AS ${q('first_event')}, ${dialect.asInstant(`max(${ts})`)} AS ${q('last_event')} ` +
      `FROM ${dialect.qualified(eventStreamTableName(stream.name))}`,
  );
}

/**
 * Events per minute of event time, `{ minute, events }` with `minute` in minutes since the epoch, for
 * the minutes from `from` (inclusive) to `to` (exclusive), oldest first; minutes without events are absent.
 */
export function compileEventsPerMinute(stream: EventStreamSpec, range: { readonly from: string; readonly to: string }, dialect: Dialect): CompiledQuery {
  const q = dialect.identifier;
  const ts = dialect.asInstant(q(stream.timestampField));
  const minute = `floor(${dialect.epochMicros(ts)} / ${MICROS_PER_MINUTE})`;
  return sql(
    `SELECT ${minute} AS ${q('minute')}, count(*) AS ${q('events')} FROM ${dialect.qualified(eventStreamTableName(stream.name))} ` +
      `WHERE ${ts} >= ${dialect.asInstant('?')} AND ${ts} < ${dialect.asInstant('?')} GROUP BY ${minute} ORDER BY ${minute}`,
    [range.from, range.to],
  );
}

/**
 * The stream's most recent loads, newest first, at most `limit`: `{ batch, loaded_at, rows, lag_seconds }`,
 * where the lag is how long the batch's earliest-received event waited between the log API (or the
 * load, for a `from` stream) and the warehouse: `loaded_at − min(_received_at)`.
 */
export function compileIngestionLags(stream: EventStreamSpec, limit: number, dialect: Dialect): CompiledQuery {
  const q = dialect.identifier;
  const ledger = dialect.qualified(ingestLedgerTableName());
  const table = dialect.qualified(eventStreamTableName(stream.name));
  const received = `min(${dialect.epochMicros(dialect.asInstant(`e.${q(RECEIVED_AT_COLUMN)}`))})`;
  return sql(
    `SELECT l.${q('batch')}, ${dialect.asInstant(`l.${q('loaded_at')}`)} AS ${q('loaded_at')}, l.${q('rows')}, ` +
      `(${dialect.epochMicros(dialect.asInstant(`l.${q('loaded_at')}`))} - ${received}) / ${MICROS_PER_SECOND} AS ${q('lag_seconds')} ` +
      `FROM ${ledger} AS l JOIN ${table} AS e ON e.${q(BATCH_COLUMN)} = l.${q('batch')} ` +
      `WHERE l.${q('stream')} = ? GROUP BY l.${q('batch')}, l.${q('loaded_at')}, l.${q('rows')} ORDER BY l.${q('loaded_at')} DESC, l.${q('batch')} DESC LIMIT ${Math.trunc(limit)}`,
    [stream.name],
  );
}
