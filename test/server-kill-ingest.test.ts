import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity, eventStream } from '../index.ts';
import { listSegments, streamSchemasOf, streamSegmentsDir } from '../server/index.ts';
import { decodeRecordAt } from '../connectors/log-store/segment-log/index.ts';
import { openWarehouseForSegments, TOKEN, type WarehouseForSegments } from './support/log-to-warehouse.ts';
import { startStandaloneServer, type StandaloneServer } from './support/standalone-server.ts';

// Exactly once, from the client to the warehouse, across SIGKILLs of the log API under load. Four
// clients send batches with their own event ids to the server running as a child process
// (server/standalone.ts); the server is SIGKILLed twice mid-load at moments the clients do not
// choose and restarted on the same state folder (recovery closes the torn segments and uploads what
// the node left sealed). The server uploads each sealed segment to the object store. A client whose
// batch was not acknowledged (the connection died under it, or the server was down) sends the same
// batch, same ids, again until it is: that is how exactly-once is meant to work. Then the real ingest
// activity loads every segment from the object store into DuckDB, and the test counts the acknowledged ids missing
// from the table and the ids stored more than once (in the segments and in the table): both must be 0.

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { seq: 'int64' } });

const CLIENTS = 4;
const BATCHES_PER_CLIENT = 60;
const EVENTS_PER_BATCH = 25;
const TOTAL = CLIENTS * BATCHES_PER_CLIENT * EVENTS_PER_BATCH; // 6,000
/** The server is killed once this many events were acknowledged in all. */
const KILL_AT = [1500, 3500];

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

async function startServer(): Promise<StandaloneServer> {
  const streamsPath = join(warehouse.dir, 'streams.json');
  await writeFile(streamsPath, JSON.stringify(streamSchemasOf(warehouse.project)));
  return startStandaloneServer({
    stateDir: warehouse.stateDir, streamsPath, tokens: `${TOKEN}=write:*`, onSpawn: (proc) => (child = proc),
    args: ['--segment-max-bytes', String(64 * 1024), '--object-store', warehouse.objectsDir, '--node-id', 'node-1'],
  });
}

const idOf = (client: number, batch: number, i: number) => `w${client}-b${String(batch).padStart(2, '0')}-e${String(i).padStart(2, '0')}`;
const seqOf = (client: number, batch: number, i: number) => (client * BATCHES_PER_CLIENT + batch) * EVENTS_PER_BATCH + i;
const batchOf = (client: number, batch: number) =>
  Array.from({ length: EVENTS_PER_BATCH }, (_, i) => ({ _event_id: idOf(client, batch, i), user_id: client, ts: '2026-01-01T00:00:00.000Z', seq: seqOf(client, batch, i) }));

describe('the log API SIGKILLed under load', () => {
  it('loses no acknowledged event and stores none twice, from the clients to the warehouse', async () => {
    let server = await startServer();
    const acknowledged: string[] = [];
    let failedSends = 0;
    /** Events the server answered as duplicates: resent batches it had stored before the kill. */
    let answeredAsDuplicates = 0;

    // Each client sends its batches in order; a batch not acknowledged is sent again (same ids), to
    // whichever server is up, until it is.
    const client = async (c: number) => {
      for (let batch = 0; batch < BATCHES_PER_CLIENT; batch++) {
        const events = batchOf(c, batch);
        let body: { accepted: number; duplicates: number; ids: string[] } | undefined;
        for (let attempt = 0; body === undefined; attempt++) {
          try {
            const response = await fetch(`${server.url}/v1/streams/clicks/events`, {
              method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(events),
            });
            if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
            body = (await response.json()) as { accepted: number; duplicates: number; ids: string[] };
          } catch {
            failedSends++;
            if (attempt >= 400) throw new Error(`batch ${c}/${batch} not acknowledged after 400 tries`); // the server is back within seconds
            await new Promise((resolve) => setTimeout(resolve, 25));
          }
        }
        expect(body.ids).toEqual(events.map((e) => e._event_id));
        acknowledged.push(...body.ids);
        answeredAsDuplicates += body.duplicates;
      }
    };
    const clients = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));

    let recoveries = 0;
    for (const target of KILL_AT) {
      while (acknowledged.length < target) await new Promise((resolve) => setTimeout(resolve, 2));
      server.process.kill('SIGKILL');
      await server.exited;
      server = await startServer();
      // The recovery line goes to stderr, the "listening" line to stdout: allow it a moment to arrive.
      const recovered = /segment log: recovered clicks segment \S+ \(\d+ events\) and closed it/;
      for (let i = 0; i < 40 && !recovered.test(server.stderr()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      if (recovered.test(server.stderr())) recoveries++;
    }
    await clients;
    server.process.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    // Every segment sealed (by recovery or by the clean shutdown) and uploaded, none left on the node's
    // disk; count the ids in the object store's segments, then load them.
    expect(await listSegments(streamSegmentsDir(warehouse.stateDir, 'clicks'))).toEqual([]);
    const inSegments = new Map<string, number>();
    const segments = await warehouse.segments.list('clicks');
    for (const segment of segments) {
      const { bytes } = (await warehouse.segments.read(segment))!;
      const buffer = Buffer.from(bytes);
      for (let at = 0, decoded = decodeRecordAt(buffer, 0); decoded.kind === 'record'; at = decoded.next, decoded = decodeRecordAt(buffer, at)) {
        const id = (JSON.parse(decoded.payload.toString('utf8')) as { _event_id: string })._event_id;
        inSegments.set(id, (inSegments.get(id) ?? 0) + 1);
      }
    }
    const loaded = await warehouse.ingestClosed();
    const rows = await warehouse.rows('clicks');
    const inWarehouse = new Map<string, number>();
    for (const row of rows) inWarehouse.set(row._event_id as string, (inWarehouse.get(row._event_id as string) ?? 0) + 1);

    const counts = {
      acknowledged: acknowledged.length,
      missing: acknowledged.filter((id) => !inWarehouse.has(id)).length,
      duplicatedInWarehouse: [...inWarehouse.values()].filter((n) => n > 1).length,
      duplicatedInSegments: [...inSegments.values()].filter((n) => n > 1).length,
    };
    console.log(
      `log API SIGKILLed ${KILL_AT.length}x under ${CLIENTS} clients: acknowledged ${counts.acknowledged}, acknowledged-but-missing ${counts.missing}, duplicated in the warehouse ${counts.duplicatedInWarehouse} (in the segments ${counts.duplicatedInSegments}); ` +
        `${failedSends} sends failed and were retried, ${answeredAsDuplicates} resent events were already stored, ${recoveries} recoveries, ${segments.length} segments, ${loaded.length} loaded`,
    );
    expect(counts).toEqual({ acknowledged: TOTAL, missing: 0, duplicatedInWarehouse: 0, duplicatedInSegments: 0 });
    expect(failedSends).toBeGreaterThan(0); // it did die under load
    expect(recoveries).toBeGreaterThan(0); // and a torn segment was recovered
    expect(new Set(acknowledged).size).toBe(TOTAL);
    const expected = Array.from({ length: CLIENTS }, (_, c) => Array.from({ length: BATCHES_PER_CLIENT }, (_, b) => batchOf(c, b))).flat(2);
    expect(rows).toEqual(expected.sort((a, b) => (a._event_id < b._event_id ? -1 : 1)));
  }, 120_000);
});
