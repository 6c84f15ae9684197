import { EngineQueryError } from './engine-query-error.ts';

/**
 * Whether `error` is an engine refusing a statement because its rows repeat a primary (or unique)
 * key. Each engine recognises its own messages when it throws (EngineQueryError.refused); only an
 * engine that enforces keys (Dialect.enforcesPrimaryKeys) ever says so.
 */
export function isPrimaryKeyViolation(error: unknown): boolean {
  return error instanceof EngineQueryError && error.refused === 'primaryKey';
}
