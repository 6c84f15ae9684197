import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DuckDBConnection, DuckDBMaterializedResult } from '@duckdb/node-api';
import { FlywheelError } from '../../../core/errors.ts';
import { assertIdentifier } from '../../../core/identifiers.ts';
import type { CompiledQuery } from '../../../core/sql/compiled-query.ts';
import type { StagedFiles, StagedFormat } from '../../../core/sql/staged-files.ts';
import type { TableFacts } from '../../../core/training-set/table-facts.ts';
import { duckdbDialect } from '../../../core/sql/dialect.ts';
import { EngineQueryError } from '../engine-query-error.ts';
import type { EngineBatch, EngineColumn, OfflineEngine, ParquetExport, ParquetUnloader, PartitionedParquet, PartitionFile, StreamOptions } from '../offline-engine.ts';
import { StageError } from '../stage-error.ts';
import { compileTableLookup, compileUniqueConstraints } from './duckdb-catalog.ts';
import { duckdbRowRefusal } from './duckdb-errors.ts';
import { leaseInstance, WORKING_CATALOG, type DuckDBSettings, type InstanceLease } from './duckdb-instances.ts';
import { toDuckDBParameters, toPlainValue } from './duckdb-values.ts';
import { SerialQueue } from './serial-queue.ts';

export interface DuckDBEngineOptions extends DuckDBSettings {
  /** The database file (its folders are created), or ':memory:'. Relative paths resolve against the working directory. */
  readonly path: string;
}

type Statements = Pick<OfflineEngine, 'run' | 'all'>;

/** Rows in a DuckDB data chunk (STANDARD_VECTOR_SIZE): the default batch of a stream. */
const DUCKDB_CHUNK_ROWS = 2048;

/** Which engine's transaction the current async call chain is inside (to refuse calls that would deadlock). */
const insideTransaction = new AsyncLocalStorage<DuckDBEngine>();

// DuckDB reports conflicts between concurrent transactions as "TransactionContext Error: … conflict …".
const CONFLICT = /TransactionContext Error.*conflict|write-write conflict/is;

/**
 * Opens the DuckDB offline engine on a database file. Throws DuckDBLockedError when another process
 * has the file open, DuckDBOpenError for other failures to open.
 *
 * @example
 * const engine = await openDuckDBEngine({ path: '.flywheel/warehouse.duckdb' });
 * const rows = await engine.all(sql('SELECT count(*) AS n FROM events WHERE ts >= ?', [since]));
 * await engine.close();
 */
export async function openDuckDBEngine(options: DuckDBEngineOptions): Promise<DuckDBEngine> {
  const path = options.path === ':memory:' ? options.path : resolve(options.path);
  const lease = await leaseInstance(path, options);
  let connection: DuckDBConnection | undefined;
  try {
    connection = await lease.instance.connect();
    // Timestamps are UTC instants everywhere; a session time zone would shift naive casts and output.
    await connection.run("SET TimeZone = 'UTC'");
    return new DuckDBEngine(path, connection, lease);
  } catch (error) {
    connection?.closeSync();
    lease.release();
    throw error instanceof FlywheelError ? error : new FlywheelError(`Cannot connect to the DuckDB database "${path}"`, { cause: error });
  }
}

/**
 * The embedded offline engine: one DuckDB connection, used by one statement at a time. Statements
 * queue in order; a transaction holds the connection from BEGIN to COMMIT, so statements from other
 * callers never land inside it. Engines on the same file in one process share the database.
 */
export class DuckDBEngine implements OfflineEngine {
  readonly dialect = duckdbDialect;
  /** The absolute path of the database file, or ':memory:'. */
  readonly path: string;
  /** Held by one public call (or one whole transaction) at a time. */
  private readonly session = new SerialQueue();
  /** Held by one statement at a time, including statements inside a transaction issued concurrently. */
  private readonly statements = new SerialQueue();
  private closed = false;

  /** Use openDuckDBEngine. */
  constructor(
    path: string,
    private readonly connection: DuckDBConnection,
    private readonly lease: InstanceLease,
  ) {
    this.path = path;
  }

  async run(query: CompiledQuery): Promise<void> {
    await this.exclusive(() => this.execute(query));
  }

  async all<Row extends Record<string, unknown> = Record<string, unknown>>(query: CompiledQuery): Promise<Row[]> {
    return this.exclusive(() => this.select<Row>(query));
  }

  /**
   * Streams the result with DuckDB's streaming API (`connection.stream` and `fetchChunk`): chunks of
   * up to 2048 rows are read only as batches are taken. The engine's session is held from the first
   * iteration until the loop ends, however it ends (the generator's `finally` releases it).
   */
  async *stream(query: CompiledQuery, options: StreamOptions = {}): AsyncGenerator<EngineBatch, void, undefined> {
    const batchRows = options.batchRows ?? DUCKDB_CHUNK_ROWS;
    if (!Number.isSafeInteger(batchRows) || batchRows < 1) throw new RangeError(`batchRows must be a positive whole number, got ${batchRows}`);
    if (insideTransaction.getStore() === this) {
      throw new FlywheelError('Inside engine.transaction(), run statements through the handle passed to the callback, not the engine');
    }
    if (this.closed) throw new FlywheelError(`The DuckDB engine on "${this.path}" is closed`);
    const release = await this.session.hold();
    try {
      const result = await this.statements.run(async () => {
        try {
          if (query.parameters.length === 0) return await this.connection.stream(query.sql);
          const { values, types } = toDuckDBParameters(query.parameters);
          return await this.connection.stream(query.sql, values, types);
        } catch (error) {
          throw queryError(query.sql, error);
        }
      });
      const columns = result.columnNames();
      let pending: unknown[][] = columns.map(() => []);
      let pendingRows = 0;
      for (;;) {
        let chunk;
        try {
          chunk = await result.fetchChunk();
        } catch (error) {
          // A streamed statement can fail while it runs, after its first chunks.
          throw queryError(query.sql, error);
        }
        if (!chunk || chunk.rowCount === 0) break;
        const values = chunk.convertColumns(toPlainValue);
        if (pendingRows === 0 && chunk.rowCount === batchRows) {
          yield { columns, values, rowCount: batchRows };
          continue;
        }
        values.forEach((column, c) => {
          for (const value of column) pending[c]!.push(value);
        });
        pendingRows += chunk.rowCount;
        while (pendingRows >= batchRows) {
          const batch = pending.map((column) => column.slice(0, batchRows));
          pending = pending.map((column) => column.slice(batchRows));
          pendingRows -= batchRows;
          yield { columns, values: batch, rowCount: batchRows };
        }
      }
      if (pendingRows > 0) yield { columns, values: pending, rowCount: pendingRows };
    } finally {
      release();
    }
  }

  /** Uses DuckDB's `DESCRIBE`, which binds the query (or relation name) without running it. */
  async describe(query: CompiledQuery): Promise<EngineColumn[]> {
    const rows = await this.all<{ column_name: string; column_type: string }>({
      sql: `DESCRIBE ${withoutTrailingSemicolons(query.sql)}`,
      parameters: query.parameters,
    });
    return rows.map((row) => ({ name: row.column_name, engineType: row.column_type, type: duckdbDialect.valueTypeOf(row.column_type) }));
  }

  /**
   * Runs `work` between BEGIN and COMMIT (ROLLBACK if it throws). Use only the `statements` handle
   * inside `work`: calling the engine itself there throws, since it would wait for this transaction.
   */
  async transaction<T>(work: (statements: Statements) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      let open = true;
      const guard = () => {
        if (!open) throw new FlywheelError('This transaction has ended; its statements handle can no longer be used');
      };
      const statements: Statements = {
        run: async (query) => {
          guard();
          await this.execute(query);
        },
        all: async <Row extends Record<string, unknown>>(query: CompiledQuery) => {
          guard();
          return this.select<Row>(query);
        },
      };
      await this.execute({ sql: 'BEGIN TRANSACTION', parameters: [] });
      try {
        const result = await insideTransaction.run(this, () => work(statements));
        open = false;
        await this.execute({ sql: 'COMMIT', parameters: [] });
        return result;
      } catch (error) {
        open = false;
        // A failed COMMIT or statement may have ended the transaction already; then ROLLBACK has nothing to do.
        await this.execute({ sql: 'ROLLBACK', parameters: [] }).catch(() => undefined);
        throw error;
      }
    });
  }

  async tableFacts(table: string): Promise<TableFacts> {
    const [tables, constraints] = await Promise.all([this.all(compileTableLookup(table)), this.all<{ columns: string[] }>(compileUniqueConstraints(table))]);
    return { isTable: tables.length > 0, uniqueColumnSets: constraints.map((row) => [...row.columns]) };
  }

  async createWorkingTable(name: string, query: CompiledQuery): Promise<string> {
    const table = `${WORKING_CATALOG}.main.${assertIdentifier(name)}`;
    await this.run({ sql: `CREATE OR REPLACE TABLE ${duckdbDialect.qualified(table)} AS\n${query.sql}`, parameters: query.parameters });
    return table;
  }

  /**
   * Writes the query's rows to `localPath` as zstd-compressed Parquet (folders created). DuckDB writes
   * a temporary file beside it that is renamed into place, so a failed export leaves no partial file.
   */
  async exportParquet(query: CompiledQuery, localPath: string): Promise<{ rowCount: number }> {
    return this.exclusive(() => this.copyToParquet((copy) => this.execute(copy), query, localPath));
  }

  /**
   * Exports on this connection and on `concurrency - 1` more connections to the same database (DuckDB
   * writes one file's row group on one thread, so files of one row group each are written side by
   * side). The engine is held until every file is written or one fails; then the files being written
   * finish, none is started, the first error is thrown, and no partial file stays.
   */
  async exportParquetFiles(exports: readonly ParquetExport[], options: { concurrency?: number; onWritten?: (index: number, rowCount: number) => void } = {}): Promise<{ rowCount: number }[]> {
    return this.exclusive(async () => {
      const threads = options.concurrency ?? Number((await this.select<{ n: number }>({ sql: "SELECT current_setting('threads') AS n", parameters: [] }))[0]?.n ?? 1);
      const lanes = Math.max(1, Math.min(threads, exports.length));
      const extra: DuckDBConnection[] = [];
      const results: { rowCount: number }[] = new Array(exports.length);
      let next = 0;
      let failed = false;
      const drain = async (run: (copy: CompiledQuery) => Promise<DuckDBMaterializedResult>) => {
        // After a failure no lane starts another file.
        while (next < exports.length && !failed) {
          const index = next++;
          const { query, localPath } = exports[index]!;
          try {
            results[index] = await this.copyToParquet(run, query, localPath);
          } catch (error) {
            failed = true;
            throw error;
          }
          options.onWritten?.(index, results[index].rowCount);
        }
      };
      try {
        for (let i = 1; i < lanes; i++) {
          const connection = await this.lease.instance.connect();
          extra.push(connection);
          await connection.run("SET TimeZone = 'UTC'");
        }
        const settled = await Promise.allSettled([drain((copy) => this.execute(copy)), ...extra.map((connection) => drain((copy) => runOn(connection, copy)))]);
        const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (rejected) throw rejected.reason;
        return results;
      } finally {
        for (const connection of extra) connection.closeSync();
      }
    });
  }

  private async copyToParquet(run: (copy: CompiledQuery) => Promise<DuckDBMaterializedResult>, query: CompiledQuery, localPath: string): Promise<{ rowCount: number }> {
    const target = resolve(localPath);
    const partial = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`);
    await mkdir(dirname(target), { recursive: true });
    // The newline before ')' keeps a trailing `-- comment` in the query from swallowing it.
    const copy = {
      sql: `COPY (\n${withoutTrailingSemicolons(query.sql)}\n) TO ${duckdbDialect.stringLiteral(partial)} (FORMAT parquet, COMPRESSION zstd)`,
      parameters: query.parameters,
    };
    try {
      const result = await run(copy);
      await rename(partial, target);
      return { rowCount: result.rowsChanged };
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  /**
   * DuckDB reads the worker's disk: a local file (or `file://` URI) is staged where it is, and nothing
   * is copied. Other URIs are refused: this build of DuckDB reads no object store (extensions stay
   * off), so download the file first.
   */
  async stageFiles(files: readonly string[], options: { readonly name: string; readonly format: StagedFormat }): Promise<StagedFiles> {
    if (files.length === 0) throw new StageError(options.name, 'no files were given');
    const locations: string[] = [];
    for (const file of files) {
      const path = file.startsWith('file://') ? fileURLToPath(file) : /^[a-z][a-z0-9+.-]*:\/\//i.test(file) ? undefined : resolve(file);
      if (path === undefined) throw new StageError(file, 'DuckDB reads local files only; download it to the worker first');
      const found = await stat(path).catch(() => undefined);
      if (!found?.isFile()) throw new StageError(file, 'there is no such file');
      locations.push(path);
    }
    return { locations, format: options.format };
  }

  /** Nothing to remove: stageFiles copies nothing. */
  async unstageFiles(): Promise<void> {}

  /**
   * Writes into a folder beside `localDir` that replaces it once written, so a failed export leaves
   * no partial files. With `job.partitions` (an order to keep): one file per partition, written by
   * exportParquetFiles side by side, each keeping its query's order, and a partition without rows
   * gets no file. Without: one `COPY … TO … (PARTITION_BY (key))`, whose RETURN_STATS gives each
   * file's rows and bytes; it is parallel, and rows of one partition that span two row groups of its
   * scan land in the order its threads finish them, so it promises no order within a file.
   */
  async exportPartitionedParquet(job: PartitionedParquet, localDir: string): Promise<PartitionFile[]> {
    const target = resolve(localDir);
    const partial = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.partial`);
    await mkdir(dirname(target), { recursive: true });
    if (job.partitions) return this.exportPartitionFiles(job.partitions, partial, target);
    const key = assertIdentifier(job.keyColumn);
    const copy = {
      sql: `COPY (\n${withoutTrailingSemicolons(job.query.sql)}\n) TO ${duckdbDialect.stringLiteral(partial)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (${duckdbDialect.identifier(key)}), RETURN_STATS)`,
      parameters: job.query.parameters,
    };
    try {
      const stats = await this.all<{ filename: string; count: number; file_size_bytes: number }>(copy);
      // DuckDB names a partition's folder `<key column>=<value, percent-encoded>`; ours is the value itself.
      const files = stats.map((row) => {
        const [folder, name] = relative(partial, row.filename).split(sep) as [string, string];
        return { partitionKey: decodeURIComponent(folder.slice(key.length + 1)), name, rowCount: Number(row.count), bytes: Number(row.file_size_bytes), from: row.filename };
      }).sort((a, b) => (a.partitionKey === b.partitionKey ? (a.name < b.name ? -1 : 1) : a.partitionKey < b.partitionKey ? -1 : 1));
      await rm(target, { recursive: true, force: true });
      await mkdir(target, { recursive: true });
      const parts = new Map<string, number>();
      const written: PartitionFile[] = [];
      for (const file of files) {
        const index = parts.get(file.partitionKey) ?? 0;
        parts.set(file.partitionKey, index + 1);
        const path = join(target, file.partitionKey, `part-${String(index).padStart(5, '0')}.parquet`);
        await mkdir(dirname(path), { recursive: true });
        await rename(file.from, path);
        written.push({ partitionKey: file.partitionKey, path, rowCount: file.rowCount, bytes: file.bytes });
      }
      return written;
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }

  /** Each partition's query to `<target>/<key>/part-00000.parquet` through `partial`; partitions without rows leave no file. */
  private async exportPartitionFiles(partitions: NonNullable<PartitionedParquet['partitions']>, partial: string, target: string): Promise<PartitionFile[]> {
    const sorted = [...partitions].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const file = (root: string, key: string) => join(root, key, 'part-00000.parquet');
    try {
      const counts = await this.exportParquetFiles(sorted.map(({ key, query }) => ({ query, localPath: file(partial, key) })));
      const written: PartitionFile[] = [];
      await rm(target, { recursive: true, force: true });
      await mkdir(target, { recursive: true });
      for (const [index, { key }] of sorted.entries()) {
        const rowCount = counts[index]!.rowCount;
        if (rowCount === 0) continue;
        const path = file(target, key);
        await mkdir(dirname(path), { recursive: true });
        await rename(file(partial, key), path);
        written.push({ partitionKey: key, path, rowCount, bytes: (await stat(path)).size });
      }
      return written;
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }

  /** DuckDB writes only to the worker's disk: results reach any store through local files. */
  unloadTo(): ParquetUnloader | undefined {
    return undefined;
  }

  /** Waits for queued work, then closes the connection (and the file, when no other engine in this process uses it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.run(async () => {
      this.connection.closeSync();
      this.lease.release();
    });
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    if (insideTransaction.getStore() === this) {
      return Promise.reject(
        new FlywheelError('Inside engine.transaction(), run statements through the handle passed to the callback, not the engine'),
      );
    }
    if (this.closed) return Promise.reject(new FlywheelError(`The DuckDB engine on "${this.path}" is closed`));
    return this.session.run(task);
  }

  private async select<Row>(query: CompiledQuery): Promise<Row[]> {
    const result = await this.execute(query);
    try {
      return (await result.convertRowObjects(toPlainValue)) as Row[];
    } catch (error) {
      throw queryError(query.sql, error);
    }
  }

  private execute(query: CompiledQuery): Promise<DuckDBMaterializedResult> {
    return this.statements.run(() => runOn(this.connection, query));
  }
}

/** Runs one statement on a connection: the engine's own (through its queue) or an extra lane of exportParquetFiles. */
async function runOn(connection: DuckDBConnection, query: CompiledQuery): Promise<DuckDBMaterializedResult> {
  try {
    if (query.parameters.length === 0) return await connection.run(query.sql);
    const { values, types } = toDuckDBParameters(query.parameters);
    return await connection.run(query.sql, values, types);
  } catch (error) {
    throw queryError(query.sql, error);
  }
}

/** A failed statement as EngineQueryError: retryable for a conflict between transactions, with what it says of the rows it read. */
function queryError(sql: string, error: unknown): EngineQueryError {
  const message = error instanceof Error ? error.message : String(error);
  return new EngineQueryError('duckdb', sql, error, { retryable: CONFLICT.test(message), refused: duckdbRowRefusal(message) });
}

function withoutTrailingSemicolons(sql: string): string {
  return sql.replace(/[\s;]+$/, '');
}
