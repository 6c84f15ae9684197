import type { CompiledQuery } from '../../core/sql/compiled-query.ts';
import type { Dialect } from '../../core/sql/dialect.ts';
import type { StagedFiles, StagedFormat } from '../../core/sql/staged-files.ts';
import type { TableFacts } from '../../core/training-set/table-facts.ts';
import type { ValueType } from '../../core/types.ts';
import type { ObjectStore } from '../object-store/object-store.ts';

/** A column as the engine reports it: its engine type, and the Flywheel type it maps to (if any). */
export interface EngineColumn {
  readonly name: string;
  readonly engineType: string;
  readonly type: ValueType | undefined;
}

/**
 * A batch of rows from OfflineEngine.stream, column by column: `values[c][r]` is the value of column
 * `columns[c]` in row r, converted as `all` converts it (JSON-safe: timestamps as ISO strings, int64
 * beyond 2^53 as decimal strings).
 */
export interface EngineBatch {
  /** The result's column names, in order. */
  readonly columns: readonly string[];
  readonly values: readonly (readonly unknown[])[];
  readonly rowCount: number;
}

/** A query and the local Parquet file its rows go to. */
export interface ParquetExport {
  readonly query: CompiledQuery;
  readonly localPath: string;
}

/**
 * One file of a partitioned write: the partition it holds (its key, `day=2024-03-01`), where it is (a
 * local path from exportPartitionedParquet, an object key from ParquetUnloader.unloadPartitioned),
 * its rows and its size in bytes.
 */
export interface PartitionFile {
  readonly partitionKey: string;
  readonly path: string;
  readonly rowCount: number;
  readonly bytes: number;
}

/** A partitioned write: the rows of `query`, each to the partition named by its `keyColumn` (text such as `day=2024-03-01`, dialect.partitionKey). */
export interface PartitionedParquet {
  readonly query: CompiledQuery;
  /** A column of the query holding each row's partition key; it is not written to the files. */
  readonly keyColumn: string;
  /**
   * The same rows, partition by partition (without the key column), each query in the order its
   * file must keep. An engine whose one-statement write loses that order uses these instead: DuckDB's
   * `COPY … PARTITION_BY` is parallel and, when a partition's rows span two of its scan's row groups,
   * writes them in the order its threads finish (issue #14349), so it writes one file per query,
   * side by side. Omitted when no order is promised.
   */
  readonly partitions?: readonly { readonly key: string; readonly query: CompiledQuery }[];
}

/**
 * An unload: every column of `query` is written; `partitionKey` is a SQL expression over those
 * columns giving each row's partition key as text (dialect.partitionKey of the spine timestamp's
 * partition start, or a literal). An expression, not a column: Snowflake writes every column of the
 * unloaded query into the files, so the key cannot be one of them.
 */
export interface PartitionedUnload {
  readonly query: CompiledQuery;
  readonly partitionKey: string;
}

/**
 * Writes results straight into an object store, so no row passes through the worker (Snowflake:
 * `COPY INTO @stage/<prefix>/ FROM (query) PARTITION BY (key) FILE_FORMAT = (TYPE = PARQUET)` to
 * the bucket its external stage reads; core/sql/unload-sql.ts compiles it). An engine offers one only
 * for a store it can reach (OfflineEngine.unloadTo); otherwise results come through exportPartitionedParquet.
 */
export interface ParquetUnloader {
  /**
   * One statement, whatever the number of partitions: writes the rows under
   * `<prefix>/<partition key>/` of the store (file names are the engine's) and returns the files by
   * partition key, then name, each with its object key as `path`. A partition without rows gets no file.
   */
  unloadPartitioned(job: PartitionedUnload, prefix: string): Promise<PartitionFile[]>;
}

export interface StreamOptions {
  /** Rows per batch: every batch but the last has exactly this many (default 2048, DuckDB's chunk size). */
  readonly batchRows?: number;
}

/**
 * The offline (warehouse) engine: DuckDB embedded, Snowflake for warehouse-native teams.
 * SQL comes compiled from core/sql for `dialect`; the engine only runs it.
 */
export interface OfflineEngine {
  readonly dialect: Dialect;
  /** Runs statements that return nothing (DDL, INSERT, COPY). */
  run(query: CompiledQuery): Promise<void>;
  /**
   * Runs a query and returns its rows as plain, JSON-safe objects: timestamps as ISO-8601 UTC strings
   * (`2024-03-01T08:00:00.000Z`, six fractional digits when there are microseconds), dates as
   * `YYYY-MM-DD`, BIGINT as a number when it is a safe integer and as its decimal string otherwise.
   * A failed statement throws EngineQueryError (engine-query-error.ts), which carries the SQL.
   */
  all<Row extends Record<string, unknown> = Record<string, unknown>>(query: CompiledQuery): Promise<Row[]>;
  /**
   * Runs a query and yields its rows in batches, reading the next batch only when the previous one
   * was taken: a large result never sits in memory whole. The engine is held for this stream until
   * it is consumed, or the loop over it ends early (break, return, throw), which releases it; other
   * calls on the engine wait meanwhile, so do not call the engine from inside the loop.
   * A failed statement throws EngineQueryError from the first iteration.
   *
   * @example
   * for await (const batch of engine.stream(sql('SELECT id, label FROM t ORDER BY id'), { batchRows: 1000 })) {
   *   const [ids, labels] = batch.values;
   * }
   */
  stream(query: CompiledQuery, options?: StreamOptions): AsyncIterable<EngineBatch>;
  /** The columns a query or relation would return, without running it. */
  describe(query: CompiledQuery): Promise<EngineColumn[]>;
  /** Runs `work` in one transaction: all of its statements land, or none do. */
  transaction<T>(work: (engine: Pick<OfflineEngine, 'run' | 'all'>) => Promise<T>): Promise<T>;
  /**
   * What the warehouse says of `table` (a name as a source gives it, qualified or not): whether it is
   * a stored table, and the column sets it keeps unique (primary key, unique constraints), each as
   * column names. No sets when it has none, or the engine does not enforce them (a declared but
   * unenforced key promises nothing).
   */
  tableFacts(table: string): Promise<TableFacts>;
  /**
   * Replaces the working table `name` (an identifier unique to the run) with the rows of `query` and
   * returns its qualified name (unquoted). Working tables are the engine's scratch space, kept out of
   * the warehouse's tables and its log, and readable from every query of this engine, including those
   * of exportParquetFiles. Drop it when done (compileDropTable).
   */
  createWorkingTable(name: string, query: CompiledQuery): Promise<string>;
  /** Writes the rows of a query to a local Parquet file and returns how many it wrote. */
  exportParquet(query: CompiledQuery, localPath: string): Promise<{ rowCount: number }>;
  /**
   * exportParquet for many files, up to `concurrency` at a time (default: the engine's threads), in
   * any order; results come in the order of `exports`. `onWritten` is called as each file lands.
   */
  exportParquetFiles(exports: readonly ParquetExport[], options?: { concurrency?: number; onWritten?: (index: number, rowCount: number) => void }): Promise<{ rowCount: number }[]>;
  /**
   * Makes files readable by the warehouse and returns where it reads them (dialect.readStaged turns
   * that into a typed relation). `files` are local paths or object-store URIs (`file:///…`,
   * `s3://…`). DuckDB reads the worker's disk, so a local file is staged where it is; Snowflake
   * `PUT`s local files to an internal stage, or reads URIs under its external stage where they are.
   * `name` names the staged copy (a segment, a run's spine file): staging the same name again
   * replaces it, so a retried activity stages its files once. Throws StageError (stage-error.ts) for a
   * file the engine cannot reach, naming it.
   */
  stageFiles(files: readonly string[], options: { readonly name: string; readonly format: StagedFormat }): Promise<StagedFiles>;
  /** Removes what stageFiles copied into the warehouse (nothing for files staged where they are); the caller's own files stay. */
  unstageFiles(staged: StagedFiles): Promise<void>;
  /**
   * Writes the rows of a query as Parquet under `localDir`, one folder per partition key
   * (`<localDir>/<key>/part-00000.parquet`, more parts when the engine splits a large partition), in
   * one statement whatever the number of partitions (DuckDB: one statement per partition of
   * `job.partitions` when given, which keeps their order). Returns the files by partition key, then
   * name; a partition without rows gets no file. `localDir` is replaced.
   */
  exportPartitionedParquet(job: PartitionedParquet, localDir: string): Promise<PartitionFile[]>;
  /**
   * How this engine writes results straight into `store`, or undefined when it cannot reach it
   * (DuckDB, which writes local files; Snowflake and a local folder): then results come to the
   * worker's disk (exportParquet, exportPartitionedParquet) and from there to the store.
   */
  unloadTo(store: ObjectStore): ParquetUnloader | undefined;
  close(): Promise<void>;
}
