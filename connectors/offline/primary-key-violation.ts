import { EngineQueryError } from './engine-query-error.ts';

// DuckDB 1.5: `Constraint Error: PRIMARY KEY or UNIQUE constraint violation: duplicate key "…"`
// (older releases: `Constraint Error: Duplicate key "…" violates primary key constraint`).
const DUCKDB_KEY_VIOLATION = /Constraint Error: (PRIMARY KEY or UNIQUE constraint violation|Duplicate key .* violates (primary key|unique) constraint)/s;

/** Whether `error` is an engine refusing a statement because its rows repeat a primary (or unique) key. */
export function isPrimaryKeyViolation(error: unknown): boolean {
  if (!(error instanceof EngineQueryError) || error.engine !== 'duckdb') return false;
  const reason = error.cause instanceof Error ? error.cause.message : String(error.cause);
  return DUCKDB_KEY_VIOLATION.test(reason);
}
