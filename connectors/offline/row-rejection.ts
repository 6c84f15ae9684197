import { EngineQueryError } from './engine-query-error.ts';

/**
 * The warehouse's reason when `error` is the engine refusing some of the rows a statement read (a
 * value it cannot convert, a line it cannot parse, a NOT NULL it breaks): the first line of the
 * engine's message, without the SQL; undefined for any other failure (a lost connection, a full disk, a repeated
 * primary key, a missing table), which no set of events would change. Used by ingestion to tell the
 * events the warehouse refuses (quarantined) from failures that must fail the load.
 *
 * Each engine recognises its own refusals when it throws (EngineQueryError.refused: DuckDB in
 * duckdb/duckdb-errors.ts); an engine that recognises none fails its batch as a whole.
 */
export function rowRejectionReason(error: unknown): string | undefined {
  if (!(error instanceof EngineQueryError) || error.refused !== 'rows') return undefined;
  const reason = (error.cause instanceof Error ? error.cause.message : String(error.cause)).trim();
  // The first line says what was refused; later lines are hints (DuckDB's about read_json's options).
  return reason.split('\n', 1)[0]!.trim();
}
