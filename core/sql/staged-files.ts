/**
 * Files the warehouse can read, as OfflineEngine.stageFiles hands them over. The warehouse may not
 * share the worker's disk (Snowflake never does), so a file reaches it through a stage; the dialect
 * reads the stage's files as a typed relation (Dialect.readStaged), never as one untyped column.
 *
 * @example
 * const staged = await engine.stageFiles([ndjsonPath], { name: 'seg-000042', format: 'jsonLines' });
 * const relation = engine.dialect.readStaged(staged, [['user_id', 'BIGINT'], ['ts', 'TIMESTAMPTZ']]);
 */
export interface StagedFiles {
  /**
   * Where the warehouse reads the files, one entry per file or folder: local paths (DuckDB, which
   * reads the worker's disk), or one stage path such as `@"FLYWHEEL"."fw_stage"/ingest/seg-42/`
   * (Snowflake, covering every file staged under it).
   */
  readonly locations: readonly string[];
  readonly format: StagedFormat;
  /**
   * The named file format the warehouse reads the files with, qualified (Snowflake reads staged
   * files only through one); undefined when the engine reads the format from the files themselves.
   */
  readonly fileFormat?: string;
}

export type StagedFormat = 'parquet' | 'jsonLines';

/** A column of a staged file and the engine type it is read as. */
export type StagedColumn = readonly [name: string, engineType: string];
