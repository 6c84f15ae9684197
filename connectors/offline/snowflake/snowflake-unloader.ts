import { compileParquetUnload } from '../../../core/sql/snowflake-unload.ts';
import type { ObjectStore } from '../../object-store/object-store.ts';
import type { ParquetUnloader, PartitionedUnload, PartitionFile } from '../offline-engine.ts';
import { StageError } from '../stage-error.ts';
import { quoteIdentifier } from './snowflake-catalog.ts';

/** An external stage over the project's bucket, as a profile names it (`unloadStage`). */
export interface UnloadStage {
  /** The stage, qualified as stored (`RISK.CARD_FRAUD.FLYWHEEL_BUCKET`). */
  readonly name: string;
  /** The URL the stage reads and writes (`s3://acme-ml-flywheel/`), as in its `CREATE STAGE … URL`. */
  readonly url: string;
}

/** A row of `COPY INTO @stage … DETAILED_OUTPUT = TRUE`: one per file written. */
export interface UnloadedFileRow {
  readonly FILE_NAME: string;
  readonly FILE_SIZE: number | string;
  readonly ROW_COUNT: number | string;
}

/**
 * The stage path an object-store key is written to through `stage`, or undefined when the key is
 * not under the stage's URL (another bucket, another prefix, a local folder): then the engine cannot
 * unload there and results come through the worker.
 */
export function stagePathOf(stage: UnloadStage, store: ObjectStore, key: string): string | undefined {
  const url = stage.url.endsWith('/') ? stage.url : `${stage.url}/`;
  const trimmed = key.replace(/^\/+|\/+$/g, '');
  // A store names only whole keys: its root is the URI of a one-character key, less that character.
  const uri = trimmed === '' ? store.uri('_').slice(0, -1) : `${store.uri(trimmed)}/`;
  if (!uri.startsWith(url)) return undefined;
  const name = stage.name.split('.').map(quoteIdentifier).join('.');
  return `@${name}/${uri.slice(url.length)}`;
}

/**
 * The files of an unload under `prefix`, by partition key then name: each row's FILE_NAME is
 * relative to the unload's path and starts with the partition's folder (`day=2024-03-01/data_….parquet`).
 */
export function unloadedFiles(prefix: string, rows: readonly UnloadedFileRow[]): PartitionFile[] {
  const base = prefix.replace(/\/+$/, '');
  return rows
    .map((row) => {
      const name = row.FILE_NAME.replace(/^\/+/, '');
      const slash = name.indexOf('/');
      return { partitionKey: slash < 0 ? '' : name.slice(0, slash), path: `${base}/${name}`, rowCount: Number(row.ROW_COUNT), bytes: Number(row.FILE_SIZE) };
    })
    .sort((a, b) => (a.partitionKey === b.partitionKey ? (a.path < b.path ? -1 : 1) : a.partitionKey < b.partitionKey ? -1 : 1));
}

/**
 * Unloads through an external stage over the store's bucket: the objects under `prefix` are
 * removed first (a retried run rewrites its own prefix), then one `COPY INTO @stage/<prefix>/ …
 * PARTITION BY (key)` writes every partition (core/sql/snowflake-unload.ts) and its detailed
 * output lists the files. No row passes through the worker.
 */
export function stageUnloader(
  stage: UnloadStage,
  store: ObjectStore,
  runUnload: (statement: ReturnType<typeof compileParquetUnload>) => Promise<UnloadedFileRow[]>,
): ParquetUnloader {
  return {
    async unloadPartitioned(job: PartitionedUnload, prefix: string): Promise<PartitionFile[]> {
      const location = stagePathOf(stage, store, prefix);
      if (location === undefined) throw new StageError(store.uri(prefix), `the unload stage ${stage.name} (${stage.url}) does not cover it`);
      await store.deletePrefix(prefix.endsWith('/') ? prefix : `${prefix}/`);
      return unloadedFiles(prefix, await runUnload(compileParquetUnload(job, location)));
    },
  };
}
