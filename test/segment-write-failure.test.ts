import type { ChildProcess } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity, eventStream } from '../index.ts';
import { listSegments, readSegment, startLogServer, streamSchemasOf, streamSegmentsDir, TokenTable } from '../server/index.ts';
import { startStandaloneServer } from './support/standalone-server.ts';
import { openWarehouseForSegments, TOKEN, type WarehouseForSegments } from './support/log-to-warehouse.ts';

// All or nothing, with a real failing write: the log API runs as a child process under
// RLIMIT_FSIZE (`prlimit --fsize`), so a write past that size of a segment file fails the way a full
// disk does: writev writes what fits, then fails (EFBIG; Node ignores SIGXFSZ). The batch answered 503
// must leave nothing behind: after a restart, recovery and the real ingest activity (DuckDB), not one
// of its events is in the warehouse, while every acknowledged one is.

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const clicks = eventStream({
  name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d',
  fields: { seq: 'int64', pad: { type: 'string', nullable: true } },
});

/** Largest segment file the child server may write, in bytes. */
const FILE_SIZE_LIMIT = 64 * 1024;

let warehouse: WarehouseForSegments;
let child: ChildProcess | undefined;
beforeEach(async () => {
  warehouse = await openWarehouseForSegments([user, clicks]);
});
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  await warehouse.close();
});

/** server/standalone.ts as a child process whose files may not grow past `fileSizeLimit` bytes. */
async function startLimitedServer(fileSizeLimit: number): Promise<{ url: string; exited: Promise<unknown> }> {
  const streamsPath = join(warehouse.dir, 'streams.json');
  await writeFile(streamsPath, JSON.stringify(streamSchemasOf(warehouse.project)));
  return startStandaloneServer({
    stateDir: warehouse.stateDir, streamsPath, tokens: `${TOKEN}=write:*`,
    wrap: (command, args) => ({ command: 'prlimit', args: [`--fsize=${fileSizeLimit}`, '--', command, ...args] }), onSpawn: (proc) => (child = proc),
  });
}

async function post(url: string, events: readonly object[]): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/v1/streams/clicks/events`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(events),
  });
  return { status: response.status, body: await response.json() };
}

const event = (id: string, seq: number, pad: string | null = null) => ({ _event_id: id, user_id: 1, ts: '2026-01-01T00:00:00.000Z', seq, pad });

describe('a batch answered 503 after a failed write', () => {
  it('leaves none of its events in the segment: after a restart only the acknowledged ones are recovered and loaded', async () => {
    const server = await startLimitedServer(FILE_SIZE_LIMIT);
    const first = Array.from({ length: 10 }, (_, i) => event(`a-${i}`, i));
    // 100 events of about 1 KiB: the first ~50 fit under the limit, whole, and the write fails inside the next.
    const second = Array.from({ length: 100 }, (_, i) => event(`b-${String(i).padStart(3, '0')}`, 100 + i, 'p'.repeat(1000)));
    expect(await post(server.url, first)).toEqual({ status: 200, body: { accepted: 10, duplicates: 0, ids: first.map((e) => e._event_id) } });
    const refused = { status: 503, body: { error: { code: 'storage_unavailable', message: 'events of stream "clicks" cannot be stored now; nothing of this batch is acknowledged (retry later)' } } };
    expect(await post(server.url, second)).toEqual(refused);
    // The stream refuses the batches of the next second (then it tries again: test/disk-full.test.ts).
    expect(await post(server.url, [event('c-0', 1000)])).toEqual(refused);

    // The segment holds the acknowledged records only: the refused batch's whole records were cut back,
    // and it was closed with them (no restart needed for them to be ingested).
    const [segment, ...others] = await listSegments(streamSegmentsDir(warehouse.stateDir, 'clicks'));
    expect(others).toEqual([]);
    expect(segment!.state).toBe('closed');
    const stored: string[] = [];
    for await (const e of readSegment(segment!.path)) stored.push(e._event_id);
    expect(stored).toEqual(first.map((e) => e._event_id));
    const recordBytes = first.reduce((sum, e) => sum + 8 + Buffer.byteLength(JSON.stringify(e).slice(0, -1)) + `,"_received_at":"2026-01-01T00:00:00.000Z"}`.length, 0);
    expect((await stat(segment!.path)).size).toBe(recordBytes);

    // Killed, restarted without the limit: nothing to recover; the refused batch is sent again and loads once.
    child!.kill('SIGKILL');
    await server.exited;
    const restarted = await startLogServer({ stateDir: warehouse.stateDir, streams: streamSchemasOf(warehouse.project), tokens: TokenTable.parse(`${TOKEN}=write:*`), port: 0, log: () => undefined });
    try {
      expect(await post(restarted.url, second)).toEqual({ status: 200, body: { accepted: 100, duplicates: 0, ids: second.map((e) => e._event_id) } });
    } finally {
      await restarted.close();
    }
    const loaded = await warehouse.ingestClosed();
    expect(loaded.map((batch) => batch.rows)).toEqual([10, 100]);
    expect(await warehouse.rows('clicks')).toEqual([...first, ...second].map(({ _event_id, seq, pad }) => ({ _event_id, user_id: 1, ts: '2026-01-01T00:00:00.000Z', seq, pad })));
  });
});
