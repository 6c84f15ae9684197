import { setTimeout as sleep } from 'node:timers/promises';
import snowflake, { type Connection, type ConnectionOptions, type RowStatement, type StatementOption } from 'snowflake-sdk';
import type { CompiledQuery } from '../../../core/sql/compiled-query.ts';
import { queryTagText, type QueryTag } from './query-tag.ts';
import { classifySnowflakeFailure, needsReconnect, SnowflakeConnectError, SnowflakeStatementCancelledError, SnowflakeTransientError } from './snowflake-errors.ts';
import type { SnowflakeCredentials } from './snowflake-credentials.ts';
import { toSnowflakeBinds } from './snowflake-values.ts';
import { SerialQueue } from '../duckdb/serial-queue.ts';

/** Where and as whom to sign in; credentials already read from the environment (snowflake-credentials.ts). */
export interface SnowflakeSessionSettings {
  readonly account: string;
  readonly username: string;
  readonly database: string;
  readonly schema: string;
  readonly warehouse?: string;
  readonly role?: string;
  /** `http(s)://host[:port]` instead of `https://<account>.snowflakecomputing.com`. */
  readonly accessUrl?: string;
  readonly credentials: SnowflakeCredentials;
  /** STATEMENT_TIMEOUT_IN_SECONDS for the session. */
  readonly statementTimeoutSeconds: number;
}

/**
 * Who a statement is for and what to do while it runs: the QUERY_TAG it carries, a heartbeat called
 * while it runs (an activity's `Context.current().heartbeat`), and a signal that cancels it on
 * Snowflake (an activity's `Context.current().cancellationSignal`).
 */
export interface StatementContext {
  readonly queryTag?: QueryTag;
  readonly heartbeat?: () => void;
  readonly signal?: AbortSignal;
}

/** A statement as handed to the driver: what an `onStatement` observer sees (tests count statements by tag with it). */
export interface SentStatement {
  readonly sqlText: string;
  /** Statement parameters sent with it: QUERY_TAG. */
  readonly parameters: Readonly<Record<string, string>>;
  /** Whether it was submitted with asyncExec (and then polled). */
  readonly asyncExec: boolean;
  readonly describeOnly: boolean;
}

export interface ExecuteOptions {
  /** Submit with asyncExec and poll its status (long statements), instead of waiting on the request. */
  readonly async?: boolean;
  /** Only describe the result's columns (describeOnly): nothing runs. */
  readonly describeOnly?: boolean;
  /** A PUT or GET: the driver moves the files and completes; there are no rows to stream. */
  readonly fileTransfer?: boolean;
}

/** How often a running statement's status is polled: from the first value, doubling, up to the last. */
const POLL_FIRST_MS = 50;
const POLL_MAX_MS = 2_000;
/** How often the heartbeat is called while a statement runs, besides once per poll. */
const HEARTBEAT_MS = 5_000;

let driverConfigured = false;

/** The driver's logger writes `snowflake.log` in the working directory at INFO by default: errors reach Flywheel as exceptions, so it stays silent. */
function configureDriver(): void {
  if (driverConfigured) return;
  driverConfigured = true;
  const quiet = () => undefined;
  snowflake.configure({ logLevel: 'ERROR', customLogger: { error: quiet, warn: quiet, info: quiet, debug: quiet, trace: quiet } });
}

/**
 * One Snowflake session (one driver connection): signs in, sets the session up (UTC, the statement
 * timeout, case-sensitive quoted identifiers), runs statements with their tag, polls asynchronous
 * ones while heartbeating, cancels them when their signal fires, and signs in again when Snowflake
 * says the session expired. Statements run one at a time only because SnowflakeEngine queues them.
 */
export class SnowflakeSession {
  private connection: Connection;
  /**
   * One statement at a time from submission to result (its rows are read after, outside): a session
   * runs its statements in order, and the results of one are never read while the next is sent. A
   * cancellation (SYSTEM$CANCEL_QUERY) goes around the queue.
   */
  private readonly statements = new SerialQueue();

  private constructor(
    private readonly settings: SnowflakeSessionSettings,
    connection: Connection,
    private readonly onStatement: ((statement: SentStatement) => void) | undefined,
    /** The tag of the session's own set-up statements (at sign-in and after a reconnect): the opener's, so a run's history holds them too. */
    private readonly setUpTag: QueryTag | undefined,
  ) {
    this.connection = connection;
  }

  static async open(settings: SnowflakeSessionSettings, onStatement?: (statement: SentStatement) => void, setUpTag?: QueryTag): Promise<SnowflakeSession> {
    const session = new SnowflakeSession(settings, await signIn(settings), onStatement, setUpTag);
    await session.setUp();
    return session;
  }

  /** Session parameters every statement relies on; account or user defaults could say otherwise. */
  private async setUp(): Promise<void> {
    const setUp: CompiledQuery[] = [
      // Instants are UTC everywhere: TIMESTAMP_LTZ values and casts of naive text read in it.
      { sql: "ALTER SESSION SET TIMEZONE = 'UTC'", parameters: [] },
      { sql: `ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = ${Math.trunc(this.settings.statementTimeoutSeconds)}`, parameters: [] },
      // Flywheel's own objects are quoted as declared; an account set to ignore the case of quoted names would merge them.
      { sql: 'ALTER SESSION SET QUOTED_IDENTIFIERS_IGNORE_CASE = FALSE', parameters: [] },
    ];
    // Around the statement queue: setUp also runs from reconnect, inside a queued statement.
    for (const query of setUp) await this.executeOnce(query, this.setUpTag ? { queryTag: this.setUpTag } : {}, {});
  }

  /**
   * Runs `query` and returns its statement, whose result is ready to stream (statement.streamRows).
   * Failures are classified: SnowflakeTransientError (retry), EngineQueryError (the statement's own),
   * SnowflakeStatementCancelledError (the signal fired). A statement refused because the session
   * expired is sent once more after signing in again (it never ran); with `inTransaction` the
   * transaction is gone with the session, so it throws the transient error instead.
   */
  async execute(query: CompiledQuery, context: StatementContext, options: ExecuteOptions & { inTransaction?: boolean }): Promise<RowStatement> {
    return (await this.executeQueued(query, context, options))!;
  }

  /**
   * execute for a statement whose result nobody reads (DDL, DML): a detached query is polled to its
   * end and its result never fetched, a round trip less.
   */
  async executeDiscardingResult(query: CompiledQuery, context: StatementContext): Promise<void> {
    await this.executeQueued(query, context, { async: true, discardResult: true });
  }

  private executeQueued(query: CompiledQuery, context: StatementContext, options: ExecuteOptions & { inTransaction?: boolean; discardResult?: boolean }): Promise<RowStatement | undefined> {
    return this.statements.run(async () => {
      try {
        return await this.executeOnce(query, context, options);
      } catch (error) {
        if (!needsReconnect(error)) throw error;
        await this.reconnect();
        if (options.inTransaction) throw error;
        return this.executeOnce(query, context, options);
      }
    });
  }

  private async executeOnce(query: CompiledQuery, context: StatementContext, options: ExecuteOptions & { discardResult?: boolean }): Promise<RowStatement | undefined> {
    const { signal, heartbeat } = context;
    if (signal?.aborted) throw new SnowflakeStatementCancelledError(query.sql, undefined, signal.reason);
    const timer = heartbeat ? setInterval(heartbeat, HEARTBEAT_MS) : undefined;
    heartbeat?.();
    try {
      const submitted = await this.submit(query, context, options);
      if (submitted.done) return submitted.statement;
      return await this.awaitAsync(query, submitted.queryId, context, options.discardResult === true);
    } finally {
      if (timer) clearInterval(timer);
    }
  }

  /**
   * Sends the statement. Synchronous: resolves when its result is ready (the driver polls a long
   * one itself); the signal cancels it through the driver. Asynchronous: Snowflake answers with
   * the query id at once (the result may also come inline, for a statement done by then).
   */
  private submit(query: CompiledQuery, context: StatementContext, options: ExecuteOptions): Promise<{ done: true; statement: RowStatement } | { done: false; queryId: string }> {
    const asyncExec = options.async === true && options.describeOnly !== true && options.fileTransfer !== true;
    const parameters: Record<string, string> = context.queryTag ? { QUERY_TAG: queryTagText(context.queryTag) } : {};
    return new Promise((resolve, reject) => {
      let settled = false;
      const onAbort = () => {
        if (settled) return;
        settled = true;
        statement.cancel(() => undefined);
        reject(new SnowflakeStatementCancelledError(query.sql, statement.getQueryId() ?? undefined, context.signal?.reason));
      };
      const statementOptions: StatementOption = {
        sqlText: query.sql,
        ...(query.parameters.length > 0 ? { binds: toSnowflakeBinds(query.parameters) } : {}),
        parameters,
        rowMode: 'array',
        // Numbers come as their text: integers beyond 2^53 stay exact (snowflake-values.ts).
        fetchAsString: ['Number'],
        // With asyncExec the driver hands the result (or `{ queryId }`) to `complete` only when not streaming;
        // either way rows are read later through statement.streamRows(). A file transfer has none.
        streamResult: !asyncExec && options.fileTransfer !== true,
        ...(asyncExec ? { asyncExec: true } : {}),
        ...(options.describeOnly ? { describeOnly: true } : {}),
        complete: (error, done, rows) => {
          context.signal?.removeEventListener('abort', onAbort);
          if (settled) return;
          settled = true;
          if (error) return reject(classifySnowflakeFailure(query.sql, error));
          const result = rows as unknown as { getColumns?: unknown; queryId?: string } | undefined;
          // asyncExec: the driver hands `{ queryId }` while the query runs detached, the result when it came inline.
          if (asyncExec && result && typeof result.getColumns !== 'function' && typeof result.queryId === 'string') return resolve({ done: false, queryId: result.queryId });
          resolve({ done: true, statement: done as RowStatement });
        },
      };
      this.onStatement?.({ sqlText: query.sql, parameters, asyncExec, describeOnly: options.describeOnly === true });
      let statement: RowStatement;
      try {
        statement = this.connection.execute(statementOptions) as RowStatement;
      } catch (error) {
        // The driver checks the options (binds, SQL text) before it sends anything.
        settled = true;
        return reject(classifySnowflakeFailure(query.sql, error));
      }
      context.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Polls a detached query until it ends, heartbeating; cancels it on Snowflake when the signal fires; then fetches its result. */
  private async awaitAsync(query: CompiledQuery, queryId: string, context: StatementContext, discardResult: boolean): Promise<RowStatement | undefined> {
    let delay = POLL_FIRST_MS;
    for (;;) {
      if (context.signal?.aborted) return this.cancelQuery(query, queryId, context.signal.reason);
      let status: string;
      try {
        status = await this.connection.getQueryStatusThrowIfError(queryId);
      } catch (error) {
        throw classifySnowflakeFailure(query.sql, error);
      }
      if (!this.connection.isStillRunning(status as never)) break;
      context.heartbeat?.();
      try {
        await sleep(delay, undefined, context.signal ? { signal: context.signal } : {});
      } catch {
        return this.cancelQuery(query, queryId, context.signal?.reason);
      }
      delay = Math.min(delay * 2, POLL_MAX_MS);
    }
    return discardResult ? undefined : this.fetchResult(query, queryId);
  }

  /** The result of a finished query; the driver's statement is usable once `complete` is called. */
  private fetchResult(query: CompiledQuery, queryId: string): Promise<RowStatement> {
    return new Promise((resolve, reject) => {
      try {
        this.connection.fetchResult({
          queryId,
          sqlText: query.sql,
          rowMode: 'array',
          fetchAsString: ['Number'],
          streamResult: true,
          complete: (error, statement) => (error ? reject(classifySnowflakeFailure(query.sql, error)) : resolve(statement as RowStatement)),
        });
      } catch (error) {
        reject(classifySnowflakeFailure(query.sql, error));
      }
    });
  }

  /** Asks Snowflake to cancel `queryId` (SYSTEM$CANCEL_QUERY), then throws SnowflakeStatementCancelledError. */
  private async cancelQuery(query: CompiledQuery, queryId: string, reason: unknown): Promise<never> {
    await this.executeOnce({ sql: 'SELECT SYSTEM$CANCEL_QUERY(?)', parameters: [queryId] }, {}, {}).catch(() => undefined);
    throw new SnowflakeStatementCancelledError(query.sql, queryId, reason);
  }

  private async reconnect(): Promise<void> {
    const old = this.connection;
    this.connection = await signIn(this.settings);
    await new Promise<void>((resolve) => old.destroy(() => resolve()));
    await this.setUp();
  }

  async close(): Promise<void> {
    if (!this.connection.isUp()) return;
    await new Promise<void>((resolve) => this.connection.destroy(() => resolve()));
  }
}

async function signIn(settings: SnowflakeSessionSettings): Promise<Connection> {
  configureDriver();
  const options: ConnectionOptions = {
    account: settings.account,
    username: settings.username,
    database: settings.database,
    schema: settings.schema,
    ...(settings.warehouse !== undefined ? { warehouse: settings.warehouse } : {}),
    ...(settings.role !== undefined ? { role: settings.role } : {}),
    ...(settings.accessUrl !== undefined ? { accessUrl: settings.accessUrl } : {}),
    ...settings.credentials,
    application: 'Flywheel',
    // Integers are read from their text (fetchAsString), never through a lossy JS number.
    jsTreatIntegerAsBigInt: true,
    // A NULL read as text (fetchAsString) is null, not the string 'NULL'.
    representNullAsStringNull: false,
    // Sign-in is retried twice (the driver's default, seven with backoff, takes minutes); an activity's
    // retry policy retries the rest (SnowflakeTransientError).
    sfRetryMaxLoginRetries: 2,
  };
  const connection = snowflake.createConnection(options);
  try {
    await connection.connectAsync();
    return connection;
  } catch (error) {
    const failure = classifySnowflakeFailure('(sign in)', error);
    if (failure instanceof SnowflakeTransientError) throw failure;
    const code = (error as { code?: unknown }).code;
    throw new SnowflakeConnectError(settings.account, code === undefined ? undefined : String(code), error);
  }
}
