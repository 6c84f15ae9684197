import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { openFailure } from './duckdb-errors.ts';

export interface DuckDBSettings {
  /** Worker threads DuckDB may use (DuckDB's default: one per core). */
  readonly threads?: number;
  /** DuckDB's `memory_limit`, e.g. '4GB' (DuckDB's default: 80% of RAM). */
  readonly memoryLimit?: string;
  /**
   * DuckDB's `temp_directory`: where statements that need more than the memory limit spill (sorts,
   * hash tables, the working tables of the attached in-memory catalog). DuckDB's default is
   * `<database file>.tmp`; for ':memory:' without one, nothing spills.
   */
  readonly tempDirectory?: string;
}

/** A database opened for one engine; `release` closes it when no other engine uses it. */
export interface InstanceLease {
  readonly instance: DuckDBInstance;
  release(): void;
}

interface SharedInstance {
  readonly opening: Promise<DuckDBInstance>;
  users: number;
}

/**
 * Open databases by absolute path. DuckDB's file lock is per process, so two instances in one
 * process would both "hold" it and write the same file through two buffer managers. Engines on one
 * file (several activities running at once in a worker) therefore share one instance, each with its
 * own connection; the settings of the first opener apply. The file closes, and its lock is released,
 * when the last engine closes.
 */
const openByPath = new Map<string, SharedInstance>();

/** Opens (or joins) the database at `path`, an absolute path or ':memory:'. */
export async function leaseInstance(path: string, settings: DuckDBSettings): Promise<InstanceLease> {
  if (path === ':memory:') {
    const instance = await openInstance(path, settings);
    return { instance, release: () => instance.closeSync() };
  }
  let shared = openByPath.get(path);
  if (!shared) {
    shared = { opening: openInstance(path, settings), users: 0 };
    openByPath.set(path, shared);
  }
  const lease = shared;
  lease.users += 1;
  let instance: DuckDBInstance;
  try {
    instance = await lease.opening;
  } catch (error) {
    lease.users -= 1;
    if (openByPath.get(path) === lease) openByPath.delete(path);
    throw error;
  }
  let released = false;
  return {
    instance,
    release: () => {
      if (released) return;
      released = true;
      lease.users -= 1;
      if (lease.users > 0) return;
      openByPath.delete(path);
      instance.closeSync();
    },
  };
}

/**
 * The in-memory database every instance attaches for working tables (OfflineEngine.createWorkingTable):
 * shared by the instance's connections, unlike temporary tables, and never written to the file or
 * its log; its blocks spill to DuckDB's temporary directory under memory pressure.
 */
export const WORKING_CATALOG = 'flywheel_work';

async function openInstance(path: string, settings: DuckDBSettings): Promise<DuckDBInstance> {
  const options: Record<string, string> = {
    // Never reach for the network: extensions Flywheel needs (parquet, icu) are built in.
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  };
  if (settings.threads !== undefined) options['threads'] = String(settings.threads);
  if (settings.memoryLimit !== undefined) options['memory_limit'] = settings.memoryLimit;
  if (settings.tempDirectory !== undefined) options['temp_directory'] = settings.tempDirectory;
  try {
    if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
    // DuckDB creates only the last folder of its temp_directory, and only when it first spills.
    if (settings.tempDirectory) await mkdir(settings.tempDirectory, { recursive: true });
    const instance = await DuckDBInstance.create(path, options);
    const connection = await instance.connect();
    try {
      await connection.run(`ATTACH ':memory:' AS ${WORKING_CATALOG}`);
    } finally {
      connection.closeSync();
    }
    return instance;
  } catch (error) {
    throw openFailure(path, error);
  }
}
