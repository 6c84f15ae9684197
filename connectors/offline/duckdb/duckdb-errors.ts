import { FlywheelError, TransientError } from '../../../core/errors.ts';

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
