import type { CompiledQuery } from '../../core/sql/compiled-query.ts';
import type { Dialect } from '../../core/sql/dialect.ts';
import type { ValueType } from '../../core/types.ts';

/** A column as the engine reports it: its engine type, and the Flywheel type it maps to (if any). */
export interface EngineColumn {
  readonly name: string;
  readonly engineType: string;
  readonly type: ValueType | undefined;
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
  /** The columns a query or relation would return, without running it. */
  describe(query: CompiledQuery): Promise<EngineColumn[]>;
  /** Runs `work` in one transaction: all of its statements land, or none do. */
  transaction<T>(work: (engine: Pick<OfflineEngine, 'run' | 'all'>) => Promise<T>): Promise<T>;
  /** Writes the rows of a query to a local Parquet file and returns how many it wrote. */
  exportParquet(query: CompiledQuery, localPath: string): Promise<{ rowCount: number }>;
  close(): Promise<void>;
}
