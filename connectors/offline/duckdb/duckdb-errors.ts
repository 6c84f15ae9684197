import { FlywheelError, TransientError } from '../../../core/errors.ts';
import type { RowRefusal } from '../engine-query-error.ts';

// DuckDB 1.5: `Constraint Error: PRIMARY KEY or UNIQUE constraint violation: duplicate key "…"`
// (older releases: `Constraint Error: Duplicate key "…" violates primary key constraint`).
const DUCKDB_KEY_VIOLATION = /Constraint Error: (PRIMARY KEY or UNIQUE constraint violation|Duplicate key .* violates (primary key|unique) constraint)/s;

// DuckDB names the kind of failure first. These are about the values read: a line that is not JSON
// (`Invalid Input Error: Malformed JSON …`), a value that does not convert to its column's type
// (`Invalid Input Error: JSON transform error …`, `Conversion Error: …`, `Out of Range Error: …`),
// or a row a constraint refuses (`Constraint Error: NOT NULL constraint failed: …`). Everything else
// (`IO Error`, `Out of Memory Error`, `TransactionContext Error`, `Catalog Error`, an interrupt) is
// about the warehouse or the statement, not the rows, and must fail as it is.
const DUCKDB_ROW_REJECTION = /^(Invalid Input Error|Conversion Error|Out of Range Error|Constraint Error): /;

/** What a failed DuckDB statement says of the rows it read (EngineQueryError.refused), from DuckDB's message. */
export function duckdbRowRefusal(message: string): RowRefusal | undefined {
  if (DUCKDB_KEY_VIOLATION.test(message)) return 'primaryKey';
  return DUCKDB_ROW_REJECTION.test(message.trim()) ? 'rows' : undefined;
}

/**
 * Thrown when a DuckDB file cannot be opened because another process holds its lock (DuckDB allows
 * one process per file). Retryable: activities open the engine only while they work, so the other
 * process (a `flywheel` command, a dev server) usually lets go soon.
 */
export class DuckDBLockedError extends TransientError {
  readonly path: string;
  /** Who holds the lock, as DuckDB reports it (`PID 1234, /usr/bin/node`), when it says. */
  readonly holder: string | undefined;
  constructor(path: string, holder: string | undefined, options?: { cause?: unknown }) {
    super(
      `The DuckDB file "${path}" is locked by another process${holder ? ` (${holder})` : ''}: ` +
        'another Flywheel process (a worker, `flywheel dev`, or another command) has it open. ' +
        'Stop that process or wait for it to finish, or point this profile at a different database file.',
      options,
    );
    this.path = path;
    this.holder = holder;
  }
}

/** Thrown when a DuckDB file cannot be opened for another reason (permissions, not a DuckDB file, a bad setting). */
export class DuckDBOpenError extends FlywheelError {
  readonly path: string;
  constructor(path: string, cause: unknown) {
    super(`Cannot open the DuckDB database "${path}": ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.path = path;
  }
}

// DuckDB: `IO Error: Could not set lock on file "…": Conflicting lock is held in /usr/bin/node (PID 123) by user x.`
const LOCK_CONFLICT = /Could not set lock on file|Conflicting lock is held/i;
const LOCK_HOLDER = /Conflicting lock is held in (.+?) \(PID (\d+)\)/;

/** The Flywheel error for a failure to open `path`. */
export function openFailure(path: string, cause: unknown): FlywheelError {
  const message = cause instanceof Error ? cause.message : String(cause);
  if (!LOCK_CONFLICT.test(message)) return new DuckDBOpenError(path, cause);
  const holder = LOCK_HOLDER.exec(message);
  return new DuckDBLockedError(path, holder ? `PID ${holder[2]}, ${holder[1]}` : undefined, { cause });
}
