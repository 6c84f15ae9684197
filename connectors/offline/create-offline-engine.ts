import type { OfflineStoreConfig } from '../../core/config.ts';
import { ConfigError } from '../../core/errors.ts';
import type { OfflineEngine } from './offline-engine.ts';
import type { StatementContext } from './snowflake/snowflake-session.ts';

export interface OpenEngineOptions {
  /**
   * Who the engine's statements are for and when to stop them: Snowflake sends the tag as each
   * statement's QUERY_TAG, calls the heartbeat while a statement runs, and cancels a running
   * statement on Snowflake when the signal fires (an activity's cancellationSignal). DuckDB, whose
   * statements run in the worker's process, ignores it.
   */
  readonly statementContext?: StatementContext;
}

/**
 * Opens the offline engine a profile names. Paths in `config` should be absolute (the config loader
 * resolves them against the project root); relative ones resolve against the working directory.
 */
export async function createOfflineEngine(config: OfflineStoreConfig, options: OpenEngineOptions = {}): Promise<OfflineEngine> {
  switch (config.type) {
    case 'duckdb': {
      // Imported here, not above: an engine's driver loads only when a profile opens that engine.
      const { openDuckDBEngine } = await import('./duckdb/duckdb-engine.ts');
      return openDuckDBEngine({ path: config.path, threads: config.threads, memoryLimit: config.memoryLimit, tempDirectory: config.tempDirectory });
    }
    case 'snowflake': {
      // Credentials are read here, on the worker, from the environment variables the profile names.
      const { openSnowflakeEngine } = await import('./snowflake/snowflake-engine.ts');
      return openSnowflakeEngine(config, options.statementContext ? { context: options.statementContext } : {});
    }
    default:
      return unknownType(config);
  }
}

function unknownType(config: never): never {
  throw new ConfigError(`Unknown offline engine type ${JSON.stringify((config as { type?: unknown }).type)}`, { field: 'offline.type' });
}
