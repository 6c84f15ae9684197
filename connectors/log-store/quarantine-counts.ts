import type { ObjectStore } from '../object-store/object-store.ts';

/**
 * How many events of each stream wait in the warehouse's ingest quarantine, as ingestion last saw it,
 * kept in the project's object store (`_ingest/quarantine/<stream>.json`), where every log API node
 * reads it for `/metrics` without opening the warehouse (DuckDB lets one process hold it; a node may
 * run on another machine than the worker). Ingestion writes a stream's count after a load that
 * quarantined events, and a replay after it changed the quarantine. The warehouse's table is the
 * truth; this is its last reading, and a worker that died between its commit and this write leaves it
 * behind until the next load or replay of the stream.
 */
export const QUARANTINE_COUNTS_PREFIX = '_ingest/quarantine/';

export const quarantineCountKey = (stream: string) => `${QUARANTINE_COUNTS_PREFIX}${stream}.json`;

/** Records that `events` events of `stream` are quarantined now (one object written whole: never half of one). */
export async function writeQuarantineCount(store: ObjectStore, stream: string, events: number): Promise<void> {
  await store.putBytes(quarantineCountKey(stream), `${JSON.stringify({ stream, events })}\n`);
}

/** The recorded count of each stream (streams never recorded are absent), by stream name. */
export async function readQuarantineCounts(store: ObjectStore): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { key } of await store.list(QUARANTINE_COUNTS_PREFIX)) {
    if (!key.endsWith('.json')) continue;
    // Gone since the listing (a store emptied meanwhile): the next scrape has its news.
    const bytes = await store.get(key);
    if (bytes === undefined) continue;
    const recorded = JSON.parse(Buffer.from(bytes).toString('utf8')) as { stream?: unknown; events?: unknown };
    if (typeof recorded.stream === 'string' && typeof recorded.events === 'number') counts[recorded.stream] = recorded.events;
  }
  return counts;
}
