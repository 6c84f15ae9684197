import { FlywheelError, TransientError } from '../../../core/errors.ts';
import { EngineQueryError } from '../engine-query-error.ts';

/**
 * Thrown by the Snowflake engine when a statement fails for a reason a retry may fix: the network
 * (no connection, a reset, a timeout), an HTTP 5xx or 429 from Snowflake, an answer that is not
 * Snowflake's (a proxy's error page), or an expired session (the engine signs in again before the
 * retry). Retryable: activities turn it into a retryable failure. Names the statement.
 */
export class SnowflakeTransientError extends TransientError {
  /** The statement as sent (without its parameters, which may hold data). */
  readonly sql: string;
  /** The driver's or Snowflake's error code, when it gave one (`401001`, `390114`). */
  readonly code: string | undefined;
  constructor(sql: string, code: string | undefined, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`Snowflake is unreachable or busy (${code ?? 'no code'}: ${reason}); a retry may succeed\nSQL: ${shorten(sql)}`, { cause });
    this.sql = sql;
    this.code = code;
  }
}

/** Thrown when a statement is cancelled because its AbortSignal fired (the activity was cancelled); the engine has asked Snowflake to cancel it. */
export class SnowflakeStatementCancelledError extends FlywheelError {
  readonly sql: string;
  /** Snowflake's id of the cancelled query, when it had one. */
  readonly queryId: string | undefined;
  constructor(sql: string, queryId: string | undefined, reason: unknown) {
    super(`Snowflake statement cancelled${queryId ? ` (query ${queryId})` : ''}: ${reason instanceof Error ? reason.message : String(reason ?? 'aborted')}\nSQL: ${shorten(sql)}`);
    this.sql = sql;
    this.queryId = queryId;
  }
}

/** Thrown when signing in to Snowflake fails for a reason other than the network (wrong password, unknown user, bad key). */
export class SnowflakeConnectError extends FlywheelError {
  readonly account: string;
  readonly code: string | undefined;
  constructor(account: string, code: string | undefined, cause: unknown) {
    super(`Cannot sign in to Snowflake account ${account}${code ? ` (${code})` : ''}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.account = account;
    this.code = code;
  }
}

/** The fields of snowflake-sdk's errors the classification reads. */
interface DriverError {
  readonly name?: string;
  readonly code?: unknown;
  readonly sqlState?: unknown;
  readonly response?: { readonly statusCode?: unknown } | undefined;
  readonly message?: string;
}

// snowflake-sdk's own codes (dist/lib/error_code): the network, a failed HTTP response, a response
// that is not JSON (a gateway's page), and the same three for large results fetched from cloud storage.
const DRIVER_NETWORK = new Set(['401001', '402001']);
const DRIVER_RESPONSE = new Set(['401002', '402002']);
const DRIVER_NOT_JSON = '401003';
// Snowflake's: the session or master token expired (390114), the session is gone (390111, 390112);
// the driver does not sign in again by itself for these, so the engine reconnects.
const SESSION_EXPIRED = new Set(['390111', '390112', '390114']);
// A statement waited too long for a lock another transaction holds: a retry usually gets it.
const LOCK_WAIT = '000625';

/** What a failure of `sql` is: a transient one (retry, maybe after reconnecting) or the statement's own. */
export function classifySnowflakeFailure(sql: string, error: unknown): SnowflakeTransientError | EngineQueryError {
  const code = codeOf(error);
  if (isTransient(error)) return new SnowflakeTransientError(sql, code, error);
  return new EngineQueryError('snowflake', sql, error, { retryable: code === LOCK_WAIT });
}

/** Whether the session must sign in again before anything else runs on it. */
export function needsReconnect(error: unknown): boolean {
  const cause = error instanceof FlywheelError ? error.cause : error;
  const code = codeOf(cause);
  return code !== undefined && SESSION_EXPIRED.has(code);
}

function isTransient(error: unknown): boolean {
  const driver = (error ?? {}) as DriverError;
  const code = codeOf(error);
  if (code !== undefined && (DRIVER_NETWORK.has(code) || SESSION_EXPIRED.has(code) || code === DRIVER_NOT_JSON)) return true;
  if (driver.name === 'NetworkError') return true;
  if (code !== undefined && DRIVER_RESPONSE.has(code)) {
    const status = Number(driver.response?.statusCode);
    // No status: the request never got an answer. 5xx: Snowflake's side; 429: throttled; 408: timed out.
    return !Number.isFinite(status) || status >= 500 || status === 429 || status === 408;
  }
  // SQLSTATE class 08: connection exceptions.
  return typeof driver.sqlState === 'string' && driver.sqlState.startsWith('08');
}

function codeOf(error: unknown): string | undefined {
  const code = (error as DriverError | undefined)?.code;
  return code === undefined || code === null ? undefined : String(code);
}

function shorten(sql: string): string {
  return sql.length > 2_000 ? `${sql.slice(0, 2_000)}… (${sql.length} characters)` : sql;
}
