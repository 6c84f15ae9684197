import type { CompiledQuery } from './compiled-query.ts';
import { StagedLocationError } from './snowflake-dialect.ts';

/**
 * The one statement of a Snowflake unload (ParquetUnloader in connectors/offline/offline-engine.ts):
 * the rows of `query` written as Parquet under `location` (a stage path, usually the external stage
 * over the project's bucket and a run's staging prefix), one folder per value of `partitionKey` (an
 * expression over the query's columns: every column of the query is written, so the key is not
 * one). `HEADER = TRUE` keeps the column names as declared; `DETAILED_OUTPUT = TRUE` answers one row
 * per file (FILE_NAME, FILE_SIZE, ROW_COUNT), which the manifests record.
 *
 * @example
 * compileParquetUnload({ query, partitionKey: `'day=' || TO_VARCHAR(…)` }, '@"FLYWHEEL"."fw_bucket"/datasets/fraud/_staging/run-1/')
 */
export function compileParquetUnload(job: { readonly query: CompiledQuery; readonly partitionKey: string }, location: string): CompiledQuery {
  if (!location.startsWith('@')) throw new StagedLocationError(location, 'is not a stage path to unload to');
  if (/[\s;()']/.test(location.replace(/"[^"]*"/g, ''))) throw new StagedLocationError(location, 'is not a plain stage path');
  // The newline before ')' keeps a trailing `-- comment` in the query from swallowing it.
  return {
    sql: `COPY INTO ${location} FROM (\n${job.query.sql.replace(/[\s;]+$/, '')}\n) PARTITION BY (${job.partitionKey}) ` +
      'FILE_FORMAT = (TYPE = PARQUET) HEADER = TRUE DETAILED_OUTPUT = TRUE',
    parameters: job.query.parameters,
  };
}
