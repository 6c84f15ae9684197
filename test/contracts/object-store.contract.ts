/**
 * The one test suite every ObjectStore runs (local folder, S3). An implementation's test
 * file calls describeObjectStoreContract with a factory for a fresh, empty store; a case it cannot
 * pass is listed in `skip` with the reason, so gaps stay visible.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../connectors/object-store/object-store.ts';
import { ObjectKeyError } from '../../connectors/object-store/object-key.ts';
import { NotFoundError } from '../../core/errors.ts';

export interface ObjectStoreUnderTest {
  readonly store: ObjectStore;
  /** Removes everything the store wrote. */
  cleanup(): Promise<void>;
}

export const OBJECT_STORE_CASES = [
  'round trips bytes and strings',
  'round trips files',
  'reports missing keys',
  'overwrites atomically',
  'creates only when absent',
  'lists sorted by key under a prefix',
  'deletes single objects',
  'deletes by prefix',
  'copies objects',
  'copies over a target atomically',
  'rejects unsafe keys',
  'names objects by URI',
] as const;
export type ObjectStoreCase = (typeof OBJECT_STORE_CASES)[number];

const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

export function describeObjectStoreContract(
  name: string,
  makeStore: () => Promise<ObjectStoreUnderTest>,
  options: { skip?: Partial<Record<ObjectStoreCase, string>> } = {},
): void {
  const test = (title: ObjectStoreCase, body: () => Promise<void>) => (options.skip?.[title] ? it.skip(`${title} (${options.skip[title]})`, body) : it(title, body));

  describe(`ObjectStore contract: ${name}`, () => {
    let subject: ObjectStoreUnderTest;
    let store: ObjectStore;
    let scratch: string;

    beforeAll(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'flywheel-object-store-contract-'));
    });
    afterAll(async () => {
      await rm(scratch, { recursive: true, force: true });
    });
    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    test('round trips bytes and strings', async () => {
      const binary = new Uint8Array([0, 1, 2, 127, 128, 254, 255]);
      await store.putBytes('bin/data.bin', binary);
      await store.putBytes('text/hello.txt', 'héllo ✓');
      await store.putBytes('text/empty.txt', '');
      await store.putBytes('with space/ünïcode name.json', '{}');

      expect(await store.get('bin/data.bin')).toEqual(binary);
      expect(text(await store.get('text/hello.txt'))).toBe('héllo ✓');
      expect(await store.get('text/empty.txt')).toEqual(new Uint8Array());
      expect(text(await store.get('with space/ünïcode name.json'))).toBe('{}');
    });

    test('round trips files', async () => {
      const source = join(scratch, 'source.parquet');
      const content = new Uint8Array(300_000).map((_, i) => (i * 31) % 256);
      await writeFile(source, content);
      await store.putFile('datasets/v1/part-0.parquet', source);

      const target = join(scratch, 'downloads', 'nested', 'part-0.parquet');
      await store.getFile('datasets/v1/part-0.parquet', target);
      expect(new Uint8Array(await readFile(target))).toEqual(content);
      expect(await store.list('datasets/')).toEqual([{ key: 'datasets/v1/part-0.parquet', size: content.length }]);

      // Handed over with `move`: stored the same, and the local file is gone.
      const moved = join(scratch, 'moved.parquet');
      await writeFile(moved, content);
      await store.putFile('datasets/v1/part-1.parquet', moved, { move: true });
      expect(existsSync(moved)).toBe(false);
      const back = join(scratch, 'downloads', 'part-1.parquet');
      await store.getFile('datasets/v1/part-1.parquet', back);
      expect(new Uint8Array(await readFile(back))).toEqual(content);
    });

    test('reports missing keys', async () => {
      await store.putBytes('present/a.txt', 'a');
      expect(await store.get('missing.txt')).toBeUndefined();
      expect(await store.get('present/missing.txt')).toBeUndefined();
      // A "folder" is not an object.
      expect(await store.get('present')).toBeUndefined();
      const failure = store.getFile('missing.txt', join(scratch, 'never.txt'));
      await expect(failure).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.getFile('missing.txt', join(scratch, 'never.txt'))).rejects.toThrow(/missing\.txt/);
      await expect(store.putFile('x.txt', join(scratch, 'no-such-local-file'))).rejects.toThrow();
      expect(await store.list('')).toEqual([{ key: 'present/a.txt', size: 1 }]);
      await expect(store.delete('missing.txt')).resolves.toBeUndefined();
    });

    test('overwrites atomically', async () => {
      const small = 'a'.repeat(100_000);
      const large = 'b'.repeat(1_000_000);
      await store.putBytes('model/current.bin', small);
      // Readers racing the writers see one whole version or the other, never a mix or a prefix.
      const writes = Array.from({ length: 6 }, (_, i) => store.putBytes('model/current.bin', i % 2 ? small : large));
      const reads = Array.from({ length: 30 }, () => store.get('model/current.bin'));
      const [, seen] = await Promise.all([Promise.all(writes), Promise.all(reads)]);
      for (const bytes of seen) expect([small, large]).toContain(text(bytes));

      await store.putBytes('model/current.bin', 'final');
      expect(text(await store.get('model/current.bin'))).toBe('final');
      // No temporary files are left behind or listed.
      expect(await store.list('')).toEqual([{ key: 'model/current.bin', size: 5 }]);
    });

    test('creates only when absent', async () => {
      expect(await store.putBytesIfAbsent('claims/v1.json', 'first')).toBe(true);
      expect(await store.putBytesIfAbsent('claims/v1.json', 'second')).toBe(false);
      expect(text(await store.get('claims/v1.json'))).toBe('first');
      // Eight writers racing for one key: exactly one wins, and the key holds its bytes.
      const racers = Array.from({ length: 8 }, (_, i) => `writer ${i}`);
      const won = await Promise.all(racers.map((body) => store.putBytesIfAbsent('claims/v2.json', body)));
      expect(won.filter(Boolean)).toHaveLength(1);
      expect(text(await store.get('claims/v2.json'))).toBe(racers[won.indexOf(true)]);
      // Nothing half-written or temporary is left beside them.
      expect((await store.list('claims/')).map((o) => o.key)).toEqual(['claims/v1.json', 'claims/v2.json']);
    });

    test('lists sorted by key under a prefix', async () => {
      const keys = ['data/val/1.parquet', 'data/train/b.parquet', 'data/train/a.parquet', 'data/train.parquet', 'data-2/x', 'other.txt', 'data/tr'];
      for (const key of keys) await store.putBytes(key, key);

      const all = await store.list('');
      expect(all.map((o) => o.key)).toEqual([...keys].sort());
      expect(all.find((o) => o.key === 'data/train/a.parquet')?.size).toBe('data/train/a.parquet'.length);

      expect((await store.list('data/')).map((o) => o.key)).toEqual([
        'data/tr', 'data/train.parquet', 'data/train/a.parquet', 'data/train/b.parquet', 'data/val/1.parquet',
      ]);
      // Prefixes match as strings, not folders, as in S3.
      expect((await store.list('data/tr')).map((o) => o.key)).toEqual(['data/tr', 'data/train.parquet', 'data/train/a.parquet', 'data/train/b.parquet']);
      expect((await store.list('data/train/')).map((o) => o.key)).toEqual(['data/train/a.parquet', 'data/train/b.parquet']);
      expect((await store.list('data')).map((o) => o.key)).toEqual([...keys].filter((k) => k.startsWith('data')).sort());
      expect(await store.list('nothing/here/')).toEqual([]);
      expect(await store.list('other.txt/')).toEqual([]);
    });

    test('deletes single objects', async () => {
      await store.putBytes('a/b/c.txt', 'c');
      await store.putBytes('a/d.txt', 'd');
      await store.delete('a/b/c.txt');
      expect(await store.get('a/b/c.txt')).toBeUndefined();
      expect((await store.list('')).map((o) => o.key)).toEqual(['a/d.txt']);
      // The key of a deleted object can be written again, and a former "folder" can become an object.
      await store.putBytes('a/b', 'now a file');
      expect(text(await store.get('a/b'))).toBe('now a file');
    });

    test('deletes by prefix', async () => {
      for (const key of ['runs/1/a', 'runs/1/b', 'runs/1/sub/c', 'runs/10/a', 'runs/2/a', 'keep.txt']) await store.putBytes(key, key);
      expect(await store.deletePrefix('runs/1/')).toBe(3);
      expect((await store.list('')).map((o) => o.key)).toEqual(['keep.txt', 'runs/10/a', 'runs/2/a']);
      expect(await store.deletePrefix('runs/1')).toBe(1);
      expect(await store.deletePrefix('runs/none/')).toBe(0);
      expect((await store.list('')).map((o) => o.key)).toEqual(['keep.txt', 'runs/2/a']);
      expect(await store.deletePrefix('')).toBe(2);
      expect(await store.list('')).toEqual([]);
    });

    test('copies objects', async () => {
      await store.putBytes('staged/run-1/part-0.parquet', 'version 1');
      await store.copy('staged/run-1/part-0.parquet', 'published/latest/part-0.parquet');
      expect(text(await store.get('published/latest/part-0.parquet'))).toBe('version 1');
      // The source stays, and the copy is independent of it.
      await store.putBytes('staged/run-1/part-0.parquet', 'changed');
      expect(text(await store.get('published/latest/part-0.parquet'))).toBe('version 1');
      // An existing target is replaced.
      await store.copy('staged/run-1/part-0.parquet', 'published/latest/part-0.parquet');
      expect(text(await store.get('published/latest/part-0.parquet'))).toBe('changed');
      // Onto itself: nothing changes.
      await store.copy('published/latest/part-0.parquet', 'published/latest/part-0.parquet');
      expect(text(await store.get('published/latest/part-0.parquet'))).toBe('changed');
      // Special characters survive on both sides (S3 needs the copy source URL-encoded).
      await store.putBytes('with space/ünïcode+#?%.json', '{"a":1}');
      await store.copy('with space/ünïcode+#?%.json', 'copied/ünïcode & co.json');
      expect(text(await store.get('copied/ünïcode & co.json'))).toBe('{"a":1}');
      // Empty objects copy too.
      await store.putBytes('empty', '');
      await store.copy('empty', 'copied/empty');
      expect(await store.get('copied/empty')).toEqual(new Uint8Array());

      expect(await store.list('')).toEqual([
        { key: 'copied/empty', size: 0 },
        { key: 'copied/ünïcode & co.json', size: 7 },
        { key: 'empty', size: 0 },
        { key: 'published/latest/part-0.parquet', size: 7 },
        { key: 'staged/run-1/part-0.parquet', size: 7 },
        { key: 'with space/ünïcode+#?%.json', size: 7 },
      ]);
    });

    test('copies over a target atomically', async () => {
      // A missing source is NotFoundError, and the target is left as it was.
      await store.putBytes('target.bin', 'old');
      const missing = store.copy('missing/source.bin', 'target.bin');
      await expect(missing).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.copy('missing/source.bin', 'target.bin')).rejects.toThrow(/missing\/source\.bin/);
      await expect(store.copy('missing/source.bin', 'missing/source.bin')).rejects.toBeInstanceOf(NotFoundError);
      expect(text(await store.get('target.bin'))).toBe('old');
      await expect(store.copy('target.bin', '../outside')).rejects.toBeInstanceOf(ObjectKeyError);
      await expect(store.copy('/etc/passwd', 'x')).rejects.toBeInstanceOf(ObjectKeyError);

      // Readers racing copies see one whole version or the other.
      const small = 'a'.repeat(100_000);
      const large = 'b'.repeat(1_000_000);
      await store.putBytes('versions/small', small);
      await store.putBytes('versions/large', large);
      const copies = Array.from({ length: 6 }, (_, i) => store.copy(i % 2 ? 'versions/small' : 'versions/large', 'target.bin'));
      const reads = Array.from({ length: 30 }, () => store.get('target.bin'));
      const [, seen] = await Promise.all([Promise.all(copies), Promise.all(reads)]);
      for (const bytes of seen) expect(['old', small, large]).toContain(text(bytes));

      await store.copy('versions/small', 'target.bin');
      expect(text(await store.get('target.bin'))).toBe(small);
      // No temporary objects are left behind or listed.
      expect((await store.list('')).map((o) => o.key)).toEqual(['target.bin', 'versions/large', 'versions/small']);
    });

    test('rejects unsafe keys', async () => {
      const unsafe = ['', '/etc/passwd', '../outside', 'a/../../b', 'a//b', 'a/', './a', 'a/./b', 'a\\b', 'a\u0000b'];
      for (const key of unsafe) {
        await expect(store.putBytes(key, 'x'), `key ${JSON.stringify(key)}`).rejects.toBeInstanceOf(ObjectKeyError);
        await expect(store.get(key), `key ${JSON.stringify(key)}`).rejects.toBeInstanceOf(ObjectKeyError);
        expect(() => store.uri(key), `key ${JSON.stringify(key)}`).toThrow(ObjectKeyError);
      }
      for (const prefix of ['/abs', '../', 'a/../', 'a//']) {
        await expect(store.list(prefix), `prefix ${JSON.stringify(prefix)}`).rejects.toBeInstanceOf(ObjectKeyError);
        await expect(store.deletePrefix(prefix), `prefix ${JSON.stringify(prefix)}`).rejects.toBeInstanceOf(ObjectKeyError);
      }
      await expect(store.putBytes('../outside', 'x')).rejects.toThrow(/\.\.\/outside/);
      expect(await store.list('')).toEqual([]);
    });

    test('names objects by URI', async () => {
      await store.putBytes('datasets/v1/part-0.parquet', 'x');
      const uri = store.uri('datasets/v1/part-0.parquet');
      expect(uri).toMatch(/^[a-z][a-z0-9+.-]*:\/\//);
      expect(uri.endsWith('/datasets/v1/part-0.parquet')).toBe(true);
      expect(store.uri('datasets/v2/part-0.parquet')).not.toBe(uri);
    });
  });
}
