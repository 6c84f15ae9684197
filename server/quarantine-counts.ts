import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * How many events of each stream wait in the warehouse's ingest quarantine, as the worker last saw
 * it, kept in the state folder the log server shares with ingestion (`<stateDir>/quarantine/<stream>.json`):
 * ingestion writes a stream's count after a load that quarantined events, and a replay after it
 * changed the quarantine; the log server reads them for `/metrics` without opening the warehouse
 * (which DuckDB lets one process hold). The warehouse's table is the truth; this is its last
 * reading, and a worker that died between its commit and this write leaves it behind until the next
 * load or replay of the stream.
 */
export function quarantineCountsDir(stateDir: string): string {
  return join(stateDir, 'quarantine');
}

/** Records that `events` events of `stream` are quarantined now (written beside, then renamed: never half a file). */
export async function writeQuarantineCount(stateDir: string, stream: string, events: number): Promise<void> {
  const dir = quarantineCountsDir(stateDir);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${stream}.json`);
  await writeFile(`${path}.partial`, `${JSON.stringify({ stream, events })}\n`);
  await rename(`${path}.partial`, path);
}

/** The recorded count of each stream (streams never recorded are absent), by stream name. */
export async function readQuarantineCounts(stateDir: string): Promise<Record<string, number>> {
  let names: string[];
  try {
    names = await readdir(quarantineCountsDir(stateDir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  const counts: Record<string, number> = {};
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    try {
      const recorded = JSON.parse(await readFile(join(quarantineCountsDir(stateDir), name), 'utf8')) as { stream?: unknown; events?: unknown };
      if (typeof recorded.stream === 'string' && typeof recorded.events === 'number') counts[recorded.stream] = recorded.events;
    } catch (error) {
      // Replaced by a rename meanwhile: the next scrape reads the new one.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return counts;
}
