import { describe, expect, it } from 'vitest';
import { duckdbDialect, type Dialect } from '../core/sql/dialect.ts';
import { compileInsertParquet } from '../core/sql/labels-spine-sql.ts';
import { compilePartitionedRows, compileUnloadRows } from '../core/sql/partition-sql.ts';
import { snowflakeDialect, StagedLocationError } from '../core/sql/snowflake-dialect.ts';
import type { StagedFiles } from '../core/sql/staged-files.ts';
import { compileParquetUnload } from '../core/sql/snowflake-unload.ts';

// Expected SQL is keyed by dialect (kysely style): a new dialect does not pass until every case covers it.
const dialects: Record<Dialect['name'], Dialect> = { duckdb: duckdbDialect, snowflake: snowflakeDialect };

/** Two label partitions' files as each engine's stageFiles gives them: local paths (DuckDB), an internal stage path and a named format (Snowflake). */
const spineFiles: Record<Dialect['name'], StagedFiles> = {
  duckdb: { locations: ['/scratch/run/_labels/00000.parquet', "/scratch/run/_labels/it's.parquet"], format: 'parquet' },
  snowflake: { locations: ['@"flywheel"."fw_stage"/spine/run-1/'], format: 'parquet', fileFormat: '"flywheel"."fw_parquet"' },
};

const expectedSpineInsert: Record<Dialect['name'], string> = {
  duckdb: 'INSERT INTO "labels_spine" ("user_id", "ts", "label")\n' +
    "SELECT \"user_id\", \"ts\", \"label\" FROM read_parquet(['/scratch/run/_labels/00000.parquet', '/scratch/run/_labels/it''s.parquet'])",
  // Each column the VARIANT's key of the same name, cast to its type: never one untyped column.
  snowflake: 'INSERT INTO "labels_spine" ("user_id", "ts", "label")\n' +
    'SELECT "user_id", "ts", "label" FROM (SELECT $1:"user_id"::NUMBER(19,0) AS "user_id", $1:"ts"::TIMESTAMP_TZ AS "ts", $1:"label"::BOOLEAN AS "label" ' +
    'FROM @"flywheel"."fw_stage"/spine/run-1/ (FILE_FORMAT => \'"flywheel"."fw_parquet"\'))',
};

const expectedPartitionedRows: Record<Dialect['name'], Record<'day' | 'hour' | 'month' | 'none', string>> = {
  duckdb: {
    day: `SELECT "user_id", "label", 'day=' || strftime(timezone('UTC', "__fw_partition"), '%Y-%m-%d') AS "__fw_partition_key" FROM "work"."main"."run_ts" WHERE "__fw_partition" IS NOT NULL`,
    hour: `SELECT "user_id", "label", 'hour=' || strftime(timezone('UTC', "__fw_partition"), '%Y-%m-%dT%H') AS "__fw_partition_key" FROM "work"."main"."run_ts" WHERE "__fw_partition" IS NOT NULL`,
    month: `SELECT "user_id", "label", 'month=' || strftime(timezone('UTC', "__fw_partition"), '%Y-%m') AS "__fw_partition_key" FROM "work"."main"."run_ts" WHERE "__fw_partition" IS NOT NULL`,
    none: `SELECT "user_id", "label", 'all' AS "__fw_partition_key" FROM "work"."main"."run_ts" WHERE "__fw_partition" IS NOT NULL`,
  },
  snowflake: {
    day: `SELECT "user_id", "label", 'day=' || TO_VARCHAR(CONVERT_TIMEZONE('UTC', "__fw_partition"), 'YYYY-MM-DD') AS "__fw_partition_key" FROM "work"."main"."run_ts" WHERE "__fw_partition" IS NOT NULL`,
    hour: `SELECT "user_id", "label", 'hour=' || TO_VARCHAR(CONVERT_TIMEZONE('UTC', "__fw_partition"), 'YYYY-MM-DD"T"HH24') AS "__fw_partition_key" FROM "work"."main"."run_ts" WHERE "__fw_partition" IS NOT NULL`,
    month: `SELECT "user_id", "label", 'month=' || TO_VARCHAR(CONVERT_TIMEZONE('UTC', "__fw_partition"), 'YYYY-MM') AS "__fw_partition_key" FROM "work"."main"."run_ts" WHERE "__fw_partition" IS NOT NULL`,
    none: `SELECT "user_id", "label", 'all' AS "__fw_partition_key" FROM "work"."main"."run_ts" WHERE "__fw_partition" IS NOT NULL`,
  },
};

const expectedUnloadKey: Record<Dialect['name'], string> = {
  duckdb: `'day=' || strftime(timezone('UTC', date_trunc('day', CAST("ts" AS TIMESTAMPTZ))), '%Y-%m-%d')`,
  snowflake: `'day=' || TO_VARCHAR(CONVERT_TIMEZONE('UTC', DATE_TRUNC('DAY', CONVERT_TIMEZONE('UTC', CAST("ts" AS TIMESTAMP_TZ)))), 'YYYY-MM-DD')`,
};

describe.each(Object.values(dialects))('staged files and partitioned writes ($name)', (dialect) => {
  const columns = [{ name: 'user_id', type: 'int64' }, { name: 'ts', type: 'timestamp' }, { name: 'label', type: 'bool' }] as const;

  it('loads a spine from staged Parquet in one statement, typed by the declared columns', () => {
    expect(compileInsertParquet('labels_spine', columns, spineFiles[dialect.name], dialect)).toEqual({ sql: expectedSpineInsert[dialect.name], parameters: [] });
  });

  it('keys every row of a working table by its partition, for one partitioned write', () => {
    for (const unit of ['day', 'hour', 'month', 'none'] as const) {
      expect(compilePartitionedRows('work.main.run_ts', ['user_id', 'label'], unit, dialect)).toEqual({ sql: expectedPartitionedRows[dialect.name][unit], parameters: [] });
    }
  });

  it('unloads the written columns only, keyed by an expression over the spine timestamp', () => {
    const unload = compileUnloadRows('work.main.run_ts', ['user_id', 'ts'], 'ts', 'day', dialect);
    expect(unload.query).toEqual({ sql: 'SELECT "user_id", "ts" FROM "work"."main"."run_ts" WHERE "__fw_partition" IS NOT NULL', parameters: [] });
    expect(unload.partitionKey).toBe(expectedUnloadKey[dialect.name]);
    expect(compileUnloadRows('work.main.run_ts', ['user_id', 'ts'], 'ts', 'none', dialect).partitionKey).toBe("'all'");
  });
});

describe('staged reads on Snowflake', () => {
  it('reads several stage paths as one relation, each with the named file format', () => {
    const files: StagedFiles = { locations: ['@s/a/', '@s/b/'], format: 'jsonLines', fileFormat: 'fmt' };
    expect(snowflakeDialect.readStaged(files, [['id', 'VARCHAR']])).toBe(`(SELECT $1:"id"::VARCHAR AS "id" FROM @s/a/ (FILE_FORMAT => 'fmt') UNION ALL SELECT $1:"id"::VARCHAR AS "id" FROM @s/b/ (FILE_FORMAT => 'fmt'))`);
  });

  it('refuses a path on the worker\'s disk, a path that is more than a stage path, and a read without columns, naming the location', () => {
    const read = (location: string, columns: readonly (readonly [string, string])[] = [['id', 'VARCHAR']]) => () => snowflakeDialect.readStaged({ locations: [location], format: 'parquet' }, columns);
    expect(read('/scratch/seg-1.ndjson')).toThrow(new StagedLocationError('/scratch/seg-1.ndjson', 'is not a stage path; stage the files first (OfflineEngine.stageFiles), or name a stage in the source'));
    expect(read('@s/a/ (FILE_FORMAT => x); DROP TABLE t')).toThrow(StagedLocationError);
    expect(read('@s/a/', [])).toThrow('Snowflake needs each column and its type to read staged Parquet');
  });

  it('unloads a run\'s partitions in one COPY INTO the stage, partitioned by the key expression, with a row per file', () => {
    const unload = compileUnloadRows('work.main.run_ts', ['user_id', 'ts'], 'ts', 'day', snowflakeDialect);
    expect(compileParquetUnload(unload, '@"flywheel"."fw_bucket"/datasets/fraud/_staging/run-1/')).toEqual({
      sql: 'COPY INTO @"flywheel"."fw_bucket"/datasets/fraud/_staging/run-1/ FROM (\nSELECT "user_id", "ts" FROM "work"."main"."run_ts" WHERE "__fw_partition" IS NOT NULL\n) ' +
        `PARTITION BY ('day=' || TO_VARCHAR(CONVERT_TIMEZONE('UTC', DATE_TRUNC('DAY', CONVERT_TIMEZONE('UTC', CAST("ts" AS TIMESTAMP_TZ)))), 'YYYY-MM-DD')) ` +
        'FILE_FORMAT = (TYPE = PARQUET) HEADER = TRUE DETAILED_OUTPUT = TRUE',
      parameters: [],
    });
    expect(() => compileParquetUnload(unload, '/scratch/out')).toThrow(StagedLocationError);
    expect(() => compileParquetUnload(unload, "@s/x/' OVERWRITE = TRUE")).toThrow(StagedLocationError);
  });

  it('does not enforce primary keys; DuckDB does', () => {
    expect([duckdbDialect.enforcesPrimaryKeys, snowflakeDialect.enforcesPrimaryKeys]).toEqual([true, false]);
  });
});
