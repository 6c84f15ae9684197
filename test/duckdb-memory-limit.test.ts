import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOfflineEngine } from '../connectors/offline/create-offline-engine.ts';
import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { ConfigError } from '../core/errors.ts';
import { loadConfig } from '../runtime/load-config.ts';
import { createTempProject } from './support/temp-project.ts';

/**
 * The DuckDB engine's memoryLimit (docs/configuration.md): a statement that needs more than the limit
 * spills to the temporary directory, which is in the state folder, and completes with the exact result.
 */
describe('DuckDB memory limit and spilling', () => {
  let dir: string;
  const opened: OfflineEngine[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flywheel-duckdb-memory-'));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((engine) => engine.close()));
    await rm(dir, { recursive: true, force: true });
  });
  const open = async (tempDirectory: string | undefined) => {
    const engine = await createOfflineEngine({ type: 'duckdb', path: join(dir, 'warehouse.duckdb'), threads: 2, memoryLimit: '64MB', ...(tempDirectory !== undefined ? { tempDirectory } : {}) });
    opened.push(engine);
    return engine;
  };
  // A sort of 1.5M rows with a text payload, well over the 64 MB limit. k = i * 7919 mod 3M is a
  // permutation of 0 … N-1 (7919 is prime and does not divide N), so sorted by k descending the row at
  // position p (from 1) has k = N - p, and each payload must still be its own row's.
  const N = 1_500_000;
  const spillHeavy = sql(`
    SELECT count(*) AS n, count(*) FILTER (WHERE k <> ${N} - position OR pad <> 'padding-' || i) AS misplaced FROM (
      SELECT i, k, pad, row_number() OVER (ORDER BY k DESC) AS position
      FROM (SELECT i, (i * 7919) % ${N} AS k, 'padding-' || i AS pad FROM range(${N}) t(i))
    )`);

  it('completes a statement that needs several times the limit by spilling to the temporary directory', async () => {
    const temp = join(dir, 'state', 'duckdb-temp');
    const engine = await open(temp);
    const [settings] = await engine.all(sql(`SELECT current_setting('memory_limit') AS memory, current_setting('temp_directory') AS temp`));
    expect(settings).toEqual({ memory: expect.stringMatching(/^(61\.0 MiB|64\.0 MB)$/), temp });
    expect(await engine.all(spillHeavy)).toEqual([{ n: N, misplaced: 0 }]);
    // DuckDB created the folder to spill into, and removed its files when the statement ended.
    expect(existsSync(temp)).toBe(true);
    expect(await readdir(temp)).toEqual([]);
  }, 60_000);

  it('fails the same statement without a place to spill: the limit is what the spilling works around', async () => {
    const engine = await open('');
    await expect(engine.all(spillHeavy)).rejects.toThrow(/Out of Memory|memory/i);
  }, 60_000);

  it('spills into the state folder by default; the profile may name another folder', async () => {
    const profile = (offline: string) => createTempProject({
      'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';\nexport default defineConfig({ project: 'mem', definitions: './definitions', stateDir: 'state', profiles: { local: { ...localProfile({ stateDir: 'state' }), offline: ${offline} } } });\n`,
    });
    const byDefault = profile(`{ type: 'duckdb', path: 'state/warehouse.duckdb', memoryLimit: '4GB' }`);
    const named = profile(`{ type: 'duckdb', path: 'state/warehouse.duckdb', memoryLimit: '512MiB', tempDirectory: '/var/tmp/spill' }`);
    const bad = profile(`{ type: 'duckdb', path: 'state/warehouse.duckdb', memoryLimit: '4 gigs' }`);
    try {
      expect((await loadConfig({ cwd: byDefault.dir })).profile.offline).toEqual({ type: 'duckdb', path: join(byDefault.dir, 'state', 'warehouse.duckdb'), memoryLimit: '4GB', tempDirectory: join(byDefault.dir, 'state', 'duckdb-temp') });
      expect((await loadConfig({ cwd: named.dir })).profile.offline).toMatchObject({ memoryLimit: '512MiB', tempDirectory: '/var/tmp/spill' });
      const refused = await loadConfig({ cwd: bad.dir }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ConfigError);
      expect(refused).toMatchObject({ message: expect.stringContaining('must be an amount with a unit, e.g. "4GB" or "512MiB"'), field: 'profiles.local.offline.memoryLimit' });
    } finally {
      for (const project of [byDefault, named, bad]) project.remove();
    }
  });
});
