import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import { warehouseChangeToken } from '../connectors/offline/warehouse-change-token.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { READS_PER_OPENING, WarehouseAccess } from '../server/ui/warehouse-access.ts';

/**
 * How the UI reads the warehouse (server/ui/warehouse-access.ts), on a real DuckDB file: reads that
 * arrive together share one opening (at most READS_PER_OPENING), the file is closed once none waits
 * (another process can open it), and `readCached` answers from memory exactly while the file and its
 * log are unchanged. Openings are counted by wrapping the real opener.
 */

let dir: string;
let path: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flywheel-ui-access-'));
  path = join(dir, 'warehouse.duckdb');
  const engine = await openDuckDBEngine({ path });
  try {
    await engine.run(sql('CREATE TABLE t (n INTEGER)'));
    await engine.run(sql('INSERT INTO t VALUES (1), (2)'));
  } finally {
    await engine.close();
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function counted(): { open: () => Promise<OfflineEngine>; readonly openings: number } {
  let openings = 0;
  return {
    open: () => {
      openings += 1;
      return openDuckDBEngine({ path });
    },
    get openings() {
      return openings;
    },
  };
}

const total = (engine: OfflineEngine) => engine.all<{ total: bigint }>(sql('SELECT sum(n) AS total FROM t')).then(([row]) => Number(row!.total));

describe('WarehouseAccess', { timeout: 30_000 }, () => {
  it('runs reads that arrive together in one opening, at most READS_PER_OPENING each, and lets the file go after', async () => {
    const opener = counted();
    const access = new WarehouseAccess(opener.open);
    const answers = await Promise.all(Array.from({ length: READS_PER_OPENING + 2 }, () => access.read(total)));
    expect(answers).toEqual(Array.from({ length: READS_PER_OPENING + 2 }, () => 3));
    expect(opener.openings).toBe(2);
    // Closed: another engine (another process, for DuckDB's lock) opens the file and writes.
    const other = await openDuckDBEngine({ path });
    await other.close();
    // A failed read fails alone; the next one in the same opening still runs.
    const [failed, after] = await Promise.allSettled([access.read((engine) => engine.all(sql('SELECT * FROM missing'))), access.read(total)]);
    expect(failed.status).toBe('rejected');
    expect(after).toEqual({ status: 'fulfilled', value: 3 });
    expect(opener.openings).toBe(3);
  });

  it('readCached answers from memory while the file is unchanged, and reads again after a write', async () => {
    const opener = counted();
    const access = new WarehouseAccess(opener.open, { changeToken: warehouseChangeToken({ type: 'duckdb', path })! });
    expect(await access.readCached('total', total)).toBe(3);
    expect(await access.readCached('total', total)).toBe(3);
    expect(opener.openings).toBe(1);
    const writer = await openDuckDBEngine({ path });
    try {
      await writer.run(sql('INSERT INTO t VALUES (4)'));
    } finally {
      await writer.close();
    }
    expect(await access.readCached('total', total)).toBe(7);
    expect(opener.openings).toBe(2);
    // Another key is read on its own; `read` never uses what is kept.
    expect(await access.readCached('rows', (engine) => engine.all(sql('SELECT count(*) AS c FROM t')).then(([row]) => Number((row as { c: bigint }).c)))).toBe(3);
    expect(await access.read(total)).toBe(7);
    expect(opener.openings).toBe(4);
  });

  it('without a change token, readCached reads every time', async () => {
    const opener = counted();
    const access = new WarehouseAccess(opener.open);
    await access.readCached('total', total);
    await access.readCached('total', total);
    expect(opener.openings).toBe(2);
  });
});
