import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError, FlywheelError } from '../../../core/errors.ts';
import { assertIdentifier, parseQualifiedName } from '../../../core/identifiers.ts';
import { sql, type CompiledQuery } from '../../../core/sql/compiled-query.ts';
import type { StagedFiles, StagedFormat } from '../../../core/sql/staged-files.ts';
import type { Dialect } from '../../../core/sql/dialect.ts';
import { snowflakeDialect, snowflakeDialectIn } from '../../../core/sql/snowflake-dialect.ts';
import type { TableFacts } from '../../../core/training-set/table-facts.ts';
import { SerialQueue } from '../duckdb/serial-queue.ts';
import type { ObjectStore } from '../../object-store/object-store.ts';
import { EngineQueryError } from '../engine-query-error.ts';
import type { EngineBatch, EngineColumn, OfflineEngine, ParquetExport, ParquetUnloader, PartitionedParquet, PartitionFile, StreamOptions } from '../offline-engine.ts';
import { StageError } from '../stage-error.ts';
import { parquetColumnOf, withLoadedRows } from './rows-to-parquet.ts';
import type { QueryTag } from './query-tag.ts';
import {
  compileDatabaseCandidates, compileRelationCandidates, pickRelation, pickStoredName, quotedRelation, quoteIdentifier,
  reliedKeyColumnSets, type ShownKeyColumn, type StoredRelation,
} from './snowflake-catalog.ts';
import { readSnowflakeCredentials, type SnowflakeProfile } from './snowflake-credentials.ts';
import { SnowflakeSession, type ExecuteOptions, type SentStatement, type StatementContext } from './snowflake-session.ts';
import { batchesOf, DEFAULT_BATCH_ROWS, engineTypeOf, readObjects } from './snowflake-results.ts';
import { stagePathOf, stageUnloader, type UnloadedFileRow, type UnloadStage } from './snowflake-unloader.ts';

export type { StatementContext, SentStatement } from './snowflake-session.ts';
export type { QueryTag } from './query-tag.ts';

export interface OpenSnowflakeOptions {
  /** Where the variables the profile names are read (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** The tag, heartbeat and cancellation signal of every statement (change them later with withStatementContext). */
  readonly context?: StatementContext;
  /** Called with each statement as it is handed to the driver (counting statements per run in tests, logging). */
  readonly onStatement?: (statement: SentStatement) => void;
}

/** STATEMENT_TIMEOUT_IN_SECONDS when the profile sets none: Snowflake's own default is two days. */
export const DEFAULT_STATEMENT_TIMEOUT_SECONDS = 4 * 60 * 60;
/** Files exported at once by exportParquetFiles by default: each is one query Snowflake runs while the worker writes another. */
const DEFAULT_EXPORT_CONCURRENCY = 4;
/** The engine's internal stage, in the working schema: where stageFiles puts local files. */
const STAGE_NAME = 'flywheel_stage';
/** The named file formats staged files are read with (Dialect.readStaged names them). */
const FILE_FORMATS: Record<StagedFormat, { name: string; options: string }> = {
  parquet: { name: 'flywheel_parquet', options: 'TYPE = PARQUET' },
  // One JSON object per line; gzip when PUT compressed it (COMPRESSION = AUTO).
  jsonLines: { name: 'flywheel_json_lines', options: 'TYPE = JSON COMPRESSION = AUTO' },
};
/** INFORMATION_SCHEMA.TABLES types whose rows are stored (a table, not a view). */
const STORED_TABLE_TYPES = new Set(['BASE TABLE', 'TEMPORARY TABLE', 'LOCAL TEMPORARY']);

type Statements = Pick<OfflineEngine, 'run' | 'all'>;

/**
 * Opens the Snowflake offline engine a profile names: reads its credential from the environment
 * variable the profile names, signs in, and sets the session up (UTC, statement timeout). Throws
 * ConfigError for a missing variable or key, SnowflakeConnectError when Snowflake refuses the sign
 * in, SnowflakeTransientError when it cannot be reached.
 *
 * @example
 * const engine = await openSnowflakeEngine(profile.offline, { context: { queryTag: { project: 'card_fraud', run: workflowId } } });
 * const rows = await engine.all(sql('SELECT COUNT(*) AS "n" FROM "flywheel"."registry"'));
 * await engine.close();
 */
export async function openSnowflakeEngine(profile: SnowflakeProfile, options: OpenSnowflakeOptions = {}): Promise<SnowflakeEngine> {
  const credentials = readSnowflakeCredentials(profile, options.env);
  const session = await SnowflakeSession.open(
    {
      account: profile.account,
      username: profile.username,
      database: profile.database,
      schema: profile.schema,
      ...(profile.warehouse !== undefined ? { warehouse: profile.warehouse } : {}),
      ...(profile.role !== undefined ? { role: profile.role } : {}),
      ...(profile.accessUrl !== undefined ? { accessUrl: profile.accessUrl } : {}),
      credentials,
      statementTimeoutSeconds: profile.statementTimeoutSeconds ?? DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    },
    options.onStatement,
    options.context?.queryTag,
  );
  try {
    const statement = await session.execute({ sql: 'SELECT CURRENT_DATABASE() AS "database", CURRENT_SCHEMA() AS "schema"', parameters: [] }, options.context ?? {}, {});
    const [current] = await readObjects<{ database: string | null; schema: string | null }>(statement, 'SELECT CURRENT_DATABASE()');
    if (!current?.database || !current.schema) {
      throw new ConfigError(`Snowflake has no database ${profile.database} with schema ${profile.schema} that user ${profile.username} can use (check the names and the role's grants)`, { field: 'offline.schema' });
    }
    const core = new EngineCore(session, current.database, current.schema, profile.scratchSchema, profile.unloadStage);
    return new SnowflakeEngine(core, options.context ?? {});
  } catch (error) {
    await session.close();
    throw error;
  }
}

/** What every view of one engine (withStatementContext) shares: the session and its queue. */
class EngineCore {
  /** Held by one public call (or one whole transaction or stream) at a time. */
  readonly queue = new SerialQueue();
  /** Which engine's transaction the current async call chain is inside (to refuse calls that would deadlock). */
  readonly insideTransaction = new AsyncLocalStorage<EngineCore>();
  closed = false;
  private scratchReady: Promise<void> | undefined;
  constructor(
    readonly session: SnowflakeSession,
    /** The session's database and schema, as stored. */
    readonly database: string,
    readonly schema: string,
    private readonly scratchSchema: string | undefined,
    /** The profile's external stage over the project's bucket, when it names one. */
    readonly unloadStage: UnloadStage | undefined,
  ) {
    this.dialect = snowflakeDialectIn({ database, schema });
  }

  /** Snowflake's dialect in this session's database and schema (snowflakeDialectIn). */
  readonly dialect: Dialect;

  private stageReady = new Map<string, Promise<{ stage: string; fileFormat: string }>>();

  /** The engine's internal stage and the named file format of `format`, created once per engine. */
  async stageObjects(context: StatementContext, format: StagedFormat): Promise<{ stage: string; fileFormat: string }> {
    let ready = this.stageReady.get(format);
    if (!ready) {
      ready = (async () => {
        const schema = quoteIdentifier(await this.workingSchema(context));
        const stage = `@${schema}.${snowflakeDialect.identifier(STAGE_NAME)}`;
        const fileFormat = `${schema}.${snowflakeDialect.identifier(FILE_FORMATS[format].name)}`;
        await this.session.execute({ sql: `CREATE STAGE IF NOT EXISTS ${stage.slice(1)}`, parameters: [] }, context, {});
        await this.session.execute({ sql: `CREATE FILE FORMAT IF NOT EXISTS ${fileFormat} ${FILE_FORMATS[format].options}`, parameters: [] }, context, {});
        return { stage, fileFormat };
      })();
      this.stageReady.set(format, ready);
      ready.catch(() => this.stageReady.delete(format));
    }
    return ready;
  }

  /** The schema working tables go to, created on first use when the profile names its own. */
  async workingSchema(context: StatementContext): Promise<string> {
    if (this.scratchSchema === undefined) return this.schema;
    const schema = this.scratchSchema;
    this.scratchReady ??= this.session.execute({ sql: `CREATE SCHEMA IF NOT EXISTS ${snowflakeDialect.identifier(schema)}`, parameters: [] }, context, {}).then(() => undefined);
    await this.scratchReady.catch((error: unknown) => {
      this.scratchReady = undefined;
      throw error;
    });
    return schema;
  }
}

/**
 * The Snowflake offline engine: one session, used by one public call at a time (a transaction or a
 * stream holds it until it ends). Statements outside transactions are submitted asynchronously
 * and polled, heartbeating, and cancelled on Snowflake when the context's signal fires; each
 * carries the context's QUERY_TAG. Results come back as the same JSON-safe values as DuckDB's.
 * Parquet exports stream the rows through the driver and write the file with DuckDB in-process.
 */
export class SnowflakeEngine implements OfflineEngine {
  /** Snowflake's dialect, with a source's one-part table name qualified by the session's database and schema. */
  readonly dialect: Dialect;

  /** Use openSnowflakeEngine. */
  constructor(
    private readonly core: EngineCore,
    /** The tag, heartbeat and signal of this view's statements. */
    readonly context: StatementContext,
  ) {
    this.dialect = core.dialect;
  }

  /**
   * The same engine (session, queue) whose statements carry `context` instead: how an activity tags
   * its statements and ties them to its heartbeat and cancellation. Closing either closes both.
   *
   * @example
   * const tagged = engine.withStatementContext({
   *   queryTag: { project, object: 'fraud_training', run: Context.current().info.workflowExecution.workflowId },
   *   heartbeat: () => Context.current().heartbeat(progress),
   *   signal: Context.current().cancellationSignal,
   * });
   */
  withStatementContext(context: StatementContext): SnowflakeEngine {
    return new SnowflakeEngine(this.core, context);
  }

  /** withStatementContext with only the tag changed. */
  withQueryTag(queryTag: QueryTag): SnowflakeEngine {
    return new SnowflakeEngine(this.core, { ...this.context, queryTag });
  }

  /** The session's database and schema, as stored (upper case unless created quoted). */
  get location(): { readonly database: string; readonly schema: string } {
    return { database: this.core.database, schema: this.core.schema };
  }

  async run(query: CompiledQuery): Promise<void> {
    await this.exclusive(() => this.core.session.executeDiscardingResult(query, this.context));
  }

  async all<Row extends Record<string, unknown> = Record<string, unknown>>(query: CompiledQuery): Promise<Row[]> {
    return this.exclusive(async () => readObjects<Row>(await this.core.session.execute(query, this.context, { async: true }), query.sql));
  }

  /**
   * Streams the result with the driver's streamRows (rows are fetched as they are read, in the
   * result's chunks); the engine is held from the first iteration until the loop ends, however it ends.
   */
  async *stream(query: CompiledQuery, options: StreamOptions = {}): AsyncGenerator<EngineBatch, void, undefined> {
    const batchRows = options.batchRows ?? DEFAULT_BATCH_ROWS;
    if (!Number.isSafeInteger(batchRows) || batchRows < 1) throw new RangeError(`batchRows must be a positive whole number, got ${batchRows}`);
    this.assertUsable();
    const release = await this.core.queue.hold();
    try {
      const statement = await this.core.session.execute(query, this.context, { async: true });
      yield* batchesOf(statement, query.sql, batchRows);
    } finally {
      release();
    }
  }

  /** Describes the result with the driver's describeOnly: Snowflake compiles the statement and runs nothing. */
  async describe(query: CompiledQuery): Promise<EngineColumn[]> {
    const statement = await this.exclusive(() => this.core.session.execute(query, this.context, { describeOnly: true }));
    return (statement.getColumns() ?? []).map((column) => {
      const engineType = engineTypeOf(column);
      return { name: column.getName(), engineType, type: snowflakeDialect.valueTypeOf(engineType) };
    });
  }

  /**
   * Runs `work` between BEGIN and COMMIT on the session (ROLLBACK if it throws); its statements run
   * synchronously. Use only the `statements` handle inside `work`. Snowflake commits an open
   * transaction before any DDL (CREATE, ALTER, DROP), so keep DDL out of transactions.
   */
  async transaction<T>(work: (statements: Statements) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      let open = true;
      const guard = () => {
        if (!open) throw new FlywheelError('This transaction has ended; its statements handle can no longer be used');
      };
      const inTransaction: ExecuteOptions & { inTransaction: true } = { inTransaction: true };
      const statements: Statements = {
        run: async (query) => {
          guard();
          await this.core.session.execute(query, this.context, inTransaction);
        },
        all: async <Row extends Record<string, unknown>>(query: CompiledQuery) => {
          guard();
          return readObjects<Row>(await this.core.session.execute(query, this.context, inTransaction), query.sql);
        },
      };
      await this.core.session.execute({ sql: 'BEGIN TRANSACTION', parameters: [] }, this.context, inTransaction);
      try {
        const result = await this.core.insideTransaction.run(this.core, () => work(statements));
        open = false;
        await this.core.session.execute({ sql: 'COMMIT', parameters: [] }, this.context, inTransaction);
        return result;
      } catch (error) {
        open = false;
        // A failed COMMIT may have ended the transaction already; then ROLLBACK has nothing to do.
        await this.core.session.execute({ sql: 'ROLLBACK', parameters: [] }, this.context, inTransaction).catch(() => undefined);
        throw error;
      }
    });
  }

  /**
   * The stored relation `table` names (snowflake-catalog.ts has the case rules), or undefined when
   * there is none. Throws AmbiguousTableNameError when the name matches several in different cases.
   */
  async resolveTable(table: string): Promise<StoredRelation | undefined> {
    return this.exclusive(() => this.lookUp(table));
  }

  /**
   * Whether `table` is a stored table, and its keys Snowflake may rely on: primary and unique keys
   * declared RELY (`SHOW PRIMARY KEYS` / `SHOW UNIQUE KEYS`, column `rely`). Snowflake enforces
   * neither, so a key without RELY is not reported: the join keeps its tie-break.
   */
  async tableFacts(table: string): Promise<TableFacts> {
    return this.exclusive(async () => {
      const relation = await this.lookUp(table);
      if (!relation || !STORED_TABLE_TYPES.has(relation.type.toUpperCase())) return { isTable: false, uniqueColumnSets: [] };
      const keys: ShownKeyColumn[] = [];
      for (const kind of ['PRIMARY', 'UNIQUE']) {
        const show = { sql: `SHOW ${kind} KEYS IN TABLE ${quotedRelation(relation)}`, parameters: [] };
        keys.push(...(await readObjects<ShownKeyColumn & Record<string, unknown>>(await this.core.session.execute(show, this.context, {}), show.sql)));
      }
      return { isTable: true, uniqueColumnSets: reliedKeyColumnSets(keys, relation) };
    });
  }

  /**
   * Replaces the working table `name` with the rows of `query`: a TRANSIENT table (no Fail-safe,
   * no Time Travel cost beyond a day) in the profile's scratchSchema, else the session's schema.
   * Returns `schema.name`. Transient, not temporary: exportParquetFiles reads it from several
   * statements, and a retried activity on a new session must find it.
   */
  async createWorkingTable(name: string, query: CompiledQuery): Promise<string> {
    return this.exclusive(async () => {
      const schema = await this.core.workingSchema(this.context);
      const table = `${schema}.${assertIdentifier(name)}`;
      await this.core.session.executeDiscardingResult(
        { sql: `CREATE OR REPLACE TRANSIENT TABLE ${quoteIdentifier(schema)}.${snowflakeDialect.identifier(name)} DATA_RETENTION_TIME_IN_DAYS = 0 AS\n${withoutTrailingSemicolons(query.sql)}`, parameters: query.parameters },
        this.context,
      );
      return table;
    });
  }

  async exportParquet(query: CompiledQuery, localPath: string): Promise<{ rowCount: number }> {
    return this.exclusive(() => this.exportOne(query, localPath));
  }

  /**
   * exportParquet for many files, up to `concurrency` (default 4) at a time on the one session:
   * Snowflake runs the queries side by side while the worker writes files. After a failure no file
   * is started, those being written finish, the first error is thrown, and no partial file stays.
   */
  async exportParquetFiles(exports: readonly ParquetExport[], options: { concurrency?: number; onWritten?: (index: number, rowCount: number) => void } = {}): Promise<{ rowCount: number }[]> {
    return this.exclusive(async () => {
      const lanes = Math.max(1, Math.min(options.concurrency ?? DEFAULT_EXPORT_CONCURRENCY, exports.length));
      const results: { rowCount: number }[] = new Array(exports.length);
      let next = 0;
      let failed = false;
      const drain = async () => {
        while (next < exports.length && !failed) {
          const index = next++;
          const { query, localPath } = exports[index]!;
          try {
            results[index] = await this.exportOne(query, localPath);
          } catch (error) {
            failed = true;
            throw error;
          }
          options.onWritten?.(index, results[index].rowCount);
        }
      };
      const settled = await Promise.allSettled(Array.from({ length: lanes }, drain));
      const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (rejected) throw rejected.reason;
      return results;
    });
  }

  /** Waits for queued work, then ends the session. */
  async close(): Promise<void> {
    if (this.core.closed) return;
    this.core.closed = true;
    await this.core.queue.run(() => this.core.session.close());
  }

  /**
   * Runs the query once and streams its rows into a scratch DuckDB file beside `localDir`, which
   * writes the partitions with DuckDB's `COPY … PARTITION_BY` (the DuckDB engine's
   * exportPartitionedParquet: same layout, one folder per key, `localDir` replaced only once all
   * are written). One Snowflake statement whatever the number of partitions.
   */
  async exportPartitionedParquet(job: PartitionedParquet, localDir: string): Promise<PartitionFile[]> {
    return this.exclusive(async () => {
      const target = resolve(localDir);
      const statement = await this.core.session.execute(job.query, this.context, { async: true });
      const columns = (statement.getColumns() ?? []).map(parquetColumnOf);
      if (!columns.some((c) => c.name === job.keyColumn)) throw new EngineQueryError('snowflake', job.query.sql, new Error(`the query has no column "${job.keyColumn}" to partition by`));
      return withLoadedRows(dirname(target), columns, batchesOf(statement, job.query.sql, DEFAULT_BATCH_ROWS), (duckdb, table) =>
        duckdb.exportPartitionedParquet({ query: sql(`SELECT * FROM ${table}`), keyColumn: job.keyColumn }, target),
      );
    });
  }

  /**
   * Local files (paths or `file://` URIs) are `PUT` into the engine's internal stage
   * (`flywheel_stage` in the working schema) under `<name>/<index>/`, one location per file in the
   * order given, replacing what was staged under that name, and read through a named file format (`flywheel_parquet`, `flywheel_json_lines`), both
   * created on first use. Object-store URIs (`s3://…`) are refused: reading them in place needs an
   * external stage over the bucket, which this engine does not configure yet.
   */
  async stageFiles(files: readonly string[], options: { readonly name: string; readonly format: StagedFormat }): Promise<StagedFiles> {
    return this.exclusive(async () => {
      if (files.length === 0) throw new StageError(options.name, 'no files were given');
      const name = stagedFolderName(options.name);
      const paths: string[] = [];
      for (const file of files) {
        const path = file.startsWith('file://') ? fileURLToPath(file) : /^[a-z][a-z0-9+.-]*:\/\//i.test(file) ? undefined : resolve(file);
        if (path === undefined) throw new StageError(file, 'the Snowflake engine stages local files only (an external stage over the bucket is not configured); download it to the worker first');
        const found = await stat(path).catch(() => undefined);
        if (!found?.isFile()) throw new StageError(file, 'there is no such file');
        paths.push(path);
      }
      const { stage, fileFormat } = await this.core.stageObjects(this.context, options.format);
      await this.core.session.execute({ sql: `REMOVE ${stage}/${name}/`, parameters: [] }, this.context, {});
      // One folder per file, in the order given: a stage path lists its files by name, not as given,
      // so each file is its own location and readStaged reads them one after the other.
      const locations = paths.map((_, index) => `${stage}/${name}/${String(index).padStart(5, '0')}/`);
      for (const [index, path] of paths.entries()) {
        // PUT takes a file URL in single quotes; AUTO_COMPRESS off keeps Parquet as it is (it compresses itself).
        const put = `PUT ${snowflakeDialect.stringLiteral(pathToFileURL(path).href)} ${locations[index]} AUTO_COMPRESS = ${options.format === 'jsonLines' ? 'TRUE' : 'FALSE'} OVERWRITE = TRUE`;
        await this.core.session.execute({ sql: put, parameters: [] }, this.context, { fileTransfer: true });
      }
      return { locations, format: options.format, fileFormat };
    });
  }

  /** Removes the files stageFiles put under each location of the engine's own stage. */
  async unstageFiles(staged: StagedFiles): Promise<void> {
    return this.exclusive(async () => {
      const { stage } = await this.core.stageObjects(this.context, staged.format);
      for (const location of staged.locations) {
        if (!location.startsWith(`${stage}/`)) continue;
        await this.core.session.execute({ sql: `REMOVE ${location}`, parameters: [] }, this.context, {});
      }
    });
  }

  /**
   * With the profile's `unloadStage` over the store's bucket (its URL covers the store's keys):
   * partitions are unloaded by Snowflake straight into the store (snowflake-unloader.ts). Without
   * one, or for a store it does not cover (a local folder, another bucket), undefined: results come
   * through the worker (exportPartitionedParquet).
   */
  unloadTo(store: ObjectStore): ParquetUnloader | undefined {
    const stage = this.core.unloadStage;
    if (stage === undefined || stagePathOf(stage, store, '') === undefined) return undefined;
    return stageUnloader(stage, store, (statement) =>
      this.exclusive(async () => readObjects<UnloadedFileRow>(await this.core.session.execute(statement, this.context, { async: true }), statement.sql)),
    );
  }

  private async exportOne(query: CompiledQuery, localPath: string): Promise<{ rowCount: number }> {
    const target = resolve(localPath);
    // The folder exists even when the query fails, as with DuckDB's COPY.
    await mkdir(dirname(target), { recursive: true });
    const statement = await this.core.session.execute(query, this.context, { async: true });
    const columns = (statement.getColumns() ?? []).map(parquetColumnOf);
    return withLoadedRows(dirname(target), columns, batchesOf(statement, query.sql, DEFAULT_BATCH_ROWS), (duckdb, table) => duckdb.exportParquet(sql(`SELECT * FROM ${table}`), target));
  }

  private async lookUp(table: string): Promise<StoredRelation | undefined> {
    const parts = parseQualifiedName(table);
    let database: string | undefined;
    if (parts.length === 3) {
      const query = compileDatabaseCandidates(parts[0]!);
      const rows = await readObjects<{ name: string }>(await this.core.session.execute(query, this.context, {}), query.sql);
      database = pickStoredName(parts[0]!, rows.map((r) => r.name), table);
      if (database === undefined) return undefined;
    }
    const query = compileRelationCandidates(table, database);
    const rows = await readObjects<StoredRelation & Record<string, unknown>>(await this.core.session.execute(query, this.context, {}), query.sql);
    return pickRelation(table, rows);
  }

  private assertUsable(): void {
    if (this.core.insideTransaction.getStore() === this.core) {
      throw new FlywheelError('Inside engine.transaction(), run statements through the handle passed to the callback, not the engine');
    }
    if (this.core.closed) throw new FlywheelError('The Snowflake engine is closed');
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    try {
      this.assertUsable();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.core.queue.run(task);
  }
}

/** A staged name as a folder of the stage: letters, digits, `_`, `-`, `.` and `=` only (it goes into SQL unquoted). */
function stagedFolderName(name: string): string {
  if (!/^[A-Za-z0-9_.=-]{1,200}$/.test(name) || name.includes('..')) throw new StageError(name, 'a staged name has only letters, digits, "_", "-", "." and "="');
  return name;
}

function withoutTrailingSemicolons(sql: string): string {
  return sql.replace(/[\s;]+$/, '');
}
