import { stat } from 'node:fs/promises';
import type { OfflineStoreConfig } from '../../core/config.ts';

/**
 * A cheap token that changes whenever the warehouse's contents may have: a reader that keeps what it
 * read beside the token it took before reading can answer again from memory while the token is the
 * same (the UI does, server/ui/warehouse-access.ts). Undefined when the engine offers no such signal:
 * then every read goes to the warehouse.
 *
 * - DuckDB: the size and modification time of the database file and of its write-ahead log. Every
 *   commit appends to the log; a checkpoint rewrites the file and truncates the log.
 * - Snowflake: none cheaper than a query.
 */
export function warehouseChangeToken(config: OfflineStoreConfig): (() => Promise<string>) | undefined {
  switch (config.type) {
    case 'duckdb': {
      const { path } = config;
      return async () => (await Promise.all([path, `${path}.wal`].map(fileToken))).join('|');
    }
    case 'snowflake':
      return undefined;
    default: {
      const unknown: never = config;
      throw new Error(`no change token for the offline store ${JSON.stringify(unknown)}`);
    }
  }
}

async function fileToken(path: string): Promise<string> {
  const facts = await stat(path, { bigint: true }).catch(() => undefined);
  return facts ? `${facts.size}@${facts.mtimeNs}` : 'none';
}
