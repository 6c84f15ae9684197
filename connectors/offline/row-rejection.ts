import { EngineQueryError } from './engine-query-error.ts';
import { isPrimaryKeyViolation } from './primary-key-violation.ts';

// DuckDB names the kind of failure first. These are about the values read: a line that is not JSON
// (`Invalid Input Error: Malformed JSON …`), a value that does not convert to its column's type
// (`Invalid Input Error: JSON transform error …`, `Conversion Error: …`, `Out of Range Error: …`),
// or a row a constraint refuses (`Constraint Error: NOT NULL constraint failed: …`). Everything else
// (`IO Error`, `Out of Memory Error`, `TransactionContext Error`, `Catalog Error`, an interrupt) is
// about the warehouse or the statement, not the events, and must fail the load as it is.
const DUCKDB_ROW_REJECTION = /^(Invalid Input Error|Conversion Error|Out of Range Error|Constraint Error): /;

/**
 * The warehouse's reason when `error` is the engine refusing some of the rows a statement read (a
 * value it cannot convert, a line it cannot parse, a NOT NULL it breaks): the first line of the
 * engine's message, without the SQL; undefined for any other failure (a lost connection, a full disk, a repeated
 * primary key, a missing table), which no set of events would change. Used by ingestion to tell the
 * events the warehouse refuses (quarantined) from failures that must fail the load.
 *
 * Only DuckDB's refusals are recognised; on another engine every failure fails its batch as a
 * whole, as before (its messages get their patterns with its driver).
 */
export function rowRejectionReason(error: unknown): string | undefined {
  if (!(error instanceof EngineQueryError) || error.engine !== 'duckdb' || isPrimaryKeyViolation(error)) return undefined;
  const reason = (error.cause instanceof Error ? error.cause.message : String(error.cause)).trim();
  // The first line says what was refused; DuckDB's later lines are hints about read_json's options.
  return DUCKDB_ROW_REJECTION.test(reason) ? reason.split('\n', 1)[0]!.trim() : undefined;
}
