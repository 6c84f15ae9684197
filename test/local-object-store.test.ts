import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { ObjectKeyError } from '../connectors/object-store/object-key.ts';
import { ConfigError, NotFoundError } from '../core/errors.ts';
import { describeObjectStoreContract } from './contracts/object-store.contract.ts';

describeObjectStoreContract('local folder', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-local-store-'));
  return { store: new LocalObjectStore(join(dir, 'objects')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('LocalObjectStore', () => {
  let dir: string;
  let store: LocalObjectStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flywheel-local-store-'));
    store = new LocalObjectStore(join(dir, 'objects'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('copies within the store without moving bytes, and a copy keeps its bytes when the original is replaced or deleted', async () => {
    await store.putBytes('staging/a.parquet', 'first');
    await store.copy('staging/a.parquet', 'published/a.parquet');
    const [original, copied] = await Promise.all([stat(join(dir, 'objects', 'staging/a.parquet')), stat(join(dir, 'objects', 'published/a.parquet'))]);
    expect(copied.ino).toBe(original.ino);
    // Copying again (a retried publish) leaves nothing behind.
    await store.copy('staging/a.parquet', 'published/a.parquet');
    expect(await readdir(join(dir, 'objects', 'published'))).toEqual(['a.parquet']);
    await store.putBytes('staging/a.parquet', 'second');
    expect(new TextDecoder().decode(await store.get('published/a.parquet'))).toBe('first');
    await store.delete('staging/a.parquet');
    expect(new TextDecoder().decode(await store.get('published/a.parquet'))).toBe('first');
  });

  it('names objects by file:// URL of their absolute path', async () => {
    await store.putBytes('sets/v1/train.parquet', 'x');
    const uri = store.uri('sets/v1/train.parquet');
    expect(uri).toBe(`file://${join(dir, 'objects', 'sets', 'v1', 'train.parquet')}`);
    expect(await readFile(fileURLToPath(uri), 'utf8')).toBe('x');
    // Characters that would break a URL are encoded, and decode back to the path.
    expect(fileURLToPath(store.uri('a b/#1.txt'))).toBe(join(dir, 'objects', 'a b', '#1.txt'));
  });

  it('lists nothing (and creates nothing) before the first write', async () => {
    expect(await store.list('')).toEqual([]);
    expect(await store.deletePrefix('')).toBe(0);
    expect(existsSync(store.root)).toBe(false);
  });

  it('hides writes in progress and leaves no temporary files after a failed write', async () => {
    await store.putBytes('a/current.bin', 'old');
    // A writer that crashed mid-way leaves a partial file beside the object; it is never an object.
    await writeFile(join(store.root, 'a', '.current.bin.123abc.flywheel-partial'), 'half');
    expect((await store.list('')).map((o) => o.key)).toEqual(['a/current.bin']);

    await expect(store.putFile('a/current.bin', join(dir, 'missing-source'))).rejects.toBeInstanceOf(NotFoundError);
    expect(await readFile(join(store.root, 'a', 'current.bin'), 'utf8')).toBe('old');
    expect((await readdir(join(store.root, 'a'))).sort()).toEqual(['.current.bin.123abc.flywheel-partial', 'current.bin']);
    await expect(store.putBytes('a/x.flywheel-partial', 'x')).rejects.toBeInstanceOf(ObjectKeyError);
  });

  it('removes folders left empty by deletes, but keeps the root', async () => {
    await store.putBytes('runs/1/deep/a.txt', 'a');
    await store.putBytes('runs/2/b.txt', 'b');
    await store.delete('runs/1/deep/a.txt');
    expect(existsSync(join(store.root, 'runs', '1'))).toBe(false);
    expect(existsSync(join(store.root, 'runs', '2'))).toBe(true);
    await store.deletePrefix('runs/');
    expect(await readdir(store.root)).toEqual([]);
  });

  it('explains keys a folder tree cannot hold', async () => {
    await store.putBytes('a', 'file');
    await expect(store.putBytes('a/b', 'x')).rejects.toThrow(/cannot hold both/);
    await store.putBytes('c/d', 'x');
    await expect(store.putBytes('c', 'x')).rejects.toThrow(/cannot hold both/);
    expect((await store.list('')).map((o) => o.key)).toEqual(['a', 'c/d']);
  });

  it('writes concurrently into a folder that concurrent deletes empty', async () => {
    await mkdir(store.root, { recursive: true });
    const work = Array.from({ length: 40 }, (_, i) =>
      i % 2 ? store.putBytes(`shared/${i}.txt`, String(i)) : store.delete(`shared/${i - 1 < 0 ? 1 : i - 1}.txt`),
    );
    await Promise.all(work);
    for (const object of await store.list('shared/')) expect(text(await store.get(object.key))).toMatch(/^\d+$/);
  });
});

describe('createObjectStore', () => {
  it('creates a local store at the configured root', () => {
    const store = createObjectStore({ type: 'local', root: '/tmp/flywheel-objects' });
    expect(store).toBeInstanceOf(LocalObjectStore);
    expect(store.uri('a.txt')).toBe('file:///tmp/flywheel-objects/a.txt');
  });

  it('reports a type it does not know as a config error', () => {
    expect(() => createObjectStore({ type: 'gcs' } as never)).toThrow(ConfigError);
    expect(() => createObjectStore({ type: 'gcs' } as never)).toThrow(/Unknown object store type "gcs"/);
  });
});

function text(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}
