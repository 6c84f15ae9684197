import type { CompiledQuery } from '../../core/sql/compiled-query.ts';
import type { Dialect } from '../../core/sql/dialect.ts';
import type { TableFacts } from '../../core/training-set/table-facts.ts';
import type { ValueType } from '../../core/types.ts';

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
  close(): Promise<void>;
}
