import { FlywheelError } from '../../core/errors.ts';
import type { Dialect } from '../../core/sql/dialect.ts';

/** How much of a statement goes into the message; the whole of it stays in `sql`. */
const SQL_IN_MESSAGE = 2_000;

/**
 * What a failed statement says of the rows it read, as the engine that ran it recognises from its own
 * messages: `rows` when it refused some of them (a value it cannot convert, a line it cannot parse, a
 * NOT NULL they break), `primaryKey` when they repeat a primary or unique key. Undefined for every
 * other failure (a lost connection, a full disk, a missing table), which no set of rows would change.
 */
export type RowRefusal = 'rows' | 'primaryKey';

/**
 * Thrown by offline engines when a statement fails. The message names the engine's reason and shows
 * the SQL, so a failed training-set build says which statement broke. `retryable` is set when the
 * engine reports a failure a retry may fix (a write-write conflict between two transactions);
 * `refused` when the failure is about the rows the statement read (RowRefusal).
 */
export class EngineQueryError extends FlywheelError {
  readonly engine: Dialect['name'];
  /** The statement as sent to the engine (parameters are not included: they may hold data). */
  readonly sql: string;
  override readonly retryable: boolean;
  readonly refused: RowRefusal | undefined;
  constructor(engine: Dialect['name'], sql: string, cause: unknown, options: { retryable?: boolean; refused?: RowRefusal } = {}) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const shown = sql.length > SQL_IN_MESSAGE ? `${sql.slice(0, SQL_IN_MESSAGE)}… (${sql.length} characters)` : sql;
    super(`${engine} query failed: ${reason}\nSQL: ${shown}`, { cause });
    this.engine = engine;
    this.sql = sql;
    this.retryable = options.retryable ?? false;
    this.refused = options.refused;
  }
}
