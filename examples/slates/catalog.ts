/**
 * Writes the catalog of the simulated world into the warehouse: the table `items` that the source of
 * the same name reads (category, rating, price; never the hidden quality). Every item is listed a day
 * before now, so the catalog is there whenever a slate is served.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { openDuckDBEngine } from '../../connectors/offline/duckdb/duckdb-engine.ts';
import { sql } from '../../core/sql/compiled-query.ts';
import type { Item } from './world.ts';

export async function writeCatalog(warehousePath: string, items: readonly Item[], now: Date = new Date()): Promise<void> {
  mkdirSync(dirname(resolve(warehousePath)), { recursive: true });
  const listedAt = new Date(now.getTime() - 86_400_000).toISOString();
  const engine = await openDuckDBEngine({ path: warehousePath });
  try {
    await engine.run(sql('CREATE OR REPLACE TABLE items (item_id BIGINT NOT NULL, category VARCHAR NOT NULL, rating DOUBLE NOT NULL, price DOUBLE NOT NULL, listed_at TIMESTAMPTZ NOT NULL)'));
    const values = items.map(() => '(?, ?, ?, ?, ?::TIMESTAMPTZ)').join(', ');
    await engine.run(sql(`INSERT INTO items VALUES ${values}`, items.flatMap((item) => [item.itemId, item.category, item.rating, item.price, listedAt])));
  } finally {
    await engine.close();
  }
}
