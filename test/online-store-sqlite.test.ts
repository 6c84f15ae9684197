import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOnlineStore } from '../connectors/online-store/create-online-store.ts';
import { OnlineStoreError, OnlineStoreUnavailableError } from '../connectors/online-store/online-store-errors.ts';
import { layoutOf } from '../connectors/online-store/online-layouts.ts';
import { SQLITE_READ, SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { ConfigError } from '../core/errors.ts';
import { describeOnlineStoreContract } from './contracts/online-store.contract.ts';

/** The SQLite online store on real files in a temporary folder. */

describeOnlineStoreContract('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-online-sqlite-'));
  const path = join(dir, 'online.sqlite');
  const store = new SqliteOnlineStore({ path });
  return {
    store,
    openAnother: async () => new SqliteOnlineStore({ path }),
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteOnlineStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flywheel-online-sqlite-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores one row per view and key, in WAL mode, with times in microseconds', async () => {
    const path = join(dir, 'nested', 'state', 'online.sqlite');
    const store = await createOnlineStore({ type: 'sqlite', path }, { project: 'card_fraud' });
    await store.write([
      { view: 'user_stats', key: [42, 'FR'], values: { count: 3, name: 'a:b' }, eventTime: '2024-05-01T12:00:00.123456Z' },
      { view: 'user_stats', key: [42, 'FR'], values: { count: 2 }, eventTime: '2024-05-01T11:00:00Z' },
    ]);
    await store.close();

    expect(existsSync(path)).toBe(true);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const columns = db.prepare("SELECT name, type, pk FROM pragma_table_info('online_records') ORDER BY cid").all();
      expect(columns).toEqual([
        { name: 'view', type: 'TEXT', pk: 1 },
        { name: 'key', type: 'TEXT', pk: 2 },
        { name: 'layout', type: 'TEXT', pk: 0 },
        { name: 'values_json', type: 'TEXT', pk: 0 },
        { name: 'event_time', type: 'INTEGER', pk: 0 },
        { name: 'written_at', type: 'INTEGER', pk: 0 },
      ]);
      const rows = db.prepare('SELECT view, key, layout, values_json, event_time, typeof(written_at) AS written_type FROM online_records').all();
      const layout = layoutOf(['count', 'name']);
      expect(rows).toEqual([
        { view: 'user_stats', key: '[42,"FR"]', layout: layout.id, values_json: '[3,"a:b"]', event_time: 1_714_564_800_123_456, written_type: 'integer' },
      ]);
      // Both layouts written are kept, the skipped record's too.
      expect(db.prepare('SELECT id, features FROM online_layouts ORDER BY features').all()).toEqual(
        [
          { id: layout.id, features: '["count","name"]' },
          { id: layoutOf(['count']).id, features: '["count"]' },
        ],
      );
    } finally {
      db.close();
    }
  });

  it('reads a batch with one statement of primary-key lookups', () => {
    const store = new SqliteOnlineStore({ path: join(dir, 'online.sqlite') });
    const db = new Database(join(dir, 'online.sqlite'));
    try {
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${SQLITE_READ}`).all('[]') as { detail: string }[];
      expect(plan.map((p) => p.detail)).toEqual(['SCAN r VIRTUAL TABLE INDEX 1:', 'SEARCH v USING PRIMARY KEY (view=? AND key=?)']);
    } finally {
      db.close();
      void store.close();
    }
  });

  it('fails as unavailable, naming the file, while another process holds the write lock, and works after', async () => {
    const path = join(dir, 'online.sqlite');
    const store = new SqliteOnlineStore({ path, busyTimeoutMs: 100 });
    const locker = new Database(path);
    locker.exec('BEGIN IMMEDIATE');
    try {
      const started = Date.now();
      const error = await store.write([{ view: 'v', key: [1], values: { n: 1 }, eventTime: '2024-05-01T12:00:00Z' }]).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(error).toBeInstanceOf(OnlineStoreUnavailableError);
      expect((error as OnlineStoreUnavailableError).retryable).toBe(true);
      expect((error as OnlineStoreUnavailableError).store).toBe(`sqlite:${path}`);
      expect((error as Error).message).toContain(`Online store sqlite:${path} unavailable for write (another process holds the write lock): SQLITE_BUSY`);
      // Readers are not blocked by a writer (WAL).
      expect((await store.read([{ view: 'v', key: [1], ttlSeconds: null }], new Date()))[0]?.status).toBe('missing');
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    expect(await store.write([{ view: 'v', key: [1], values: { n: 1 }, eventTime: '2024-05-01T12:00:00Z' }])).toEqual({ written: 1, skippedOlder: 0 });
    await store.close();
  });

  it('refuses a file that is not a SQLite database, without retrying', async () => {
    const path = join(dir, 'not-a-db.sqlite');
    await writeFile(path, 'this is not a database, just enough bytes to have a header '.repeat(10));
    let error: unknown;
    try {
      new SqliteOnlineStore({ path });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OnlineStoreError);
    expect((error as OnlineStoreError).retryable).toBe(false);
    expect((error as Error).message).toContain(`Online store sqlite:${path} failed open: SQLITE_NOTADB`);
  });

  it('is what the factory opens for a sqlite profile, and the factory rejects unknown types', async () => {
    const store = await createOnlineStore({ type: 'sqlite', path: join(dir, 'online.sqlite') }, { project: 'p' });
    expect(store).toBeInstanceOf(SqliteOnlineStore);
    await store.close();
    await expect(createOnlineStore({ type: 'memcached' } as never, { project: 'p' })).rejects.toThrow(ConfigError);
  });
});
