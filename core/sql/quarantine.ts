import { sql, type CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';
import { INGEST_QUARANTINE_COLUMNS, ingestQuarantineTableName } from './warehouse-objects.ts';

/**
 * The statements over the ingest quarantine (`flywheel.ingest_quarantine`): the events of a batch
 * that the warehouse refused, kept with its reason until a replay loads them (docs/collect.md,
 * "Quarantine"). Pure; the ingestion activities run them in the transaction of the batch they
 * belong to.
 *
 * @example
 * await engine.transaction(async (tx) => {
 *   for (const statement of compileQuarantineEvents([{ stream: 'clicks', batch: 'seg-7', eventIndex: 3, eventId: 'e9', event, error }], engine.dialect)) await tx.run(statement);
 * });
 * const rows = await engine.all(compileQuarantineList('clicks', engine.dialect));
 */

/** One refused event, as it is kept. */
export interface QuarantinedEvent {
  readonly stream: string;
  /** The batch (log segment) it came in. */
  readonly batch: string;
  /** Its position in the batch, from 0. */
  readonly eventIndex: number;
  /** Its `_event_id`, when its JSON could be read. */
  readonly eventId: string | null;
  /** Its stored JSON, as received. */
  readonly event: string;
  /** The warehouse's reason for refusing it. */
  readonly error: string;
}

/** A quarantined event as listed: what was kept, and when. */
export interface QuarantineRow {
  readonly batch: string;
  readonly event_index: number;
  readonly event_id: string | null;
  readonly event: string;
  readonly error: string;
  /** ISO-8601 UTC. */
  readonly quarantined_at: string;
}

/** Rows per INSERT or DELETE: a statement's parameters stay well under the drivers' limits. */
const ROWS_PER_STATEMENT = 500;

/**
 * INSERTs of `events`, at most 500 per statement, each skipping an event whose (stream, batch, index)
 * is quarantined already, so a retried load does not keep an event twice (Snowflake does not enforce
 * the primary key). `quarantinedAt` (ISO-8601) defaults to the warehouse's current time.
 */
export function compileQuarantineEvents(events: readonly QuarantinedEvent[], dialect: Dialect, options: { quarantinedAt?: string; schema?: string } = {}): CompiledQuery[] {
  const table = dialect.qualified(ingestQuarantineTableName(options.schema));
  const q = dialect.identifier;
  const kept = INGEST_QUARANTINE_COLUMNS.filter((c) => c.name !== 'quarantined_at');
  const row = `(${kept.map((c) => `CAST(? AS ${dialect.columnType(c.type)})`).join(', ')})`;
  const at = options.quarantinedAt === undefined ? { sql: 'CURRENT_TIMESTAMP', parameters: [] } : { sql: dialect.asInstant('?'), parameters: [options.quarantinedAt] };
  return chunks(events).map((chunk) =>
    sql(
      `INSERT INTO ${table} (${INGEST_QUARANTINE_COLUMNS.map((c) => q(c.name)).join(', ')}) ` +
        `SELECT ${kept.map((c) => `${q('v')}.${q(c.name)}`).join(', ')}, ${at.sql} ` +
        `FROM (VALUES ${chunk.map(() => row).join(', ')}) AS ${q('v')}(${kept.map((c) => q(c.name)).join(', ')}) ` +
        `WHERE NOT EXISTS (SELECT 1 FROM ${table} AS ${q('kept')} WHERE ${(['stream', 'batch', 'event_index'] as const).map((c) => `${q('kept')}.${q(c)} = ${q('v')}.${q(c)}`).join(' AND ')})`,
      // The time comes first: it is in the SELECT list, before the VALUES.
      [...at.parameters, ...chunk.flatMap((e) => [e.stream, e.batch, e.eventIndex, e.eventId, e.event, e.error])],
    ),
  );
}

/** The quarantined events of `stream` (QuarantineRow), oldest batch first, in their order within it. */
export function compileQuarantineList(stream: string, dialect: Dialect, schema?: string): CompiledQuery {
  const q = dialect.identifier;
  return sql(
    `SELECT ${['batch', 'event_index', 'event_id', 'event', 'error'].map(q).join(', ')}, ${dialect.asInstant(q('quarantined_at'))} AS ${q('quarantined_at')} ` +
      `FROM ${dialect.qualified(ingestQuarantineTableName(schema))} WHERE ${q('stream')} = ? ORDER BY ${q('batch')}, ${q('event_index')}`,
    [stream],
  );
}

/** `{ stream, events }` per stream with quarantined events, by stream name. */
export function compileQuarantineCounts(dialect: Dialect, schema?: string): CompiledQuery {
  const q = dialect.identifier;
  return sql(`SELECT ${q('stream')}, count(*) AS ${q('events')} FROM ${dialect.qualified(ingestQuarantineTableName(schema))} GROUP BY ${q('stream')} ORDER BY ${q('stream')}`);
}

/** DELETEs of the given events of `stream` from the quarantine (replayed: stored now, or stored before), at most 500 per statement. */
export function compileQuarantineRelease(stream: string, events: readonly { batch: string; eventIndex: number }[], dialect: Dialect, schema?: string): CompiledQuery[] {
  const q = dialect.identifier;
  const one = `(${q('batch')} = ? AND ${q('event_index')} = ?)`;
  return chunks(events).map((chunk) =>
    sql(
      `DELETE FROM ${dialect.qualified(ingestQuarantineTableName(schema))} WHERE ${q('stream')} = ? AND (${chunk.map(() => one).join(' OR ')})`,
      [stream, ...chunk.flatMap((e) => [e.batch, e.eventIndex])],
    ),
  );
}

/** Records the warehouse's latest reason for refusing a quarantined event (a replay that failed again). */
export function compileQuarantineReason(stream: string, event: { batch: string; eventIndex: number }, error: string, dialect: Dialect, schema?: string): CompiledQuery {
  const q = dialect.identifier;
  return sql(
    `UPDATE ${dialect.qualified(ingestQuarantineTableName(schema))} SET ${q('error')} = ? WHERE ${q('stream')} = ? AND ${q('batch')} = ? AND ${q('event_index')} = ?`,
    [error, stream, event.batch, event.eventIndex],
  );
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) out.push(items.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}
