import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeRecordAt, streamSegmentsDir } from '../connectors/log-store/segment-log/index.ts';
import { entity, eventStream } from '../index.ts';
import { streamSchemasOf } from '../server/index.ts';
import { openWarehouseForSegments, TOKEN, type WarehouseForSegments } from './support/log-to-warehouse.ts';
import { startStandaloneServer, type StandaloneServer } from './support/standalone-server.ts';

/**
 * Log API nodes that share nothing but the object store (docs/collect.md, "Where segments live"):
 * server/standalone.ts as real child processes, each with its own state folder, uploading sealed
 * segments to one object store (a local folder here), and the real ingest activity loading them
 * from there into DuckDB.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { seq: 'int64' } });

let warehouse: WarehouseForSegments;
const children: ChildProcess[] = [];
const folders: string[] = [];
beforeEach(async () => {
  warehouse = await openWarehouseForSegments([user, clicks]);
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of folders.splice(0)) await rm(dir, { recursive: true, force: true });
  await warehouse.close();
});

async function startNode(stateDir: string, args: readonly string[] = []): Promise<StandaloneServer> {
  const streamsPath = join(warehouse.dir, 'streams.json');
  await writeFile(streamsPath, JSON.stringify(streamSchemasOf(warehouse.project)));
  return startStandaloneServer({
    stateDir, streamsPath, tokens: `${TOKEN}=write:*`, onSpawn: (proc) => children.push(proc),
    args: ['--object-store', warehouse.objectsDir, '--segment-max-bytes', String(2 * 1024), ...args],
  });
}

const eventOf = (id: string, seq: number) => ({ _event_id: id, user_id: seq % 3, ts: '2026-01-01T00:00:00.000Z', seq });

async function post(url: string, events: readonly object[]): Promise<{ status: number; body: { accepted: number; duplicates: number; ids: string[] } }> {
  const response = await fetch(`${url}/v1/streams/clicks/events`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(events),
  });
  return { status: response.status, body: (await response.json()) as { accepted: number; duplicates: number; ids: string[] } };
}

async function until(done: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Event ids in the object store's segments, with how many times each is stored there, and the nodes that wrote them. */
async function idsInStore(): Promise<{ counts: Map<string, number>; nodes: Set<string>; segments: number }> {
  const counts = new Map<string, number>();
  const refs = await warehouse.segments.list('clicks');
  for (const ref of refs) {
    const buffer = Buffer.from((await warehouse.segments.read(ref))!.bytes);
    for (let at = 0, d = decodeRecordAt(buffer, 0); d.kind === 'record'; at = d.next, d = decodeRecordAt(buffer, at)) {
      const id = (JSON.parse(d.payload.toString('utf8')) as { _event_id: string })._event_id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return { counts, nodes: new Set(refs.map((r) => r.node)), segments: refs.length };
}

const localSegments = async (stateDir: string) => (await readdir(streamSegmentsDir(stateDir, 'clicks')).catch(() => [] as string[])).sort();

describe('a log API node SIGKILLed with sealed segments it could not upload', () => {
  it('uploads them when it comes back, and ingestion loads every acknowledged event once', async () => {
    // The object store is unreachable at first: its folder is a file, so every upload fails.
    await writeFile(warehouse.objectsDir, 'not a folder');
    let node = await startNode(warehouse.stateDir, ['--node-id', 'api-1']);
    const sent = Array.from({ length: 6 }, (_, b) => Array.from({ length: 20 }, (_, i) => eventOf(`k${b}-${String(i).padStart(2, '0')}`, b * 20 + i)));
    for (const batch of sent) expect((await post(node.url, batch)).status).toBe(200);
    // Segments of 2 KiB: sealed as they fill, each refused by the store and kept on disk.
    await until(async () => (await localSegments(warehouse.stateDir)).filter((n) => n.endsWith('.seg')).length >= 3, 'sealed segments on disk');
    await until(async () => /upload of clicks\/\S+ failed: .*; retrying in \d+ ms/.test(node.stderr()), 'a failed upload');
    // /metrics counts them: every sealed segment on the disk waits for its upload (read while no segment seals).
    const sealedOnDisk = async () => (await localSegments(warehouse.stateDir)).filter((n) => n.endsWith('.seg')).length;
    await until(async () => {
      const before = await sealedOnDisk();
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      return before === (await sealedOnDisk()) && metrics.includes(`flywheel_log_segments_pending_upload{stream="clicks"} ${before}\n`);
    }, '/metrics to count the segments waiting for their upload');
    node.process.kill('SIGKILL');
    await node.exited;
    const left = await localSegments(warehouse.stateDir);
    const sealedLeft = left.filter((n) => n.endsWith('.seg')).length;
    expect(sealedLeft).toBeGreaterThanOrEqual(3);

    // The store is back; the node restarts on its state folder and uploads what it left, sealed or open.
    await rm(warehouse.objectsDir);
    node = await startNode(warehouse.stateDir, ['--node-id', 'api-1']);
    await until(async () => (await localSegments(warehouse.stateDir)).length === 0, 'the local copies to go');
    const uploadedAtStart = node.stderr().match(/segment log: uploading clicks segment \S+ \(\d+ events\), sealed before the last stop/g) ?? [];
    expect(uploadedAtStart).toHaveLength(sealedLeft);
    const { counts, nodes } = await idsInStore();
    expect([...nodes]).toEqual(['api-1']);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(counts.size).toBe(120);

    // Sent again after the restart (the client never trusted its first answers): the window remembers them.
    expect((await post(node.url, sent[0]!)).body).toMatchObject({ accepted: 20, duplicates: 20 });
    node.process.kill('SIGTERM');
    expect(await node.exited).toBe(0);

    const loaded = await warehouse.ingestClosed();
    expect(loaded.reduce((sum, b) => sum + b.rows, 0)).toBe(120);
    expect(loaded.every((b) => b.batch.startsWith('api-1/'))).toBe(true);
    expect(await warehouse.rows('clicks')).toEqual(sent.flat().sort((a, b) => (a._event_id < b._event_id ? -1 : 1)));
    expect(await warehouse.segments.list('clicks')).toEqual([]);
  }, 60_000);
});

describe('two log API nodes behind one load balancer', () => {
  it('store an event retried on the other node once in the warehouse; each node keeps only its own folder', async () => {
    const otherState = await mkdtemp(join(tmpdir(), 'flywheel-node-b-'));
    folders.push(otherState);
    // Default node ids: the host name and a hash of each state folder, so they differ.
    const [a, b] = await Promise.all([startNode(warehouse.stateDir), startNode(otherState)]);
    const batches = Array.from({ length: 10 }, (_, n) => Array.from({ length: 15 }, (_, i) => eventOf(`b${n}-${String(i).padStart(2, '0')}`, n * 15 + i)));
    let acknowledgedTwice = 0;
    for (const [n, batch] of batches.entries()) {
      // Every batch reaches node A; every other one is retried on node B with the same ids, as a client
      // whose answer from A was lost would through the load balancer. Batch 9 goes to both at once.
      const first = n === 9 ? post(b.url, batch) : Promise.resolve(undefined);
      expect((await post(a.url, batch)).body).toEqual({ accepted: 15, duplicates: 0, ids: batch.map((e) => e._event_id) });
      if (n % 2 === 0) expect((await post(b.url, batch)).body).toEqual({ accepted: 15, duplicates: 0, ids: batch.map((e) => e._event_id) });
      if (n === 9) expect((await first)!.body).toMatchObject({ accepted: 15, duplicates: 0 });
      if (n % 2 === 0 || n === 9) acknowledgedTwice += batch.length;
    }
    a.process.kill('SIGTERM');
    b.process.kill('SIGTERM');
    expect([await a.exited, await b.exited]).toEqual([0, 0]);
    // Nothing stays on either node's disk: every sealed segment is in the one object store.
    expect(await localSegments(warehouse.stateDir)).toEqual([]);
    expect(await localSegments(otherState)).toEqual([]);

    const { counts, nodes } = await idsInStore();
    expect(nodes.size).toBe(2);
    // The per-node dedupe window cannot see the other node: the retried events are stored twice in segments...
    expect([...counts.values()].filter((n) => n === 2).length).toBe(acknowledgedTwice); // 6 batches of 15 = 90
    expect(acknowledgedTwice).toBe(90);
    expect(counts.size).toBe(150);

    // ...and once in the warehouse, which the ledger and the load's dedupe by id guarantee.
    const loaded = await warehouse.ingestClosed();
    expect(loaded.reduce((sum, batch) => sum + batch.rows, 0)).toBe(150);
    const rows = await warehouse.rows('clicks');
    expect(rows).toEqual(batches.flat().sort((x, y) => (x._event_id < y._event_id ? -1 : 1)));
    // Loading every segment again changes nothing.
    expect(await warehouse.ingestClosed()).toEqual([]);
  }, 60_000);
});
