/**
 * The one test suite every sealed-segment store runs (over the local-folder object store and over
 * S3 on versitygw): the ingestion side (list, download, read, delete) and the node side (seal,
 * upload, delete the local copy, announce; recover on start). A case an implementation cannot pass
 * is listed in `skip` with the reason.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../connectors/object-store/object-store.ts';
import { ObjectStoreSegmentStore, openNodeSegmentLog, SealedSegmentChecksumError, SealedSegmentNotFoundError, type SealedSegmentManifest, type SealedSegmentStore } from '../../connectors/log-store/index.ts';
import { encodeRecords, readSegment, streamSegmentsDir } from '../../connectors/log-store/segment-log/index.ts';

export interface LogStoreUnderTest {
  /** A fresh, empty object store the segment store is built over. */
  readonly objects: ObjectStore;
  cleanup(): Promise<void>;
}

export const LOG_STORE_CASES = [
  'lists a segment only once its manifest is stored',
  'downloads the bytes uploaded, checked against the manifest',
  'refuses a segment whose bytes differ from its manifest',
  'reports a missing segment',
  'lists oldest first across nodes, or of one node',
  'deletes the bytes, then the manifest, keeping a copy on request',
  'node: uploads each sealed segment, deletes the local copy, then announces it',
  'node: uploads at start what it left sealed or open when it stopped',
  'node: keeps a segment on disk while the store refuses it, and uploads it at the next start',
  'node: remembers the ids of its uploaded segments',
] as const;
export type LogStoreCase = (typeof LOG_STORE_CASES)[number];

const event = (id: string, seq: number) => JSON.stringify({ _event_id: id, user_id: 1, ts: '2026-01-01T00:00:00.000Z', seq, _received_at: '2026-01-01T00:00:01.000Z' });
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export function describeLogStoreContract(name: string, make: () => Promise<LogStoreUnderTest>, options: { skip?: Partial<Record<LogStoreCase, string>> } = {}): void {
  const test = (title: LogStoreCase, body: () => Promise<void>) => (options.skip?.[title] ? it.skip(`${title} (${options.skip[title]})`, body) : it(title, body));

  describe(`log store contract: ${name}`, () => {
    let subject: LogStoreUnderTest;
    let store: SealedSegmentStore;
    let dir: string;
    /** A sealed segment file of `ids`, as a node leaves it. */
    const sealed = async (file: string, ids: readonly string[]) => {
      const bytes = encodeRecords(ids.map((id, i) => event(id, i)));
      await mkdir(join(dir, 'files'), { recursive: true });
      await writeFile(join(dir, 'files', file), bytes);
      return { path: join(dir, 'files', file), bytes };
    };

    beforeEach(async () => {
      subject = await make();
      store = new ObjectStoreSegmentStore(subject.objects);
      dir = await mkdtemp(join(tmpdir(), 'flywheel-log-store-contract-'));
    });
    afterEach(async () => {
      await subject.cleanup();
      await rm(dir, { recursive: true, force: true });
    });

    test('lists a segment only once its manifest is stored', async () => {
      const ref = { stream: 'clicks', node: 'api-1', segmentId: '20260101T000000000Z-aaaaaa' };
      const { path, bytes } = await sealed('a.seg', ['e1', 'e2']);
      // The bytes of another segment without its manifest: an upload cut short before its end.
      await subject.objects.putBytes('_log/sealed/clicks/api-1/20260101T000000001Z-bbbbbb.seg', bytes);
      expect(await store.list('clicks')).toEqual([]);
      const manifest = await store.upload(ref, path, 2);
      expect(manifest).toEqual({ ...ref, events: 2, bytes: bytes.length, sha256: sha256(bytes), uploadedAt: manifest.uploadedAt });
      expect(await store.list('clicks')).toEqual([ref]);
      expect(await store.list('views')).toEqual([]);
      // Uploading again stores the same segment once.
      await store.upload(ref, path, 2);
      expect(await store.list('clicks')).toEqual([ref]);
      expect(existsSync(path)).toBe(true); // the caller deletes its copy, not the store
    });

    test('downloads the bytes uploaded, checked against the manifest', async () => {
      const ref = { stream: 'clicks', node: 'api-1', segmentId: 's1' };
      const { path, bytes } = await sealed('a.seg', ['e1', 'e2', 'e3']);
      await store.upload(ref, path, 3);
      const target = join(dir, 'scratch', 'nested', 's1.seg');
      const manifest = await store.download(ref, target);
      expect(manifest).toMatchObject({ events: 3, bytes: bytes.length, sha256: sha256(bytes) });
      expect(new Uint8Array(await readFile(target))).toEqual(new Uint8Array(bytes));
      const ids: string[] = [];
      for await (const e of readSegment(target)) ids.push(e._event_id);
      expect(ids).toEqual(['e1', 'e2', 'e3']);
      const read = await store.read(ref);
      expect(read?.manifest.sha256).toBe(sha256(bytes));
      expect(new Uint8Array(read!.bytes)).toEqual(new Uint8Array(bytes));
    });

    test('refuses a segment whose bytes differ from its manifest', async () => {
      const ref = { stream: 'clicks', node: 'api-1', segmentId: 's1' };
      const { path, bytes } = await sealed('a.seg', ['e1', 'e2']);
      await store.upload(ref, path, 2);
      const damaged = Buffer.from(bytes);
      damaged[damaged.length - 3] = damaged[damaged.length - 3]! ^ 0xff;
      await subject.objects.putBytes('_log/sealed/clicks/api-1/s1.seg', damaged);
      const target = join(dir, 'scratch', 's1.seg');
      const failure = store.download(ref, target);
      await expect(failure).rejects.toBeInstanceOf(SealedSegmentChecksumError);
      await expect(store.download(ref, target)).rejects.toThrow(`segment s1 of stream "clicks" from node "api-1" in the object store (_log/sealed/clicks/api-1/s1.seg) is not the segment uploaded: SHA-256 ${sha256(damaged)} where the manifest says ${sha256(bytes)}`);
      expect(existsSync(target)).toBe(false);
      await subject.objects.putBytes('_log/sealed/clicks/api-1/s1.seg', bytes.subarray(0, 10));
      await expect(store.read(ref)).rejects.toThrow(`10 bytes where the manifest says ${bytes.length}`);
    });

    test('reports a missing segment', async () => {
      const ref = { stream: 'clicks', node: 'api-1', segmentId: 'nope' };
      const failure = store.download(ref, join(dir, 'x.seg'));
      await expect(failure).rejects.toBeInstanceOf(SealedSegmentNotFoundError);
      await expect(store.download(ref, join(dir, 'x.seg'))).rejects.toThrow('segment nope of stream "clicks" from node "api-1" is not in the object store (no _log/sealed/clicks/api-1/nope.seg.json)');
      expect(await store.read(ref)).toBeUndefined();
      await expect(store.delete(ref)).resolves.toBeUndefined();
    });

    test('lists oldest first across nodes, or of one node', async () => {
      const { path } = await sealed('a.seg', ['e1']);
      const refs = [
        { stream: 'clicks', node: 'api-2', segmentId: '20260101T000000002Z-000002' },
        { stream: 'clicks', node: 'api-1', segmentId: '20260101T000000003Z-000003' },
        { stream: 'clicks', node: 'api-1', segmentId: '20260101T000000001Z-000001' },
        { stream: 'clicks', node: 'api-10', segmentId: '20260101T000000002Z-000002' },
        { stream: 'clicks_2', node: 'api-1', segmentId: '20260101T000000000Z-000000' },
      ];
      for (const ref of refs) await store.upload(ref, path, 1);
      expect(await store.list('clicks')).toEqual([
        { stream: 'clicks', node: 'api-1', segmentId: '20260101T000000001Z-000001' },
        { stream: 'clicks', node: 'api-10', segmentId: '20260101T000000002Z-000002' },
        { stream: 'clicks', node: 'api-2', segmentId: '20260101T000000002Z-000002' },
        { stream: 'clicks', node: 'api-1', segmentId: '20260101T000000003Z-000003' },
      ]);
      expect((await store.list('clicks', { node: 'api-1' })).map((r) => r.segmentId)).toEqual(['20260101T000000001Z-000001', '20260101T000000003Z-000003']);
      expect(await store.list('clicks_2')).toEqual([{ stream: 'clicks_2', node: 'api-1', segmentId: '20260101T000000000Z-000000' }]);
    });

    test('deletes the bytes, then the manifest, keeping a copy on request', async () => {
      const { path, bytes } = await sealed('a.seg', ['e1']);
      const a = { stream: 'clicks', node: 'api-1', segmentId: 's1' };
      const b = { stream: 'clicks', node: 'api-2', segmentId: 's2' };
      await store.upload(a, path, 1);
      await store.upload(b, path, 1);
      await store.delete(a);
      await store.delete(b, { keep: true });
      expect(await store.list('clicks')).toEqual([]);
      expect((await subject.objects.list('_log/')).map((o) => o.key)).toEqual(['_log/loaded/clicks/api-2/s2.seg']);
      expect(await store.listArchived('clicks')).toEqual([b]);
      expect(new Uint8Array((await subject.objects.get('_log/loaded/clicks/api-2/s2.seg'))!)).toEqual(new Uint8Array(bytes));
      // A delete cut short after the bytes went leaves the manifest listed; the next delete finishes it.
      await store.upload(a, path, 1);
      await subject.objects.delete('_log/sealed/clicks/api-1/s1.seg');
      expect(await store.list('clicks')).toEqual([a]);
      await store.delete(a, { keep: true });
      await store.delete(a);
      expect(await store.list('clicks')).toEqual([]);
    });

    const stateDir = () => join(dir, 'state');
    const localFiles = async () => (await readdir(streamSegmentsDir(stateDir(), 'clicks')).catch(() => [] as string[])).sort();

    test('node: uploads each sealed segment, deletes the local copy, then announces it', async () => {
      const announced: { manifest: SealedSegmentManifest; listed: number; local: string[] }[] = [];
      const log = await openNodeSegmentLog({
        stateDir: stateDir(), streams: ['clicks'], nodeId: 'api-1', store, log: () => undefined,
        // What ingestion sees when it is told: the segment listed in the store, no local copy left.
        onUploaded: async (manifest) => void announced.push({ manifest, listed: (await store.list('clicks')).length, local: await localFiles() }),
      });
      await log.append('clicks', encodeRecords([event('e1', 1), event('e2', 2)]), 2);
      await log.close();
      expect(announced).toHaveLength(1);
      const [{ manifest, listed, local }] = announced as [typeof announced[0]];
      expect({ listed, local, events: manifest.events, node: manifest.node, stream: manifest.stream }).toEqual({ listed: 1, local: [], events: 2, node: 'api-1', stream: 'clicks' });
      expect(await store.list('clicks')).toEqual([{ stream: 'clicks', node: 'api-1', segmentId: manifest.segmentId }]);
      const read = await store.read(manifest);
      const ids: string[] = [];
      const target = join(dir, 'back.seg');
      await writeFile(target, read!.bytes);
      for await (const e of readSegment(target)) ids.push(e._event_id);
      expect(ids).toEqual(['e1', 'e2']);
    });

    test('node: uploads at start what it left sealed or open when it stopped', async () => {
      const segments = streamSegmentsDir(stateDir(), 'clicks');
      await mkdir(segments, { recursive: true });
      // Sealed but never uploaded, and still open with a torn last record: what a SIGKILL leaves.
      await writeFile(join(segments, '20260101T000000001Z-000001.seg'), encodeRecords([event('s1', 1), event('s2', 2)]));
      const open = encodeRecords([event('o1', 3), event('o2', 4)]);
      await writeFile(join(segments, '20260101T000000002Z-000002.open'), Buffer.concat([open, open.subarray(0, 7)]));
      const announced: string[] = [];
      const lines: string[] = [];
      const log = await openNodeSegmentLog({ stateDir: stateDir(), streams: ['clicks'], nodeId: 'api-1', store, log: (line) => lines.push(line), onUploaded: (m) => void announced.push(`${m.segmentId}:${m.events}`) });
      await log.close();
      expect(announced.sort()).toEqual(['20260101T000000001Z-000001:2', '20260101T000000002Z-000002:2']);
      expect(await localFiles()).toEqual([]);
      expect((await store.list('clicks')).map((r) => r.segmentId)).toEqual(['20260101T000000001Z-000001', '20260101T000000002Z-000002']);
      expect(lines).toContain('segment log: uploading clicks segment 20260101T000000001Z-000001 (2 events), sealed before the last stop');
      expect(lines).toContain('segment log: recovered clicks segment 20260101T000000002Z-000002 (2 events) and closed it');
    });

    test('node: keeps a segment on disk while the store refuses it, and uploads it at the next start', async () => {
      // The real store, refusing every upload (the network to it is down, say).
      const refusing: SealedSegmentStore = { ...bind(store), upload: () => Promise.reject(new Error('connect ECONNREFUSED')) };
      const lines: string[] = [];
      const first = await openNodeSegmentLog({ stateDir: stateDir(), streams: ['clicks'], nodeId: 'api-1', store: refusing, retryMs: 10, log: (line) => lines.push(line) });
      await first.append('clicks', encodeRecords([event('k1', 1)]), 1);
      await first.close();
      expect(await store.list('clicks')).toEqual([]);
      const left = await localFiles();
      expect(left).toHaveLength(1);
      expect(lines.at(-1)).toMatch(/^segment log: upload of clicks\/\S+ failed: connect ECONNREFUSED; it stays on disk and is uploaded at the next start$/);
      const second = await openNodeSegmentLog({ stateDir: stateDir(), streams: ['clicks'], nodeId: 'api-1', store, log: () => undefined });
      await second.close();
      expect((await store.list('clicks')).map((r) => `${r.segmentId}.seg`)).toEqual(left);
      expect(await localFiles()).toEqual([]);
    });

    test('node: remembers the ids of its uploaded segments', async () => {
      const first = await openNodeSegmentLog({ stateDir: stateDir(), streams: ['clicks'], nodeId: 'api-1', store, log: () => undefined, maxSegmentBytes: 1 });
      await first.append('clicks', encodeRecords([event('a1', 1), event('a2', 2)]), 2);
      await first.append('clicks', encodeRecords([event('b1', 3)]), 1);
      await first.close();
      // Another node's segments are its own.
      const other = await openNodeSegmentLog({ stateDir: join(dir, 'other'), streams: ['clicks'], nodeId: 'api-2', store, log: () => undefined });
      await other.append('clicks', encodeRecords([event('x1', 1)]), 1);
      await other.close();
      const again = await openNodeSegmentLog({ stateDir: stateDir(), streams: ['clicks'], nodeId: 'api-1', store, log: () => undefined });
      expect(await again.recentIds('clicks', 10)).toEqual([['b1'], ['a1', 'a2']]);
      expect(await again.recentIds('clicks', 1)).toEqual([['b1']]);
      await again.close();
    });
  });
}

/** The store's methods bound to it, to build a store that changes one of them. */
function bind(store: SealedSegmentStore): SealedSegmentStore {
  return {
    upload: store.upload.bind(store), list: store.list.bind(store), download: store.download.bind(store), read: store.read.bind(store),
    delete: store.delete.bind(store), listArchived: store.listArchived.bind(store),
  };
}
