import { FlywheelError } from '../../core/errors.ts';
import type { Dialect } from '../../core/sql/dialect.ts';

/** How much of a statement goes into the message; the whole of it stays in `sql`. */
const SQL_IN_MESSAGE = 2_000;

/**
 * Thrown by offline engines when a statement fails. The message names the engine's reason and shows
 * the SQL, so a failed training-set build says which statement broke. `retryable` is set when the
 * engine reports a failure a retry may fix (a write-write conflict between two transactions).
 */
export class EngineQueryError extends FlywheelError {
  readonly engine: Dialect['name'];
  /** The statement as sent to the engine (parameters are not included: they may hold data). */
  readonly sql: string;
  override readonly retryable: boolean;
  constructor(engine: Dialect['name'], sql: string, cause: unknown, options: { retryable?: boolean } = {}) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const shown = sql.length > SQL_IN_MESSAGE ? `${sql.slice(0, SQL_IN_MESSAGE)}… (${sql.length} characters)` : sql;
    super(`${engine} query failed: ${reason}\nSQL: ${shown}`, { cause });
    this.engine = engine;
    this.sql = sql;
    this.retryable = options.retryable ?? false;
  }
}
